//! Indexes the admin API's request log and detail need: the request list filtered by provider,
//! model or key and paged by id, and the lookup of a request (and its log) by request id.
//! The usage summary and the health latency read a `ts` range, already indexed (`ix_usage_ts`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Usage {
    Table,
    Id,
    Provider,
    Model,
    KeyName,
    RequestId,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    RequestId,
}

/// `(name, column)` of the usage indexes paired with `id`: a filtered page is an index range
/// read in id order on both backends, with no sort.
const PAGED: [(&str, Usage); 3] = [
    ("ix_usage_provider_id", Usage::Provider),
    ("ix_usage_model_id", Usage::Model),
    ("ix_usage_key_name_id", Usage::KeyName),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, col) in PAGED {
            m.create_index(Index::create().name(name).table(Usage::Table).col(col).col(Usage::Id).take()).await?;
        }
        m.create_index(Index::create().name("ix_usage_request_id").table(Usage::Table).col(Usage::RequestId).take())
            .await?;
        m.create_index(
            Index::create()
                .name("ix_request_logs_request_id")
                .table(RequestLogs::Table)
                .col(RequestLogs::RequestId)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_request_logs_request_id").table(RequestLogs::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_usage_request_id").table(Usage::Table).to_owned()).await?;
        for (name, _) in PAGED {
            m.drop_index(Index::drop().name(name).table(Usage::Table).to_owned()).await?;
        }
        Ok(())
    }
}

//! The surface each usage row was asked on (the request path: `/v1/chat/completions`,
//! `/v1/completions`, `/v1/moderations`, `/v1/rerank`, ...): until now only the request log kept
//! it, and only for requests that failed or fell back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Usage {
    Table,
    Path,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Usage::Table)
                .add_column(ColumnDef::new(Usage::Path).string_len(512).not_null().default(""))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Usage::Table).drop_column(Usage::Path).take()).await
    }
}

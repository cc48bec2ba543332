//! A gateway key's opt-in to the exact response cache (`[[keys]] cache = true`, `/api/keys`):
//! false on every existing key, so nothing is cached until an operator asks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Cache,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiKeys::Table)
                .add_column(ColumnDef::new(ApiKeys::Cache).boolean().not_null().default(false))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::Cache).take()).await
    }
}

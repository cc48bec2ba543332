//! Per-key limits (requests and tokens per minute, requests in flight, budget) as a JSON object on
//! the key's row: `{"rpm": 60, "tpm": 200000, "max_concurrent": 4}`; NULL when the key has none.
//! And the team a key belongs to (`[[teams]]`), whose limits apply too.

use sea_orm_migration::prelude::*;

use crate::txt_type;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Limits,
    Team,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(ApiKeys::Table).add_column(txt_type(m, ApiKeys::Limits).null()).take())
            .await?;
        m.alter_table(Table::alter().table(ApiKeys::Table).add_column(txt_type(m, ApiKeys::Team).null()).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::Team).take()).await?;
        m.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::Limits).take()).await
    }
}

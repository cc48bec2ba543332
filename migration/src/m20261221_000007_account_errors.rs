//! Since when an account has its current problem (a cooldown reason or an out-of-service
//! reason), so a dead account shows "credentials refused 2 min ago" and not "ready".

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccountState {
    Table,
    ReasonSince,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AccountState::Table)
                .add_column(ColumnDef::new(AccountState::ReasonSince).big_integer().not_null().default(0))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(AccountState::Table).drop_column(AccountState::ReasonSince).take()).await
    }
}

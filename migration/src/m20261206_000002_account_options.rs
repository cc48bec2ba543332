//! Per-account options that are read, not queried (JSON): which client headers an account
//! passes on, and later settings of the same kind.

use sea_orm_migration::prelude::*;

use crate::txt_type;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Options,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(txt_type(m, Accounts::Options).not_null().default("{}"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Accounts::Table).drop_column(Accounts::Options).take()).await
    }
}

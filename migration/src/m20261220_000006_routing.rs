//! Routing depth: why an account was taken out of service (a ban phrase in an error body), and
//! options read as a whole (JSON) for combos (mid-stream resume, ...) and custom providers (the
//! pacing defaults of their accounts).

use sea_orm_migration::prelude::*;

use crate::txt_type;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccountState {
    Table,
    Disabled,
}

#[derive(DeriveIden)]
enum Combos {
    Table,
    Options,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Options,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        m.alter_table(
            Table::alter().table(AccountState::Table).add_column(txt_type(m, AccountState::Disabled).null()).take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Combos::Table)
                .add_column(txt_type(m, Combos::Options).not_null().default("{}"))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Providers::Table)
                .add_column(txt_type(m, Providers::Options).not_null().default("{}"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Providers::Table).drop_column(Providers::Options).take()).await?;
        m.alter_table(Table::alter().table(Combos::Table).drop_column(Combos::Options).take()).await?;
        m.alter_table(Table::alter().table(AccountState::Table).drop_column(AccountState::Disabled).take()).await
    }
}

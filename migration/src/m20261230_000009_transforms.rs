//! Request transforms as rows (`transforms`): the config file's `[[transforms]]` (source
//! `config`, position = their index in the file) and those made through the admin API (source
//! `api`), applied in position order; `spec` is the transform's JSON without its name.

use sea_orm_migration::prelude::*;

use crate::{NAME_LEN, key, txt};
use sea_orm_migration::schema::big_integer;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Transforms {
    Table,
    Name,
    Position,
    Spec,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Transforms::Table)
                .col(key(m, Transforms::Name, NAME_LEN).primary_key())
                .col(big_integer(Transforms::Position))
                .col(txt(m, Transforms::Spec))
                .col(txt(m, Transforms::Source))
                .col(big_integer(Transforms::CreatedAt))
                .col(big_integer(Transforms::UpdatedAt))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Transforms::Table).take()).await
    }
}

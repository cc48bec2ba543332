//! Sticky session bindings shared by several instances on one PostgreSQL (`sticky_sessions`):
//! which account (`p:<provider>`) or combo target (`c:<combo>`) serves a client session, and when
//! it was last used, so a session keeps its upstream whichever instance it lands on, a starting
//! instance loads the live ones, and rows idle past the TTL are deleted. Created on SQLite as well
//! so both schemas stay alike; only PostgreSQL uses it.

use sea_orm_migration::prelude::*;

use crate::{NAME_LEN, key, txt};
use sea_orm_migration::schema::big_integer;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StickySessions {
    Table,
    Scope,
    Session,
    Value,
    SeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StickySessions::Table)
                .col(key(m, StickySessions::Scope, NAME_LEN))
                .col(key(m, StickySessions::Session, 512))
                .col(txt(m, StickySessions::Value))
                .col(big_integer(StickySessions::SeenAt))
                .primary_key(Index::create().col(StickySessions::Scope).col(StickySessions::Session))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sticky_sessions_seen_at")
                .table(StickySessions::Table)
                .col(StickySessions::SeenAt)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StickySessions::Table).take()).await
    }
}

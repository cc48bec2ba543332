//! The change feed of several instances on one MariaDB (`cluster_events`), which has no
//! `LISTEN`/`NOTIFY`: what an instance would announce on a PostgreSQL channel (written health,
//! dashboard logins and logouts, sticky session bindings) is a row here, and the other instances
//! read the rows newer than the last they saw every half second. Rows older than a minute are
//! deleted. Created on SQLite and PostgreSQL as well so the schemas stay alike; only MariaDB uses
//! it (PostgreSQL notifies).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto};

use crate::{key, txt};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClusterEvents {
    Table,
    Id,
    Channel,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ClusterEvents::Table)
                .col(big_pk_auto(ClusterEvents::Id))
                .col(key(m, ClusterEvents::Channel, 32))
                .col(txt(m, ClusterEvents::Payload))
                .col(big_integer(ClusterEvents::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_cluster_events_created_at")
                .table(ClusterEvents::Table)
                .col(ClusterEvents::CreatedAt)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ClusterEvents::Table).take()).await
    }
}

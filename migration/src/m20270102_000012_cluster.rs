//! Several instances on one database: the change revision every admin write bumps
//! (`cluster_revision`, one row), the instances heartbeating (`cluster_instances`) and the
//! dashboard sessions every instance accepts (`dashboard_sessions`, by token digest). Created on
//! SQLite as well so both schemas stay alike; only PostgreSQL uses the first two.

use sea_orm_migration::prelude::*;

use crate::{NAME_LEN, PROVIDER_LEN, key, txt};
use sea_orm_migration::schema::{big_integer, integer};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClusterRevision {
    Table,
    Id,
    Revision,
}

#[derive(DeriveIden)]
enum ClusterInstances {
    Table,
    Id,
    Version,
    Address,
    StartedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum DashboardSessions {
    Table,
    Digest,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ClusterRevision::Table)
                .col(integer(ClusterRevision::Id).primary_key())
                .col(big_integer(ClusterRevision::Revision))
                .take(),
        )
        .await?;
        let mut first = Query::insert();
        first
            .into_table(ClusterRevision::Table)
            .columns([ClusterRevision::Id, ClusterRevision::Revision])
            .values([1.into(), 0i64.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        m.exec_stmt(first).await?;
        m.create_table(
            Table::create()
                .table(ClusterInstances::Table)
                .col(key(m, ClusterInstances::Id, PROVIDER_LEN).primary_key())
                .col(txt(m, ClusterInstances::Version))
                .col(txt(m, ClusterInstances::Address))
                .col(big_integer(ClusterInstances::StartedAt))
                .col(big_integer(ClusterInstances::LastSeenAt))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DashboardSessions::Table)
                .col(key(m, DashboardSessions::Digest, NAME_LEN).primary_key())
                .col(big_integer(DashboardSessions::ExpiresAt))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DashboardSessions::Table).take()).await?;
        m.drop_table(Table::drop().table(ClusterInstances::Table).take()).await?;
        m.drop_table(Table::drop().table(ClusterRevision::Table).take()).await
    }
}

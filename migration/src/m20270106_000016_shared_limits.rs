//! Key and team limits shared by several instances on one PostgreSQL: each budget period's settled
//! spend (`shared_spend`), what each instance holds of a budget and of a concurrency cap
//! (`shared_holds`, expiring unless renewed, so a killed instance's share comes back) and the
//! request and token grants counted in the sliding minute (`shared_grants`). Created on SQLite as
//! well so both schemas stay alike; only PostgreSQL uses them.

use sea_orm_migration::prelude::*;

use crate::{MODEL_LEN, PROVIDER_LEN, key, txt};
use sea_orm_migration::schema::{big_integer, big_pk_auto, double, integer};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SharedSpend {
    Table,
    Scope,
    PeriodStart,
    SpentUsd,
}

#[derive(DeriveIden)]
enum SharedHolds {
    Table,
    Scope,
    Instance,
    PeriodStart,
    Usd,
    Permits,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SharedGrants {
    Table,
    Id,
    Scope,
    Instance,
    Requests,
    Tokens,
    CountsUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SharedSpend::Table)
                .col(key(m, SharedSpend::Scope, MODEL_LEN))
                .col(big_integer(SharedSpend::PeriodStart))
                .col(double(SharedSpend::SpentUsd))
                .primary_key(Index::create().col(SharedSpend::Scope).col(SharedSpend::PeriodStart))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SharedHolds::Table)
                .col(key(m, SharedHolds::Scope, MODEL_LEN))
                .col(key(m, SharedHolds::Instance, PROVIDER_LEN))
                .col(big_integer(SharedHolds::PeriodStart))
                .col(double(SharedHolds::Usd))
                .col(integer(SharedHolds::Permits))
                .col(big_integer(SharedHolds::ExpiresAt))
                .primary_key(Index::create().col(SharedHolds::Scope).col(SharedHolds::Instance))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SharedGrants::Table)
                .col(big_pk_auto(SharedGrants::Id))
                .col(key(m, SharedGrants::Scope, MODEL_LEN))
                .col(txt(m, SharedGrants::Instance))
                .col(big_integer(SharedGrants::Requests))
                .col(big_integer(SharedGrants::Tokens))
                .col(big_integer(SharedGrants::CountsUntil))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_shared_grants_scope")
                .table(SharedGrants::Table)
                .col(SharedGrants::Scope)
                .col(SharedGrants::CountsUntil)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SharedGrants::Table).take()).await?;
        m.drop_table(Table::drop().table(SharedHolds::Table).take()).await?;
        m.drop_table(Table::drop().table(SharedSpend::Table).take()).await
    }
}

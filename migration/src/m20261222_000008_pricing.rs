//! Cost (issue 11): the `pricing` table (USD per million tokens per provider and model, wildcard
//! rows allowed, each marked with its `source`), and on `usage` a nullable `cost_usd` (NULL:
//! unpriced, never $0), `list_cost_usd` (a subscription's list-price equivalent) and
//! `cost_source`. The old `cost` column (0 for unpriced rows) is folded into them and dropped.

use sea_orm_migration::prelude::*;

use crate::{MODEL_LEN, PROVIDER_LEN, key, txt, txt_type};
use sea_orm_migration::schema::{big_integer, big_pk_auto, double, double_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pricing {
    Table,
    Id,
    Provider,
    Model,
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Reasoning,
    Source,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Usage {
    Table,
    Cost,
    CostUsd,
    ListCostUsd,
    CostSource,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Pricing::Table)
                .col(big_pk_auto(Pricing::Id))
                .col(key(m, Pricing::Provider, PROVIDER_LEN))
                .col(key(m, Pricing::Model, MODEL_LEN))
                .col(double(Pricing::Input))
                .col(double(Pricing::Output))
                .col(double_null(Pricing::CacheRead))
                .col(double_null(Pricing::CacheWrite))
                .col(double_null(Pricing::Reasoning))
                .col(txt(m, Pricing::Source))
                .col(big_integer(Pricing::UpdatedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_pricing_provider_model")
                .table(Pricing::Table)
                .col(Pricing::Provider)
                .col(Pricing::Model)
                .unique()
                .take(),
        )
        .await?;
        // SQLite takes one column per ALTER TABLE.
        for col in [
            ColumnDef::new(Usage::CostUsd).double().null().take(),
            ColumnDef::new(Usage::ListCostUsd).double().null().take(),
        ] {
            m.alter_table(Table::alter().table(Usage::Table).add_column(col).take()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Usage::Table)
                .add_column(txt_type(m, Usage::CostSource).not_null().default("unpriced"))
                .take(),
        )
        .await?;
        // A positive old cost was priced; a zero one cannot be told from unpriced: left unpriced.
        m.get_connection()
            .execute_unprepared(&format!(
                "UPDATE {} SET cost_usd = cost, cost_source = 'priced' WHERE cost > 0",
                crate::usage_table(m)
            ))
            .await?;
        m.alter_table(Table::alter().table(Usage::Table).drop_column(Usage::Cost).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Usage::Table)
                .add_column(ColumnDef::new(Usage::Cost).double().not_null().default(0.0))
                .take(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(&format!("UPDATE {} SET cost = COALESCE(cost_usd, 0)", crate::usage_table(m)))
            .await?;
        for col in [Usage::CostSource, Usage::ListCostUsd, Usage::CostUsd] {
            m.alter_table(Table::alter().table(Usage::Table).drop_column(col).take()).await?;
        }
        m.drop_table(Table::drop().table(Pricing::Table).take()).await
    }
}

//! Governance: dashboard users with a role (`dashboard_users`; the bootstrap admin password stays
//! in `settings`), the user and role a shared dashboard session belongs to, and the hourly and
//! daily usage rollups (`usage_hourly`, `usage_daily`) the usage writer keeps beside the raw rows,
//! backfilled here from the rows that exist. A rollup's dimensions are never NULL (`''` stands
//! for a missing provider, account or key) so that the unique key the writer upserts on holds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, double, integer};

use crate::{MODEL_LEN, NAME_LEN, PROVIDER_LEN, key, txt, txt_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DashboardUsers {
    Table,
    Id,
    Name,
    Role,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DashboardSessions {
    Table,
    UserName,
    Role,
}

/// The two rollup tables, their bucket size in ms.
const ROLLUPS: [(&str, i64); 2] = [("usage_hourly", 3_600_000), ("usage_daily", 86_400_000)];

fn rollup_table(m: &SchemaManager, name: &str) -> TableCreateStatement {
    let t = Alias::new(name);
    Table::create()
        .table(t.clone())
        .col(big_integer(Alias::new("bucket")))
        .col(key(m, Alias::new("provider"), PROVIDER_LEN))
        .col(key(m, Alias::new("account"), MODEL_LEN))
        .col(key(m, Alias::new("model"), MODEL_LEN))
        .col(key(m, Alias::new("key_name"), NAME_LEN))
        .col(integer(Alias::new("status_class")))
        .col(big_integer(Alias::new("requests")))
        .col(big_integer(Alias::new("input_tokens")))
        .col(big_integer(Alias::new("output_tokens")))
        .col(big_integer(Alias::new("cache_read_tokens")))
        .col(big_integer(Alias::new("cache_write_tokens")))
        .col(big_integer(Alias::new("reasoning_tokens")))
        .col(double(Alias::new("cost_usd")))
        .col(double(Alias::new("list_cost_usd")))
        .col(big_integer(Alias::new("unpriced_requests")))
        .primary_key(
            Index::create()
                .col(Alias::new("bucket"))
                .col(Alias::new("provider"))
                .col(Alias::new("account"))
                .col(Alias::new("model"))
                .col(Alias::new("key_name"))
                .col(Alias::new("status_class")),
        )
        .take()
}

/// The rows of `usage` summed into buckets of `size` ms (the writer adds to the same cells).
fn backfill(table: &str, size: i64) -> String {
    let sum = |c: &str| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)");
    format!(
        "INSERT INTO {table} (bucket, provider, account, model, key_name, status_class, requests, input_tokens, \
         output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, list_cost_usd, \
         unpriced_requests) \
         SELECT (ts / {size}) * {size}, COALESCE(provider, ''), COALESCE(account, ''), model, \
         COALESCE(key_name, ''), status / 100, CAST(COUNT(*) AS BIGINT), {}, {}, {}, {}, {}, \
         CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION), \
         CAST(COALESCE(SUM(list_cost_usd), 0) AS DOUBLE PRECISION), \
         CAST(COALESCE(SUM(CASE WHEN cost_source = 'unpriced' AND total_tokens > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM usage GROUP BY (ts / {size}) * {size}, COALESCE(provider, ''), COALESCE(account, ''), model, \
         COALESCE(key_name, ''), status / 100",
        sum("input_tokens"),
        sum("output_tokens"),
        sum("cache_read_tokens"),
        sum("cache_write_tokens"),
        sum("reasoning_tokens"),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DashboardUsers::Table)
                .col(big_pk_auto(DashboardUsers::Id))
                .col(key(m, DashboardUsers::Name, NAME_LEN).unique_key())
                .col(txt(m, DashboardUsers::Role))
                .col(txt(m, DashboardUsers::PasswordHash))
                .col(big_integer(DashboardUsers::CreatedAt))
                .col(big_integer(DashboardUsers::UpdatedAt))
                .take(),
        )
        .await?;
        // Sessions stored before this migration carry neither: they were the admin's.
        m.alter_table(
            Table::alter().table(DashboardSessions::Table).add_column(txt_null(m, DashboardSessions::UserName)).take(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(DashboardSessions::Table).add_column(txt_null(m, DashboardSessions::Role)).take(),
        )
        .await?;
        for (name, size) in ROLLUPS {
            m.create_table(rollup_table(m, name)).await?;
            let mut sql = backfill(name, size);
            if crate::is_mysql(m) {
                // MySQL: `/` divides exactly, CAST knows SIGNED and DOUBLE, and `usage` is reserved.
                sql = sql
                    .replace(" / ", " DIV ")
                    .replace("AS BIGINT)", "AS SIGNED)")
                    .replace("AS DOUBLE PRECISION)", "AS DOUBLE)")
                    .replace("FROM usage ", "FROM `usage` ");
            }
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in ROLLUPS {
            m.drop_table(Table::drop().table(Alias::new(name)).take()).await?;
        }
        m.alter_table(Table::alter().table(DashboardSessions::Table).drop_column(DashboardSessions::Role).take())
            .await?;
        m.alter_table(Table::alter().table(DashboardSessions::Table).drop_column(DashboardSessions::UserName).take())
            .await?;
        m.drop_table(Table::drop().table(DashboardUsers::Table).take()).await
    }
}

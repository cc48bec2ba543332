//! Versioned schema migrations; a shipped migration is never edited, a change is a new one.

use sea_orm_migration::prelude::*;

mod m20261123_000001_core;
mod m20261206_000002_account_options;
mod m20261207_000003_usage_indexes;
mod m20261215_000004_audit_log;
mod m20261216_000005_subscriptions;
mod m20261220_000006_routing;
mod m20261221_000007_account_errors;
mod m20261222_000008_pricing;
mod m20261230_000009_transforms;
mod m20261231_000010_key_limits;
mod m20270101_000011_usage_path;
mod m20270102_000012_cluster;
mod m20270103_000013_key_cache;
mod m20270104_000014_users_rollups;
mod m20270105_000015_unit_prices;
mod m20270106_000016_shared_limits;
mod m20270107_000017_sticky_sessions;
mod m20270108_000018_cluster_events;

/// Runs Omnigate's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_core::Migration),
            Box::new(m20261206_000002_account_options::Migration),
            Box::new(m20261207_000003_usage_indexes::Migration),
            Box::new(m20261215_000004_audit_log::Migration),
            Box::new(m20261216_000005_subscriptions::Migration),
            Box::new(m20261220_000006_routing::Migration),
            Box::new(m20261221_000007_account_errors::Migration),
            Box::new(m20261222_000008_pricing::Migration),
            Box::new(m20261230_000009_transforms::Migration),
            Box::new(m20261231_000010_key_limits::Migration),
            Box::new(m20270101_000011_usage_path::Migration),
            Box::new(m20270102_000012_cluster::Migration),
            Box::new(m20270103_000013_key_cache::Migration),
            Box::new(m20270104_000014_users_rollups::Migration),
            Box::new(m20270105_000015_unit_prices::Migration),
            Box::new(m20270106_000016_shared_limits::Migration),
            Box::new(m20270107_000017_sticky_sessions::Migration),
            Box::new(m20270108_000018_cluster_events::Migration),
        ]
    }
}

pub use sea_orm_migration::MigratorTrait as Trait;

/// Whether the migrations run on MySQL (MariaDB), whose column types differ (below). SQLite and
/// PostgreSQL get exactly the statements they always got.
fn is_mysql(m: &SchemaManager) -> bool {
    matches!(m.get_database_backend(), sea_orm::DbBackend::MySql)
}

/// The usage table's name in raw SQL (`usage` is a reserved word on MySQL).
pub(crate) fn usage_table(m: &SchemaManager) -> &'static str {
    if is_mysql(m) { "`usage`" } else { "usage" }
}

/// A text column: TEXT, LONGTEXT on MySQL (whose TEXT holds at most 64 KiB).
pub(crate) fn txt_type<T: IntoIden>(m: &SchemaManager, col: T) -> ColumnDef {
    let mut c = ColumnDef::new(col);
    if is_mysql(m) {
        c.custom(Alias::new("LONGTEXT"))
    } else {
        c.text()
    };
    c
}

/// A non-null text column (`schema::text` on SQLite and PostgreSQL).
pub(crate) fn txt<T: IntoIden>(m: &SchemaManager, col: T) -> ColumnDef {
    txt_type(m, col).not_null().take()
}

/// A nullable text column (`schema::text_null` on SQLite and PostgreSQL).
pub(crate) fn txt_null<T: IntoIden>(m: &SchemaManager, col: T) -> ColumnDef {
    txt_type(m, col).null().take()
}

/// A non-null text column that is (part of) a key or an index: TEXT, VARCHAR(`len`) on MySQL,
/// which indexes no TEXT without a prefix length (and a key's parts stay within 3072 bytes).
pub(crate) fn key<T: IntoIden>(m: &SchemaManager, col: T, len: u32) -> ColumnDef {
    if is_mysql(m) { ColumnDef::new(col).string_len(len).not_null().take() } else { txt(m, col) }
}

/// A nullable `key` column.
pub(crate) fn key_null<T: IntoIden>(m: &SchemaManager, col: T, len: u32) -> ColumnDef {
    if is_mysql(m) { ColumnDef::new(col).string_len(len).null().take() } else { txt_null(m, col) }
}

/// MySQL lengths of key columns: provider ids, names (of accounts, keys, combos, users, ...),
/// model ids and other long keys.
pub(crate) const PROVIDER_LEN: u32 = 64;
pub(crate) const NAME_LEN: u32 = 190;
pub(crate) const MODEL_LEN: u32 = 255;

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
        ]
    }
}

pub use sea_orm_migration::MigratorTrait as Trait;

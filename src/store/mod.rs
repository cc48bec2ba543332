//! Query and mutation functions over the entities, grouped by table; handlers never build SQL.

pub mod accounts;
pub mod aliases;
pub mod audit;
pub mod cluster;
pub mod combos;
pub mod config_sync;
pub mod keys;
pub mod observe;
pub mod overrides;
pub mod pricing;
pub mod providers;
pub mod runtime;
pub mod settings;
pub mod shared_limits;
pub mod transforms;
pub mod usage;
pub mod users;

pub use actors::clock::now_ms;

/// `source` of rows upserted from the config file (config as code: read-only through the API).
pub const SOURCE_CONFIG: &str = "config";
/// `source` of rows made through the admin API (never touched by the config upsert).
pub const SOURCE_API: &str = "api";

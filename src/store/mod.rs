//! Query and mutation functions over the entities, grouped by table; handlers never build SQL.

pub mod config_sync;
pub mod keys;
pub mod observe;
pub mod runtime;
pub mod settings;
pub mod usage;

pub use actors::clock::now_ms;

//! SeaORM entities of Omnigate: one module per table, plain data, no logic.
//!
//! Times are stored as milliseconds since the Unix epoch (`i64`) so that SQLite and PostgreSQL
//! hold exactly the same values; secrets are stored sealed (see the root crate's `secrets`).

pub mod account;
pub mod account_state;
pub mod api_key;
pub mod audit_log;
pub mod breaker_state;
pub mod combo;
pub mod combo_target;
pub mod dashboard_user;
pub mod model_alias;
pub mod model_lockout;
pub mod oauth_session;
pub mod pricing;
pub mod provider;
pub mod quota_window;
pub mod request_log;
pub mod setting;
pub mod transform;
pub mod usage;

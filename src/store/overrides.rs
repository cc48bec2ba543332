//! Settings edited through the admin API: one JSON object in the `settings` table holding only
//! the keys that were set (`{"routing": {"strategy": "round-robin"}}`), applied over the config
//! file's values at every start and reload.

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Map, Value};

use super::settings;

/// The `settings` key holding the overrides.
pub const OVERRIDES: &str = "config_overrides";

/// The stored overrides (an empty object when none; an unreadable value counts as none).
pub async fn load(db: &impl ConnectionTrait) -> Result<Map<String, Value>, DbErr> {
    let Some(text) = settings::get(db, OVERRIDES).await? else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Map<String, Value>>(&text) {
        Ok(m) => Ok(m),
        Err(e) => {
            tracing::warn!(error = %e, "stored setting overrides are unreadable: using the config file's values");
            Ok(Map::new())
        }
    }
}

/// Replaces the stored overrides.
pub async fn save(db: &impl ConnectionTrait, overrides: &Map<String, Value>) -> Result<(), DbErr> {
    settings::set(db, OVERRIDES, &Value::Object(overrides.clone()).to_string()).await
}

//! The `settings` key/value table.

use entities::setting;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use super::now_ms;

/// Setting holding the Argon2id hash of the admin password.
pub const ADMIN_PASSWORD_HASH: &str = "admin_password_hash";
/// Setting holding a value sealed under the master key, to detect a wrong key at start-up.
pub const MASTER_KEY_CHECK: &str = "master_key_check";
/// Sealed (purpose `gateway_key_digest_key`, base64): the key gateway-key digests are made with
/// when it came from an imported bundle; absent, it is derived from the master key.
pub const DIGEST_KEY: &str = "gateway_key_digest_key";

/// Reads one setting.
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    Ok(setting::Entity::find_by_id(key.to_string()).one(db).await?.map(|m| m.value))
}

/// Writes one setting (insert or replace).
pub async fn set(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), DbErr> {
    let row =
        setting::ActiveModel { key: Set(key.to_string()), value: Set(value.to_string()), updated_at: Set(now_ms()) };
    setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

//! Provider accounts (`accounts` table): reading, and the admin API's writes. Credentials arrive
//! here already sealed; this module never sees a plaintext key.

use entities::{account, account_state, model_lockout, oauth_session, quota_window};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::{SOURCE_API, now_ms};
use crate::config::AccountEntry;
use crate::providers::AccountOptions;

/// An account row as the config entry it stands for, without its credential.
pub fn to_entry(row: &account::Model) -> AccountEntry {
    AccountEntry {
        provider: row.provider.clone(),
        name: row.name.clone(),
        api_key: None,
        base_url: row.base_url.clone(),
        priority: row.priority,
        weight: u32::try_from(row.weight).unwrap_or(1),
        enabled: row.enabled,
        max_concurrent: row.max_concurrent.and_then(|m| u32::try_from(m).ok()),
        forward_org_headers: AccountOptions::from_json(&row.options).forward_org_headers,
        oauth: None,
        rpm: AccountOptions::from_json(&row.options).rpm,
        tpm: AccountOptions::from_json(&row.options).tpm,
        min_gap_ms: AccountOptions::from_json(&row.options).min_gap_ms,
    }
}

/// One account row.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find_by_id(id).one(db).await
}

/// The account of `provider` named `name`.
pub async fn find(db: &impl ConnectionTrait, provider: &str, name: &str) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find()
        .filter(account::Column::Provider.eq(provider))
        .filter(account::Column::Name.eq(name))
        .one(db)
        .await
}

/// Every account row, by id.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<account::Model>, DbErr> {
    account::Entity::find().order_by_asc(account::Column::Id).all(db).await
}

/// The accounts of one provider.
pub async fn of_provider(db: &impl ConnectionTrait, provider: &str) -> Result<Vec<account::Model>, DbErr> {
    account::Entity::find()
        .filter(account::Column::Provider.eq(provider))
        .order_by_asc(account::Column::Id)
        .all(db)
        .await
}

fn options(a: &AccountEntry) -> String {
    a.options().to_json()
}

fn weight(a: &AccountEntry) -> i32 {
    i32::try_from(a.weight).unwrap_or(i32::MAX)
}

fn max_concurrent(a: &AccountEntry) -> Option<i32> {
    a.max_concurrent.map(|m| i32::try_from(m).unwrap_or(i32::MAX))
}

/// Inserts an account made through the API, with its credential already sealed.
pub async fn insert(
    db: &impl ConnectionTrait,
    a: &AccountEntry,
    sealed: Option<String>,
) -> Result<account::Model, DbErr> {
    let now = now_ms();
    account::ActiveModel {
        provider: Set(a.provider.clone()),
        name: Set(a.name.clone()),
        secret: Set(sealed),
        base_url: Set(a.base_url.clone()),
        priority: Set(a.priority),
        weight: Set(weight(a)),
        enabled: Set(a.enabled),
        max_concurrent: Set(max_concurrent(a)),
        options: Set(options(a)),
        source: Set(SOURCE_API.into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Rewrites an account row from an edited entry; `secret` is `Some` when the credential changes
/// (`Some(None)` removes it).
pub async fn update(
    db: &impl ConnectionTrait,
    row: account::Model,
    a: &AccountEntry,
    secret: Option<Option<String>>,
) -> Result<account::Model, DbErr> {
    let mut am: account::ActiveModel = row.into();
    am.name = Set(a.name.clone());
    if let Some(s) = secret {
        am.secret = Set(s);
    }
    am.base_url = Set(a.base_url.clone());
    am.priority = Set(a.priority);
    am.weight = Set(weight(a));
    am.enabled = Set(a.enabled);
    am.max_concurrent = Set(max_concurrent(a));
    am.options = Set(options(a));
    am.updated_at = Set(now_ms());
    am.update(db).await
}

/// Deletes an account row with its persisted health and model locks.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    model_lockout::Entity::delete_many().filter(model_lockout::Column::AccountId.eq(id)).exec(db).await?;
    // A subscription account's sealed tokens and every account's quota windows go with it.
    oauth_session::Entity::delete_by_id(id).exec(db).await?;
    let subject = actors::quota::persist::account_subject(id);
    quota_window::Entity::delete_many().filter(quota_window::Column::Subject.eq(subject)).exec(db).await?;
    account_state::Entity::delete_by_id(id).exec(db).await?;
    account::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

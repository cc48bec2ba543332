//! Custom providers (`providers` table): reading, and the admin API's writes. Built-in catalog
//! providers have no row.

use entities::{breaker_state, provider};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use super::{SOURCE_API, now_ms};
use crate::config::{AuthStyle, ModelSpec, ProviderEntry};
use crate::protocol::Dialect;

/// A provider row as the config entry it stands for (unreadable stored values become defaults).
pub fn to_entry(row: &provider::Model) -> ProviderEntry {
    let dialect = Dialect::parse(&row.dialect).unwrap_or(Dialect::OpenaiChat);
    ProviderEntry {
        id: row.id.clone(),
        dialect,
        base_url: row.base_url.clone(),
        models: serde_json::from_str::<Vec<ModelSpec>>(&row.models).unwrap_or_default(),
        auth: Some(AuthStyle::parse(&row.auth).unwrap_or_else(|| crate::providers::default_auth(dialect))),
        strategy: row.strategy.as_deref().and_then(actors::Strategy::parse),
        rpm: crate::providers::ProviderOptions::from_json(&row.options).rpm,
        tpm: crate::providers::ProviderOptions::from_json(&row.options).tpm,
        min_gap_ms: crate::providers::ProviderOptions::from_json(&row.options).min_gap_ms,
        max_concurrent: crate::providers::ProviderOptions::from_json(&row.options).max_concurrent,
        serves: crate::providers::ProviderOptions::from_json(&row.options).serves,
    }
}

fn models_json(models: &[ModelSpec]) -> String {
    serde_json::to_string(models).unwrap_or_else(|_| "[]".into())
}

/// One provider row.
pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Option<provider::Model>, DbErr> {
    provider::Entity::find_by_id(id.to_string()).one(db).await
}

/// Every provider row, by id.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<provider::Model>, DbErr> {
    provider::Entity::find().order_by_asc(provider::Column::Id).all(db).await
}

/// Inserts a provider made through the API.
pub async fn insert(db: &impl ConnectionTrait, p: &ProviderEntry) -> Result<provider::Model, DbErr> {
    let now = now_ms();
    let dialect = p.dialect;
    provider::ActiveModel {
        id: Set(p.id.clone()),
        dialect: Set(dialect.as_str().into()),
        base_url: Set(p.base_url.clone()),
        auth: Set(p.auth.unwrap_or_else(|| crate::providers::default_auth(dialect)).as_str().into()),
        models: Set(models_json(&p.models)),
        strategy: Set(p.strategy.map(|s| s.as_str().to_string())),
        source: Set(SOURCE_API.into()),
        options: Set(p.options().to_json()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Rewrites a provider row from an edited entry (its id and source stay).
pub async fn update(
    db: &impl ConnectionTrait,
    row: provider::Model,
    p: &ProviderEntry,
) -> Result<provider::Model, DbErr> {
    let dialect = p.dialect;
    let mut am: provider::ActiveModel = row.into();
    am.dialect = Set(dialect.as_str().into());
    am.base_url = Set(p.base_url.clone());
    am.auth = Set(p.auth.unwrap_or_else(|| crate::providers::default_auth(dialect)).as_str().into());
    am.models = Set(models_json(&p.models));
    am.strategy = Set(p.strategy.map(|s| s.as_str().to_string()));
    am.options = Set(p.options().to_json());
    am.updated_at = Set(now_ms());
    am.update(db).await
}

/// Deletes a provider row and its persisted breaker (a provider made again later starts closed).
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    breaker_state::Entity::delete_by_id(id.to_string()).exec(db).await?;
    provider::Entity::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}

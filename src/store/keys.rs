//! Gateway keys: creation, listing, revocation. Only digests are stored.

use entities::api_key;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::now_ms;

/// A key as listed (never the key itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyRow {
    /// Unique name.
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    /// Allowed model patterns.
    pub models: Vec<String>,
    /// Whether it is accepted.
    pub enabled: bool,
    /// `config`, `cli` or `api`.
    pub source: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Revocation time, ms.
    pub revoked_at: Option<i64>,
    /// Its limits and budget.
    pub limits: crate::keys::KeyLimits,
    /// Its team.
    pub team: Option<String>,
    /// Whether its deterministic requests are answered from the response cache.
    pub cache: bool,
}

impl From<api_key::Model> for KeyRow {
    fn from(m: api_key::Model) -> Self {
        Self {
            models: serde_json::from_str(&m.models).unwrap_or_default(),
            name: m.name,
            prefix: m.prefix,
            enabled: m.enabled,
            source: m.source,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            limits: crate::keys::KeyLimits::from_column(m.limits.as_deref()),
            team: m.team,
            cache: m.cache,
        }
    }
}

/// A key's display prefix: enough to recognise, too little to use.
pub fn display_prefix(key: &str) -> String {
    let n = key.char_indices().nth(8).map(|(i, _)| i).unwrap_or(key.len().min(4));
    format!("{}…", &key[..n.min(key.len())])
}

/// Inserts a new key row; fails on a duplicate name or digest.
pub async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    digest: &str,
    prefix: &str,
    models: &[String],
    source: &str,
) -> Result<(), DbErr> {
    api_key::ActiveModel {
        name: Set(name.to_string()),
        digest: Set(digest.to_string()),
        prefix: Set(prefix.to_string()),
        models: Set(serde_json::to_string(models).unwrap_or_else(|_| "[]".into())),
        enabled: Set(true),
        source: Set(source.to_string()),
        created_at: Set(now_ms()),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The key row named `name` (active or revoked; names are unique).
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find().filter(api_key::Column::Name.eq(name)).one(db).await
}

/// Issues a new key under the name of a revoked one: the row is reused (names are unique), so
/// the old key's digest is gone and only the new key opens it. Its source becomes `source`.
pub async fn reissue(
    db: &impl ConnectionTrait,
    revoked: api_key::Model,
    digest: &str,
    prefix: &str,
    models: &[String],
    source: &str,
) -> Result<api_key::Model, DbErr> {
    let mut am: api_key::ActiveModel = revoked.into();
    am.digest = Set(digest.to_string());
    am.prefix = Set(prefix.to_string());
    am.models = Set(serde_json::to_string(models).unwrap_or_else(|_| "[]".into()));
    am.enabled = Set(true);
    am.source = Set(source.to_string());
    am.created_at = Set(now_ms());
    am.revoked_at = Set(None);
    am.update(db).await
}

/// Changes a key's allowed models and whether it is accepted.
pub async fn update(
    db: &impl ConnectionTrait,
    row: api_key::Model,
    models: &[String],
    enabled: bool,
) -> Result<api_key::Model, DbErr> {
    let mut am: api_key::ActiveModel = row.into();
    am.models = Set(serde_json::to_string(models).unwrap_or_else(|_| "[]".into()));
    am.enabled = Set(enabled);
    am.update(db).await
}

/// Sets a key's limits (`None` or nothing set: none).
pub async fn set_limits(
    db: &impl ConnectionTrait,
    row: api_key::Model,
    limits: &crate::keys::KeyLimits,
) -> Result<api_key::Model, DbErr> {
    let column = limits.to_column();
    if row.limits == column {
        return Ok(row);
    }
    let mut am: api_key::ActiveModel = row.into();
    am.limits = Set(column);
    am.update(db).await
}

/// What `keys` have spent since `since` (ms), from their usage rows (the priced cost).
pub async fn spent_since(db: &impl ConnectionTrait, keys: &[&str], since: i64) -> Result<f64, DbErr> {
    if keys.is_empty() {
        return Ok(0.0);
    }
    use entities::usage;
    use sea_orm::QuerySelect;
    let sum: Option<Option<f64>> = usage::Entity::find()
        .select_only()
        .column_as(usage::Column::CostUsd.sum(), "spent")
        .filter(usage::Column::KeyName.is_in(keys.iter().copied()))
        .filter(usage::Column::Ts.gte(since))
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.flatten().unwrap_or(0.0))
}

/// Sets the team a key belongs to.
pub async fn set_team(
    db: &impl ConnectionTrait,
    row: api_key::Model,
    team: Option<&str>,
) -> Result<api_key::Model, DbErr> {
    if row.team.as_deref() == team {
        return Ok(row);
    }
    let mut am: api_key::ActiveModel = row.into();
    am.team = Set(team.map(str::to_string));
    am.update(db).await
}

/// Sets whether a key's deterministic requests are answered from the response cache.
pub async fn set_cache(db: &impl ConnectionTrait, row: api_key::Model, cache: bool) -> Result<api_key::Model, DbErr> {
    if row.cache == cache {
        return Ok(row);
    }
    let mut am: api_key::ActiveModel = row.into();
    am.cache = Set(cache);
    am.update(db).await
}

/// All keys, revoked ones included, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find().order_by_asc(api_key::Column::Name).all(db).await
}

/// Revokes a key by name; `false` when no active key has that name.
pub async fn revoke(db: &impl ConnectionTrait, name: &str) -> Result<bool, DbErr> {
    let Some(row) = api_key::Entity::find()
        .filter(api_key::Column::Name.eq(name))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let mut am: api_key::ActiveModel = row.into();
    am.enabled = Set(false);
    am.revoked_at = Set(Some(now_ms()));
    am.update(db).await?;
    Ok(true)
}

/// Number of keys that are not revoked.
pub async fn count_active(db: &impl ConnectionTrait) -> Result<usize, DbErr> {
    Ok(list(db).await?.into_iter().filter(|k| k.revoked_at.is_none()).count())
}

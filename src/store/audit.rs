//! The audit log: one row per change made through the admin API, written inside the change's own
//! transaction (a change and its audit row land together or not at all). Rows never hold secrets:
//! callers pass the same redacted JSON the API answers with.

use entities::audit_log;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use super::now_ms;

/// One change, as it is recorded.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// How the admin was authenticated (`session` or `token`).
    pub actor: &'a str,
    /// The client address.
    pub ip: Option<String>,
    /// What kind of thing changed (`provider`, `account`, ...).
    pub resource: &'a str,
    /// Its id or name.
    pub resource_id: String,
    /// `create`, `update`, `delete`, `revoke`, `reset`.
    pub action: &'a str,
    /// How it looked before (`None` on create).
    pub before: Option<Value>,
    /// How it looks after (`None` on delete).
    pub after: Option<Value>,
}

/// Writes one audit row (inside the caller's transaction).
pub async fn record(db: &impl ConnectionTrait, c: Change<'_>) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        ts: Set(now_ms()),
        actor: Set(c.actor.to_string()),
        ip: Set(c.ip),
        resource: Set(c.resource.to_string()),
        resource_id: Set(c.resource_id),
        action: Set(c.action.to_string()),
        before: Set(c.before.map(|v| v.to_string())),
        after: Set(c.after.map(|v| v.to_string())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Up to `limit` rows older than `cursor` (an id; `None`: from the newest), newest first.
pub async fn page(db: &impl ConnectionTrait, limit: u64, cursor: Option<i64>) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut q = audit_log::Entity::find().order_by_desc(audit_log::Column::Id).limit(limit);
    if let Some(c) = cursor {
        q = q.filter(audit_log::Column::Id.lt(c));
    }
    q.all(db).await
}

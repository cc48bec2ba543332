//! `audit_log`: one row per change made through the admin API.

use sea_orm::entity::prelude::*;

/// Who changed what, when, and how it looked before and after (JSON, never a secret).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When, ms since the epoch.
    pub ts: i64,
    /// How the admin was authenticated: `session` (dashboard) or `token` (`OMNIGATE_ADMIN_TOKEN`).
    pub actor: String,
    /// The client address the change came from.
    pub ip: Option<String>,
    /// `provider`, `account`, `combo`, `alias`, `key`, `settings`, `breaker`.
    pub resource: String,
    /// The resource's id or name.
    pub resource_id: String,
    /// `create`, `update`, `delete`, `revoke`, `reset`.
    pub action: String,
    /// JSON of the resource before the change (`None` on create).
    pub before: Option<String>,
    /// JSON of the resource after the change (`None` on delete).
    pub after: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}

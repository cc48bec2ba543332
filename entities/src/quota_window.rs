//! `quota_windows`: rolling usage windows of an account or a gateway key.

use sea_orm::entity::prelude::*;

/// Usage within one window of one subject.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_windows")]
pub struct Model {
    /// `account:<id>` or `key:<name>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// The window's name as its upstream reports it: `5h`, `7d`, `primary`, `requests`, ...
    #[sea_orm(primary_key, auto_increment = false)]
    pub window: String,
    pub window_start: i64,
    pub used_tokens: i64,
    pub used_cost: f64,
    pub updated_at: i64,
    /// Used share reported by the upstream, 0 to 1.
    pub used_fraction: Option<f64>,
    /// When the window resets (ms).
    pub resets_at: Option<i64>,
    /// `allowed`, `warning` or `exhausted`.
    pub status: Option<String>,
    /// The window's length, seconds.
    pub window_secs: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}

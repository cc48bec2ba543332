//! `request_logs`: per-request detail (attempt trace, error text), pruned by retention.

use sea_orm::entity::prelude::*;

/// The detail of one request; `detail` is a JSON document.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ts: i64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub key_name: Option<String>,
    pub model: String,
    pub detail: String,
}

impl ActiveModelBehavior for ActiveModel {}

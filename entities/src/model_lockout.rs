//! `model_lockouts`: one model locked on one account until a time.

use sea_orm::entity::prelude::*;

/// A per-model lockout (a 429 or 404 that concerns one model only).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_lockouts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub model: String,
    pub until: i64,
    pub reason: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}

//! `settings`: small key/value runtime settings (admin password hash, key check, ...).

use sea_orm::entity::prelude::*;

/// One setting; the value is JSON or an opaque string chosen by its owner.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: String,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

//! `model_aliases`: alias (wildcards allowed) to `provider/model`.

use sea_orm::entity::prelude::*;

/// A model alias.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "model_aliases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alias: String,
    pub target: String,
    pub source: String,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

//! `transforms`: request transforms, applied in `position` order; `spec` is the JSON of the
//! transform without its name.

use sea_orm::entity::prelude::*;

/// A request transform.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "transforms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub position: i64,
    pub spec: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

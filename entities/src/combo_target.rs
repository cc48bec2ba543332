//! `combo_targets`: the ordered `provider/model` targets of a combo.

use sea_orm::entity::prelude::*;

/// One target of a combo, at a position.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "combo_targets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub combo_id: i64,
    pub position: i32,
    /// `provider/model` (or an alias).
    pub model: String,
    pub weight: i32,
}

impl ActiveModelBehavior for ActiveModel {}

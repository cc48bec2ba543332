//! `combos`: named, ordered fallback lists usable as a model name.

use sea_orm::entity::prelude::*;

/// A combo; its targets are rows of `combo_targets`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "combos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// Order in which targets are tried: `priority`, `round-robin`, `random`, ...
    pub strategy: String,
    pub enabled: bool,
    pub source: String,
    /// Options read as a whole (JSON object), e.g. `{"resume": true}`.
    pub options: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

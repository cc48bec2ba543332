//! `pricing`: USD per million tokens (and per image, audio second or character for the surfaces
//! billed so) per provider and model (wildcards allowed in `model`).

use sea_orm::entity::prelude::*;

/// One price. `source` says who owns it: `catalog` (the built-in catalog, refreshed at start),
/// `config` (a custom provider's declared price), `api` (an operator's edit, never overwritten)
/// or `deleted` (an operator removed it: no price, and seeding does not bring it back).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "pricing")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Provider id, or `*` for every provider.
    pub provider: String,
    /// Model id, or a pattern with `*` (`gpt-4o*`, `*`).
    pub model: String,
    /// Input tokens (not cached).
    pub input: f64,
    pub output: f64,
    /// Cache reads (`None`: the input price).
    pub cache_read: Option<f64>,
    /// Cache writes (`None`: the input price).
    pub cache_write: Option<f64>,
    /// Reasoning tokens billed apart (`None`: inside output, at the output price).
    pub reasoning: Option<f64>,
    /// USD per image made or edited (image edits).
    pub per_image: Option<f64>,
    /// USD per second of audio transcribed or translated.
    pub per_second: Option<f64>,
    /// USD per character of input spoken (text to speech).
    pub per_character: Option<f64>,
    pub source: String,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

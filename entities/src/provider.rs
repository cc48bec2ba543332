//! `providers`: custom providers (built-in catalog providers need no row).

use sea_orm::entity::prelude::*;

/// A custom upstream provider declared in the config file or through the admin API.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    /// Provider id used in model strings (`<id>/<model>`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Wire dialect the upstream speaks: `openai-chat`, `openai-responses`, `anthropic`, `gemini`.
    pub dialect: String,
    /// Base URL the dialect's paths are appended to.
    pub base_url: String,
    /// How the credential is sent: `bearer`, `x-api-key`, `x-goog-api-key`, `query`, `none`.
    pub auth: String,
    /// JSON array of model ids this provider serves.
    pub models: String,
    /// Account strategy override for this provider (`None`: the global default).
    pub strategy: Option<String>,
    /// `config` when declared in the config file, `api` when created at runtime.
    pub source: String,
    /// Options read as a whole (JSON object): the pacing defaults of its accounts.
    pub options: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

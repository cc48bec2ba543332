//! `accounts`: provider accounts (connections), several per provider.

use sea_orm::entity::prelude::*;

/// One provider account; its credential is sealed, never stored in plaintext.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Provider id (custom or catalog).
    pub provider: String,
    /// Name, unique within its provider.
    pub name: String,
    /// Sealed API key or token (`None` for providers without auth).
    pub secret: Option<String>,
    /// Override of the provider's base URL.
    pub base_url: Option<String>,
    /// Lower is preferred by fill-first and cost-optimized.
    pub priority: i32,
    /// Relative share for weighted random choice.
    pub weight: i32,
    pub enabled: bool,
    /// At most this many requests in flight on this account (`None`: unlimited).
    pub max_concurrent: Option<i32>,
    /// `config` or `api`.
    pub source: String,
    /// Options read as a whole (JSON object), e.g. `{"forward_org_headers": true}`.
    pub options: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

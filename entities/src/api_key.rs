//! `api_keys`: gateway keys, stored only as keyed digests.

use sea_orm::entity::prelude::*;

/// A gateway key clients send as `Authorization: Bearer` or `x-api-key`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// HMAC-SHA256 of the key under a key derived from the master key, hex.
    #[sea_orm(unique)]
    pub digest: String,
    /// First characters of the key, for recognising it in lists.
    pub prefix: String,
    /// JSON array of allowed model patterns (`*`, `?` wildcards).
    pub models: String,
    pub enabled: bool,
    pub source: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Per-key limits as JSON (`keys::KeyLimits`); NULL when none.
    pub limits: Option<String>,
    /// The team it belongs to (`[[teams]]`), whose limits apply too.
    pub team: Option<String>,
    /// Repeated deterministic requests of this key are answered from the response cache.
    pub cache: bool,
}

impl ActiveModelBehavior for ActiveModel {}

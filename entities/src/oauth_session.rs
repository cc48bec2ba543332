//! `oauth_sessions`: the OAuth session of a subscription account (one per account).

use sea_orm::entity::prelude::*;

/// The sign-in of one OAuth account. Its tokens are sealed; nothing here is a secret in clear.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "oauth_sessions")]
pub struct Model {
    /// The account (deleted with it).
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// Provider id (`claude-code`, `codex`, ...).
    pub provider: String,
    /// Sealed JSON: access and refresh tokens and the provider facts that travel with them.
    pub secret: String,
    /// When the access token expires (ms), for display.
    pub expires_at: Option<i64>,
    /// Bumped by every write of new tokens; the newer generation wins.
    pub generation: i64,
    /// `ok`, `reauth_required` or `disabled`.
    pub status: String,
    /// Why the account needs a new sign-in (the provider's words, no token).
    pub reason: Option<String>,
    /// Keyed digest of the config file's seed tokens (config accounts only): the seed replaces
    /// the stored tokens only when it changes.
    pub seed_digest: Option<String>,
    /// Endpoint overrides (JSON object: `token_url`, `authorize_url`, `device_url`, `usage_url`).
    pub endpoints: String,
    /// Last refresh (ms).
    pub refreshed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

//! Config as code for subscription accounts: `[[accounts]] ... oauth = { access_token,
//! refresh_token, expires_at }` is a seed, sealed at upsert. The stored tokens are replaced only
//! when the seed's own values change, so tokens the gateway refreshed (and a rotated refresh
//! token) survive a restart with the same config file. Endpoint overrides always follow the file.

use sea_orm::DatabaseConnection;
use serde_json::json;

use super::store::{self, Seed, StoreError};
use super::{EndpointOverrides, Grant, Kind};
use crate::config::{AccountEntry, Config, OAuthEntry};
use crate::secrets::Sealer;
use crate::store::SOURCE_CONFIG;

/// The endpoint overrides an entry declares.
pub fn overrides(o: &OAuthEntry) -> EndpointOverrides {
    EndpointOverrides {
        authorize_url: o.authorize_url.clone(),
        token_url: o.token_url.clone(),
        device_url: o.device_url.clone(),
        device_token_url: o.device_token_url.clone(),
        usage_url: o.usage_url.clone(),
        redirect_uri: None,
    }
}

/// The tokens an entry declares, if any.
pub fn grant(o: &OAuthEntry) -> Option<Grant> {
    if o.access_token.is_none() && o.refresh_token.is_none() {
        return None;
    }
    Some(Grant {
        access: o.access_token.clone().unwrap_or_default(),
        refresh: o.refresh_token.clone(),
        expires_at: o.expires_at.as_deref().and_then(super::import::parse_time),
        extra: o.extra.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
    })
}

/// The keyed digest of a seed: it changes when any of its values does, and reveals none.
fn digest(sealer: &Sealer, a: &AccountEntry, o: &OAuthEntry) -> String {
    let text = json!([a.provider, a.name, o.access_token, o.refresh_token, o.expires_at, o.extra]).to_string();
    sealer.digest(&format!("oauth-seed:{text}"))
}

/// Applies every seed of `cfg` (after `config_sync` made the account rows). Returns how many
/// sessions got the file's tokens.
pub async fn sync(db: &DatabaseConnection, cfg: &Config, sealer: &Sealer) -> Result<usize, StoreError> {
    let mut applied = 0;
    for a in &cfg.accounts {
        let (Some(kind), Some(o)) = (Kind::parse(&a.provider), &a.oauth) else { continue };
        let Some(row) = crate::store::accounts::find(db, &a.provider, &a.name).await? else { continue };
        if row.source != SOURCE_CONFIG {
            continue;
        }
        let endpoints = overrides(o);
        match grant(o) {
            Some(grant) => {
                let seed = Seed { account_id: row.id, kind, grant, digest: digest(sealer, a, o), endpoints };
                if store::apply_seed(db, sealer, &seed).await? {
                    tracing::info!(account = row.id, provider = kind.id(), "OAuth tokens seeded from the config file");
                    applied += 1;
                }
            }
            None => store::set_endpoints(db, row.id, &endpoints).await?,
        }
    }
    Ok(applied)
}

//! Google Vertex AI with a service account (`auth = "google-service-account"`): the account's
//! credential is the service account's JSON key; each attempt carries an OAuth access token minted
//! from it by the JWT bearer grant (RFC 7523; developers.google.com/identity/protocols/oauth2/
//! service-account: an RS256 JWT with `iss` = the key's `client_email`, `scope` = cloud-platform,
//! `aud` = its `token_uri`, `exp` ≤ one hour, posted as `assertion` with `grant_type`
//! `urn:ietf:params:oauth:grant-type:jwt-bearer`). Tokens are cached per account and key until a
//! minute before they expire; one mint per account at a time. The key's `project_id` fills
//! `{project}` in the base URL. The private key never leaves this module.

use std::sync::Arc;

use actors::credential::Credential;
use actors::executor::{Target, UpstreamCall};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dashmap::DashMap;
use serde::Deserialize;
use serde_json::json;

/// The scope every Vertex AI call needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint (a key file's `token_uri` names it; the key's own value is used).
pub const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// What the grant is called.
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime asked of each token (the most Google allows).
const LIFETIME_S: i64 = 3600;
/// A token is replaced this long before it expires.
const MARGIN_S: i64 = 60;

/// The fields of a service account JSON key this module reads.
#[derive(Deserialize)]
pub struct ServiceAccount {
    /// `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The project calls are billed to (`{project}` in the base URL).
    #[serde(default)]
    pub project_id: String,
    /// The key's id (the JWT's `kid`).
    #[serde(default)]
    pub private_key_id: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    /// The account's email (the JWT's `iss`).
    pub client_email: String,
    /// Where tokens are minted.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    TOKEN_URI.into()
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Parses a JSON key, saying what is wrong with it (never echoing it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let sa: Self = serde_json::from_str(text).map_err(|e| {
            format!("the credential is not a service account JSON key (line {}, column {})", e.line(), e.column())
        })?;
        if sa.kind != "service_account" {
            return Err(format!("the JSON key's type is `{}`, not `service_account`", sa.kind));
        }
        sa.key_der()?;
        Ok(sa)
    }

    /// The private key as PKCS#8 DER.
    fn key_der(&self) -> Result<Vec<u8>, String> {
        let body: String =
            self.private_key.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
        STANDARD.decode(body).map_err(|_| "the service account's private_key is not a PEM key".to_string())
    }

    /// A signed JWT asking for a cloud-platform token, issued at `now` (seconds).
    pub fn assertion(&self, now: i64) -> Result<String, String> {
        let der = self.key_der()?;
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| "the service account's private_key is not an RSA PKCS#8 key".to_string())?;
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = json!({
            "iss": self.client_email, "scope": SCOPE, "aud": self.token_uri,
            "iat": now, "exp": now + LIFETIME_S,
        });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| "signing the token request failed".to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A minted token and when (unix seconds) it stops being used.
type Minted = Option<(String, i64)>;

/// Access tokens per account and key, minted on demand.
#[derive(Debug, Default)]
pub struct Tokens {
    slots: DashMap<(i64, String), Arc<tokio::sync::Mutex<Minted>>>,
}

impl Tokens {
    /// A token for account `account` with key `sa`: the cached one while it has over a minute
    /// left, else a new one (callers for one account wait for one mint).
    pub async fn token(&self, account: i64, sa: &ServiceAccount) -> Result<String, String> {
        let slot = self.slots.entry((account, sa.private_key_id.clone())).or_default().clone();
        let mut held = slot.lock().await;
        let now = crate::store::now_ms() / 1000;
        if let Some((t, until)) = held.as_ref()
            && *until > now
        {
            return Ok(t.clone());
        }
        let assertion = sa.assertion(now)?;
        let v = crate::oauth::http::post_form(&sa.token_uri, &[("grant_type", GRANT), ("assertion", &assertion)], &[])
            .await
            .map_err(|e| format!("minting an access token for {} failed: {e}", sa.client_email))?;
        let token = crate::oauth::http::field(&v, "access_token")
            .ok_or_else(|| "the token endpoint answered without an access_token".to_string())?;
        let expires = crate::oauth::http::seconds(&v, "expires_in").unwrap_or(LIFETIME_S);
        *held = Some((token.clone(), now + expires - MARGIN_S));
        Ok(token)
    }
}

/// Puts an access token on a call to a service-account provider: the base URL's `{project}`
/// becomes the key's project, and the only credential sent is `Authorization: Bearer`.
pub async fn sign(
    tokens: &Tokens,
    account: i64,
    credential: Option<&Credential>,
    mut call: UpstreamCall,
) -> Result<UpstreamCall, String> {
    let Some(c) = credential else { return Err("the account has no service account key".into()) };
    let sa = ServiceAccount::parse(c.expose())?;
    let token = tokens.token(account, &sa).await?;
    if let Target::Http { url, headers, .. } = &mut call.target {
        *url = url.replace("{project}", &sa.project_id);
        headers.retain(|(k, _)| !matches!(k.as_str(), "authorization" | "x-goog-api-key"));
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_a_service_account_is_refused_without_echoing_it() {
        let e = ServiceAccount::parse("sk-not-json-secret").expect_err("refused");
        assert!(!e.contains("secret"), "{e}");
        let e = ServiceAccount::parse(r#"{"type":"authorized_user","private_key":"x","client_email":"a@b"}"#)
            .expect_err("refused");
        assert!(e.contains("authorized_user"), "{e}");
        let e = ServiceAccount::parse(
            r#"{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----","client_email":"a@b"}"#,
        )
        .expect_err("refused");
        assert!(e.contains("PEM"), "{e}");
    }
}

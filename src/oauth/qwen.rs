//! `qwen-code` (`qw`): Qwen Code's sign-in, a device flow with PKCE; calls go to the
//! OpenAI-Chat API at the resource URL the token names, with DashScope's OAuth headers.
//!
//! Status: Qwen ended the free OAuth tier on 2026-04-15 (QwenLM/qwen-code #3203, PR #3210 hides
//! the OAuth entry points; users report 401 "invalid access token" since). The protocol below is
//! kept as it was, for accounts it still serves.
//!
//! Sources (/work/notes/oauth-providers.md §5): "QWEN" is QwenLM/qwen-code
//! `packages/core/src/qwen/qwenOAuth2.ts` at 0231fe43, `qwen/qwenContentGenerator.ts` and
//! `openaiContentGenerator/provider/dashscope.ts`. 9router's `src/lib/oauth/constants/oauth.js`
//! uses `qwen.ai` for the host while its `appConstants.js` and the official client use
//! `chat.qwen.ai`: the official host is taken.

use actors::refresher::Tokens;
use serde_json::{Value, json};

use super::device::DeviceCode;
use super::dress::{Outbound, join};
use super::http::{self, OAuthError, field, seconds};
use super::pkce::Pkce;
use super::{Endpoints, Grant, expiry};

/// OAuth client id (QWEN `QWEN_OAUTH_CLIENT_ID`).
pub const CLIENT_ID: &str = "f0304373b74a44d2b584a3fb70ca9e56";
/// Device-code request (QWEN `QWEN_OAUTH_DEVICE_CODE_ENDPOINT`).
pub const DEVICE_URL: &str = "https://chat.qwen.ai/api/v1/oauth2/device/code";
/// Device poll and refresh (QWEN `QWEN_OAUTH_TOKEN_ENDPOINT`).
pub const TOKEN_URL: &str = "https://chat.qwen.ai/api/v1/oauth2/token";
/// Scopes (QWEN `QWEN_OAUTH_SCOPE`).
pub const SCOPE: &str = "openid profile email model.completion";
/// The API when the token names no resource URL (the catalog's base; the usual
/// `resource_url` is `portal.qwen.ai`, 9router `qwen.js`).
pub const DEFAULT_API: &str = "https://portal.qwen.ai/v1";
/// The user agent (format per QWEN dashscope.ts `QwenCode/<version> (<platform>; <arch>)`; the
/// version 0.24.4 is what a third-party client sends, find_string id 68368910909 — the current
/// official version is not confirmed).
pub const USER_AGENT: &str = "QwenCode/0.24.4 (linux; x64)";

/// The provider's endpoints (device flow only; no usage endpoint is known).
pub fn endpoints() -> Endpoints {
    Endpoints {
        authorize_url: String::new(),
        token_url: TOKEN_URL.into(),
        device_url: DEVICE_URL.into(),
        device_token_url: TOKEN_URL.into(),
        usage_url: String::new(),
        redirect_uri: String::new(),
    }
}

/// Asks for a device code: a form with the PKCE challenge, and an `x-request-id` (QWEN).
pub async fn device_start(ep: &Endpoints, now: i64) -> Result<DeviceCode, OAuthError> {
    let p = Pkce::new();
    let form = [
        ("client_id", CLIENT_ID),
        ("scope", SCOPE),
        ("code_challenge", &p.challenge),
        ("code_challenge_method", "S256"),
    ];
    let rid = uuid::Uuid::new_v4().to_string();
    let v = http::post_form(&ep.device_url, &form, &[("x-request-id", rid.as_str())]).await?;
    let mut code = DeviceCode::parse(&v, now, Some(p.verifier))?;
    // QWEN polls every 2 s unless told otherwise.
    if v.get("interval").is_none() {
        code.interval_ms = 2_000;
    }
    Ok(code)
}

/// One poll: `400 authorization_pending`, `429 slow_down`, 401 once the code expired (QWEN).
pub async fn device_poll(ep: &Endpoints, code: &DeviceCode) -> Result<Value, OAuthError> {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", CLIENT_ID),
        ("device_code", code.device_code.as_str()),
        ("code_verifier", code.verifier.as_deref().unwrap_or_default()),
    ];
    match http::post_form(&ep.device_token_url, &form, &[]).await {
        Err(OAuthError::Status { status: 401 }) => Err(OAuthError::Refused {
            status: 401,
            code: "expired_token".into(),
            description: "the device code expired".into(),
        }),
        other => other,
    }
}

/// Reads a token answer: `resource_url` names the API host the token is bound to.
pub fn grant(v: &Value, now: i64, old: Option<&Grant>) -> Result<Grant, OAuthError> {
    let access = field(v, "access_token").ok_or_else(|| OAuthError::Protocol("no access_token".into()))?;
    let mut extra = old.map(|g| g.extra.clone()).unwrap_or_default();
    if let Some(r) = field(v, "resource_url") {
        extra.insert("resource_url".into(), json!(r));
    }
    Ok(Grant {
        access,
        // Keep the old refresh token when none is returned (QWEN `refreshAccessToken`).
        refresh: field(v, "refresh_token").or_else(|| old.and_then(|g| g.refresh.clone())),
        expires_at: expiry(now, seconds(v, "expires_in")),
        extra,
    })
}

/// Refreshes (a form; a dead token answers 400/401, QWEN `CredentialsClearRequiredError`).
pub async fn refresh(ep: &Endpoints, current: &Grant, now: i64) -> Result<Grant, OAuthError> {
    let rt = current.refresh.as_deref().unwrap_or_default();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", CLIENT_ID)];
    match http::post_form(&ep.token_url, &form, &[]).await {
        Ok(v) => grant(&v, now, Some(current)),
        Err(OAuthError::Status { status: status @ (400 | 401) }) => Err(OAuthError::Refused {
            status,
            code: "invalid_grant".into(),
            description: "refresh token expired or invalid".into(),
        }),
        Err(e) => Err(e),
    }
}

/// Reads `~/.qwen/oauth_creds.json` (QWEN `QwenCredentials`: `expiry_date` in ms,
/// `resource_url`).
pub fn import(text: &str, now: i64) -> Result<Grant, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut g = grant(&v, now, None).map_err(|_| "no `access_token` (is this Qwen Code's oauth_creds.json?)")?;
    g.expires_at = v.get("expiry_date").and_then(Value::as_i64).or(g.expires_at);
    Ok(g)
}

/// The API base of a token: `https://<resource_url>/v1`, adding the scheme and `/v1` when
/// missing (QWEN qwenContentGenerator.ts `getCurrentEndpoint`).
pub fn api_base(tokens: &Tokens) -> String {
    let Some(r) = tokens.extra_str("resource_url") else { return DEFAULT_API.into() };
    let with_scheme =
        if r.starts_with("http://") || r.starts_with("https://") { r.to_string() } else { format!("https://{r}") };
    let trimmed = with_scheme.trim_end_matches('/');
    if trimmed.ends_with("/v1") { trimmed.to_string() } else { format!("{trimmed}/v1") }
}

/// Puts on the bearer and DashScope's OAuth headers (QWEN dashscope.ts `buildHeaders`), at the
/// account's API base.
pub fn dress(o: &mut Outbound, tokens: &Tokens) {
    o.bearer(tokens);
    if !o.base.is_empty() {
        let path = if o.url.ends_with("/embeddings") { "embeddings" } else { "chat/completions" };
        o.url = join(&o.base, path);
    }
    o.set("user-agent", USER_AGENT);
    o.set("x-dashscope-useragent", USER_AGENT);
    o.set("x-dashscope-cachecontrol", "enable");
    o.set("x-dashscope-authtype", "qwen-oauth");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_url_becomes_the_api_base() {
        let with = |r: &str| {
            let mut g = Grant { access: "a".into(), refresh: None, expires_at: None, extra: Default::default() };
            g.extra.insert("resource_url".into(), json!(r));
            api_base(&g.into_tokens(0, 1))
        };
        assert_eq!(with("portal.qwen.ai"), "https://portal.qwen.ai/v1");
        assert_eq!(with("https://x.example/v1/"), "https://x.example/v1");
        assert_eq!(with("http://127.0.0.1:9/qw"), "http://127.0.0.1:9/qw/v1");
        let none = Grant { access: "a".into(), refresh: None, expires_at: None, extra: Default::default() };
        assert_eq!(api_base(&none.into_tokens(0, 1)), DEFAULT_API);
    }

    #[test]
    fn credential_file() {
        let g = import(r#"{"access_token":"qa","refresh_token":"qr","expiry_date":1767396165210,"token_type":"Bearer","resource_url":"portal.qwen.ai"}"#, 0)
            .expect("parses");
        assert_eq!(
            (g.refresh.as_deref(), g.expires_at, g.extra["resource_url"].as_str()),
            (Some("qr"), Some(1_767_396_165_210), Some("portal.qwen.ai"))
        );
    }
}

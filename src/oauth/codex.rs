//! `codex` (`cx`): ChatGPT Plus/Pro through the Codex CLI's OAuth client. Sign-in is an
//! authorization code with PKCE redirected to `localhost:1455`; calls go to ChatGPT's Codex
//! Responses endpoint with the account-id header, and that endpoint's body rules (`store: false`,
//! always streamed, `instructions` present, no sampling or length parameters).
//!
//! Sources (/work/notes/oauth-providers.md §2): "CODEX" is openai/codex `codex-rs` (login
//! `server.rs` at 0483fd17, `auth/manager.rs` at 0126a9dd, `token_data.rs` at 1245f8b0,
//! `codex-api/src/rate_limits.rs` at 5d24c10b); "SIWC" is OpenAI's Sign in with ChatGPT page
//! developers.openai.com/siwc/token-sharing-open-source/preview-limitations; "CPA" is
//! CLIProxyAPI at a7e3596b.

use actors::quota::{Observation, Reading, WindowStatus};
use actors::refresher::Tokens;
use awc::http::header::HeaderMap;
use base64::Engine;
use serde_json::{Value, json};

use super::dress::Outbound;
use super::http::{self, OAuthError, field, seconds};
use super::pkce::{Pkce, query};
use super::{Endpoints, Grant, expiry};

/// OAuth client id of the Codex CLI (CODEX manager.rs `CLIENT_ID`; CPA and 9router agree).
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// Authorization page (CODEX server.rs `build_authorize_url`: `{issuer}/oauth/authorize`).
pub const AUTHORIZE_URL: &str = "https://auth.openai.com/oauth/authorize";
/// Code exchange and refresh (CODEX server.rs, manager.rs `REFRESH_TOKEN_URL`).
pub const TOKEN_URL: &str = "https://auth.openai.com/oauth/token";
/// The redirect registered for the client (CODEX server.rs `DEFAULT_PORT` 1455; the
/// fallback port 1457 is also registered).
pub const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
/// Usage windows (charlieyou/aim QUOTA_APIS.md; CODEX backend-client spec).
pub const USAGE_URL: &str = "https://chatgpt.com/backend-api/wham/usage";
/// Scopes (CODEX at 0483fd17). CPA and 9router still ask only `openid profile email
/// offline_access`; the official client's current list is taken.
pub const SCOPES: &str = "openid profile email offline_access api.connectors.read api.connectors.invoke";
/// The `originator` the official CLI sends (CODEX default_client.rs `DEFAULT_ORIGINATOR`).
pub const ORIGINATOR: &str = "codex_cli_rs";
/// The Codex version the user agent names (CPA `codexUserAgent` sends 0.146.0).
pub const CLI_VERSION: &str = "0.146.0";
/// Where the id token keeps the ChatGPT account (CODEX token_data.rs).
const AUTH_CLAIM: &str = "https://api.openai.com/auth";
/// Parameters the endpoint refuses (SIWC: "not allowed" list; `max_output_tokens` answers 400
/// "Unsupported parameter"; CPA deletes the same plus `max_completion_tokens`, `stream_options`).
const REFUSED: [&str; 15] = [
    "max_output_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "truncation",
    "user",
    "safety_identifier",
    "metadata",
    "background",
    "conversation",
    "max_tool_calls",
    "prompt",
    "prompt_cache_retention",
    "top_logprobs",
    "stream_options",
];

/// The provider's endpoints.
pub fn endpoints() -> Endpoints {
    Endpoints {
        authorize_url: AUTHORIZE_URL.into(),
        token_url: TOKEN_URL.into(),
        device_url: String::new(),
        device_token_url: String::new(),
        usage_url: USAGE_URL.into(),
        redirect_uri: REDIRECT_URI.into(),
    }
}

/// The authorization URL (CODEX server.rs `build_authorize_url`, same parameters and order).
pub fn authorize_url(ep: &Endpoints, p: &Pkce) -> String {
    let q = query(&[
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", &ep.redirect_uri),
        ("scope", SCOPES),
        ("code_challenge", &p.challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", &p.state),
        ("originator", ORIGINATOR),
    ]);
    format!("{}?{q}", ep.authorize_url)
}

/// The claims of a JWT (unverified: the token came from the issuer over TLS, and is only read
/// for the account id, plan and expiry).
pub fn jwt_claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads a token answer. Codex ignores `expires_in` and reads the access token's `exp`
/// (manager.rs `is_stale_for_proactive_refresh`); so does this. The account id, plan and e-mail
/// come from the id token (server.rs `persist_tokens_to_store_async`).
fn grant(v: &Value, now: i64, old: Option<&Grant>) -> Result<Grant, OAuthError> {
    let access = field(v, "access_token").ok_or_else(|| OAuthError::Protocol("no access_token".into()))?;
    let mut extra = old.map(|g| g.extra.clone()).unwrap_or_default();
    if let Some(claims) = field(v, "id_token").as_deref().and_then(jwt_claims) {
        let auth = claims.get(AUTH_CLAIM);
        for (key, from) in [("account_id", "chatgpt_account_id"), ("plan", "chatgpt_plan_type")] {
            if let Some(s) = auth.and_then(|a| a.get(from)).and_then(Value::as_str) {
                extra.insert(key.into(), json!(s));
            }
        }
        let email = claims.get("email").or_else(|| claims.pointer("/https:~1~1api.openai.com~1profile/email"));
        if let Some(e) = email.and_then(Value::as_str) {
            extra.insert("email".into(), json!(e));
        }
    }
    let exp = jwt_claims(&access).and_then(|c| c.get("exp").and_then(Value::as_i64)).map(|s| s * 1000);
    Ok(Grant {
        access,
        // Refresh tokens are single use (`refresh_token_reused`): the new one must be kept.
        refresh: field(v, "refresh_token").or_else(|| old.and_then(|g| g.refresh.clone())),
        expires_at: exp.or_else(|| expiry(now, seconds(v, "expires_in"))),
        extra,
    })
}

/// Exchanges the code (a form body: CODEX server.rs `exchange_code_for_tokens`).
pub async fn exchange(ep: &Endpoints, code: &str, p: &Pkce, now: i64) -> Result<Grant, OAuthError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", ep.redirect_uri.as_str()),
        ("client_id", CLIENT_ID),
        ("code_verifier", p.verifier.as_str()),
    ];
    let v = http::post_form(&ep.token_url, &form, &[]).await?;
    grant(&v, now, None)
}

/// Refreshes (a JSON body without scope, as the official client: manager.rs
/// `request_chatgpt_token_refresh`; CPA's form body with a scope is reported to work too). A dead
/// token answers 401, or `refresh_token_expired` / `_reused` / `_invalidated`.
pub async fn refresh(ep: &Endpoints, current: &Grant, now: i64) -> Result<Grant, OAuthError> {
    let rt = current.refresh.as_deref().unwrap_or_default();
    let body = json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": rt});
    let v = http::post_json(&ep.token_url, &body, &[]).await?;
    grant(&v, now, Some(current))
}

/// Reads `~/.codex/auth.json` (CODEX `auth/storage.rs` `AuthDotJson`): `tokens.id_token`,
/// `access_token`, `refresh_token`, `account_id`.
pub fn import(text: &str, now: i64) -> Result<Grant, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let t = v.get("tokens").filter(|t| t.is_object()).ok_or(
        "no `tokens` object (is this Codex's auth.json, signed in with ChatGPT? an API-key login has no tokens)",
    )?;
    let mut g = grant(t, now, None).map_err(|e| e.to_string())?;
    if let Some(id) = field(t, "account_id") {
        g.extra.insert("account_id".into(), json!(id));
    }
    Ok(g)
}

/// Puts on the endpoint's headers (CODEX `codex-api/src/auth.rs`: `ChatGPT-Account-ID`;
/// default_client.rs: `originator`, user agent) and body rules (SIWC; CPA
/// `codex_openai-responses_request.go`): `store: false` (else 400 "Store must be set to
/// false"), `stream: true` (else 400 "Stream must be set to true"), `instructions` present (400
/// "Instructions are required" without it), `input` a list, system items as developer items,
/// the refused parameters removed, and the encrypted reasoning included for the next turn.
pub fn dress(o: &mut Outbound, tokens: &Tokens) -> Result<(), String> {
    o.bearer(tokens);
    match tokens.extra_str("account_id") {
        Some(id) => o.set("chatgpt-account-id", id),
        None => return Err("the Codex account has no ChatGPT account id; sign in again".into()),
    }
    o.set("originator", ORIGINATOR);
    o.set("user-agent", format!("{ORIGINATOR}/{CLI_VERSION} (Linux; x86_64) omnigate"));
    o.set("accept", "text/event-stream");
    o.set("session_id", uuid::Uuid::new_v4().to_string());
    o.remove("openai-beta");
    let Some(body) = o.object() else { return Ok(()) };
    if body.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err(
            "`previous_response_id` cannot be served by codex: nothing is stored there; send the whole conversation"
                .into(),
        );
    }
    body.remove("previous_response_id");
    for k in REFUSED {
        body.remove(k);
    }
    body.insert("store".into(), json!(false));
    body.insert("stream".into(), json!(true));
    if !body.get("instructions").is_some_and(Value::is_string) {
        body.insert("instructions".into(), json!(""));
    }
    if let Some(Value::String(text)) = body.get("input") {
        let item = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]});
        body.insert("input".into(), json!([item]));
    }
    if let Some(Value::Array(items)) = body.get_mut("input") {
        for it in items.iter_mut() {
            if it.get("role").and_then(Value::as_str) == Some("system") {
                it["role"] = json!("developer");
            }
        }
    }
    let include = body.entry("include").or_insert_with(|| json!([]));
    if let Some(list) = include.as_array_mut()
        && !list.iter().any(|v| v == "reasoning.encrypted_content")
    {
        list.push(json!("reasoning.encrypted_content"));
    }
    Ok(())
}

/// The name of a window by its length (OpenAI moved windows between "primary" and
/// "secondary" once, 2026-07: names follow the length, not the position).
fn window_key(position: &str, minutes: Option<i64>) -> String {
    match minutes {
        Some(m) if m > 0 && m % 1440 == 0 => format!("{}d", m / 1440),
        Some(m) if m > 0 && m % 60 == 0 => format!("{}h", m / 60),
        Some(m) if m > 0 => format!("{m}m"),
        Some(_) | None => position.to_string(),
    }
}

fn reading(position: &str, used_percent: Option<f64>, minutes: Option<i64>, resets_at: Option<i64>) -> Reading {
    Reading {
        key: window_key(position, minutes),
        used: used_percent.map(|p| p / 100.0),
        resets_at,
        window_secs: minutes.filter(|m| *m > 0).map(|m| m * 60),
        status: None,
    }
}

/// Reads the rate-limit headers (CODEX rate_limits.rs at 5d24c10b: `x-codex-primary-used-percent`,
/// `-window-minutes`, `-reset-at` in unix seconds; older servers send `-reset-after-seconds`
/// instead, so both are read).
pub fn quota(headers: &HeaderMap, now: i64) -> Observation {
    let get = |name: String| headers.get(name.as_str()).and_then(|v| v.to_str().ok()).map(str::trim);
    let mut readings = Vec::new();
    for pos in ["primary", "secondary"] {
        let used = get(format!("x-codex-{pos}-used-percent")).and_then(|v| v.parse::<f64>().ok());
        let minutes = get(format!("x-codex-{pos}-window-minutes")).and_then(|v| v.parse::<i64>().ok());
        let reset_at = get(format!("x-codex-{pos}-reset-at")).and_then(|v| v.parse::<i64>().ok()).map(|s| s * 1000);
        let reset_after = get(format!("x-codex-{pos}-reset-after-seconds"))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|s| now + (s * 1000.0) as i64);
        if used.is_some() {
            readings.push(reading(pos, used, minutes, reset_at.or(reset_after)));
        }
    }
    Observation { readings }
}

/// Reads a 429 body saying the plan's limit is reached (`{"error":{"type":"usage_limit_reached",
/// "resets_at":<unix>,"resets_in_seconds":N}}`, third-party fixtures; not an official shape).
pub fn quota_from_error(body: &[u8], now: i64) -> Observation {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Observation::default() };
    let e = v.get("error").unwrap_or(&v);
    if e.get("type").and_then(Value::as_str) != Some("usage_limit_reached") {
        return Observation::default();
    }
    let resets_at = e
        .get("resets_at")
        .and_then(Value::as_i64)
        .map(|s| s * 1000)
        .or_else(|| seconds(e, "resets_in_seconds").map(|s| now + s * 1000));
    Observation {
        readings: vec![Reading {
            key: "usage_limit".into(),
            resets_at,
            status: Some(WindowStatus::Exhausted),
            ..Reading::default()
        }],
    }
}

/// Reads the usage endpoint's answer (`rate_limit.primary_window` / `secondary_window` with
/// `used_percent`, `limit_window_seconds`, `reset_at`).
pub fn usage_observation(v: &Value) -> Observation {
    let mut readings = Vec::new();
    for (pos, ptr) in [("primary", "/rate_limit/primary_window"), ("secondary", "/rate_limit/secondary_window")] {
        let Some(w) = v.pointer(ptr).filter(|w| w.is_object()) else { continue };
        let minutes = w.get("limit_window_seconds").and_then(Value::as_i64).map(|s| s / 60);
        let resets_at = w.get("reset_at").and_then(Value::as_i64).map(|s| s * 1000);
        readings.push(reading(pos, w.get("used_percent").and_then(Value::as_f64), minutes, resets_at));
    }
    Observation { readings }
}

/// Polls the usage endpoint.
pub async fn usage(ep: &Endpoints, tokens: &Tokens) -> Result<Observation, OAuthError> {
    let auth = format!("Bearer {}", tokens.access.expose());
    let account = tokens.extra_str("account_id").unwrap_or_default();
    let headers = [("authorization", auth.as_str()), ("chatgpt-account-id", account)];
    http::get_json(&ep.usage_url, &headers).await.map(|v| usage_observation(&v))
}

#[cfg(test)]
mod tests {
    use awc::http::header::{HeaderName, HeaderValue};

    use super::*;
    use crate::providers::call::Operation;

    /// A JWT with these claims (unsigned: only the payload is read).
    pub fn jwt(claims: &Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", b(br#"{"alg":"none"}"#), b(claims.to_string().as_bytes()))
    }

    fn tokens() -> Tokens {
        let mut g = Grant { access: "at".into(), refresh: None, expires_at: None, extra: Default::default() };
        g.extra.insert("account_id".into(), json!("acc-1"));
        g.into_tokens(0, 1)
    }

    #[test]
    fn id_token_names_the_account_and_the_access_token_its_expiry() {
        let id =
            jwt(&json!({"email": "a@b.c", AUTH_CLAIM: {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "pro"}}));
        let at = jwt(&json!({"exp": 1_800_000_000}));
        let v = json!({"id_token": id, "access_token": at, "refresh_token": "rt_1", "expires_in": 10});
        let g = grant(&v, 5, None).expect("grant");
        assert_eq!(g.expires_at, Some(1_800_000_000_000));
        assert_eq!(
            (g.extra["account_id"].as_str(), g.extra["plan"].as_str(), g.extra["email"].as_str()),
            (Some("acc-1"), Some("pro"), Some("a@b.c"))
        );
        let r = grant(&json!({"access_token": "opaque", "expires_in": 10}), 5, Some(&g)).expect("grant");
        assert_eq!(
            (r.refresh.as_deref(), r.expires_at, r.extra["account_id"].as_str()),
            (Some("rt_1"), Some(10_005), Some("acc-1"))
        );
    }

    #[test]
    fn body_rules_of_the_codex_endpoint() {
        let mut o = Outbound {
            url: "https://chatgpt.com/backend-api/codex/responses".into(),
            headers: vec![("x-api-key".into(), "k".into())],
            body: json!({"model": "gpt-5.5", "input": "hi", "max_output_tokens": 100, "temperature": 0.2, "store": true,
                         "metadata": {"a": 1}, "include": ["file_search_call.results"]}),
            op: Operation::Generate,
            model: "gpt-5.5".into(),
            stream: false,
            base: String::new(),
        };
        dress(&mut o, &tokens()).expect("dressed");
        let b = &o.body;
        assert_eq!(
            (b["store"].clone(), b["stream"].clone(), b["instructions"].clone()),
            (json!(false), json!(true), json!(""))
        );
        assert!(b.get("max_output_tokens").is_none() && b.get("temperature").is_none() && b.get("metadata").is_none());
        assert_eq!(b["input"][0]["content"][0]["text"], "hi");
        assert_eq!(b["include"], json!(["file_search_call.results", "reasoning.encrypted_content"]));
        assert_eq!(o.header("chatgpt-account-id"), Some("acc-1"));
        assert_eq!(o.header("authorization"), Some("Bearer at"));
        assert_eq!(o.header("x-api-key"), None);
        o.body = json!({"input": [{"role": "system", "content": "be terse"}], "previous_response_id": "resp_1"});
        assert!(dress(&mut o, &tokens()).is_err());
    }

    #[test]
    fn windows_by_length_from_headers_bodies_and_usage() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-codex-primary-used-percent", "100.0"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1767385852"),
            ("x-codex-secondary-used-percent", "9"),
            ("x-codex-secondary-window-minutes", "10080"),
            ("x-codex-secondary-reset-after-seconds", "60"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let o = quota(&h, 1_000);
        assert_eq!(o.readings[0].key, "5h");
        assert_eq!((o.readings[0].used, o.readings[0].resets_at), (Some(1.0), Some(1_767_385_852_000)));
        assert_eq!((o.readings[1].key.as_str(), o.readings[1].resets_at), ("7d", Some(61_000)));
        let e = quota_from_error(
            br#"{"error":{"type":"usage_limit_reached","message":"x","resets_in_seconds":30}}"#,
            1_000,
        );
        assert_eq!((e.readings[0].status, e.readings[0].resets_at), (Some(WindowStatus::Exhausted), Some(31_000)));
        let u = usage_observation(
            &json!({"rate_limit": {"primary_window": {"used_percent": 3, "limit_window_seconds": 18000, "reset_at": 1767385852},
            "secondary_window": {"used_percent": 9, "limit_window_seconds": 604800, "reset_at": 1767859444}}}),
        );
        assert_eq!(u.readings.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), vec!["5h", "7d"]);
    }
}

//! `claude-code` (`cc`): Claude Pro/Max through Claude Code's OAuth client. Sign-in is an
//! authorization code with PKCE whose code the user pastes back; calls go to the Messages API
//! with the OAuth bearer, Claude Code's beta flags and identity, and the system prompt rule.
//!
//! Sources (see /work/notes/oauth-providers.md §1): "CC" is the Claude Code 2.1.332 npm binary
//! (`@anthropic-ai/claude-code-linux-x64`, build 2026-11-24), read with `strings`; "CPA" is
//! router-for-me/CLIProxyAPI at a7e3596b (2026-08-22), `internal/auth/claude/anthropic_auth.go`
//! and `internal/runtime/executor/claude_executor_*.go`. Where they disagree the comment says
//! which was taken.

use actors::quota::{Observation, Reading, WindowStatus};
use actors::refresher::Tokens;
use awc::http::header::HeaderMap;
use serde_json::{Value, json};

use super::dress::Outbound;
use super::http::{self, OAuthError, field, seconds};
use super::pkce::{Pkce, query};
use super::{Endpoints, Grant, expiry};
use crate::providers::call::Operation;

/// OAuth client id of Claude Code (CC `CLIENT_ID`; CPA `ClientID`: the same).
pub const CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/// The claude.ai (Pro/Max) authorization page (CC `CLAUDE_AI_AUTHORIZE_URL`). CPA and older
/// gateways still use `https://claude.ai/oauth/authorize`; the current client's value is taken.
pub const AUTHORIZE_URL: &str = "https://claude.com/cai/oauth/authorize";
/// Code exchange and refresh (CC `TOKEN_URL`; CPA since 2026-08-03). `console.anthropic.com`
/// is behind a browser challenge since 2026-02 (CPA ef5901c81) and is not used.
pub const TOKEN_URL: &str = "https://platform.claude.com/v1/oauth/token";
/// The paste-back page: it shows `code#state` to copy (CC `MANUAL_REDIRECT_URL`).
pub const REDIRECT_URI: &str = "https://platform.claude.com/oauth/code/callback";
/// Subscription usage windows (CC string table; response shape per charlieyou/aim QUOTA_APIS.md).
pub const USAGE_URL: &str = "https://api.anthropic.com/api/oauth/usage";
/// Scopes asked at sign-in (CC 2.1.332 `S5s()`).
pub const SCOPES: &str = "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins user:privacy_consents:write";
/// Scopes asked at refresh (CC fn `Qfe`, default `uRn()`).
pub const REFRESH_SCOPES: &str =
    "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins";
/// The beta flag without which the API refuses an OAuth bearer (CC `ep="oauth-2025-04-20"`).
pub const OAUTH_BETA: &str = "oauth-2025-04-20";
/// Betas sent first on every OAuth call: Claude Code's own flag always leads (CC
/// `R("claude_code","claude-code-20250219")`), then the OAuth flag, then interleaved thinking
/// (CPA `claudeCodeCLIBetas`, verified 2026-08-03). Which of them besides the OAuth flag are
/// strictly required is not confirmed; the client's own betas follow these.
pub const BETAS: [&str; 3] = ["claude-code-20250219", OAUTH_BETA, "interleaved-thinking-2025-05-14"];
/// Token counting adds this beta (CPA `claudeCountTokensBetas`).
pub const COUNT_TOKENS_BETA: &str = "token-counting-2024-11-01";
/// The Claude Code version the identity headers name (CC build info `VERSION`).
pub const CLI_VERSION: &str = "2.1.332";
/// The identity text the subscription endpoint expects in the system prompt (CC; without it
/// the API answers 400 "This credential is only authorized for use with Claude Code",
/// anthropics/claude-code #8046).
pub const IDENTITY: &str = "You are Claude Code, Anthropic's official CLI for Claude.";
/// Agent SDK variants of the identity that are accepted as they are (CC).
const IDENTITY_VARIANTS: [&str; 2] = [
    "You are Claude Code, Anthropic's official CLI for Claude, running within the Claude Agent SDK.",
    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
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

/// The authorization URL (CC fn `djs`: `code=true` first, S256, then `state`).
pub fn authorize_url(ep: &Endpoints, p: &Pkce) -> String {
    let q = query(&[
        ("code", "true"),
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", &ep.redirect_uri),
        ("scope", SCOPES),
        ("code_challenge", &p.challenge),
        ("code_challenge_method", "S256"),
        ("state", &p.state),
    ]);
    format!("{}?{q}", ep.authorize_url)
}

/// Splits what the paste-back page shows, `code#state` (CPA `parseCodeAndState`).
pub fn split_pasted(pasted: &str) -> (String, Option<String>) {
    let pasted = pasted.trim();
    match pasted.split_once('#') {
        Some((code, state)) => (code.to_string(), Some(state.to_string())),
        None => (pasted.to_string(), None),
    }
}

/// Reads a token answer (CC `formatTokens`): `expires_in` seconds, the account's e-mail.
fn grant(v: &Value, now: i64, old_refresh: Option<&str>) -> Result<Grant, OAuthError> {
    let access = field(v, "access_token").ok_or_else(|| OAuthError::Protocol("no access_token".into()))?;
    let mut extra = serde_json::Map::new();
    if let Some(email) = v.pointer("/account/email_address").and_then(Value::as_str) {
        extra.insert("email".into(), json!(email));
    }
    if let Some(org) = v.pointer("/organization/name").and_then(Value::as_str) {
        extra.insert("organization".into(), json!(org));
    }
    Ok(Grant {
        access,
        // A refresh may or may not rotate the refresh token: CC keeps the old one when the
        // answer has none (`refresh_token:X=e`).
        refresh: field(v, "refresh_token").or_else(|| old_refresh.map(str::to_string)),
        expires_at: expiry(now, seconds(v, "expires_in")),
        extra,
    })
}

/// Exchanges the pasted code (a JSON body that includes `state`: CC fn `Sia`; CPA
/// `authorizationCodeExchangeRequest`).
pub async fn exchange(ep: &Endpoints, code: &str, p: &Pkce, now: i64) -> Result<Grant, OAuthError> {
    let body = json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": ep.redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": p.verifier,
        "state": p.state,
    });
    let v = http::post_json(&ep.token_url, &body, &[]).await?;
    grant(&v, now, None)
}

/// Refreshes (CC fn `Qfe`: JSON body with the refresh scopes). A dead refresh token answers
/// 400/401 `{"error":"invalid_grant","error_description":"Refresh token not found or invalid"}`.
pub async fn refresh(ep: &Endpoints, refresh_token: &str, now: i64) -> Result<Grant, OAuthError> {
    let body = json!({
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "scope": REFRESH_SCOPES,
    });
    let v = http::post_json(&ep.token_url, &body, &[]).await?;
    grant(&v, now, Some(refresh_token))
}

/// Reads `~/.claude/.credentials.json` (CC `sfe=".credentials.json"`): `claudeAiOauth` with
/// `accessToken`, `refreshToken`, `expiresAt` in ms, `subscriptionType`, `rateLimitTier`.
pub fn import(text: &str) -> Result<Grant, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.get("claudeAiOauth").ok_or("no `claudeAiOauth` object (is this Claude Code's .credentials.json?)")?;
    let access = field(o, "accessToken").ok_or("no `claudeAiOauth.accessToken`")?;
    let refresh = field(o, "refreshToken");
    let mut extra = serde_json::Map::new();
    for (from, to) in [("subscriptionType", "plan"), ("rateLimitTier", "rate_limit_tier")] {
        if let Some(s) = field(o, from) {
            extra.insert(to.into(), json!(s));
        }
    }
    Ok(Grant { access, refresh, expires_at: o.get("expiresAt").and_then(Value::as_i64), extra })
}

/// Puts on what the subscription endpoint requires: the bearer (never `x-api-key`),
/// `?beta=true` (CPA `claude_executor_execute.go`), the beta flags, Claude Code's identity
/// headers (CC fn `cd()`: `x-app: cli`; UA `claude-cli/<version> (external, cli)`; CPA sends
/// `anthropic-dangerous-direct-browser-access: true`), and the system prompt rule.
pub fn dress(o: &mut Outbound, tokens: &Tokens) {
    o.bearer(tokens);
    if !o.url.contains('?') {
        o.url.push_str("?beta=true");
    }
    let mut betas: Vec<String> = BETAS.iter().map(|b| b.to_string()).collect();
    if o.op == Operation::CountTokens {
        betas.push(COUNT_TOKENS_BETA.into());
    }
    for b in o.header("anthropic-beta").unwrap_or_default().split(',').map(str::trim) {
        if !b.is_empty() && !betas.iter().any(|x| x == b) {
            betas.push(b.to_string());
        }
    }
    o.set("anthropic-beta", betas.join(","));
    if o.header("anthropic-version").is_none() {
        o.set("anthropic-version", crate::providers::call::ANTHROPIC_VERSION);
    }
    o.set("anthropic-dangerous-direct-browser-access", "true");
    o.set("x-app", "cli");
    o.set("user-agent", format!("claude-cli/{CLI_VERSION} (external, cli)"));
    if o.op == Operation::Generate {
        system_rule(&mut o.body);
    }
}

/// The system prompt rule: Claude Code's identity opens the system prompt (as a text block).
/// A prompt that already carries it in its first two blocks (Claude Code itself sends a
/// billing-header block first) is left alone; otherwise the identity block is put first and the
/// caller's prompt follows it unchanged.
pub fn system_rule(body: &mut Value) {
    let Some(obj) = body.as_object_mut() else { return };
    let identity = json!({"type": "text", "text": IDENTITY});
    let is_identity = |t: &str| t.starts_with(IDENTITY) || IDENTITY_VARIANTS.iter().any(|v| t.starts_with(v));
    let system = match obj.remove("system") {
        None | Some(Value::Null) => json!([identity]),
        Some(Value::String(s)) if is_identity(&s) => Value::String(s),
        Some(Value::String(s)) if s.is_empty() => json!([identity]),
        Some(Value::String(s)) => json!([identity, {"type": "text", "text": s}]),
        Some(Value::Array(mut blocks)) => {
            let has = blocks.iter().take(2).any(|b| b.get("text").and_then(Value::as_str).is_some_and(is_identity));
            if !has {
                blocks.insert(0, identity);
            }
            Value::Array(blocks)
        }
        Some(other) => other,
    };
    obj.insert("system".into(), system);
}

/// Window lengths of the unified limiter (CC `Ri`: five_hour 18000 s, seven_day 604800 s).
const WINDOWS: [(&str, i64); 4] = [("5h", 18_000), ("7d", 604_800), ("7d_oi", 604_800), ("overage", 0)];

fn unified_status(s: &str) -> Option<WindowStatus> {
    match s {
        "allowed" => Some(WindowStatus::Allowed),
        "allowed_warning" => Some(WindowStatus::Warning),
        "rejected" => Some(WindowStatus::Exhausted),
        _ => None,
    }
}

/// Reads the subscription limiter's headers (CC: `anthropic-ratelimit-unified-<w>-utilization`
/// as a fraction, `-reset` in unix seconds, `-status` `allowed | allowed_warning | rejected`,
/// for `w` in 5h, 7d, 7d_oi, overage; and the overall `-status` / `-reset`). A rejection of
/// `7d_oi` or `overage` alone concerns some models or the overage credit, not the account
/// (CPA `helps/claude_ratelimit.go`): those windows are shown, never block.
pub fn quota(headers: &HeaderMap) -> Observation {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let mut readings = Vec::new();
    for (w, secs) in WINDOWS {
        let p = format!("anthropic-ratelimit-unified-{w}");
        let used = get(&format!("{p}-utilization")).and_then(|v| v.parse::<f64>().ok());
        let resets_at = get(&format!("{p}-reset")).and_then(|v| v.parse::<i64>().ok()).map(|s| s * 1000);
        let mut status = get(&format!("{p}-status")).and_then(unified_status);
        if matches!(w, "7d_oi" | "overage") && status == Some(WindowStatus::Exhausted) {
            status = Some(WindowStatus::Warning);
        }
        if used.is_some() || resets_at.is_some() || status.is_some() {
            let window_secs = (secs > 0).then_some(secs);
            readings.push(Reading { key: w.into(), used, resets_at, window_secs, status });
        }
    }
    let overall = get("anthropic-ratelimit-unified-status").and_then(unified_status);
    let blocking = readings.iter().any(|r| r.status == Some(WindowStatus::Exhausted));
    if overall == Some(WindowStatus::Exhausted) && !blocking {
        let resets_at = get("anthropic-ratelimit-unified-reset").and_then(|v| v.parse::<i64>().ok()).map(|s| s * 1000);
        readings.push(Reading { key: "unified".into(), resets_at, status: overall, ..Reading::default() });
    }
    Observation { readings }
}

/// Reads the usage endpoint's answer: `utilization` in percent and `resets_at` in RFC 3339 per
/// window (`five_hour`, `seven_day`, and model-scoped `seven_day_opus` / `seven_day_sonnet`,
/// which are shown but never block).
pub fn usage_observation(v: &Value) -> Observation {
    let mut readings = Vec::new();
    for (field, key, secs, blocks) in [
        ("five_hour", "5h", 18_000, true),
        ("seven_day", "7d", 604_800, true),
        ("seven_day_opus", "7d_opus", 604_800, false),
        ("seven_day_sonnet", "7d_sonnet", 604_800, false),
    ] {
        let Some(w) = v.get(field).filter(|w| w.is_object()) else { continue };
        let used = w.get("utilization").and_then(Value::as_f64).map(|p| p / 100.0);
        let resets_at = w.get("resets_at").and_then(Value::as_str).and_then(super::import::parse_time);
        let status = (!blocks && used.is_some_and(|u| u >= 1.0)).then_some(WindowStatus::Warning);
        readings.push(Reading { key: key.into(), used, resets_at, window_secs: Some(secs), status });
    }
    Observation { readings }
}

/// Polls the usage endpoint (the OAuth beta flag is required there too: 9router
/// `open-sse/services/usage.js`).
pub async fn usage(ep: &Endpoints, tokens: &Tokens) -> Result<Observation, OAuthError> {
    let auth = format!("Bearer {}", tokens.access.expose());
    let headers = [
        ("authorization", auth.as_str()),
        ("anthropic-beta", OAUTH_BETA),
        ("anthropic-version", crate::providers::call::ANTHROPIC_VERSION),
    ];
    http::get_json(&ep.usage_url, &headers).await.map(|v| usage_observation(&v))
}

#[cfg(test)]
mod tests {
    use awc::http::header::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn authorize_url_carries_pkce_and_the_paste_back_redirect() {
        let p = Pkce::new();
        let url = authorize_url(&endpoints(), &p);
        assert!(url.starts_with("https://claude.com/cai/oauth/authorize?code=true&client_id=9d1c250a-"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fplatform.claude.com%2Foauth%2Fcode%2Fcallback"));
        assert!(url.contains(&format!("code_challenge={}", p.challenge)));
        assert!(url.contains("code_challenge_method=S256"));
        assert!(url.contains(&format!("state={}", p.state)));
        assert_eq!(split_pasted(" abc#xyz \n"), ("abc".into(), Some("xyz".into())));
    }

    #[test]
    fn system_rule_puts_the_identity_first_once() {
        let mut b = json!({"system": "Be brief."});
        system_rule(&mut b);
        assert_eq!(b["system"], json!([{"type": "text", "text": IDENTITY}, {"type": "text", "text": "Be brief."}]));
        system_rule(&mut b);
        assert_eq!(b["system"].as_array().map(Vec::len), Some(2), "idempotent");
        let mut b = json!({"messages": []});
        system_rule(&mut b);
        assert_eq!(b["system"], json!([{"type": "text", "text": IDENTITY}]));
        // Claude Code's own shape: a billing block, then the identity with cache_control.
        let cc = json!([{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332.abc;"},
                        {"type": "text", "text": IDENTITY, "cache_control": {"type": "ephemeral"}}]);
        let mut b = json!({"system": cc.clone()});
        system_rule(&mut b);
        assert_eq!(b["system"], cc);
    }

    #[test]
    fn unified_headers_become_windows() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-5h-utilization", "1.02"),
            ("anthropic-ratelimit-unified-5h-reset", "1767398400"),
            ("anthropic-ratelimit-unified-5h-status", "rejected"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.41"),
            ("anthropic-ratelimit-unified-7d-reset", "1767900000"),
            ("anthropic-ratelimit-unified-7d_oi-status", "rejected"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let o = quota(&h);
        assert_eq!(o.readings.len(), 3, "{o:?}");
        assert_eq!(o.readings[0].key, "5h");
        assert_eq!(o.readings[0].status, Some(WindowStatus::Exhausted));
        assert_eq!(o.readings[0].resets_at, Some(1_767_398_400_000));
        assert_eq!(o.readings[0].window_secs, Some(18_000));
        assert_eq!(o.readings[1].used, Some(0.41));
        assert_eq!(o.readings[2].status, Some(WindowStatus::Warning), "7d_oi alone never blocks");
    }

    #[test]
    fn usage_answer_in_percent_and_rfc3339() {
        let v = json!({"five_hour": {"utilization": 24.0, "resets_at": "2026-01-02T19:59:59.600956+00:00"},
                       "seven_day": {"utilization": 100.0, "resets_at": "2026-01-05T00:00:00Z"},
                       "seven_day_opus": null});
        let o = usage_observation(&v);
        assert_eq!(o.readings.len(), 2);
        assert_eq!(o.readings[0].used, Some(0.24));
        assert_eq!(o.readings[0].resets_at, Some(1_767_383_999_600));
        assert_eq!(o.readings[1].used, Some(1.0));
    }

    #[test]
    fn import_reads_the_credentials_file() {
        let g = import(r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-a","refreshToken":"sk-ant-ort01-r","expiresAt":1767396165210,"scopes":["user:inference"],"subscriptionType":"max"}}"#)
            .expect("parses");
        assert_eq!(
            (g.access.as_str(), g.refresh.as_deref(), g.expires_at),
            ("sk-ant-oat01-a", Some("sk-ant-ort01-r"), Some(1_767_396_165_210))
        );
        assert_eq!(g.extra["plan"], "max");
        assert!(import("{}").is_err());
    }
}

//! `github-copilot` (`gh`): GitHub Copilot. Sign-in is GitHub's device flow for the Copilot
//! editor app; the GitHub token it yields never expires and is exchanged for a Copilot token
//! that lives about 30 minutes (the "refresh" of this provider). Calls go to the OpenAI-Chat
//! Copilot API named by the exchange, with the editor headers Copilot expects.
//!
//! Sources (/work/notes/oauth-providers.md §4): "CAPI" is ericc-ch/copilot-api at 0ea08feb
//! (`src/services/github/*.ts`, `src/lib/api-config.ts`, `src/lib/token.ts`); "9R" is
//! decolua/9router at b3fb20e2 (2026-04, `open-sse/executors/github.js`, `PROVIDERS.github`);
//! GitHub's device-flow documentation for the poll errors (as quoted in octocrab's
//! `auth::Continue`, and RFC 8628).

use actors::quota::{Observation, Reading};
use actors::refresher::Tokens;
use serde_json::{Value, json};

use super::device::DeviceCode;
use super::dress::{Outbound, join};
use super::http::{self, OAuthError, field, seconds};
use super::{Endpoints, Grant};

/// Client id of the Copilot editor app (CAPI api-config.ts `GITHUB_CLIENT_ID`; LiteLLM's
/// authenticator uses the same).
pub const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
/// Device-code request (CAPI get-device-code.ts).
pub const DEVICE_URL: &str = "https://github.com/login/device/code";
/// Device-flow poll (CAPI poll-access-token.ts).
pub const DEVICE_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
/// The Copilot token exchange: the "token endpoint" of this provider (CAPI get-copilot-token.ts).
pub const TOKEN_URL: &str = "https://api.github.com/copilot_internal/v2/token";
/// The plan's quota snapshots (CAPI get-copilot-usage.ts; 9R `getGitHubUsage`).
pub const USAGE_URL: &str = "https://api.github.com/copilot_internal/user";
/// The chat API when the exchange names none (CAPI `copilotBaseUrl`, individual plans).
pub const DEFAULT_API: &str = "https://api.githubcopilot.com";
/// Scope asked (CAPI).
pub const SCOPE: &str = "read:user";
/// Editor identity. CAPI (2025-10) sends copilot-chat/0.26.7; 9R (2026-04) sends the newer
/// vscode/1.110.0 and copilot-chat/0.38.0, which are taken.
pub const EDITOR_VERSION: &str = "vscode/1.110.0";
/// See `EDITOR_VERSION`.
pub const PLUGIN_VERSION: &str = "copilot-chat/0.38.0";
/// See `EDITOR_VERSION`.
pub const USER_AGENT: &str = "GitHubCopilotChat/0.38.0";
/// API version header (CAPI and 9R agree).
pub const API_VERSION: &str = "2025-04-01";

/// The provider's endpoints (no authorization page: device flow only).
pub fn endpoints() -> Endpoints {
    Endpoints {
        authorize_url: String::new(),
        token_url: TOKEN_URL.into(),
        device_url: DEVICE_URL.into(),
        device_token_url: DEVICE_TOKEN_URL.into(),
        usage_url: USAGE_URL.into(),
        redirect_uri: String::new(),
    }
}

/// Headers of calls to api.github.com with the GitHub token (CAPI `githubHeaders`).
fn github_headers(github_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("token {github_token}")),
        ("editor-version", EDITOR_VERSION.into()),
        ("editor-plugin-version", PLUGIN_VERSION.into()),
        ("user-agent", USER_AGENT.into()),
        ("x-github-api-version", API_VERSION.into()),
        ("x-vscode-user-agent-library-version", "electron-fetch".into()),
    ]
}

/// Asks for a device code (JSON body with `client_id` and `scope`).
pub async fn device_start(ep: &Endpoints, now: i64) -> Result<DeviceCode, OAuthError> {
    let v = http::post_json(&ep.device_url, &json!({"client_id": CLIENT_ID, "scope": SCOPE}), &[]).await?;
    DeviceCode::parse(&v, now, None)
}

/// One poll of the device flow. GitHub answers its OAuth errors with HTTP 200 (CAPI loops until
/// `access_token` appears; `device::classify` reads both forms).
pub async fn device_poll(ep: &Endpoints, code: &DeviceCode) -> Result<Value, OAuthError> {
    let body = json!({
        "client_id": CLIENT_ID,
        "device_code": code.device_code,
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    });
    http::post_json(&ep.device_token_url, &body, &[]).await
}

/// The grant of a finished device flow: the GitHub token is the refresh credential; the
/// Copilot token comes from the first exchange.
pub fn device_grant(v: &Value) -> Result<Grant, OAuthError> {
    let gh = field(v, "access_token").ok_or_else(|| OAuthError::Protocol("no access_token".into()))?;
    Ok(Grant { access: String::new(), refresh: Some(gh), expires_at: None, extra: Default::default() })
}

/// Exchanges the GitHub token for a Copilot token (`expires_at` in unix seconds, about 30 min
/// ahead; `endpoints.api` the chat API of the plan). A GitHub token that was revoked, or an
/// account without Copilot, answers 401 / 403 / 404: final.
pub async fn refresh(ep: &Endpoints, current: &Grant) -> Result<Grant, OAuthError> {
    let gh = current.refresh.as_deref().unwrap_or_default();
    let headers = github_headers(gh);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let v = match http::get_json(&ep.token_url, &h).await {
        Err(OAuthError::Status { status: status @ (401 | 403 | 404) }) => {
            let what = if status == 401 {
                "the GitHub token was refused"
            } else {
                "this GitHub account has no Copilot access"
            };
            return Err(OAuthError::Refused { status, code: "invalid_grant".into(), description: what.into() });
        }
        other => other?,
    };
    let token = field(&v, "token").ok_or_else(|| OAuthError::Protocol("no Copilot token in the exchange".into()))?;
    let mut extra = current.extra.clone();
    if let Some(api) = v.pointer("/endpoints/api").and_then(Value::as_str) {
        extra.insert("api_base".into(), json!(api));
    }
    if let Some(sku) = field(&v, "sku") {
        extra.insert("plan".into(), json!(sku));
    }
    Ok(Grant {
        access: token,
        refresh: current.refresh.clone(),
        expires_at: seconds(&v, "expires_at").map(|s| s * 1000),
        extra,
    })
}

/// Reads an editor's `apps.json` (`{"github.com:<app id>": {"user", "oauth_token"}}`, the
/// Copilot app's entry preferred) or the legacy `hosts.json` (`{"github.com": {...}}`).
pub fn import(text: &str) -> Result<Grant, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let map = v.as_object().ok_or("not a JSON object")?;
    let entry = map
        .iter()
        .find(|(k, _)| k.as_str() == format!("github.com:{CLIENT_ID}"))
        .or_else(|| map.iter().find(|(k, v)| k.starts_with("github.com") && v.get("oauth_token").is_some()))
        .map(|(_, e)| e)
        .ok_or("no github.com entry with an `oauth_token` (is this Copilot's apps.json or hosts.json?)")?;
    let token = field(entry, "oauth_token").ok_or("the github.com entry has no `oauth_token`")?;
    let mut extra = serde_json::Map::new();
    if let Some(user) = field(entry, "user") {
        extra.insert("login".into(), json!(user));
    }
    Ok(Grant { access: String::new(), refresh: Some(token), expires_at: None, extra })
}

/// The chat API of an account: what the exchange named, else the default.
pub fn api_base(tokens: &Tokens) -> &str {
    tokens.extra_str("api_base").unwrap_or(DEFAULT_API)
}

/// Puts on the Copilot token and the editor headers (CAPI `copilotHeaders`; 9R): the
/// integration id, the intent, `X-Initiator: agent` when the conversation already has assistant
/// or tool turns (CAPI create-chat-completions.ts), and `copilot-vision-request` when an image
/// is sent.
pub fn dress(o: &mut Outbound, tokens: &Tokens) {
    o.bearer(tokens);
    if !o.base.is_empty() {
        let path = if o.url.ends_with("/embeddings") { "embeddings" } else { "chat/completions" };
        o.url = join(&o.base, path);
    }
    for (k, v) in [
        ("copilot-integration-id", "vscode-chat"),
        ("editor-version", EDITOR_VERSION),
        ("editor-plugin-version", PLUGIN_VERSION),
        ("user-agent", USER_AGENT),
        ("openai-intent", "conversation-panel"),
        ("x-github-api-version", API_VERSION),
        ("x-vscode-user-agent-library-version", "electron-fetch"),
    ] {
        o.set(k, v);
    }
    o.set("x-request-id", uuid::Uuid::new_v4().to_string());
    let messages = o.body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let agent = messages.iter().any(|m| matches!(m.get("role").and_then(Value::as_str), Some("assistant" | "tool")));
    o.set("x-initiator", if agent { "agent" } else { "user" });
    let image = messages.iter().any(|m| {
        m.get("content")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| p.get("type").and_then(Value::as_str) == Some("image_url")))
    });
    if image {
        o.set("copilot-vision-request", "true");
    }
}

/// Reads the plan's quota snapshots (`quota_snapshots.<name>` with `percent_remaining`,
/// `unlimited`; `quota_reset_date` as a date). Premium requests are the window that matters;
/// unlimited snapshots are left out.
pub fn usage_observation(v: &Value) -> Observation {
    let resets_at = v.get("quota_reset_date").and_then(Value::as_str).and_then(super::import::parse_time);
    let mut readings = Vec::new();
    for (name, key) in [("premium_interactions", "premium"), ("chat", "chat"), ("completions", "completions")] {
        let Some(s) = v.pointer(&format!("/quota_snapshots/{name}")).filter(|s| s.is_object()) else { continue };
        if s.get("unlimited").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let used = s.get("percent_remaining").and_then(Value::as_f64).map(|p| (1.0 - p / 100.0).clamp(0.0, 1.0));
        readings.push(Reading { key: key.into(), used, resets_at, window_secs: None, status: None });
    }
    Observation { readings }
}

/// Polls the quota snapshots (with the GitHub token).
pub async fn usage(ep: &Endpoints, tokens: &Tokens) -> Result<Observation, OAuthError> {
    let gh = tokens.refresh.as_ref().map(|r| r.expose().to_string()).unwrap_or_default();
    let headers = github_headers(&gh);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http::get_json(&ep.usage_url, &h).await.map(|v| usage_observation(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::call::Operation;

    #[test]
    fn apps_json_prefers_the_copilot_app_and_hosts_json_works() {
        let apps = r#"{"github.com:Iv23ctfURkiMfJ4xr5mv":{"user":"other","oauth_token":"ghu_other"},
                       "github.com:Iv1.b507a08c87ecfe98":{"user":"octocat","oauth_token":"gho_copilot","githubAppId":"Iv1.b507a08c87ecfe98"}}"#;
        let g = import(apps).expect("apps.json");
        assert_eq!((g.refresh.as_deref(), g.extra["login"].as_str()), (Some("gho_copilot"), Some("octocat")));
        assert!(g.access.is_empty(), "the Copilot token comes from the first exchange");
        let hosts = import(r#"{"github.com":{"user":"hubber","oauth_token":"ghu_legacy"}}"#).expect("hosts.json");
        assert_eq!(hosts.refresh.as_deref(), Some("ghu_legacy"));
        assert!(import(r#"{"gitlab.com":{}}"#).is_err());
    }

    #[test]
    fn editor_headers_initiator_and_vision() {
        let g = Grant {
            access: "tid=1;exp=2".into(),
            refresh: Some("gho".into()),
            expires_at: None,
            extra: Default::default(),
        };
        let mut o = Outbound {
            url: "https://api.githubcopilot.com/chat/completions".into(),
            headers: vec![],
            body: json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]},
                                      {"role": "assistant", "content": "ok"}]}),
            op: Operation::Generate,
            model: "gpt-4.1".into(),
            stream: true,
            base: "https://api.individual.githubcopilot.com".into(),
        };
        dress(&mut o, &g.into_tokens(0, 1));
        assert_eq!(o.url, "https://api.individual.githubcopilot.com/chat/completions");
        assert_eq!(o.header("authorization"), Some("Bearer tid=1;exp=2"));
        assert_eq!(o.header("copilot-integration-id"), Some("vscode-chat"));
        assert_eq!(o.header("x-initiator"), Some("agent"));
        assert_eq!(o.header("copilot-vision-request"), Some("true"));
    }

    #[test]
    fn premium_requests_window() {
        let v = json!({"quota_reset_date": "2026-01-01", "quota_snapshots": {
            "chat": {"unlimited": true}, "premium_interactions": {"entitlement": 300, "remaining": 120, "percent_remaining": 40, "unlimited": false}}});
        let o = usage_observation(&v);
        assert_eq!(o.readings.len(), 1);
        assert_eq!(o.readings[0].key, "premium");
        assert!((o.readings[0].used.unwrap_or(0.0) - 0.6).abs() < 1e-9);
        assert_eq!(o.readings[0].resets_at, Some(1_767_225_600_000));
    }
}

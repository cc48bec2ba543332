//! `gemini-cli` (`gc`): the Gemini CLI's Google sign-in, served by Code Assist's `v1internal`
//! API: Gemini-dialect requests wrapped with the user's Code Assist project, answers wrapped in
//! `{"response": ...}`. The project is discovered (or the user onboarded to the free tier) on
//! first use.
//!
//! Sources (/work/notes/oauth-providers.md §3): "GCLI" is google-gemini/gemini-cli at 5411f113
//! (`packages/core/src/code_assist/{oauth2,server,setup,converter,types}.ts`,
//! `core/contentGenerator.ts`); token endpoint and form bodies per Google's OAuth documentation
//! ("Refreshing an access token", developers.google.com/identity/protocols/oauth2).
//! Note: Google's FAQ for the Gemini CLI calls using its OAuth client from other software a
//! violation of its terms, and consumer sign-in was reportedly ended on 2026-06-18.

use actors::quota::{Observation, Reading, WindowStatus};
use actors::refresher::Tokens;
use serde_json::{Value, json};

use super::dress::{Outbound, join};
use super::http::{self, OAuthError, field, seconds};
use super::pkce::{Pkce, query};
use super::{Endpoints, Grant, codex, expiry};
use crate::providers::call::Operation;

/// OAuth client of the Gemini CLI (GCLI oauth2.ts `OAUTH_CLIENT_ID`).
pub const CLIENT_ID: &str = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";
/// Its secret, which Google publishes for installed apps (GCLI oauth2.ts `OAUTH_CLIENT_SECRET`,
/// whose comment explains it is not treated as a secret).
pub const CLIENT_SECRET: &str = "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";
/// Google's authorization page (google-auth-library default).
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The redirect of the CLI's no-browser flow: Google shows the code to paste (GCLI
/// `authWithUserCode`, with PKCE S256). The loopback flow (`127.0.0.1:<port>/oauth2callback`,
/// no PKCE) needs a listener on the user's machine; the paste flow works from anywhere.
pub const REDIRECT_URI: &str = "https://codeassist.google.com/authcode";
/// Scopes (GCLI `OAUTH_SCOPE`).
pub const SCOPES: &str = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile";
/// The Code Assist API (GCLI server.ts `CODE_ASSIST_ENDPOINT` + `CODE_ASSIST_API_VERSION`).
pub const BASE_URL: &str = "https://cloudcode-pa.googleapis.com/v1internal";
/// The CLI version the user agent names (CPA's last Gemini CLI headers, at 78ba8ba73^).
pub const CLI_VERSION: &str = "0.34.0";
/// Onboarding is a long-running operation polled every 5 s (GCLI setup.ts).
const ONBOARD_POLL: std::time::Duration = std::time::Duration::from_secs(5);
/// Polls of an onboarding operation before giving up (a minute).
const ONBOARD_POLLS: usize = 12;

/// The provider's endpoints. The usage endpoint is `{base}:retrieveUserQuota` unless overridden.
pub fn endpoints() -> Endpoints {
    Endpoints {
        authorize_url: AUTHORIZE_URL.into(),
        token_url: TOKEN_URL.into(),
        device_url: String::new(),
        device_token_url: String::new(),
        usage_url: String::new(),
        redirect_uri: REDIRECT_URI.into(),
    }
}

/// The authorization URL (GCLI `authWithUserCode`: offline access, S256, state). `prompt=consent`
/// makes Google issue a refresh token even to a user who signed in before.
pub fn authorize_url(ep: &Endpoints, p: &Pkce) -> String {
    let q = query(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", &ep.redirect_uri),
        ("response_type", "code"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("scope", SCOPES),
        ("code_challenge_method", "S256"),
        ("code_challenge", &p.challenge),
        ("state", &p.state),
    ]);
    format!("{}?{q}", ep.authorize_url)
}

fn grant(v: &Value, now: i64, old: Option<&Grant>) -> Result<Grant, OAuthError> {
    let access = field(v, "access_token").ok_or_else(|| OAuthError::Protocol("no access_token".into()))?;
    let mut extra = old.map(|g| g.extra.clone()).unwrap_or_default();
    if let Some(email) = field(v, "id_token").as_deref().and_then(codex::jwt_claims).and_then(|c| field(&c, "email")) {
        extra.insert("email".into(), json!(email));
    }
    Ok(Grant {
        access,
        // Google returns no refresh token on refresh: the old one stays valid.
        refresh: field(v, "refresh_token").or_else(|| old.and_then(|g| g.refresh.clone())),
        expires_at: expiry(now, seconds(v, "expires_in")),
        extra,
    })
}

/// Exchanges the pasted code (Google's form body, with the client secret and the verifier).
pub async fn exchange(ep: &Endpoints, code: &str, p: &Pkce, now: i64) -> Result<Grant, OAuthError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("redirect_uri", ep.redirect_uri.as_str()),
        ("code_verifier", p.verifier.as_str()),
    ];
    let v = http::post_form(&ep.token_url, &form, &[]).await?;
    grant(&v, now, None)
}

/// Refreshes. A dead token answers 400 `{"error":"invalid_grant","error_description":"Token
/// has been expired or revoked."}`.
pub async fn refresh(ep: &Endpoints, current: &Grant, now: i64) -> Result<Grant, OAuthError> {
    let rt = current.refresh.as_deref().unwrap_or_default();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let v = http::post_form(&ep.token_url, &form, &[]).await?;
    grant(&v, now, Some(current))
}

/// Reads `~/.gemini/oauth_creds.json` (GCLI `Storage.getOAuthCredsPath()`; google-auth-library
/// `Credentials`: `access_token`, `refresh_token`, `expiry_date` in ms).
pub fn import(text: &str, now: i64) -> Result<Grant, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut g = grant(&v, now, None).map_err(|_| "no `access_token` (is this the Gemini CLI's oauth_creds.json?)")?;
    g.expires_at = v.get("expiry_date").and_then(Value::as_i64).or(g.expires_at);
    Ok(g)
}

fn headers(tokens: &Tokens, model: &str) -> Vec<(String, String)> {
    vec![
        ("authorization".into(), format!("Bearer {}", tokens.access.expose())),
        ("user-agent".into(), format!("GeminiCLI/{CLI_VERSION}/{model} (linux; x64; terminal)")),
    ]
}

/// Wraps a Gemini request for Code Assist (GCLI converter.ts `CAGenerateContentRequest`):
/// `{model, project, user_prompt_id, request}` to `{base}:streamGenerateContent?alt=sse` or
/// `{base}:generateContent`, with the CLI's user agent (GCLI contentGenerator.ts).
pub fn dress(o: &mut Outbound, tokens: &Tokens) -> Result<(), String> {
    if o.op != Operation::Generate {
        return Err("gemini-cli serves content generation only".into());
    }
    let project = tokens.extra_str("project").ok_or("the Gemini CLI account has no Code Assist project yet")?;
    o.url = if o.stream {
        format!("{}:streamGenerateContent?alt=sse", o.base.trim_end_matches('/'))
    } else {
        format!("{}:generateContent", o.base.trim_end_matches('/'))
    };
    for (k, v) in headers(tokens, &o.model) {
        o.set(&k, v);
    }
    o.remove("x-goog-api-key");
    let mut request = std::mem::take(&mut o.body);
    if let Some(r) = request.as_object_mut() {
        r.remove("model");
    }
    o.body = json!({
        "model": o.model,
        "project": project,
        "user_prompt_id": uuid::Uuid::new_v4().simple().to_string(),
        "request": request,
    });
    Ok(())
}

/// The client metadata sent with project discovery (GCLI setup.ts).
fn metadata(project: Option<&str>) -> Value {
    let mut m = json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"});
    if let Some(p) = project {
        m["duetProject"] = json!(p);
    }
    m
}

/// Finds the user's Code Assist project, onboarding the user to the default tier when there is
/// none yet (GCLI setup.ts: `loadCodeAssist`; without a current tier, `onboardUser` with the
/// default tier — the free tier without a project — polled every 5 s until done).
pub async fn discover_project(base: &str, tokens: &Tokens) -> Result<String, OAuthError> {
    let auth = format!("Bearer {}", tokens.access.expose());
    let h = [("authorization", auth.as_str())];
    let wanted = tokens.extra_str("project");
    let mut load = json!({"metadata": metadata(wanted)});
    if let Some(p) = wanted {
        load["cloudaicompanionProject"] = json!(p);
    }
    let v = http::post_json(&format!("{}:loadCodeAssist", base.trim_end_matches('/')), &load, &h).await?;
    if v.get("currentTier").is_some_and(|t| !t.is_null()) {
        let found = project_of(&v).or_else(|| wanted.map(str::to_string));
        return found
            .ok_or_else(|| OAuthError::Protocol("Code Assist named no project; set one on the account".into()));
    }
    let tier = v
        .get("allowedTiers")
        .and_then(Value::as_array)
        .and_then(|ts| ts.iter().find(|t| t.get("isDefault").and_then(Value::as_bool) == Some(true)))
        .and_then(|t| field(t, "id"))
        .unwrap_or_else(|| "legacy-tier".into());
    let mut onboard = json!({"tierId": tier});
    if tier == "free-tier" {
        onboard["metadata"] = metadata(None);
    } else {
        onboard["metadata"] = metadata(wanted);
        if let Some(p) = wanted {
            onboard["cloudaicompanionProject"] = json!(p);
        }
    }
    let mut op = http::post_json(&format!("{}:onboardUser", base.trim_end_matches('/')), &onboard, &h).await?;
    for _ in 0..ONBOARD_POLLS {
        if op.get("done").and_then(Value::as_bool) == Some(true) {
            break;
        }
        let Some(name) = field(&op, "name") else { break };
        actix_rt::time::sleep(ONBOARD_POLL).await;
        op = http::get_json(&join(base, &name), &h).await?;
    }
    op.get("response")
        .and_then(project_of)
        .ok_or_else(|| OAuthError::Protocol("onboarding to Code Assist did not finish with a project".into()))
}

/// `cloudaicompanionProject` as a string (load) or as `{id}` (onboard).
fn project_of(v: &Value) -> Option<String> {
    match v.get("cloudaicompanionProject")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        o @ Value::Object(_) => field(o, "id"),
        _ => None,
    }
}

/// Reads a Code Assist 429 (GCLI googleQuotaErrors.ts): a `QUOTA_EXHAUSTED` reason, or a
/// reset more than 5 minutes away, is the daily quota: the account is out until the reset.
/// Shorter rate limits are the account cooldown's business.
pub fn quota_from_error(body: &[u8], now: i64) -> Observation {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Observation::default() };
    let details = v.pointer("/error/details").and_then(Value::as_array).cloned().unwrap_or_default();
    let info = details.iter().find(|d| d.get("reason").is_some());
    let reason = info.and_then(|d| field(d, "reason")).unwrap_or_default();
    let reset = info
        .and_then(|d| d.pointer("/metadata/quotaResetTimeStamp"))
        .and_then(Value::as_str)
        .and_then(super::import::parse_time);
    let daily = reason == "QUOTA_EXHAUSTED" || reset.is_some_and(|r| r - now > 300_000);
    if !daily {
        return Observation::default();
    }
    let model = info.and_then(|d| d.pointer("/metadata/model")).and_then(Value::as_str);
    Observation {
        readings: vec![Reading {
            key: model.map_or_else(|| "daily".to_string(), |m| format!("daily@{m}")),
            resets_at: reset,
            window_secs: Some(86_400),
            status: Some(WindowStatus::Exhausted),
            ..Reading::default()
        }],
    }
}

/// Reads `retrieveUserQuota` (GCLI types.ts `BucketInfo`: `remainingFraction`, `resetTime`,
/// `modelId`). Buckets are per model: an empty one keeps only its model off the account.
pub fn usage_observation(v: &Value) -> Observation {
    let buckets = v.get("buckets").and_then(Value::as_array).cloned().unwrap_or_default();
    let readings = buckets
        .iter()
        .filter_map(|b| {
            let model = field(b, "modelId")?;
            let used = b.get("remainingFraction").and_then(Value::as_f64).map(|r| (1.0 - r).clamp(0.0, 1.0));
            let resets_at = b.get("resetTime").and_then(Value::as_str).and_then(super::import::parse_time);
            Some(Reading { key: format!("daily@{model}"), used, resets_at, window_secs: Some(86_400), status: None })
        })
        .collect();
    Observation { readings }
}

/// Polls the quota (`{base}:retrieveUserQuota` with the project).
pub async fn usage(ep: &Endpoints, base: &str, tokens: &Tokens) -> Result<Observation, OAuthError> {
    let url = if ep.usage_url.is_empty() {
        format!("{}:retrieveUserQuota", base.trim_end_matches('/'))
    } else {
        ep.usage_url.clone()
    };
    let auth = format!("Bearer {}", tokens.access.expose());
    let body = json!({"project": tokens.extra_str("project").unwrap_or_default()});
    http::post_json(&url, &body, &[("authorization", auth.as_str())]).await.map(|v| usage_observation(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_wrapped_with_the_project() {
        let mut g = Grant { access: "ya29.x".into(), refresh: None, expires_at: None, extra: Default::default() };
        g.extra.insert("project".into(), json!("proj-1"));
        let t = g.into_tokens(0, 1);
        let mut o = Outbound {
            url: "http://h/v1internal/models/gemini-2.5-pro:streamGenerateContent?alt=sse".into(),
            headers: vec![("x-goog-api-key".into(), "k".into())],
            body: json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            op: Operation::Generate,
            model: "gemini-2.5-pro".into(),
            stream: true,
            base: "http://h/v1internal".into(),
        };
        dress(&mut o, &t).expect("dressed");
        assert_eq!(o.url, "http://h/v1internal:streamGenerateContent?alt=sse");
        assert_eq!(o.body["project"], "proj-1");
        assert_eq!(o.body["model"], "gemini-2.5-pro");
        assert_eq!(o.body["request"]["contents"][0]["parts"][0]["text"], "hi");
        assert_eq!(o.header("authorization"), Some("Bearer ya29.x"));
        assert_eq!(o.header("x-goog-api-key"), None);
        assert!(o.header("user-agent").is_some_and(|u| u.starts_with("GeminiCLI/")));
    }

    #[test]
    fn daily_quota_from_a_429_and_buckets_from_the_quota_call() {
        let body = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com","metadata":{"model":"gemini-2.5-pro","quotaResetTimeStamp":"2026-01-02T16:30:12Z"}}]}}"#;
        let o = quota_from_error(body, 0);
        assert_eq!(o.readings[0].key, "daily@gemini-2.5-pro");
        assert_eq!(o.readings[0].status, Some(WindowStatus::Exhausted));
        let short =
            br#"{"error":{"details":[{"reason":"RATE_LIMIT_EXCEEDED","metadata":{"quotaResetDelay":"976ms"}}]}}"#;
        assert!(quota_from_error(short, 0).is_empty());
        let u = usage_observation(
            &json!({"buckets": [{"remainingFraction": 0.75, "resetTime": "2025-10-22T16:01:15Z", "modelId": "gemini-2.5-pro"}]}),
        );
        assert_eq!(u.readings[0].used, Some(0.25));
    }
}

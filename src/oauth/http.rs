//! The HTTP side of OAuth: form and JSON calls to token, device and usage endpoints (awc, 30 s
//! timeout), and the provider's error answers read into one shape. Nothing here logs a body.

use std::time::Duration;

use actors::refresher::RefreshError;
use bytes::Bytes;
use serde_json::Value;

/// Token and usage calls give up after this long (Claude Code uses 30 s too).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read from an OAuth or usage endpoint.
const LIMIT: usize = 1024 * 1024;

/// Why an OAuth call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered with an OAuth error (`invalid_grant`, `authorization_pending`, ...).
    #[error("{code}{}", if description.is_empty() { String::new() } else { format!(": {description}") })]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// Its description (the provider's words).
        description: String,
    },
    /// Another HTTP failure.
    #[error("the provider answered HTTP {status}")]
    Status {
        /// HTTP status.
        status: u16,
    },
    /// The provider could not be reached or did not answer in time.
    #[error("cannot reach the provider: {0}")]
    Transport(String),
    /// The answer is not what the protocol says.
    #[error("unexpected answer from the provider: {0}")]
    Protocol(String),
}

impl OAuthError {
    /// The OAuth error code, if the provider gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            Self::Status { .. } | Self::Transport(_) | Self::Protocol(_) => None,
        }
    }

    /// As a refresh failure: a refusal of the credential itself (an OAuth error with 400, 401
    /// or 403: `invalid_grant`, Codex's `refresh_token_reused`, ...) is final; anything else
    /// (5xx, 429, timeouts, surprises) is worth retrying.
    pub fn into_refresh(self) -> RefreshError {
        match &self {
            Self::Refused { status: 400 | 401 | 403, .. } => RefreshError::Revoked(self.to_string()),
            Self::Refused { .. } | Self::Status { .. } | Self::Transport(_) | Self::Protocol(_) => {
                RefreshError::Transient(self.to_string())
            }
        }
    }
}

/// The code and description of an OAuth error body, in the shapes providers use:
/// `{"error":"x","error_description":"y"}` (RFC 6749), `{"error":{"type":"x","message":"y"}}`
/// (Anthropic), `{"error":{"code":"x","message":"y"}}` (OpenAI), `{"code":"x","message":"y"}`.
pub fn oauth_error(v: &Value) -> Option<(String, String)> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let desc = |o: &Value| {
        ["error_description", "message", "detail"].iter().find_map(|k| o.get(*k).and_then(text)).unwrap_or_default()
    };
    match v.get("error") {
        Some(Value::String(code)) => Some((code.clone(), desc(v))),
        Some(e @ Value::Object(_)) => {
            let code = ["type", "code", "status"].iter().find_map(|k| e.get(*k).and_then(text))?;
            Some((code, desc(e)))
        }
        _ => v.get("code").and_then(text).map(|code| (code, desc(v))),
    }
}

/// An awc client for OAuth calls.
pub fn client() -> awc::Client {
    awc::Client::builder().timeout(TIMEOUT).finish()
}

/// Reads an answer: a 2xx JSON body, or the error it stands for.
async fn read<S>(mut resp: awc::ClientResponse<S>) -> Result<(u16, Value), OAuthError>
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = resp.status().as_u16();
    let body = resp.body().limit(LIMIT).await.map_err(|e| OAuthError::Transport(e.to_string()))?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if (200..300).contains(&status) {
        return json.map(|v| (status, v)).ok_or_else(|| OAuthError::Protocol("the answer is not JSON".into()));
    }
    match json.as_ref().and_then(oauth_error) {
        Some((code, description)) => Err(OAuthError::Refused { status, code, description }),
        None => Err(OAuthError::Status { status }),
    }
}

fn transport(e: awc::error::SendRequestError) -> OAuthError {
    OAuthError::Transport(match e {
        awc::error::SendRequestError::Timeout => "timed out".to_string(),
        awc::error::SendRequestError::Connect(c) => format!("connect: {c}"),
        other => other.to_string(),
    })
}

fn request(client: &awc::Client, method: awc::http::Method, url: &str, headers: &[(&str, &str)]) -> awc::ClientRequest {
    let mut req = client.request(method, url).insert_header(("accept", "application/json"));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    req
}

/// POSTs a form.
pub async fn post_form(url: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Result<Value, OAuthError> {
    let c = client();
    let resp = request(&c, awc::http::Method::POST, url, headers).send_form(&form).await.map_err(transport)?;
    read(resp).await.map(|(_, v)| v)
}

/// POSTs JSON.
pub async fn post_json(url: &str, body: &Value, headers: &[(&str, &str)]) -> Result<Value, OAuthError> {
    let c = client();
    let resp = request(&c, awc::http::Method::POST, url, headers).send_json(body).await.map_err(transport)?;
    read(resp).await.map(|(_, v)| v)
}

/// GETs JSON.
pub async fn get_json(url: &str, headers: &[(&str, &str)]) -> Result<Value, OAuthError> {
    let c = client();
    let resp = request(&c, awc::http::Method::GET, url, headers).send().await.map_err(transport)?;
    read(resp).await.map(|(_, v)| v)
}

/// A string field of a token answer.
pub fn field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A whole-seconds field that may come as a number or a numeric string.
pub fn seconds(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_shapes_of_every_provider() {
        let rfc = json!({"error": "invalid_grant", "error_description": "Refresh token not found or invalid"});
        assert_eq!(oauth_error(&rfc), Some(("invalid_grant".into(), "Refresh token not found or invalid".into())));
        let anthropic = json!({"error": {"type": "invalid_grant", "message": "expired"}});
        assert_eq!(oauth_error(&anthropic), Some(("invalid_grant".into(), "expired".into())));
        let openai = json!({"error": {"code": "refresh_token_reused", "message": "already used"}});
        assert_eq!(oauth_error(&openai), Some(("refresh_token_reused".into(), "already used".into())));
        assert_eq!(oauth_error(&json!({"code": "x"})), Some(("x".into(), String::new())));
        assert_eq!(oauth_error(&json!({"detail": "nope"})), None);
    }

    #[test]
    fn refusals_of_the_credential_are_final_the_rest_passes() {
        let e = |status| OAuthError::Refused { status, code: "invalid_grant".into(), description: "gone".into() };
        assert_eq!(e(400).into_refresh(), RefreshError::Revoked("invalid_grant: gone".into()));
        assert!(matches!(e(401).into_refresh(), RefreshError::Revoked(_)));
        assert!(matches!(e(429).into_refresh(), RefreshError::Transient(_)));
        assert!(matches!(OAuthError::Status { status: 503 }.into_refresh(), RefreshError::Transient(_)));
        assert!(matches!(OAuthError::Transport("timed out".into()).into_refresh(), RefreshError::Transient(_)));
    }

    #[test]
    fn numbers_or_numeric_strings() {
        let v = json!({"a": 5, "b": "7", "c": 1.5, "d": "x"});
        assert_eq!(
            (seconds(&v, "a"), seconds(&v, "b"), seconds(&v, "c"), seconds(&v, "d")),
            (Some(5), Some(7), Some(1), None)
        );
    }
}

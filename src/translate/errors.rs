//! Upstream errors in one canonical form, so a client sees the upstream's own error class in its
//! own dialect: an Anthropic `overloaded_error` reaches an OpenAI client as a server error with
//! that code, an OpenAI `context_length_exceeded` reaches a Gemini client as `INVALID_ARGUMENT`
//! with the same message, and a same-dialect client gets the upstream's type and code verbatim.
//! Used for error bodies (non-2xx answers) and for error events inside a 200 stream.

use actors::outcome::OutcomeKind;
use serde_json::{Value, json};

use crate::protocol::Dialect;
use crate::translate::json::str_of;

/// The class of an upstream error, dialect-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is invalid (including a prompt too long for the model).
    InvalidRequest,
    /// The credential was refused.
    Authentication,
    /// The credential may not do this.
    Permission,
    /// Unknown model or resource.
    NotFound,
    /// Too many requests or tokens.
    RateLimit,
    /// The provider is overloaded.
    Overloaded,
    /// The provider failed.
    Server,
    /// The upstream (or the gateway waiting for it) timed out.
    Timeout,
}

/// An upstream error as the gateway keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// Its class.
    pub kind: ErrorKind,
    /// The upstream's message (already redacted where it reaches a client).
    pub message: String,
    /// The dialect it came in, and its own type/code/status strings there.
    pub dialect: Dialect,
    /// OpenAI `type` / Anthropic `type` / Gemini `status`.
    pub kind_text: Option<String>,
    /// OpenAI `code` (e.g. `context_length_exceeded`).
    pub code: Option<String>,
    /// OpenAI `param`.
    pub param: Option<String>,
}

impl ErrorKind {
    /// How the gateway treats an attempt that failed this way.
    pub fn outcome(self) -> OutcomeKind {
        match self {
            Self::InvalidRequest | Self::NotFound => OutcomeKind::ClientError,
            Self::Authentication | Self::Permission => OutcomeKind::AuthFailed,
            Self::RateLimit => OutcomeKind::RateLimited { retry_after: None },
            Self::Overloaded | Self::Server => OutcomeKind::ServerError,
            Self::Timeout => OutcomeKind::Timeout,
        }
    }

    /// The class an HTTP status implies, when the body says nothing better.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Authentication,
            403 => Self::Permission,
            404 => Self::NotFound,
            408 | 504 => Self::Timeout,
            429 => Self::RateLimit,
            503 | 529 => Self::Overloaded,
            400..=499 => Self::InvalidRequest,
            _ => Self::Server,
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "invalid_request_error"
            | "INVALID_ARGUMENT"
            | "FAILED_PRECONDITION"
            | "OUT_OF_RANGE"
            | "request_too_large"
            | "invalid_request" => Self::InvalidRequest,
            "authentication_error" | "UNAUTHENTICATED" | "invalid_api_key" => Self::Authentication,
            "permission_error" | "PERMISSION_DENIED" | "billing_error" => Self::Permission,
            "not_found_error" | "NOT_FOUND" | "model_not_found" => Self::NotFound,
            "rate_limit_error"
            | "RESOURCE_EXHAUSTED"
            | "rate_limit_exceeded"
            | "insufficient_quota"
            | "tokens"
            | "requests" => Self::RateLimit,
            "overloaded_error" | "UNAVAILABLE" | "server_is_overloaded" | "engine_overloaded" => Self::Overloaded,
            "api_error" | "server_error" | "INTERNAL" | "UNKNOWN" => Self::Server,
            "timeout_error" | "DEADLINE_EXCEEDED" => Self::Timeout,
            _ => return None,
        })
    }

    /// OpenAI's `error.type` for this class.
    pub fn openai_type(self) -> &'static str {
        match self {
            Self::InvalidRequest | Self::NotFound => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::RateLimit => "rate_limit_error",
            Self::Overloaded | Self::Server => "server_error",
            Self::Timeout => "timeout_error",
        }
    }

    /// Anthropic's `error.type` for this class.
    pub fn anthropic_type(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RateLimit => "rate_limit_error",
            Self::Overloaded => "overloaded_error",
            Self::Server => "api_error",
            Self::Timeout => "timeout_error",
        }
    }

    /// The HTTP status this class has as a plain answer.
    pub fn http_status(self) -> u16 {
        self.gemini_status().1
    }

    /// Gemini's (google.rpc) `status` and HTTP code for this class.
    pub fn gemini_status(self) -> (&'static str, u16) {
        match self {
            Self::InvalidRequest => ("INVALID_ARGUMENT", 400),
            Self::Authentication => ("UNAUTHENTICATED", 401),
            Self::Permission => ("PERMISSION_DENIED", 403),
            Self::NotFound => ("NOT_FOUND", 404),
            Self::RateLimit => ("RESOURCE_EXHAUSTED", 429),
            Self::Overloaded => ("UNAVAILABLE", 503),
            Self::Server => ("INTERNAL", 500),
            Self::Timeout => ("DEADLINE_EXCEEDED", 504),
        }
    }
}

/// The class of an OpenAI / Responses error `code`.
pub fn kind_of_code(code: &str) -> ErrorKind {
    if code == "context_length_exceeded" {
        return ErrorKind::InvalidRequest;
    }
    ErrorKind::from_text(code).unwrap_or(ErrorKind::Server)
}

/// Words in a message that mean the prompt did not fit the model (a client error with a code
/// OpenAI clients know, whichever dialect said it).
fn context_too_long(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "prompt is too long",
        "context length",
        "context_length",
        "maximum context",
        "too many tokens",
        "input is too long",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Reads an upstream error object (`{"error": {...}}` in any of the four dialects; an Anthropic
/// `{"type":"error","error":{...}}`; a bare error object), with `status` as the fallback class.
pub fn parse(dialect: Dialect, body: &Value, status: Option<u16>) -> Option<UpstreamError> {
    let e = body.get("error").unwrap_or(body);
    let e = match e {
        Value::Object(_) => e,
        Value::String(s) => {
            let kind = status.map(ErrorKind::from_status).unwrap_or(ErrorKind::Server);
            return Some(UpstreamError { kind, message: s.clone(), dialect, kind_text: None, code: None, param: None });
        }
        _ => return None,
    };
    let message = str_of(e, "message").unwrap_or_default().to_string();
    let kind_text = str_of(e, "type").or_else(|| str_of(e, "status")).map(str::to_string);
    let code = match e.get("code") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let param = str_of(e, "param").map(str::to_string);
    if message.is_empty() && kind_text.is_none() && code.is_none() {
        return None;
    }
    let kind = code
        .as_deref()
        .and_then(ErrorKind::from_text)
        .or_else(|| kind_text.as_deref().and_then(ErrorKind::from_text))
        .or_else(|| status.map(ErrorKind::from_status))
        .unwrap_or(ErrorKind::Server);
    // A rate limit that speaks of tokens ("Too many tokens, please wait before trying again",
    // Bedrock's throttling) is a rate limit, not a prompt too long for the model.
    let throttled = kind == ErrorKind::RateLimit || status == Some(429);
    let kind = if code.as_deref() == Some("context_length_exceeded") || (!throttled && context_too_long(&message)) {
        ErrorKind::InvalidRequest
    } else {
        kind
    };
    Some(UpstreamError { kind, message, dialect, kind_text, code, param })
}

impl UpstreamError {
    /// An error made by the gateway itself (a timeout, a broken stream), in no dialect's terms.
    pub fn gateway(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), dialect: Dialect::OpenaiChat, kind_text: None, code: None, param: None }
    }

    /// OpenAI's `code`: the upstream's own, else one a client can act on.
    pub fn openai_code(&self) -> Option<String> {
        if let Some(c) = &self.code {
            return Some(c.clone());
        }
        if self.kind != ErrorKind::RateLimit && context_too_long(&self.message) {
            return Some("context_length_exceeded".into());
        }
        self.kind_text
            .clone()
            .filter(|_| self.dialect != Dialect::OpenaiChat && self.dialect != Dialect::OpenaiResponses)
    }

    fn same(&self, client: Dialect) -> bool {
        let family = |d: Dialect| if d == Dialect::OpenaiResponses { Dialect::OpenaiChat } else { d };
        family(self.dialect) == family(client) && self.kind_text.is_some()
    }

    /// The `error` object in `client`'s dialect (without the envelope some dialects add).
    pub fn object(&self, client: Dialect) -> Value {
        let same = self.same(client);
        match client {
            Dialect::OpenaiChat | Dialect::OpenaiResponses => json!({
                "message": self.message,
                "type": if same { self.kind_text.clone().unwrap_or_default() } else { self.kind.openai_type().to_string() },
                "param": self.param,
                "code": self.openai_code(),
            }),
            Dialect::Anthropic => json!({
                "type": if same { self.kind_text.clone().unwrap_or_default() } else { self.kind.anthropic_type().to_string() },
                "message": self.message,
            }),
            Dialect::Gemini => {
                let (status, code) = self.kind.gemini_status();
                let status = if same { self.kind_text.clone().unwrap_or_default() } else { status.to_string() };
                json!({"code": code, "message": self.message, "status": status})
            }
        }
    }

    /// The whole error body in `client`'s dialect.
    pub fn body(&self, client: Dialect) -> Value {
        match client {
            Dialect::Anthropic => json!({"type": "error", "error": self.object(client)}),
            Dialect::OpenaiChat | Dialect::OpenaiResponses | Dialect::Gemini => json!({"error": self.object(client)}),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rate_limit_that_speaks_of_tokens_stays_a_rate_limit() {
        let body = serde_json::json!({"message": "Too many tokens, please wait before trying again."});
        let e = super::parse(Dialect::OpenaiChat, &body, Some(429)).expect("parsed");
        assert_eq!(e.kind, ErrorKind::RateLimit);
        assert_eq!(e.openai_code(), None, "not context_length_exceeded: a client would compact for nothing");
        let e = super::parse(
            Dialect::OpenaiChat,
            &serde_json::json!({"message": "too many tokens in the prompt"}),
            Some(400),
        )
        .expect("parsed");
        assert_eq!((e.kind, e.openai_code().as_deref()), (ErrorKind::InvalidRequest, Some("context_length_exceeded")));
    }

    use super::*;

    #[test]
    fn upstream_classes_survive_into_every_dialect() {
        let body = json!({"error": {"message": "This model's maximum context length is 8192 tokens", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}});
        let e = parse(Dialect::OpenaiChat, &body, Some(400)).expect("parsed");
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.body(Dialect::OpenaiChat)["error"]["code"], "context_length_exceeded");
        assert_eq!(e.body(Dialect::OpenaiChat)["error"]["param"], "messages");
        assert_eq!(e.body(Dialect::Anthropic)["error"]["type"], "invalid_request_error");
        assert_eq!(e.body(Dialect::Gemini)["error"]["status"], "INVALID_ARGUMENT");

        let body = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        let e = parse(Dialect::Anthropic, &body, Some(529)).expect("parsed");
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert_eq!(e.body(Dialect::Anthropic), body, "same dialect: verbatim");
        assert_eq!(e.body(Dialect::OpenaiChat)["error"]["type"], "server_error");
        assert_eq!(e.body(Dialect::OpenaiChat)["error"]["code"], "overloaded_error");
        assert_eq!(e.body(Dialect::Gemini)["error"]["status"], "UNAVAILABLE");
        assert!(matches!(e.kind.outcome(), OutcomeKind::ServerError));

        let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 250000 tokens > 200000 maximum"}});
        let e = parse(Dialect::Anthropic, &body, Some(400)).expect("parsed");
        assert_eq!(e.openai_code().as_deref(), Some("context_length_exceeded"));

        let body =
            json!({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}});
        let e = parse(Dialect::Gemini, &body, Some(429)).expect("parsed");
        assert_eq!(e.kind, ErrorKind::RateLimit);
        assert_eq!(e.body(Dialect::Gemini), body);
        assert_eq!(e.body(Dialect::Anthropic)["error"]["type"], "rate_limit_error");
        assert!(parse(Dialect::OpenaiChat, &json!({"choices": []}), None).is_none());
    }
}

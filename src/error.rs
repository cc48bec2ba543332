//! `GatewayError`: every error a client can see, its status (an exhaustive match), and its
//! rendering in the caller's own dialect. Messages are written for clients: no SQL, no raw upstream
//! bodies, no secrets.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::json;

use crate::protocol::Dialect;
use crate::translate::errors::UpstreamError;

/// The longest wait a refusal of the gateway's own (429, 503) asks a client to spend retrying.
/// The official OpenAI and Anthropic SDKs retry 429 and 5xx twice, waiting `Retry-After` when it
/// is at most 60 s, unless the answer says `x-should-retry: false`. When something can serve
/// within this time the answer says `x-should-retry: true` with `Retry-After`, and the SDK's
/// retry succeeds; when nothing can (credentials refused, every account out for longer, no
/// account at all) it says `false`, and the SDK fails at once with the reason instead of sitting
/// silent for a minute.
pub const RETRY_WORTH: Duration = Duration::from_secs(5);

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed or asks for something impossible.
    #[error("{0}")]
    BadRequest(String),
    /// No key, or a key that is not active.
    #[error("{0}")]
    Unauthorized(String),
    /// The key may not use this model.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown model, route or object.
    #[error("{0}")]
    NotFound(String),
    /// The body exceeds the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client did not send its body within `server.body_timeout_secs`; the connection closes.
    #[error("{0}")]
    RequestTimeout(String),
    /// A state-changing admin request whose body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The key's budget cannot cover the request (402).
    #[error("{0}")]
    BudgetSpent(String),
    /// An `Idempotency-Key` reused with a different request (422, as the IETF
    /// idempotency-key draft says: the key names one request, not a family).
    #[error("{0}")]
    IdempotencyMismatch(String),
    /// Every account is cooling down or rate limited.
    #[error("{message}")]
    RateLimited {
        /// What happened.
        message: String,
        /// When to try again.
        retry_after: Option<Duration>,
    },
    /// No account can serve the request now (breaker open, none configured).
    #[error("{message}")]
    Unavailable {
        /// What happened.
        message: String,
        /// When to try again.
        retry_after: Option<Duration>,
    },
    /// An error the upstream reported, passed on with its status and (when it said) its own
    /// error class, type and code, rendered in the caller's dialect.
    #[error("{message}")]
    Upstream {
        /// Upstream status.
        status: u16,
        /// The upstream's message, redacted.
        message: String,
        /// The upstream's error as it said it (type, code, param), if it said it in a known shape.
        detail: Option<Box<UpstreamError>>,
    },
    /// The upstream failed or answered something unusable.
    #[error("{0}")]
    BadGateway(String),
    /// The upstream did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The feature is not available.
    #[error("{0}")]
    NotImplemented(String),
    /// A fault of the gateway itself.
    #[error("{0}")]
    Internal(String),
}

impl GatewayError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BudgetSpent(_) => StatusCode::PAYMENT_REQUIRED,
            Self::IdempotencyMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => *retry_after,
            Self::BadRequest(_)
            | Self::Unauthorized(_)
            | Self::Forbidden(_)
            | Self::NotFound(_)
            | Self::PayloadTooLarge(_)
            | Self::RequestTimeout(_)
            | Self::UnsupportedMediaType(_)
            | Self::Upstream { .. }
            | Self::BadGateway(_)
            | Self::Timeout(_)
            | Self::NotImplemented(_)
            | Self::Internal(_)
            | Self::BudgetSpent(_)
            | Self::IdempotencyMismatch(_) => None,
        }
    }

    /// OpenAI's `error.type` for this status.
    fn openai_type(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 | 404 | 408 | 413 | 415 | 422 => "invalid_request_error",
            401 => "authentication_error",
            402 => "insufficient_quota",
            403 => "permission_error",
            429 => "rate_limit_error",
            504 => "timeout_error",
            _ => "api_error",
        }
    }

    /// Anthropic's `error.type` for this status.
    fn anthropic_type(status: StatusCode) -> &'static str {
        match status.as_u16() {
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        }
    }

    /// Gemini's (google.rpc) `error.status` for this status.
    fn gemini_status(status: StatusCode) -> &'static str {
        match status.as_u16() {
            401 => "UNAUTHENTICATED",
            402 => "RESOURCE_EXHAUSTED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            408 => "DEADLINE_EXCEEDED",
            409 => "ALREADY_EXISTS",
            429 => "RESOURCE_EXHAUSTED",
            501 => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            400..=499 => "INVALID_ARGUMENT",
            _ => "INTERNAL",
        }
    }

    /// The error body in `dialect`'s shape.
    pub fn body(&self, dialect: Dialect) -> serde_json::Value {
        if let Self::Upstream { message, detail: Some(d), .. } = self {
            let mut d = d.as_ref().clone();
            d.message.clone_from(message);
            return d.body(dialect);
        }
        let status = self.status();
        let message = self.to_string();
        match dialect {
            Dialect::OpenaiChat | Dialect::OpenaiResponses => json!({
                "error": {
                    "message": message,
                    "type": Self::openai_type(status),
                    "param": null,
                    "code": self.code(),
                }
            }),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": Self::anthropic_type(status), "message": message }
            }),
            Dialect::Gemini => json!({
                "error": { "code": status.as_u16(), "message": message, "status": Self::gemini_status(status) }
            }),
        }
    }

    /// A short machine-readable code (OpenAI `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::Unauthorized(_) => "invalid_api_key",
            Self::Forbidden(_) => "model_not_allowed",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::RequestTimeout(_) => "request_timeout",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "no_available_account",
            Self::Upstream { .. } => "upstream_error",
            Self::BadGateway(_) => "bad_gateway",
            Self::Timeout(_) => "upstream_timeout",
            Self::NotImplemented(_) => "not_implemented",
            Self::Internal(_) => "internal_error",
            Self::BudgetSpent(_) => "budget_exceeded",
            Self::IdempotencyMismatch(_) => "idempotency_key_reused",
        }
    }

    /// Whether a client should try again, for refusals the gateway makes itself (429, 503): only
    /// when something can serve within `RETRY_WORTH`. `None` for every other error.
    pub fn worth_retrying(&self) -> Option<bool> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(retry_after.is_some_and(|d| d <= RETRY_WORTH))
            }
            // Nothing changes before the period resets.
            Self::BudgetSpent(_) => Some(false),
            Self::BadRequest(_)
            | Self::Unauthorized(_)
            | Self::Forbidden(_)
            | Self::NotFound(_)
            | Self::PayloadTooLarge(_)
            | Self::RequestTimeout(_)
            | Self::UnsupportedMediaType(_)
            | Self::Upstream { .. }
            | Self::BadGateway(_)
            | Self::Timeout(_)
            | Self::NotImplemented(_)
            | Self::Internal(_)
            | Self::IdempotencyMismatch(_) => None,
        }
    }

    /// The full HTTP response in `dialect`'s shape, with `Retry-After` when known and, on the
    /// gateway's own 429/503, `x-should-retry` (see `RETRY_WORTH`).
    pub fn response(&self, dialect: Dialect) -> HttpResponse {
        let mut b = HttpResponseBuilder::new(self.status());
        if let Some(ra) = self.retry_after() {
            b.insert_header(("retry-after", ra.as_secs().max(1).to_string()));
        }
        if let Some(worth) = self.worth_retrying() {
            b.insert_header(("x-should-retry", if worth { "true" } else { "false" }));
        }
        if matches!(self, Self::RequestTimeout(_)) {
            // The rest of a half-sent body would be read as the next request: close instead.
            b.force_close();
        }
        b.json(self.body(dialect))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_per_dialect() {
        let e = GatewayError::Unauthorized("missing key".into());
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.body(Dialect::OpenaiChat)["error"]["type"], "authentication_error");
        assert_eq!(e.body(Dialect::Anthropic)["type"], "error");
        assert_eq!(e.body(Dialect::Anthropic)["error"]["type"], "authentication_error");
        assert_eq!(e.body(Dialect::Gemini)["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(e.body(Dialect::Gemini)["error"]["code"], 401);
        let e = GatewayError::RateLimited { message: "x".into(), retry_after: Some(Duration::from_secs(3)) };
        let r = e.response(Dialect::OpenaiChat);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
        assert_eq!(r.headers().get("x-should-retry").and_then(|v| v.to_str().ok()), Some("true"));
        let e = GatewayError::RateLimited { message: "x".into(), retry_after: Some(Duration::from_secs(40)) };
        assert_eq!(e.response(Dialect::OpenaiChat).headers().get("x-should-retry").unwrap(), "false");
        let e = GatewayError::Unavailable { message: "x".into(), retry_after: None };
        assert_eq!(e.response(Dialect::Anthropic).headers().get("x-should-retry").unwrap(), "false");
        assert!(
            GatewayError::BadGateway("x".into())
                .response(Dialect::OpenaiChat)
                .headers()
                .get("x-should-retry")
                .is_none()
        );
        let e = GatewayError::Upstream { status: 422, message: "bad".into(), detail: None };
        assert_eq!(e.status().as_u16(), 422);
        assert_eq!(e.body(Dialect::Gemini)["error"]["status"], "INVALID_ARGUMENT");
    }
}

//! The outcome of one upstream attempt, as the account, breaker and router see it, and the
//! resilience policy that turns outcomes into cooldowns and breaker trips.

use std::time::Duration;

/// What happened to one upstream attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The upstream served the request.
    Success,
    /// 429: this account is rate limited (connection-scoped: the account cools down, the
    /// provider's breaker is not told).
    RateLimited {
        /// The upstream's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 401 / 403: this account's credential was refused.
    AuthFailed,
    /// 5xx from the upstream.
    ServerError,
    /// No response (or no next chunk) in time.
    Timeout,
    /// The connection could not be made or broke.
    ConnectError,
    /// A 200 without any content.
    EmptyResponse,
    /// The upstream broke the protocol (malformed frames), or our handling of it faulted.
    ProtocolError,
    /// Another 4xx: the request itself was refused; nobody's health changes.
    ClientError,
    /// The client went away first; nobody's health changes.
    Cancelled,
    /// This account may not use this model for a while: a 404 "model not found / not
    /// supported", or a 429 whose body names the model. Only that model is locked on the
    /// account (until `retry_after`, else `ResiliencePolicy::model_lock_ms`); its other models
    /// keep being served, and another account may still have it.
    ModelUnavailable {
        /// The upstream's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The error body says the account itself is finished (suspended, organization disabled,
    /// key invalid): the account is disabled with this reason until an operator resets it,
    /// instead of cooling down forever.
    Banned {
        /// The phrase that matched, as the reason.
        reason: &'static str,
    },
    /// The request is larger than the model's context window (the upstream said so): no
    /// account of this model will differ, but a combo's larger target may take it.
    ContextExceeded,
}

impl OutcomeKind {
    /// Whether another account or target may succeed where this one failed (before any byte
    /// reached the client).
    pub fn is_retryable(self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::AuthFailed
            | Self::ServerError
            | Self::Timeout
            | Self::ConnectError
            | Self::EmptyResponse
            | Self::ProtocolError
            | Self::ModelUnavailable { .. }
            | Self::Banned { .. } => true,
            Self::Success | Self::ClientError | Self::Cancelled | Self::ContextExceeded => false,
        }
    }

    /// Whether this counts as an end-to-end failure of the provider (its circuit breaker).
    pub fn trips_breaker(self) -> bool {
        match self {
            Self::ServerError | Self::Timeout | Self::ConnectError | Self::EmptyResponse | Self::ProtocolError => true,
            Self::Success
            | Self::RateLimited { .. }
            | Self::AuthFailed
            | Self::ClientError
            | Self::Cancelled
            | Self::ModelUnavailable { .. }
            | Self::Banned { .. }
            | Self::ContextExceeded => false,
        }
    }

    /// Whether this is a fault of the upstream's side (what trips a breaker): repeated on one
    /// account while the provider's other accounts answer, it cools that account.
    pub fn is_provider_fault(self) -> bool {
        self.trips_breaker()
    }

    /// Whether this alone puts the account into cooldown (or out of service). Provider faults
    /// cool an account only when repeated while its siblings answer (`AccountHealth::apply_in`).
    pub fn cools_account(self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::AuthFailed | Self::Banned { .. } => true,
            Self::Success
            | Self::ModelUnavailable { .. }
            | Self::ContextExceeded
            | Self::ServerError
            | Self::Timeout
            | Self::ConnectError
            | Self::EmptyResponse
            | Self::ProtocolError
            | Self::ClientError
            | Self::Cancelled => false,
        }
    }

    /// A short label for logs, usage rows and the dashboard.
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::RateLimited { .. } => "rate_limited",
            Self::AuthFailed => "auth_failed",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::ConnectError => "connect_error",
            Self::EmptyResponse => "empty_response",
            Self::ProtocolError => "protocol_error",
            Self::ClientError => "client_error",
            Self::Cancelled => "cancelled",
            Self::ModelUnavailable { .. } => "model_unavailable",
            Self::Banned { .. } => "account_banned",
            Self::ContextExceeded => "context_exceeded",
        }
    }
}

/// Classifies an upstream HTTP status (non-2xx). A 3xx is the provider's fault (redirects are
/// never followed), so it falls over and counts against the breaker like a malformed answer.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> OutcomeKind {
    match status {
        300..=399 => OutcomeKind::ProtocolError,
        429 => OutcomeKind::RateLimited { retry_after },
        401 | 403 => OutcomeKind::AuthFailed,
        408 => OutcomeKind::Timeout,
        500..=599 => OutcomeKind::ServerError,
        _ => OutcomeKind::ClientError,
    }
}

/// Phrases of error bodies that mean the account itself is finished, with the reason shown for
/// the disabled account. Matched case-insensitively on 4xx bodies only.
const BAN_PHRASES: [(&str, &str); 12] = [
    ("account has been suspended", "account suspended"),
    ("account is suspended", "account suspended"),
    ("account suspended", "account suspended"),
    ("account has been deactivated", "account deactivated"),
    ("account has been disabled", "account disabled"),
    ("organization has been disabled", "organization disabled"),
    ("organization is disabled", "organization disabled"),
    ("organization disabled", "organization disabled"),
    ("invalid api key", "invalid API key"),
    ("invalid_api_key", "invalid API key"),
    ("incorrect api key", "invalid API key"),
    ("api key not valid", "invalid API key"),
];

/// Phrases of a 404 body saying the model is not there (for this account).
const MODEL_MISSING: [&str; 6] = [
    "model not found",
    "model_not_found",
    "not supported",
    "does not exist",
    "no such model",
    "is not found for api version",
];

/// Phrases of a 400 / 413 / 422 body saying the request is over the model's context window.
const CONTEXT_PHRASES: [&str; 8] = [
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "input is too long",
    "exceeds the maximum number of tokens",
    "too many tokens",
];

/// Classifies a non-2xx upstream answer from its status, wait hint, (bounded) error body and
/// the model asked for. On top of `classify_status`: ban phrases disable the account (unless the
/// caller handles a 401 itself, `defer_auth`), a 404 naming a missing model and a 429 naming the
/// model lock that model only, and a context-window refusal is told apart from other 4xx.
pub fn classify_answer(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    model: &str,
    defer_auth: bool,
) -> OutcomeKind {
    let lower = body.to_ascii_lowercase();
    if (400..500).contains(&status)
        && status != 429
        && !(defer_auth && status == 401)
        && let Some((_, reason)) = BAN_PHRASES.iter().find(|(p, _)| lower.contains(p))
    {
        return OutcomeKind::Banned { reason };
    }
    let names_model = !model.is_empty() && lower.contains(&model.to_ascii_lowercase());
    match status {
        404 if names_model || MODEL_MISSING.iter().any(|p| lower.contains(p)) => {
            OutcomeKind::ModelUnavailable { retry_after }
        }
        429 if names_model || lower.contains("per model") || lower.contains("permodel") => {
            OutcomeKind::ModelUnavailable { retry_after }
        }
        400 | 413 | 422 if CONTEXT_PHRASES.iter().any(|p| lower.contains(p)) => OutcomeKind::ContextExceeded,
        413 => OutcomeKind::ContextExceeded,
        _ => classify_status(status, retry_after),
    }
}

/// Cooldown and breaker tuning (from `[resilience]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResiliencePolicy {
    /// First backoff step, ms.
    pub cooldown_base_ms: i64,
    /// Longest backoff step, ms.
    pub cooldown_max_ms: i64,
    /// Longest cooldown from a `Retry-After`, ms.
    pub retry_after_max_ms: i64,
    /// Consecutive failures that open a breaker.
    pub breaker_threshold: u32,
    /// First open period, ms.
    pub breaker_open_ms: i64,
    /// Longest open period, ms.
    pub breaker_open_max_ms: i64,
    /// How long a model stays locked on an account after a model-scoped refusal without a
    /// `Retry-After`, ms.
    pub model_lock_ms: i64,
    /// Consecutive provider faults (5xx, timeouts, broken answers) on one account, while the
    /// provider's other accounts answer in between, that cool this account.
    pub account_fault_threshold: u32,
}

impl Default for ResiliencePolicy {
    fn default() -> Self {
        Self {
            cooldown_base_ms: 1_000,
            cooldown_max_ms: 120_000,
            retry_after_max_ms: 86_400_000,
            breaker_threshold: 5,
            breaker_open_ms: 30_000,
            breaker_open_max_ms: 600_000,
            model_lock_ms: 300_000,
            account_fault_threshold: 3,
        }
    }
}

impl ResiliencePolicy {
    /// The backoff for a level (1 → base, 2 → 2·base, ...), capped.
    pub fn backoff_ms(&self, level: u32) -> i64 {
        let shift = level.saturating_sub(1).min(30);
        self.cooldown_base_ms.saturating_mul(1i64 << shift).min(self.cooldown_max_ms)
    }

    /// The open period after `trips` earlier trips, capped.
    pub fn open_ms(&self, trips: u32) -> i64 {
        self.breaker_open_ms.saturating_mul(1i64 << trips.min(30)).min(self.breaker_open_max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_two_minutes() {
        let p = ResiliencePolicy::default();
        let steps: Vec<i64> = (1..=9).map(|l| p.backoff_ms(l)).collect();
        assert_eq!(steps, vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000]);
    }

    #[test]
    fn status_classification() {
        assert!(matches!(classify_status(429, None), OutcomeKind::RateLimited { .. }));
        assert_eq!(classify_status(503, None), OutcomeKind::ServerError);
        assert_eq!(classify_status(401, None), OutcomeKind::AuthFailed);
        assert_eq!(classify_status(400, None), OutcomeKind::ClientError);
        assert_eq!(classify_status(307, None), OutcomeKind::ProtocolError);
        assert!(!OutcomeKind::RateLimited { retry_after: None }.trips_breaker());
        assert!(OutcomeKind::EmptyResponse.trips_breaker());
        assert!(!OutcomeKind::ClientError.is_retryable());
    }

    #[test]
    fn answers_are_classified_by_their_body() {
        let c = |status, body: &str| classify_answer(status, None, body, "gpt-4o", false);
        assert_eq!(
            c(403, r#"{"error":{"message":"Your account has been suspended."}}"#),
            OutcomeKind::Banned { reason: "account suspended" }
        );
        assert_eq!(c(401, "Incorrect API key provided: sk-...").label(), "account_banned");
        assert_eq!(
            classify_answer(401, None, "invalid api key", "m", true),
            OutcomeKind::AuthFailed,
            "a deferred 401 is the caller's to refresh"
        );
        assert_eq!(c(401, "token expired"), OutcomeKind::AuthFailed);
        assert_eq!(c(404, "The model `gpt-4o` does not exist"), OutcomeKind::ModelUnavailable { retry_after: None });
        assert_eq!(c(404, "no route"), OutcomeKind::ClientError);
        let ra = Some(Duration::from_secs(9));
        assert_eq!(
            classify_answer(429, ra, "Rate limit reached for gpt-4o in organization org-1", "gpt-4o", false),
            OutcomeKind::ModelUnavailable { retry_after: ra }
        );
        assert_eq!(c(429, "Rate limit reached"), OutcomeKind::RateLimited { retry_after: None });
        assert_eq!(c(400, "This model's maximum context length is 8192 tokens"), OutcomeKind::ContextExceeded);
        assert_eq!(c(400, "prompt is too long: 210000 tokens > 200000 maximum"), OutcomeKind::ContextExceeded);
        assert_eq!(c(400, "bad field"), OutcomeKind::ClientError);
        assert_eq!(c(500, "account suspended?"), OutcomeKind::ServerError, "only 4xx bodies ban");
        for k in [OutcomeKind::ModelUnavailable { retry_after: None }, OutcomeKind::Banned { reason: "x" }] {
            assert!(k.is_retryable() && !k.trips_breaker());
        }
        assert!(!OutcomeKind::ContextExceeded.is_retryable());
    }
}

/// Reads a `Retry-After` header value: delta-seconds (fractions allowed).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_millis((secs * 1000.0) as u64))
}

/// Finds a wait written in an error body ("try again in 20s", "resets after 27h41m36s",
/// "retry after 30 seconds"), for upstreams that send no `Retry-After` header.
pub fn retry_hint_from_text(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    const KEYS: [&str; 8] =
        ["retry after", "retry in", "try again in", "try again after", "reset after", "resets in", "reset in", "wait"];
    KEYS.iter().find_map(|k| {
        let at = lower.find(k)? + k.len();
        parse_duration_token(lower[at..].trim_start())
    })
}

/// `27h41m36s`, `1m30s`, `20s`, `1.5s`, `500ms`, `30 seconds`, `2 minutes`, `1 hour`.
fn parse_duration_token(s: &str) -> Option<Duration> {
    let mut total_ms = 0f64;
    let mut rest = s;
    let mut any = false;
    loop {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            break;
        }
        let Ok(n) = rest[..num_len].parse::<f64>() else {
            break;
        };
        let after = rest[num_len..].trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let unit = &after[..unit_len];
        let ms = match unit {
            "ms" | "millisecond" | "milliseconds" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
            _ => break,
        };
        total_ms += n * ms;
        any = true;
        rest = &after[unit_len..];
    }
    (any && total_ms.is_finite()).then(|| Duration::from_millis(total_ms as u64))
}

#[cfg(test)]
mod hint_tests {
    use super::*;

    #[test]
    fn retry_hints_in_headers_and_bodies() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        let day = retry_hint_from_text("Quota exceeded. Your quota will reset after 27h41m36s.");
        assert_eq!(day, Some(Duration::from_secs(27 * 3600 + 41 * 60 + 36)));
        assert_eq!(retry_hint_from_text("Please try again in 20s"), Some(Duration::from_secs(20)));
        assert_eq!(retry_hint_from_text("retry after 30 seconds"), Some(Duration::from_secs(30)));
        assert_eq!(retry_hint_from_text("Rate limit reached, try again in 1m30s."), Some(Duration::from_secs(90)));
        assert_eq!(retry_hint_from_text("nothing here"), None);
    }
}

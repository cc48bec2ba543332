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
            | Self::ProtocolError => true,
            Self::Success | Self::ClientError | Self::Cancelled => false,
        }
    }

    /// Whether this counts as an end-to-end failure of the provider (its circuit breaker).
    pub fn trips_breaker(self) -> bool {
        match self {
            Self::ServerError | Self::Timeout | Self::ConnectError | Self::EmptyResponse | Self::ProtocolError => true,
            Self::Success | Self::RateLimited { .. } | Self::AuthFailed | Self::ClientError | Self::Cancelled => false,
        }
    }

    /// Whether this puts the account into cooldown.
    pub fn cools_account(self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::AuthFailed => true,
            Self::Success
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

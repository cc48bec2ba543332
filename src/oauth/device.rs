//! The device authorization grant (RFC 8628) common to GitHub and Qwen: the code the user
//! enters, the poll answers (`authorization_pending`, `slow_down`, `expired_token`,
//! `access_denied`) and the polling interval, as a plain struct driven with an explicit clock.

use serde::Serialize;
use serde_json::Value;

use super::OAuthError;
use super::http::{field, oauth_error, seconds};

/// RFC 8628 §3.2: the interval when the provider gives none, seconds.
const DEFAULT_INTERVAL_SECS: i64 = 5;
/// RFC 8628 §3.5: `slow_down` adds 5 s to the interval.
pub const SLOW_DOWN_STEP_MS: i64 = 5_000;

/// A device code, as the user and the poller need it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCode {
    /// What the poller sends (never shown).
    #[serde(skip)]
    pub device_code: String,
    /// What the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The same page with the code filled in, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    /// When the code expires (ms).
    pub expires_at: i64,
    /// Wait between polls (ms).
    pub interval_ms: i64,
    /// The PKCE verifier the device request was made with (Qwen), sent with each poll.
    #[serde(skip)]
    pub verifier: Option<String>,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval_ms", &self.interval_ms)
            .finish_non_exhaustive()
    }
}

impl DeviceCode {
    /// Reads a device-code answer (RFC 8628 §3.2) received at `now`.
    pub fn parse(v: &Value, now: i64, verifier: Option<String>) -> Result<Self, OAuthError> {
        let missing = |k: &str| OAuthError::Protocol(format!("the device-code answer has no `{k}`"));
        Ok(Self {
            device_code: field(v, "device_code").ok_or_else(|| missing("device_code"))?,
            user_code: field(v, "user_code").ok_or_else(|| missing("user_code"))?,
            verification_uri: field(v, "verification_uri")
                .or_else(|| field(v, "verification_url"))
                .ok_or_else(|| missing("verification_uri"))?,
            verification_uri_complete: field(v, "verification_uri_complete"),
            expires_at: now + seconds(v, "expires_in").unwrap_or(900) * 1000,
            // Whole seconds per RFC 8628; a fraction (a test server's) is honoured too.
            interval_ms: v
                .get("interval")
                .and_then(|i| i.as_f64().or_else(|| i.as_str().and_then(|s| s.trim().parse().ok())))
                .filter(|s| *s > 0.0)
                .map_or(DEFAULT_INTERVAL_SECS * 1000, |s| (s * 1000.0) as i64),
            verifier,
        })
    }
}

/// What one poll said.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll<T> {
    /// The user has not finished yet.
    Pending,
    /// Poll less often (the interval was raised).
    SlowDown,
    /// Signed in.
    Done(T),
    /// The code expired: start again.
    Expired,
    /// The user declined, or the provider refused the flow.
    Denied(String),
}

/// Reads one poll's answer: an OAuth error (in an error status, or in a 200 as GitHub sends
/// them) or the tokens.
pub fn classify(answer: Result<Value, OAuthError>) -> Result<Poll<Value>, OAuthError> {
    let (code, description) = match answer {
        Ok(v) => match oauth_error(&v) {
            Some(e) if v.get("access_token").is_none() => e,
            Some(_) | None => return Ok(Poll::Done(v)),
        },
        Err(OAuthError::Refused { code, description, .. }) => (code, description),
        Err(e) => return Err(e),
    };
    Ok(match code.as_str() {
        "authorization_pending" => Poll::Pending,
        "slow_down" => Poll::SlowDown,
        "expired_token" => Poll::Expired,
        "access_denied" => Poll::Denied(if description.is_empty() { code } else { description }),
        _ => Poll::Denied(format!("{code}: {description}")),
    })
}

/// The polling clock of one device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    /// Current wait between polls (ms).
    pub interval_ms: i64,
    /// When the code expires (ms).
    pub expires_at: i64,
    /// How `slow_down` raises the interval.
    pub slow_down: SlowDown,
}

/// How a provider wants `slow_down` honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowDown {
    /// RFC 8628: add 5 s (or take the interval the answer names).
    AddFiveSeconds,
    /// Qwen Code: ×1.5, at most 10 s.
    TimesOneAndAHalf,
}

impl Pacer {
    /// The pacer of a device code.
    pub fn new(code: &DeviceCode, slow_down: SlowDown) -> Self {
        Self { interval_ms: code.interval_ms, expires_at: code.expires_at, slow_down }
    }

    /// Applies a `slow_down` (with the interval the answer named, if any, in seconds).
    pub fn slow_down(&mut self, named_secs: Option<i64>) {
        self.interval_ms = match (self.slow_down, named_secs) {
            (SlowDown::AddFiveSeconds, Some(s)) if s * 1000 > self.interval_ms => s * 1000,
            (SlowDown::AddFiveSeconds, _) => self.interval_ms + SLOW_DOWN_STEP_MS,
            (SlowDown::TimesOneAndAHalf, _) => (self.interval_ms * 3 / 2).min(10_000),
        };
    }

    /// How long to wait before the next poll at `now`, or `None` when the code has expired.
    pub fn next_wait(&self, now: i64) -> Option<i64> {
        (now < self.expires_at).then(|| self.interval_ms.min(self.expires_at - now))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn poll_answers_in_200_bodies_and_in_error_statuses() {
        let pending = json!({"error": "authorization_pending", "error_description": "waiting"});
        assert_eq!(classify(Ok(pending.clone())), Ok(Poll::Pending));
        let refused =
            OAuthError::Refused { status: 400, code: "authorization_pending".into(), description: String::new() };
        assert_eq!(classify(Err(refused)), Ok(Poll::Pending));
        assert_eq!(classify(Ok(json!({"error": "slow_down", "interval": 10}))), Ok(Poll::SlowDown));
        assert_eq!(classify(Ok(json!({"error": "expired_token"}))), Ok(Poll::Expired));
        assert_eq!(classify(Ok(json!({"error": "access_denied"}))), Ok(Poll::Denied("access_denied".into())));
        let done = json!({"access_token": "gho_x", "token_type": "bearer"});
        assert_eq!(classify(Ok(done.clone())), Ok(Poll::Done(done)));
        assert!(classify(Err(OAuthError::Status { status: 502 })).is_err());
    }

    #[test]
    fn slow_down_raises_the_interval_and_expiry_ends_polling() {
        let code = DeviceCode::parse(
            &json!({"device_code": "d", "user_code": "ABCD-1234", "verification_uri": "https://github.com/login/device", "expires_in": 900, "interval": 5}),
            1_000,
            None,
        )
        .expect("parses");
        assert_eq!((code.interval_ms, code.expires_at), (5_000, 901_000));
        let mut p = Pacer::new(&code, SlowDown::AddFiveSeconds);
        p.slow_down(None);
        assert_eq!(p.interval_ms, 10_000);
        p.slow_down(Some(20));
        assert_eq!(p.interval_ms, 20_000);
        assert_eq!(p.next_wait(895_000), Some(6_000));
        assert_eq!(p.next_wait(901_000), None);
        let mut q = Pacer { interval_ms: 2_000, expires_at: 10_000, slow_down: SlowDown::TimesOneAndAHalf };
        for _ in 0..5 {
            q.slow_down(None);
        }
        assert_eq!(q.interval_ms, 10_000);
    }
}

//! The token lifecycle of one OAuth account as a plain state machine with an explicit clock:
//! when to refresh (at 80 % of the lifetime or 10 min before expiry, whichever is earlier, minus
//! a jitter), whether a token is stale, how failures back off, and when an account is dead. The
//! actor shell (`actor.rs`) runs the refresh calls one at a time through a `TokenSource` the root
//! crate implements per provider; it must not know any provider's wire format.
//!
//! The current tokens are published through a `TokenCell` that request handlers read without a
//! message; only a stale token (or an upstream 401) makes a handler wait for the refresher.

pub mod actor;
pub mod messages;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::credential::Credential;

/// The tokens of one OAuth account. `Debug` never shows a token.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    /// What requests carry (`Authorization: Bearer`); empty when none was obtained yet (a
    /// Copilot sign-in starts with only its GitHub token).
    pub access: Credential,
    /// What a refresh spends; `None` when the provider gives none.
    pub refresh: Option<Credential>,
    /// When `access` stops working (ms since the epoch); `None` when unknown.
    pub expires_at: Option<i64>,
    /// When `access` was obtained (ms); the lifetime is `expires_at - obtained_at`.
    pub obtained_at: i64,
    /// Bumped by every write of new tokens (refresh, sign-in, import, config seed), so a writer
    /// can tell whose tokens are newer and a 401 on an old token does not refresh twice.
    pub generation: i64,
    /// Provider facts that travel with the tokens (account id, project, API base URL), as the
    /// root crate's provider module wrote them. Never secret.
    pub extra: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("obtained_at", &self.obtained_at)
            .field("generation", &self.generation)
            .field("has_refresh", &self.refresh.is_some())
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// A provider fact from `extra`, as text.
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty())
    }
}

/// Why a refresh call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// Final: the provider refused the refresh credential (`invalid_grant` and the like). The
    /// account is disabled with this reason until someone signs in again.
    Revoked(String),
    /// Worth retrying later (5xx, timeout, connection error, a database hiccup).
    Transient(String),
}

/// Why no usable token could be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The account needs a new sign-in.
    #[error("the account's sign-in is no longer valid: {0}")]
    Revoked(String),
    /// No fresh token right now (the refresh failed for a passing reason, or is still running).
    #[error("no fresh token for the account: {0}")]
    Unavailable(String),
}

/// How the account stands, for `/api/accounts` and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Tokens work (as far as is known).
    Ok,
    /// The upstream refused a freshly refreshed token: someone has to sign in again.
    ReauthRequired,
    /// The refresh credential was refused for good; the account is disabled.
    Disabled,
}

impl SessionStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ReauthRequired => "reauth_required",
            Self::Disabled => "disabled",
        }
    }

    /// Reads the stored spelling (anything unknown is `Ok`).
    pub fn parse(s: &str) -> Self {
        match s {
            "reauth_required" => Self::ReauthRequired,
            "disabled" => Self::Disabled,
            _ => Self::Ok,
        }
    }
}

/// What the refresher needs from the outside world; the root crate implements it per provider.
/// Futures run on the refresher's own arbiter, one at a time.
pub trait TokenSource: 'static {
    /// Spends the refresh credential of `current` for new tokens. A provider that rotates
    /// refresh tokens returns the new one; one that does not returns the old one.
    fn refresh(&self, current: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>>;
    /// Whether fresh tokens still need a provider step before use (a Code Assist project).
    fn needs_prepare(&self, _tokens: &Tokens) -> bool {
        false
    }
    /// That step; returns the tokens with what it learnt in `extra`.
    fn prepare(&self, tokens: Arc<Tokens>) -> LocalBoxFuture<'static, Result<Tokens, RefreshError>> {
        Box::pin(async move { Ok((*tokens).clone()) })
    }
    /// Writes the tokens (sealed). Completes before they are handed to any request.
    fn persist(&self, tokens: Arc<Tokens>) -> LocalBoxFuture<'static, Result<(), String>>;
    /// Reads the stored tokens: another writer (a new sign-in, another instance) may have
    /// replaced them since this refresher read them.
    fn load(&self) -> LocalBoxFuture<'static, Result<Option<Tokens>, String>>;
    /// Records the account's status (and disables it when `Disabled`), with the reason.
    fn set_status(&self, status: SessionStatus, reason: Option<String>) -> LocalBoxFuture<'static, Result<(), String>>;
}

/// Refresh timing. The defaults follow the issue: at 80 % of the lifetime or 10 min before
/// expiry, whichever is earlier (short-lived refresh tokens die when refreshed late).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Share of the lifetime after which a refresh is due.
    pub fraction: f64,
    /// A refresh is due at the latest this long before expiry, ms.
    pub lead_ms: i64,
    /// A token this close to expiry is stale: no request gets it, ms.
    pub skew_ms: i64,
    /// First wait after a failed refresh, ms (doubles per failure).
    pub backoff_base_ms: i64,
    /// Longest wait between failed refreshes, ms.
    pub backoff_max_ms: i64,
    /// Largest jitter taken off the due time, ms (also at most 5 % of the lifetime).
    pub jitter_max_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            fraction: 0.8,
            lead_ms: 10 * 60_000,
            skew_ms: 30_000,
            backoff_base_ms: 5_000,
            backoff_max_ms: 300_000,
            jitter_max_ms: 60_000,
        }
    }
}

/// Where the lifecycle stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Tokens in hand; the next refresh is due at `due_at`.
    Ready,
    /// A refresh call is out.
    Refreshing,
    /// The last refresh failed for a passing reason; the next try is at `retry_at`.
    Backoff {
        /// Next try (ms).
        retry_at: i64,
    },
    /// The refresh credential was refused for good.
    Dead {
        /// The provider's words.
        reason: String,
    },
}

/// One account's token lifecycle.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    tokens: Arc<Tokens>,
    phase: Phase,
    failures: u32,
    timing: Timing,
    /// Taken off the due time of the current tokens (drawn once per tokens by the actor).
    jitter_ms: i64,
    /// Tokens refreshed but not yet saved: saving them is retried before any new refresh (the
    /// old refresh token may already be spent).
    unsaved: Option<Arc<Tokens>>,
    status: SessionStatus,
    last_error: Option<String>,
    last_refresh_at: Option<i64>,
}

impl Lifecycle {
    /// A lifecycle starting from stored tokens and status.
    pub fn new(tokens: Tokens, status: SessionStatus, reason: Option<String>, timing: Timing) -> Self {
        let phase = match status {
            SessionStatus::Disabled => Phase::Dead { reason: reason.clone().unwrap_or_else(|| "disabled".into()) },
            SessionStatus::Ok | SessionStatus::ReauthRequired => Phase::Ready,
        };
        Self {
            tokens: Arc::new(tokens),
            phase,
            failures: 0,
            timing,
            jitter_ms: 0,
            unsaved: None,
            status,
            last_error: reason,
            last_refresh_at: None,
        }
    }

    /// The current tokens.
    pub fn tokens(&self) -> &Arc<Tokens> {
        &self.tokens
    }

    /// The phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The timing in force.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Sets the jitter for the current tokens (the actor draws it at random).
    pub fn set_jitter(&mut self, jitter_ms: i64) {
        self.jitter_ms = jitter_ms.clamp(0, self.max_jitter());
    }

    /// The largest jitter the current tokens allow.
    pub fn max_jitter(&self) -> i64 {
        match self.tokens.expires_at {
            Some(exp) => ((exp - self.tokens.obtained_at).max(0) / 20).min(self.timing.jitter_max_ms),
            None => 0,
        }
    }

    /// When a refresh of the current tokens is due (`None`: they never expire).
    pub fn due_at(&self) -> Option<i64> {
        due_at(&self.tokens, &self.timing, self.jitter_ms)
    }

    /// Whether the current access token must not be handed out at `now`.
    pub fn stale(&self, now: i64) -> bool {
        stale(&self.tokens, &self.timing, now)
    }

    /// Whether the account is dead.
    pub fn dead(&self) -> Option<&str> {
        match &self.phase {
            Phase::Dead { reason } => Some(reason),
            Phase::Ready | Phase::Refreshing | Phase::Backoff { .. } => None,
        }
    }

    /// Whether a failed refresh is waiting for its next try at `now` (callers are told at once
    /// rather than hammering a failing token endpoint at request rate).
    pub fn backing_off(&self, now: i64) -> bool {
        matches!(self.phase, Phase::Backoff { retry_at } if retry_at > now)
    }

    /// Whether a refresh call is out.
    pub fn refreshing(&self) -> bool {
        self.phase == Phase::Refreshing
    }

    /// Tokens refreshed but not saved yet.
    pub fn unsaved(&self) -> Option<&Arc<Tokens>> {
        self.unsaved.as_ref()
    }

    /// Starts a refresh call unless one is out or the account is dead; returns whether it did.
    pub fn begin(&mut self) -> bool {
        match self.phase {
            Phase::Refreshing | Phase::Dead { .. } => false,
            Phase::Ready | Phase::Backoff { .. } => {
                self.phase = Phase::Refreshing;
                true
            }
        }
    }

    /// The refresh call out was dropped (the actor restarted): nothing is out any more.
    pub fn abandon(&mut self) {
        if self.phase == Phase::Refreshing {
            self.phase = Phase::Ready;
        }
    }

    /// A refresh round ended without new tokens and without an error (nothing was due).
    pub fn idle(&mut self) {
        self.abandon();
    }

    /// New tokens are saved and in force. Returns them.
    pub fn succeeded(&mut self, tokens: Tokens, now: i64) -> Arc<Tokens> {
        let refreshed = tokens.generation != self.tokens.generation;
        self.tokens = Arc::new(tokens);
        self.phase = Phase::Ready;
        self.failures = 0;
        self.jitter_ms = 0;
        self.unsaved = None;
        if refreshed {
            self.last_refresh_at = Some(now);
            self.last_error = None;
        }
        Arc::clone(&self.tokens)
    }

    /// A refresh obtained tokens that could not be saved: they are kept aside, saving is
    /// retried (never a new refresh, which would spend an already rotated refresh token).
    pub fn unsaved_tokens(&mut self, tokens: Tokens, error: String, now: i64) -> i64 {
        self.unsaved = Some(Arc::new(tokens));
        self.failed(RefreshError::Transient(error), now).unwrap_or(now)
    }

    /// The refresh call failed. Returns when to try again (`None`: dead, never).
    pub fn failed(&mut self, error: RefreshError, now: i64) -> Option<i64> {
        match error {
            RefreshError::Revoked(reason) => {
                self.last_error = Some(reason.clone());
                self.status = SessionStatus::Disabled;
                self.phase = Phase::Dead { reason };
                None
            }
            RefreshError::Transient(msg) => {
                self.last_error = Some(msg);
                self.failures = self.failures.saturating_add(1);
                let step = self.failures.saturating_sub(1).min(20);
                let wait = self.timing.backoff_base_ms.saturating_mul(1i64 << step).min(self.timing.backoff_max_ms);
                let retry_at = now + wait;
                self.phase = Phase::Backoff { retry_at };
                Some(retry_at)
            }
        }
    }

    /// Someone else's newer tokens replace ours (a new sign-in, or another instance's refresh).
    /// A new sign-in revives a dead account.
    pub fn replace(&mut self, tokens: Tokens, status: SessionStatus) {
        self.tokens = Arc::new(tokens);
        self.unsaved = None;
        self.failures = 0;
        self.jitter_ms = 0;
        self.status = status;
        if status != SessionStatus::Disabled {
            self.last_error = None;
        }
        self.phase = match (&self.phase, status) {
            (Phase::Refreshing, SessionStatus::Ok | SessionStatus::ReauthRequired) => Phase::Refreshing,
            (_, SessionStatus::Disabled) => Phase::Dead { reason: "disabled".into() },
            (_, SessionStatus::Ok | SessionStatus::ReauthRequired) => Phase::Ready,
        };
    }

    /// The upstream refused a fresh token twice: the account needs a new sign-in.
    pub fn reauth_required(&mut self, reason: String) {
        if self.status == SessionStatus::Ok {
            self.status = SessionStatus::ReauthRequired;
        }
        self.last_error = Some(reason);
    }

    /// The account's status.
    pub fn status(&self) -> SessionStatus {
        self.status
    }

    /// A request succeeded on the account again: a `reauth_required` mark is cleared.
    pub fn confirmed(&mut self) -> bool {
        if self.status == SessionStatus::ReauthRequired {
            self.status = SessionStatus::Ok;
            self.last_error = None;
            return true;
        }
        false
    }

    /// When the actor should next wake up on its own (`None`: never).
    pub fn next_wake(&self) -> Option<i64> {
        match &self.phase {
            Phase::Ready => self.due_at(),
            Phase::Backoff { retry_at } => Some(*retry_at),
            Phase::Refreshing | Phase::Dead { .. } => None,
        }
    }

    /// Whether a refresh is due at `now` (rather than only a preparation step or a save).
    pub fn due(&self, now: i64) -> bool {
        self.due_at().is_some_and(|d| now >= d) || self.stale(now)
    }

    /// What the dashboard shows.
    pub fn report(&self) -> RefresherStatus {
        RefresherStatus {
            status: self.status,
            phase: match self.phase {
                Phase::Ready => "ready",
                Phase::Refreshing => "refreshing",
                Phase::Backoff { .. } => "backoff",
                Phase::Dead { .. } => "dead",
            },
            expires_at: self.tokens.expires_at,
            due_at: self.due_at().filter(|d| *d != i64::MIN),
            retry_at: match self.phase {
                Phase::Backoff { retry_at } => Some(retry_at),
                Phase::Ready | Phase::Refreshing | Phase::Dead { .. } => None,
            },
            last_refresh_at: self.last_refresh_at,
            last_error: self.last_error.clone(),
            generation: self.tokens.generation,
        }
    }
}

/// When a refresh of `t` is due. Tokens without a refresh credential are only "refreshed"
/// (found dead) once they expire: refreshing early could only end them sooner.
pub fn due_at(t: &Tokens, timing: &Timing, jitter_ms: i64) -> Option<i64> {
    if t.access.expose().is_empty() {
        return Some(i64::MIN);
    }
    let exp = t.expires_at?;
    if t.refresh.is_none() {
        return Some(exp - timing.skew_ms);
    }
    let life = (exp - t.obtained_at).max(0);
    let by_fraction = t.obtained_at + (life as f64 * timing.fraction) as i64;
    // A token shorter-lived than the lead would be due at once, forever: never in the first
    // half of its life.
    Some((by_fraction.min(exp - timing.lead_ms) - jitter_ms).max(t.obtained_at + life / 2))
}

/// Whether the access token of `t` must not be handed out at `now`.
pub fn stale(t: &Tokens, timing: &Timing, now: i64) -> bool {
    t.access.expose().is_empty() || t.expires_at.is_some_and(|exp| now + timing.skew_ms >= exp)
}

/// A refresher's state without any token, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefresherStatus {
    /// Ok, reauth required, or disabled.
    pub status: SessionStatus,
    /// `ready`, `refreshing`, `backoff` or `dead`.
    pub phase: &'static str,
    /// When the access token expires (ms).
    pub expires_at: Option<i64>,
    /// When the next refresh is due (ms).
    pub due_at: Option<i64>,
    /// When a failed refresh is tried again (ms).
    pub retry_at: Option<i64>,
    /// Last successful refresh (ms) since the refresher started.
    pub last_refresh_at: Option<i64>,
    /// The last failure, or why the account is disabled (the provider's words; no token).
    pub last_error: Option<String>,
    /// Generation of the tokens in force.
    pub generation: i64,
}

/// The tokens in force, shared with request handlers, which read them without a message.
#[derive(Debug, Clone)]
pub struct TokenCell {
    tokens: Arc<RwLock<Arc<Tokens>>>,
    dead: Arc<AtomicBool>,
}

impl TokenCell {
    /// A cell holding `tokens`.
    pub fn new(tokens: Arc<Tokens>) -> Self {
        Self { tokens: Arc::new(RwLock::new(tokens)), dead: Arc::new(AtomicBool::new(false)) }
    }

    /// The tokens in force.
    pub fn get(&self) -> Arc<Tokens> {
        match self.tokens.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Whether the account is disabled for good (until a new sign-in).
    pub fn dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// Publishes new tokens (the refresher only, after they were saved).
    pub(crate) fn set(&self, tokens: Arc<Tokens>) {
        match self.tokens.write() {
            Ok(mut g) => *g = tokens,
            Err(p) => *p.into_inner() = tokens,
        }
    }

    pub(crate) fn set_dead(&self, dead: bool) {
        self.dead.store(dead, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str, obtained: i64, expires: Option<i64>, generation: i64) -> Tokens {
        Tokens {
            access: Credential::new(access),
            refresh: Some(Credential::new("rt")),
            expires_at: expires,
            obtained_at: obtained,
            generation,
            extra: Arc::default(),
        }
    }

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    #[test]
    fn due_at_80_percent_or_ten_minutes_before_whichever_is_earlier() {
        // 8 h token: 80 % is at 6 h 24 min, 10 min before is 7 h 50: the former wins.
        let l = Lifecycle::new(tokens("a", 0, Some(8 * HOUR), 1), SessionStatus::Ok, None, Timing::default());
        assert_eq!(l.due_at(), Some(8 * HOUR * 8 / 10));
        // 30 min token (Copilot): 80 % is 24 min, 10 min before is 20 min: the latter wins.
        let l = Lifecycle::new(tokens("a", 0, Some(30 * MIN), 1), SessionStatus::Ok, None, Timing::default());
        assert_eq!(l.due_at(), Some(20 * MIN));
        // Jitter comes off, bounded by 5 % of the lifetime and the configured cap.
        let mut l = l;
        l.set_jitter(10 * HOUR);
        assert_eq!(l.max_jitter(), 60_000);
        assert_eq!(l.due_at(), Some(20 * MIN - 60_000));
        // A token shorter-lived than the lead: due half-way, not at once.
        let l =
            Lifecycle::new(tokens("a", 1_000, Some(1_000 + 4 * MIN), 1), SessionStatus::Ok, None, Timing::default());
        assert_eq!(l.due_at(), Some(1_000 + 2 * MIN));
        // No expiry: never due; no access token yet: due at once.
        let l = Lifecycle::new(tokens("a", 0, None, 1), SessionStatus::Ok, None, Timing::default());
        assert_eq!(l.due_at(), None);
        assert!(!l.due(i64::MAX / 2));
        let l = Lifecycle::new(tokens("", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        assert!(l.due(0) && l.stale(0));
    }

    #[test]
    fn stale_near_expiry_only() {
        let l = Lifecycle::new(tokens("a", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        assert!(!l.stale(HOUR - 31_000));
        assert!(l.stale(HOUR - 30_000));
        assert!(l.stale(HOUR + 1));
    }

    #[test]
    fn single_flight_begin_and_transient_backoff() {
        let mut l = Lifecycle::new(tokens("a", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        assert!(l.begin());
        assert!(!l.begin(), "a second caller joins the refresh already out");
        assert_eq!(l.next_wake(), None);
        assert_eq!(l.failed(RefreshError::Transient("503".into()), 1_000), Some(6_000));
        assert!(l.begin());
        assert_eq!(l.failed(RefreshError::Transient("timeout".into()), 6_000), Some(16_000));
        assert!(l.begin());
        assert_eq!(l.failed(RefreshError::Transient("timeout".into()), 16_000), Some(36_000));
        for _ in 0..20 {
            l.begin();
            l.failed(RefreshError::Transient("x".into()), 0);
        }
        assert_eq!(l.next_wake(), Some(300_000), "capped at 5 min");
        assert!(l.begin());
        let t = l.succeeded(tokens("b", 40_000, Some(40_000 + HOUR), 2), 40_000);
        assert_eq!(t.access.expose(), "b");
        assert_eq!(l.phase(), &Phase::Ready);
        assert_eq!(l.report().last_refresh_at, Some(40_000));
        assert_eq!(l.report().last_error, None);
    }

    #[test]
    fn revoked_is_final_until_a_new_sign_in() {
        let mut l = Lifecycle::new(tokens("a", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        l.begin();
        assert_eq!(l.failed(RefreshError::Revoked("invalid_grant: Refresh token not found".into()), 5), None);
        assert_eq!(l.dead(), Some("invalid_grant: Refresh token not found"));
        assert_eq!(l.status(), SessionStatus::Disabled);
        assert!(!l.begin());
        assert_eq!(l.next_wake(), None);
        l.replace(tokens("new", 10, Some(HOUR), 7), SessionStatus::Ok);
        assert_eq!(l.dead(), None);
        assert!(l.begin());
    }

    #[test]
    fn unsaved_tokens_are_kept_for_a_retry_of_the_save() {
        let mut l = Lifecycle::new(tokens("a", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        l.begin();
        let retry = l.unsaved_tokens(tokens("b", 0, Some(2 * HOUR), 2), "database is locked".into(), 100);
        assert_eq!(retry, 5_100);
        assert_eq!(l.unsaved().map(|t| t.generation), Some(2));
        assert_eq!(l.tokens().access.expose(), "a", "the old token stays in force until saved");
    }

    #[test]
    fn reauth_mark_is_cleared_by_a_success() {
        let mut l = Lifecycle::new(tokens("a", 0, Some(HOUR), 1), SessionStatus::Ok, None, Timing::default());
        l.reauth_required("401 after refresh".into());
        assert_eq!(l.status(), SessionStatus::ReauthRequired);
        assert!(l.confirmed());
        assert!(!l.confirmed());
        assert_eq!(l.status(), SessionStatus::Ok);
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = tokens("sk-ant-oat01-secret", 0, Some(1), 1);
        let s = format!("{t:?}");
        assert!(!s.contains("secret") && !s.contains("rt\""), "{s}");
    }
}

#[cfg(test)]
mod actor_tests;

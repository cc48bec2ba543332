//! An account's health as a plain state machine: cooldown with exponential backoff, per-model
//! lockouts, a disabled state for banned accounts, last use. The actor shell (`actor.rs`)
//! persists and publishes its changes.

pub mod actor;
pub mod messages;

use std::collections::HashMap;

use crate::outcome::{OutcomeKind, ResiliencePolicy};

/// The persisted health of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountHealth {
    /// Not leased before this time (ms).
    pub cooldown_until: i64,
    /// Consecutive cooling failures; the next backoff is `backoff_ms(level + 1)`.
    pub backoff_level: u32,
    /// Why it is cooling down.
    pub reason: Option<String>,
    /// Last lease that reached the upstream (ms).
    pub last_used_at: i64,
    /// Model → locked until (ms): a failure that concerns one model only.
    pub model_locks: HashMap<String, i64>,
    /// Why the account is out of service (an error body said it is suspended, disabled or its
    /// key invalid); `None` while it serves. Only an operator's reset clears it.
    pub disabled: Option<String>,
    /// Since when (ms) it has its current problem (`reason` or `disabled`); 0 when none. The
    /// reason outlives the cooldown until a success: a dead account is never shown as ready.
    pub reason_since: i64,
}

/// The reason an account cools after the upstream refused its credentials.
pub const CREDENTIALS_REFUSED: &str = "credentials refused (401/403)";

/// What the executor knows about an outcome besides its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streaks {
    /// Consecutive provider faults on this account, this one included (0 for other outcomes).
    pub account: u32,
    /// Consecutive provider faults on the whole provider, this one included: smaller than
    /// `account` only when another account of the provider answered in between.
    pub provider: u32,
}

impl AccountHealth {
    /// Applies one outcome at `now` for no model in particular; returns whether the persisted
    /// state changed.
    pub fn apply(&mut self, kind: OutcomeKind, now: i64, policy: &ResiliencePolicy) -> bool {
        self.apply_in(kind, "", Streaks::default(), now, policy)
    }

    /// Applies one outcome of a request for `model` at `now`; returns whether the persisted state
    /// changed. A provider fault cools the account only when it is the `account_fault_threshold`th
    /// in a row on this account while another account of the provider answered meanwhile (a
    /// provider failing as a whole is its breaker's business, not one account's).
    pub fn apply_in(
        &mut self,
        kind: OutcomeKind,
        model: &str,
        streaks: Streaks,
        now: i64,
        policy: &ResiliencePolicy,
    ) -> bool {
        let before = self.clone();
        self.last_used_at = now;
        match kind {
            OutcomeKind::Success => {
                self.backoff_level = 0;
                self.reason = None;
                self.cooldown_until = self.cooldown_until.min(now);
            }
            OutcomeKind::RateLimited { retry_after } => {
                self.backoff_level = self.backoff_level.saturating_add(1);
                let wait = match retry_after {
                    Some(ra) => (ra.as_millis() as i64).min(policy.retry_after_max_ms),
                    None => policy.backoff_ms(self.backoff_level),
                };
                self.cooldown_until = self.cooldown_until.max(now + wait);
                self.reason = Some("rate limited (429)".into());
            }
            OutcomeKind::AuthFailed => {
                self.backoff_level = self.backoff_level.saturating_add(1);
                self.cooldown_until = self.cooldown_until.max(now + policy.backoff_ms(self.backoff_level));
                self.reason = Some(CREDENTIALS_REFUSED.into());
            }
            OutcomeKind::ModelUnavailable { retry_after } => {
                if !model.is_empty() {
                    let wait = match retry_after {
                        Some(ra) => (ra.as_millis() as i64).min(policy.retry_after_max_ms),
                        None => policy.model_lock_ms,
                    };
                    let until = self.model_locks.entry(model.to_string()).or_insert(0);
                    *until = (*until).max(now + wait);
                }
            }
            OutcomeKind::Banned { reason } => {
                self.disabled = Some(reason.to_string());
            }
            OutcomeKind::ServerError
            | OutcomeKind::Timeout
            | OutcomeKind::ConnectError
            | OutcomeKind::EmptyResponse
            | OutcomeKind::ProtocolError => {
                let n = streaks.account;
                if n >= policy.account_fault_threshold.max(1) && streaks.provider < n {
                    self.backoff_level = self.backoff_level.saturating_add(1);
                    self.cooldown_until = self.cooldown_until.max(now + policy.backoff_ms(self.backoff_level));
                    self.reason = Some(format!("{n} upstream failures in a row while other accounts answer"));
                }
            }
            OutcomeKind::ClientError | OutcomeKind::Cancelled | OutcomeKind::ContextExceeded => {}
        }
        self.model_locks.retain(|_, until| *until > now);
        if (&self.reason, &self.disabled) != (&before.reason, &before.disabled) {
            self.reason_since = if self.reason.is_some() || self.disabled.is_some() { now } else { 0 };
        }
        // `last_used_at` alone is not worth a write per request.
        let mut cmp = before;
        cmp.last_used_at = self.last_used_at;
        cmp != *self
    }

    /// Whether a success on this account changes nothing (so it need not be reported).
    pub fn is_clean(&self) -> bool {
        self.backoff_level == 0 && self.reason.is_none() && self.model_locks.is_empty() && self.disabled.is_none()
    }

    /// Whether the account is cooling down at `now`.
    pub fn cooling(&self, now: i64) -> bool {
        self.cooldown_until > now
    }

    /// Whether the upstream refused the account's credentials and no request has succeeded since.
    pub fn credentials_refused(&self) -> bool {
        self.reason.as_deref() == Some(CREDENTIALS_REFUSED)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rate_limits_back_off_exponentially_and_success_resets() {
        let p = ResiliencePolicy::default();
        let mut h = AccountHealth::default();
        let rl = OutcomeKind::RateLimited { retry_after: None };
        assert!(h.apply(rl, 0, &p));
        assert_eq!((h.cooldown_until, h.backoff_level), (1_000, 1));
        assert!(h.cooling(999) && !h.cooling(1_000));
        h.apply(rl, 1_000, &p);
        assert_eq!(h.cooldown_until, 3_000);
        h.apply(rl, 3_000, &p);
        assert_eq!(h.cooldown_until, 7_000);
        assert!(h.apply(OutcomeKind::Success, 8_000, &p));
        assert_eq!((h.backoff_level, h.reason.as_deref()), (0, None));
        assert!(!h.cooling(8_000));
        assert!(!h.apply(OutcomeKind::Success, 9_000, &p), "no write for a plain success");
    }

    #[test]
    fn retry_after_is_honoured_and_capped_at_a_day() {
        let p = ResiliencePolicy::default();
        let mut h = AccountHealth::default();
        h.apply(OutcomeKind::RateLimited { retry_after: Some(Duration::from_secs(30)) }, 0, &p);
        assert_eq!(h.cooldown_until, 30_000);
        let mut h = AccountHealth::default();
        h.apply(OutcomeKind::RateLimited { retry_after: Some(Duration::from_secs(100 * 3600)) }, 0, &p);
        assert_eq!(h.cooldown_until, 86_400_000);
    }

    #[test]
    fn provider_faults_do_not_cool_the_account() {
        let p = ResiliencePolicy::default();
        let mut h = AccountHealth::default();
        assert!(!h.apply(OutcomeKind::ServerError, 5, &p));
        assert!(!h.cooling(5));
    }

    #[test]
    fn repeated_faults_cool_one_account_only_while_its_siblings_answer() {
        let p = ResiliencePolicy::default();
        let mut h = AccountHealth::default();
        let fault = |a, pr| Streaks { account: a, provider: pr };
        // The whole provider fails: its breaker's business, the account stays.
        for n in 1..=5 {
            assert!(!h.apply_in(OutcomeKind::ServerError, "m", fault(n, n), 0, &p));
        }
        assert!(!h.cooling(0));
        // This account fails a third time in a row while another answered in between.
        let mut h = AccountHealth::default();
        assert!(!h.apply_in(OutcomeKind::ServerError, "m", fault(2, 1), 0, &p));
        assert!(h.apply_in(OutcomeKind::ServerError, "m", fault(3, 1), 0, &p));
        assert_eq!((h.cooldown_until, h.backoff_level), (1_000, 1));
        assert!(h.reason.as_deref().is_some_and(|r| r.contains("3 upstream failures")), "{:?}", h.reason);
        // Still failing after the cooldown: the next one backs off longer; a success resets.
        h.apply_in(OutcomeKind::Timeout, "m", fault(4, 0), 1_000, &p);
        assert_eq!(h.cooldown_until, 3_000);
        h.apply(OutcomeKind::Success, 3_000, &p);
        assert!(h.is_clean());
    }

    #[test]
    fn a_model_refusal_locks_that_model_only_and_a_ban_disables() {
        let p = ResiliencePolicy::default();
        let mut h = AccountHealth::default();
        assert!(h.apply_in(OutcomeKind::ModelUnavailable { retry_after: None }, "big", Streaks::default(), 0, &p));
        assert_eq!(h.model_locks.get("big"), Some(&300_000));
        assert!(!h.cooling(0), "the account keeps serving its other models");
        let ra = Some(Duration::from_secs(20));
        h.apply_in(OutcomeKind::ModelUnavailable { retry_after: ra }, "small", Streaks::default(), 0, &p);
        assert_eq!(h.model_locks.get("small"), Some(&20_000));
        // Locks end by themselves.
        h.apply(OutcomeKind::Success, 20_000, &p);
        assert_eq!(h.model_locks.keys().collect::<Vec<_>>(), vec!["big"]);
        assert!(h.apply(OutcomeKind::Banned { reason: "account suspended" }, 21_000, &p));
        assert_eq!(h.disabled.as_deref(), Some("account suspended"));
        h.apply(OutcomeKind::Success, 22_000, &p);
        assert!(h.disabled.is_some(), "only an operator brings a banned account back");
    }
}

//! An account's health as a plain state machine: cooldown with exponential backoff, per-model
//! lockouts, last use. The actor shell (`actor.rs`) persists and publishes its changes.

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
}

impl AccountHealth {
    /// Applies one outcome at `now`; returns whether the persisted state changed.
    pub fn apply(&mut self, kind: OutcomeKind, now: i64, policy: &ResiliencePolicy) -> bool {
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
                self.reason = Some("credential refused (401/403)".into());
            }
            OutcomeKind::ServerError
            | OutcomeKind::Timeout
            | OutcomeKind::ConnectError
            | OutcomeKind::EmptyResponse
            | OutcomeKind::ProtocolError
            | OutcomeKind::ClientError
            | OutcomeKind::Cancelled => {}
        }
        self.model_locks.retain(|_, until| *until > now);
        // `last_used_at` alone is not worth a write per request.
        let mut cmp = before;
        cmp.last_used_at = self.last_used_at;
        cmp != *self
    }

    /// Whether the account is cooling down at `now`.
    pub fn cooling(&self, now: i64) -> bool {
        self.cooldown_until > now
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
}

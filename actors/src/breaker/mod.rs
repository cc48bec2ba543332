//! A provider's circuit breaker as a plain state machine: closed → open after consecutive
//! end-to-end failures → half-open (one probe) once the open period passed → closed on success.
//!
//! The consecutive-failure count is the provider's shared streak (`router::slot::Streak`): the
//! executor bumps it on every provider fault and zeroes it on any success, without a message
//! when it already was zero, so successes of requests in flight reset it too. A failure's
//! message carries the streak it made; the breaker trips when that reaches the threshold.

pub mod actor;
pub mod messages;

use crate::outcome::{OutcomeKind, ResiliencePolicy};

/// The three breaker phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakerPhase {
    /// Traffic flows.
    #[default]
    Closed,
    /// No traffic until `open_until`.
    Open,
    /// One probe request may go through.
    HalfOpen,
}

impl BreakerPhase {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }

    /// Parses the stored spelling (unknown → closed).
    pub fn parse(s: &str) -> Self {
        match s {
            "open" => Self::Open,
            "half-open" => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
}

/// Breaker state of one provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerState {
    /// Current phase.
    pub phase: BreakerPhase,
    /// Consecutive end-to-end failures (the provider's streak as last heard).
    pub failures: u32,
    /// While open: when a probe may go (ms).
    pub open_until: i64,
    /// Consecutive trips, lengthening the open period.
    pub trips: u32,
}

impl BreakerState {
    /// The phase as the router should see it at `now` (open turns half-open when its time is up).
    pub fn phase_at(&self, now: i64) -> BreakerPhase {
        match self.phase {
            BreakerPhase::Open if now >= self.open_until => BreakerPhase::HalfOpen,
            p => p,
        }
    }

    /// Applies an outcome counted on its own (the streak is this state's count plus one);
    /// returns whether the state changed.
    pub fn apply(&mut self, kind: OutcomeKind, now: i64, policy: &ResiliencePolicy) -> bool {
        let streak = self.failures.saturating_add(1);
        self.apply_streak(kind, streak, now, policy)
    }

    /// Applies an outcome; `streak` is the provider's consecutive-failure streak this failure
    /// made (ignored for other outcomes). Returns whether the state changed.
    pub fn apply_streak(&mut self, kind: OutcomeKind, streak: u32, now: i64, policy: &ResiliencePolicy) -> bool {
        let before = *self;
        if kind == OutcomeKind::Success {
            *self = Self::default();
        } else if kind.trips_breaker() {
            match self.phase_at(now) {
                BreakerPhase::Closed => {
                    self.failures = streak.max(1);
                    if self.failures >= policy.breaker_threshold {
                        self.trip(now, policy);
                    }
                }
                // A failed probe re-opens for longer.
                BreakerPhase::HalfOpen => self.trip(now, policy),
                // Stragglers from before the trip change nothing.
                BreakerPhase::Open => {}
            }
        }
        before != *self
    }

    fn trip(&mut self, now: i64, policy: &ResiliencePolicy) {
        self.phase = BreakerPhase::Open;
        self.open_until = now + policy.open_ms(self.trips);
        self.trips = self.trips.saturating_add(1);
        self.failures = 0;
    }

    /// Forces the breaker closed (an operator's reset).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ResiliencePolicy {
        ResiliencePolicy {
            breaker_threshold: 3,
            breaker_open_ms: 1_000,
            breaker_open_max_ms: 3_000,
            ..Default::default()
        }
    }

    #[test]
    fn opens_after_threshold_half_opens_and_closes_on_success() {
        let p = policy();
        let mut b = BreakerState::default();
        b.apply(OutcomeKind::ServerError, 0, &p);
        b.apply(OutcomeKind::Timeout, 1, &p);
        assert_eq!(b.phase_at(1), BreakerPhase::Closed);
        b.apply(OutcomeKind::ConnectError, 2, &p);
        assert_eq!(b.phase_at(2), BreakerPhase::Open);
        assert_eq!(b.phase_at(1_001), BreakerPhase::Open);
        assert_eq!(b.phase_at(1_002), BreakerPhase::HalfOpen);
        // A failed probe re-opens for twice as long.
        b.apply(OutcomeKind::EmptyResponse, 1_002, &p);
        assert_eq!(b.open_until, 3_002);
        b.apply(OutcomeKind::Success, 3_100, &p);
        assert_eq!(b, BreakerState::default());
    }

    #[test]
    fn rate_limits_and_client_errors_never_trip() {
        let p = policy();
        let mut b = BreakerState::default();
        for t in 0..10 {
            b.apply(OutcomeKind::RateLimited { retry_after: None }, t, &p);
            b.apply(OutcomeKind::ClientError, t, &p);
            b.apply(OutcomeKind::Cancelled, t, &p);
        }
        assert_eq!(b.phase_at(10), BreakerPhase::Closed);
        assert_eq!(b.failures, 0);
    }

    #[test]
    fn the_shared_streak_decides_a_trip() {
        let p = policy();
        let mut b = BreakerState::default();
        // Failures interleaved with successes elsewhere never build a streak of three.
        for _ in 0..100 {
            b.apply_streak(OutcomeKind::ServerError, 1, 0, &p);
            b.apply_streak(OutcomeKind::ServerError, 2, 0, &p);
        }
        assert_eq!(b.phase_at(0), BreakerPhase::Closed);
        assert!(b.apply_streak(OutcomeKind::Timeout, 3, 0, &p));
        assert_eq!(b.phase_at(0), BreakerPhase::Open);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let p = policy();
        let mut b = BreakerState::default();
        b.apply(OutcomeKind::ServerError, 0, &p);
        b.apply(OutcomeKind::ServerError, 0, &p);
        b.apply(OutcomeKind::Success, 0, &p);
        b.apply(OutcomeKind::ServerError, 0, &p);
        assert_eq!(b.phase_at(0), BreakerPhase::Closed);
    }
}

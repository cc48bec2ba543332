//! Messages the breaker actor hears.

use actix::Message;

use super::BreakerState;
use crate::outcome::{OutcomeKind, ResiliencePolicy};

/// The outcome of an attempt on one of this provider's accounts.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct BreakerOutcome {
    /// What happened.
    pub kind: OutcomeKind,
    /// For a provider fault: the provider's consecutive-failure streak it made.
    pub streak: u32,
    /// The attempt was the half-open breaker's probe: whatever its outcome, the router must
    /// hear back so the next request may probe (a probe that ends without a verdict, such as a
    /// client that left, would otherwise hold the probe slot).
    pub probe: bool,
}

/// Forces the breaker closed.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct ResetBreaker;

/// New breaker tuning (settings edited at run time); the state itself is kept.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetPolicy(pub ResiliencePolicy);

/// The breaker another instance on the same database wrote: taken as is and told to the router,
/// without writing it back (that instance already did).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Adopt(pub BreakerState);

/// Returns the breaker's state.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "BreakerState")]
pub struct GetBreaker;

/// Test hook (fault-injection builds only): the next outcome or reset panics inside the state
/// machine after scrambling the in-memory state, as a bug there would.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct InjectPanic;

//! Messages the account actor hears.

use actix::Message;

use super::{AccountHealth, Streaks};
use crate::outcome::{OutcomeKind, ResiliencePolicy};

/// The outcome of an attempt on this account.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AccountOutcome {
    /// What happened.
    pub kind: OutcomeKind,
    /// The model that was asked for.
    pub model: String,
}

/// A provider fault (5xx, timeout, broken answer) on this account, from the executor, with the
/// fault streaks it made: repeated on this account while the provider's other accounts answer,
/// it cools this account.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AccountFault {
    /// What happened (a provider fault).
    pub kind: OutcomeKind,
    /// The model that was asked for.
    pub model: String,
    /// The account's and the provider's fault streaks this fault made.
    pub streaks: Streaks,
}

/// Clears the cooldown and backoff (an operator's reset).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ResetAccount;

/// New cooldown tuning (settings edited at run time); the health itself is kept.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetPolicy(pub ResiliencePolicy);

/// The health another instance on the same database wrote: taken as is and told to the router,
/// without writing it back (that instance already did).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Adopt(pub AccountHealth);

/// Returns the account's current health.
#[derive(Debug, Clone, Message)]
#[rtype(result = "AccountHealth")]
pub struct GetAccount;

/// Test hook (fault-injection builds only): the next outcome or reset panics inside the state
/// machine after scrambling the in-memory health, as a bug there would.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct InjectPanic;

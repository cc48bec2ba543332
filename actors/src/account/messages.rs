//! Messages the account actor hears.

use actix::Message;

use super::AccountHealth;
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

/// Clears the cooldown and backoff (an operator's reset).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ResetAccount;

/// New cooldown tuning (settings edited at run time); the health itself is kept.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetPolicy(pub ResiliencePolicy);

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

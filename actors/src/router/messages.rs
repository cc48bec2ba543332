//! Messages the router hears, and the lease it answers with.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Addr, Message};
use serde::Serialize;

use super::slot::{SlotGuard, Streak};
use super::table::{AccountEntry, ProviderEntry, Unavailable};
use crate::account::AccountHealth;
use crate::account::actor::AccountActor;
use crate::breaker::actor::BreakerActor;
use crate::breaker::messages::BreakerOutcome;
use crate::breaker::{BreakerPhase, BreakerState};
use crate::credential::Credential;
use crate::outcome::OutcomeKind;

/// Asks for an account of `provider` able to serve `model`, other than those in `exclude`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<LeaseGrant, Unavailable>")]
pub struct Lease {
    /// Provider id.
    pub provider: String,
    /// Upstream model id.
    pub model: String,
    /// Accounts already tried for this request.
    pub exclude: Vec<i64>,
    /// The client's session key: its bound account is preferred, and the pick is bound.
    pub session: Option<Arc<str>>,
    /// Tokens the request is expected to use (input estimate plus the output asked for; 0:
    /// unknown), counted against the account's `tpm`.
    pub tokens: u64,
}

/// A granted lease. Dropping it frees the account's in-flight slot.
#[derive(Debug)]
pub struct LeaseGrant {
    /// Account id.
    pub account_id: i64,
    /// Account name.
    pub account_name: Arc<str>,
    /// Provider id.
    pub provider: Arc<str>,
    /// Where to send the request.
    pub base_url: Arc<str>,
    /// The credential, if any.
    pub credential: Option<Credential>,
    /// Whether this is a half-open breaker's probe.
    pub probe: bool,
    /// The account had nothing to reset when leased: a success need not be reported to it.
    pub account_clean: bool,
    /// The breaker was closed without failures when leased: a success need not be reported.
    pub breaker_clean: bool,
    /// The account's actor, told the outcome.
    pub account: Option<Addr<AccountActor>>,
    /// The provider's breaker, told the outcome.
    pub breaker: Option<Addr<BreakerActor>>,
    /// The held slot.
    pub guard: SlotGuard,
    /// The provider's consecutive-fault streak (bumped by faults, ended by any success).
    pub streak: Arc<Streak>,
    /// Held by a half-open breaker's probe until its outcome is reported.
    pub probe_ticket: Option<ProbeTicket>,
}

impl LeaseGrant {
    /// Ends the probe this lease carries, if any: returns whether it was one (its outcome must
    /// then reach the breaker even when it changes nothing).
    pub fn end_probe(&self) -> bool {
        self.probe_ticket.as_ref().is_some_and(ProbeTicket::end)
    }
}

/// The probe slot of a half-open breaker, held by the lease that probes. If the lease goes
/// without a reported outcome (the request failed before the executor, or the outcome was left
/// to the caller), dropping the ticket tells the breaker the probe ended without a verdict, so
/// the router lets the next request probe at once.
#[derive(Debug)]
pub struct ProbeTicket {
    breaker: Addr<BreakerActor>,
    ended: std::sync::atomic::AtomicBool,
}

impl ProbeTicket {
    /// A ticket that reports to `breaker`.
    pub fn new(breaker: Addr<BreakerActor>) -> Self {
        Self { breaker, ended: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Marks the probe as reported; true the first time.
    fn end(&self) -> bool {
        !self.ended.swap(true, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for ProbeTicket {
    fn drop(&mut self) {
        if self.end() {
            self.breaker.do_send(BreakerOutcome { kind: OutcomeKind::Cancelled, streak: 0, probe: true });
        }
    }
}

/// An account's health changed (from its actor).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AccountChanged {
    /// Account id.
    pub id: i64,
    /// The new health.
    pub health: AccountHealth,
}

/// A provider's breaker changed (from its actor).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BreakerChanged {
    /// Provider id.
    pub provider: String,
    /// The new state.
    pub state: BreakerState,
}

/// Replaces the routing view (start-up, or after accounts, providers or settings were edited).
/// Accounts and providers the router already knows keep what only it knows: an account's
/// in-flight slot and health, a provider's breaker, probe and cursor. Sending the same `Reload`
/// twice changes nothing.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Reload {
    /// Every account.
    pub accounts: Vec<AccountEntry>,
    /// Every provider with accounts.
    pub providers: HashMap<String, ProviderEntry>,
    /// Round-robin: consecutive leases on one account before moving on.
    pub sticky_limit: u32,
    /// How sticky session bindings are kept (bindings themselves survive reloads).
    pub sessions: super::sessions::SessionPolicy,
}

/// From now on the router sends each session binding it makes, moves or keeps in use (half a TTL
/// after it last did) here, for the instances sharing the database.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShareSessions(pub tokio::sync::mpsc::UnboundedSender<super::sessions::Bound>);

/// A session binding another instance made (scope `p:<provider>`, value an account id).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AdoptSession(pub super::sessions::Bound);

/// How many instances share the accounts now (several on one database): each applies an equal
/// part of an account's rpm, tpm and concurrency cap (and the gap times the instances).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetShare(pub u32);

/// Returns how many sticky session bindings are live.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "usize")]
pub struct GetSessionCount;

/// Returns every account's routing status, for the dashboard and the admin API.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Vec<AccountStatus>")]
pub struct GetRoutingView;

/// One account's routing status.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    /// Account id.
    pub id: i64,
    /// Provider id.
    pub provider: String,
    /// Account name.
    pub name: String,
    /// Whether it may be leased.
    pub enabled: bool,
    /// Priority.
    pub priority: i32,
    /// Requests in flight.
    pub in_flight: u32,
    /// Leases since start.
    pub leases: u64,
    /// Cooling until (ms), 0 when not.
    pub cooldown_until: i64,
    /// Backoff level.
    pub backoff_level: u32,
    /// Why it cools down.
    pub reason: Option<String>,
    /// Models locked on it, with their end (ms).
    pub model_locks: HashMap<String, i64>,
    /// Provider breaker phase at this moment.
    pub breaker: &'static str,
    /// Breaker open until (ms).
    pub breaker_open_until: i64,
    /// Why the account is out of service (a ban phrase in an error body), until a reset.
    pub disabled: Option<String>,
    /// Its pacing rules (`rpm`, `tpm`, `min_gap_ms`).
    pub pacing: super::pacing::Pacing,
    /// Paced until (ms): the next request may not go before; 0 when it may go now.
    pub paced_until: i64,
    /// Kept out until (ms) by an exhausted quota window (its upstream's rate-limit headers, a
    /// subscription's usage); 0 when not.
    pub quota_blocked_until: i64,
    /// Which quota window keeps it out.
    pub quota_reason: Option<String>,
    /// Last lease (ms).
    pub last_used_at: i64,
    /// Its current problem, kept after the cooldown ends until a request succeeds on it.
    pub last_error: Option<String>,
    /// Since when (ms) it has that problem; 0 when none.
    pub last_error_since: i64,
    /// One word for people (see `AccountState`).
    pub state: AccountState,
}

/// What an account is doing, worst first; serialised as the words people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AccountState {
    /// Disabled by an operator.
    #[serde(rename = "off")]
    Off,
    /// A ban phrase in an error body took it out until a reset.
    #[serde(rename = "out of service")]
    OutOfService,
    /// The upstream refused its credentials and nothing succeeded on it since.
    #[serde(rename = "credentials refused")]
    CredentialsRefused,
    /// Cooling down after a rate limit or errors.
    #[serde(rename = "cooling")]
    Cooling,
    /// Its provider's breaker is open.
    #[serde(rename = "breaker open")]
    BreakerOpen,
    /// It serves.
    #[serde(rename = "ready")]
    Ready,
}

impl AccountState {
    /// The state of an account with `health` at `now`, its provider's breaker in `breaker`.
    pub fn of(enabled: bool, health: &AccountHealth, breaker: BreakerPhase, now: i64) -> Self {
        if !enabled {
            Self::Off
        } else if health.disabled.is_some() {
            Self::OutOfService
        } else if health.credentials_refused() {
            Self::CredentialsRefused
        } else if health.cooling(now) {
            Self::Cooling
        } else if breaker == BreakerPhase::Open {
            Self::BreakerOpen
        } else {
            Self::Ready
        }
    }

    /// The word people read (the same as the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::OutOfService => "out of service",
            Self::CredentialsRefused => "credentials refused",
            Self::Cooling => "cooling",
            Self::BreakerOpen => "breaker open",
            Self::Ready => "ready",
        }
    }
}

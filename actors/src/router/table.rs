//! The routing view as a plain struct: every account's health and slot, every provider's
//! breaker and cursor, sticky session bindings, and the lease decision. The actor shell only feeds
//! it messages.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Addr;

use super::pacing::{Pacer, Pacing, shared_cap};
use super::sessions::{Bound, SessionBook, SessionPolicy};
use super::slot::{Slot, Streak};
use super::strategy::{self, Candidate, Cursor, Strategy};
use crate::account::AccountHealth;
use crate::account::actor::AccountActor;
use crate::breaker::actor::BreakerActor;
use crate::breaker::{BreakerPhase, BreakerState};
use crate::credential::Credential;
use crate::quota::QuotaView;

/// A half-open breaker admits one probe; another may go if no verdict came within this time.
const PROBE_WINDOW_MS: i64 = 15_000;

/// One account as the router knows it.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    /// Account id.
    pub id: i64,
    /// Provider id.
    pub provider: Arc<str>,
    /// Account name.
    pub name: Arc<str>,
    /// Lower is preferred.
    pub priority: i32,
    /// Share for weighted choice.
    pub weight: u32,
    /// Whether it may be leased at all.
    pub enabled: bool,
    /// Most requests in flight.
    pub max_concurrent: Option<u32>,
    /// Requests per minute and least gap between requests.
    pub pacing: Pacing,
    /// Base URL requests go to.
    pub base_url: Arc<str>,
    /// The credential, if the provider needs one.
    pub credential: Option<Credential>,
    /// Cooldown, backoff, model locks (pushed by the account actor).
    pub health: AccountHealth,
    /// In-flight counter shared with leases.
    pub slot: Arc<Slot>,
    /// The account's actor (absent in pure tests).
    pub addr: Option<Addr<AccountActor>>,
}

/// One provider as the router knows it.
#[derive(Debug, Clone, Default)]
pub struct ProviderEntry {
    /// Account strategy.
    pub strategy: Strategy,
    /// Breaker state (pushed by the breaker actor).
    pub breaker: BreakerState,
    /// When the current half-open probe was granted.
    pub probe_granted_at: Option<i64>,
    /// Round-robin position.
    pub cursor: Cursor,
    /// The breaker's actor (absent in pure tests).
    pub addr: Option<Addr<BreakerActor>>,
    /// Consecutive provider faults, shared with the leases (kept across reloads).
    pub streak: Arc<Streak>,
}

/// Why no account was leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The provider has no enabled account.
    NoAccounts,
    /// Every eligible account was already tried for this request.
    AllTried,
    /// Every account is cooling down (or has this model locked); the soonest is free in `retry_after_ms`.
    Cooling {
        /// Until the first account is free again.
        retry_after_ms: i64,
    },
    /// The provider's breaker is open.
    BreakerOpen {
        /// Until a probe may go.
        retry_after_ms: i64,
    },
    /// Every account is at its concurrency limit.
    Busy,
    /// Every account is paced (requests per minute or the least gap reached); the soonest may go
    /// in `retry_after_ms`.
    Paced {
        /// Until the first account may be used again.
        retry_after_ms: i64,
    },
}

impl Unavailable {
    /// How long until the provider may serve again, when that is a matter of waiting (cooling or
    /// pacing), ms.
    pub fn wait_ms(&self) -> Option<i64> {
        match self {
            Self::Cooling { retry_after_ms } | Self::Paced { retry_after_ms } => Some(*retry_after_ms),
            Self::NoAccounts | Self::AllTried | Self::BreakerOpen { .. } | Self::Busy => None,
        }
    }
}

/// What a request asks the table for.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Provider id.
    pub provider: &'a str,
    /// Upstream model id.
    pub model: &'a str,
    /// Accounts already tried for this request.
    pub exclude: &'a [i64],
    /// The client's session key.
    pub session: Option<&'a str>,
    /// Tokens the request is expected to use (for `tpm`; 0: unknown).
    pub tokens: u64,
}

/// What a granted lease points at.
#[derive(Debug, Clone)]
pub struct Picked {
    /// Index into the table's accounts.
    pub index: usize,
    /// This lease is a half-open breaker's probe.
    pub probe: bool,
    /// The account is the one the request's session was bound to.
    pub sticky: bool,
}

/// The whole routing view.
#[derive(Debug, Default)]
pub struct RoutingTable {
    accounts: Vec<AccountEntry>,
    by_id: HashMap<i64, usize>,
    providers: HashMap<String, ProviderEntry>,
    by_provider: HashMap<String, Vec<usize>>,
    sticky_limit: u32,
    /// Each account's quota view (pushed by its quota tracker; kept across reloads).
    quota: HashMap<i64, QuotaView>,
    /// Sticky session bindings (kept across reloads, but not for deleted accounts).
    sessions: SessionBook,
    /// Each paced account's recent leases (kept across reloads).
    pacers: HashMap<i64, Pacer>,
    /// Bindings to tell the other instances (`Some` only when instances share them).
    told: Option<Vec<Bound>>,
    /// Instances sharing the accounts (several on one database): each applies an equal part of
    /// an account's pacing and concurrency cap.
    share: u32,
}

impl RoutingTable {
    /// A table over these accounts and providers (accounts of unknown providers get defaults).
    pub fn new(accounts: Vec<AccountEntry>, providers: HashMap<String, ProviderEntry>, sticky_limit: u32) -> Self {
        let mut t = Self {
            accounts: Vec::new(),
            by_id: HashMap::new(),
            providers,
            by_provider: HashMap::new(),
            sticky_limit,
            quota: HashMap::new(),
            sessions: SessionBook::default(),
            pacers: HashMap::new(),
            told: None,
            share: 1,
        };
        let mut accounts = accounts;
        accounts.sort_by_key(|a| a.id);
        for (i, a) in accounts.iter().enumerate() {
            t.by_id.insert(a.id, i);
            t.by_provider.entry(a.provider.to_string()).or_default().push(i);
            t.providers.entry(a.provider.to_string()).or_default();
        }
        t.accounts = accounts;
        t
    }

    /// Replaces the table with these accounts and providers. An account already known keeps its
    /// in-flight slot (leases out on it free that same slot) and its health; a provider already
    /// known keeps its breaker, probe and cursor. Accounts left out are forgotten here, while
    /// their outstanding leases run to their end on the slot they hold.
    pub fn reload(
        &mut self,
        mut accounts: Vec<AccountEntry>,
        mut providers: HashMap<String, ProviderEntry>,
        sticky_limit: u32,
    ) {
        for a in &mut accounts {
            if let Some(old) = self.by_id.get(&a.id).and_then(|&i| self.accounts.get(i)) {
                a.health = old.health.clone();
                a.slot = Arc::clone(&old.slot);
            }
        }
        for (id, p) in &mut providers {
            if let Some(old) = self.providers.get(id) {
                p.breaker = old.breaker;
                p.probe_granted_at = old.probe_granted_at;
                p.cursor = old.cursor;
                p.streak = Arc::clone(&old.streak);
            }
        }
        let mut quota = std::mem::take(&mut self.quota);
        let mut sessions = std::mem::take(&mut self.sessions);
        let mut pacers = std::mem::take(&mut self.pacers);
        let (told, share) = (self.told.take(), self.share);
        *self = Self::new(accounts, providers, sticky_limit);
        (self.told, self.share) = (told, share);
        pacers.retain(|id, _| self.by_id.contains_key(id));
        self.pacers = pacers;
        quota.retain(|id, _| self.by_id.contains_key(id));
        self.quota = quota;
        sessions.retain_accounts(|id| self.by_id.contains_key(id));
        self.sessions = sessions;
    }

    /// Replaces how sticky sessions are kept.
    pub fn set_session_policy(&mut self, policy: SessionPolicy, now: i64) {
        self.sessions.set_policy(policy, now);
    }

    /// The session bindings.
    pub fn sessions(&self) -> &SessionBook {
        &self.sessions
    }

    /// `instances` share the accounts from now on (each applies its part of their limits).
    pub fn set_share(&mut self, instances: u32) {
        self.share = instances.max(1);
    }

    /// From now on the bindings made, moved or kept in use are collected for `take_told`.
    pub fn share_sessions(&mut self) {
        self.told.get_or_insert_with(Vec::new);
    }

    /// The bindings to tell the other instances since the last call.
    pub fn take_told(&mut self) -> Vec<Bound> {
        self.told.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Another instance bound `session` on `provider` to `account` (if this table knows it).
    pub fn adopt_session(&mut self, provider: &str, session: &str, account: i64, seen: i64) {
        if self.by_id.contains_key(&account) {
            self.sessions.adopt(provider, session, account, seen);
        }
    }

    fn tell(told: &mut Option<Vec<Bound>>, provider: &str, session: &str, account: i64, now: i64) {
        if let Some(t) = told.as_mut() {
            t.push(Bound {
                scope: format!("p:{provider}"),
                session: session.into(),
                value: account.to_string(),
                seen: now,
            });
        }
    }

    /// Replaces an account's quota view.
    pub fn set_quota(&mut self, id: i64, view: QuotaView) {
        if view == QuotaView::default() {
            self.quota.remove(&id);
        } else {
            self.quota.insert(id, view);
        }
    }

    /// An account's quota view.
    pub fn quota(&self, id: i64) -> Option<&QuotaView> {
        self.quota.get(&id)
    }

    /// Until when an account is paced for a request of unknown size (0: it may go now).
    pub fn paced_until(&self, a: &AccountEntry, now: i64) -> i64 {
        let at = self.pacers.get(&a.id).map_or(now, |p| p.free_at(a.pacing.shared(self.share), 0, now));
        if at > now { at } else { 0 }
    }

    /// All accounts.
    pub fn accounts(&self) -> &[AccountEntry] {
        &self.accounts
    }

    /// One account by index.
    pub fn account(&self, index: usize) -> Option<&AccountEntry> {
        self.accounts.get(index)
    }

    /// A provider's entry.
    pub fn provider(&self, id: &str) -> Option<&ProviderEntry> {
        self.providers.get(id)
    }

    /// Replaces an account's health.
    pub fn set_health(&mut self, id: i64, health: AccountHealth) {
        if let Some(&i) = self.by_id.get(&id) {
            self.accounts[i].health = health;
        }
    }

    /// Replaces a provider's breaker state; a verdict ends the current probe.
    pub fn set_breaker(&mut self, provider: &str, state: BreakerState) {
        if let Some(p) = self.providers.get_mut(provider) {
            p.breaker = state;
            p.probe_granted_at = None;
        }
    }

    /// Chooses an account of `provider` for `model`, skipping `exclude` (no session).
    pub fn lease(
        &mut self,
        provider: &str,
        model: &str,
        exclude: &[i64],
        now: i64,
        rng: &mut impl rand::Rng,
    ) -> Result<Picked, Unavailable> {
        self.lease_for(provider, model, exclude, None, now, rng)
    }

    /// Chooses an account of `provider` for `model`, skipping `exclude`, for a request of
    /// `session` (no token estimate).
    pub fn lease_for(
        &mut self,
        provider: &str,
        model: &str,
        exclude: &[i64],
        session: Option<&str>,
        now: i64,
        rng: &mut impl rand::Rng,
    ) -> Result<Picked, Unavailable> {
        self.lease_ask(&Ask { provider, model, exclude, session, tokens: 0 }, now, rng)
    }

    /// Chooses an account for `ask`. A request of a bound session gets its account while that
    /// one can serve (healthy, with a free slot, not paced, not excluded), whatever the strategy;
    /// otherwise the strategy picks and the session is bound (or re-bound) to the pick.
    pub fn lease_ask(&mut self, ask: &Ask<'_>, now: i64, rng: &mut impl rand::Rng) -> Result<Picked, Unavailable> {
        let Ask { provider, model, exclude, session, tokens } = *ask;
        let Some(indexes) = self.by_provider.get(provider) else {
            return Err(Unavailable::NoAccounts);
        };
        let Some(p) = self.providers.get_mut(provider) else {
            return Err(Unavailable::NoAccounts);
        };
        let enabled: Vec<usize> = indexes
            .iter()
            .copied()
            .filter(|&i| self.accounts[i].enabled && self.accounts[i].health.disabled.is_none())
            .collect();
        if enabled.is_empty() {
            return Err(Unavailable::NoAccounts);
        }
        let mut probe = false;
        match p.breaker.phase_at(now) {
            BreakerPhase::Closed => {}
            BreakerPhase::Open => {
                return Err(Unavailable::BreakerOpen { retry_after_ms: (p.breaker.open_until - now).max(1) });
            }
            BreakerPhase::HalfOpen => {
                if p.probe_granted_at.is_some_and(|t| now - t < PROBE_WINDOW_MS) {
                    return Err(Unavailable::BreakerOpen { retry_after_ms: 1_000 });
                }
                probe = true;
            }
        }
        let fresh: Vec<usize> = enabled.iter().copied().filter(|i| !exclude.contains(&self.accounts[*i].id)).collect();
        if fresh.is_empty() {
            return Err(Unavailable::AllTried);
        }
        // An exhausted quota window keeps an account out until its reset, like a cooldown: no
        // request is spent to find out.
        let quota = &self.quota;
        let blocked_until = |a: &AccountEntry| {
            let lock = a.health.model_locks.get(model).copied().unwrap_or(0);
            let q = quota.get(&a.id).map_or(0, |q| q.blocked_for(model));
            a.health.cooldown_until.max(lock).max(q)
        };
        let (pacers, share) = (&self.pacers, self.share);
        let paced_until =
            |a: &AccountEntry| pacers.get(&a.id).map_or(now, |p| p.free_at(a.pacing.shared(share), tokens, now));
        let ready = |a: &AccountEntry| blocked_until(a) <= now && paced_until(a) <= now;
        let healthy: Vec<usize> = fresh.iter().copied().filter(|&i| ready(&self.accounts[i])).collect();
        if healthy.is_empty() {
            let at = |i: usize| blocked_until(&self.accounts[i]).max(paced_until(&self.accounts[i]));
            let Some(first) = fresh.iter().copied().min_by_key(|&i| at(i)) else {
                return Err(Unavailable::AllTried);
            };
            let retry_after_ms = (at(first) - now).max(1);
            return Err(if paced_until(&self.accounts[first]) > blocked_until(&self.accounts[first]) {
                Unavailable::Paced { retry_after_ms }
            } else {
                Unavailable::Cooling { retry_after_ms }
            });
        }
        let free: Vec<usize> = healthy
            .iter()
            .copied()
            .filter(|&i| {
                let a = &self.accounts[i];
                a.max_concurrent.is_none_or(|m| a.slot.in_flight() < shared_cap(m, share))
            })
            .collect();
        if free.is_empty() {
            return Err(Unavailable::Busy);
        }
        let session = session.filter(|_| self.sessions.enabled());
        if let Some(s) = session
            && let Some(bound) = self.sessions.bound(provider, s, now)
            && let Some(&index) = free.iter().find(|&&i| self.accounts[i].id == bound)
        {
            if self.sessions.bind(provider, s, bound, now) {
                Self::tell(&mut self.told, provider, s, bound, now);
            }
            if probe {
                p.probe_granted_at = Some(now);
            }
            Self::paced(&mut self.pacers, &self.accounts[index], self.share, tokens, now);
            return Ok(Picked { index, probe, sticky: true });
        }
        // Accounts near a quota limit are used only when no other account is left.
        let roomy: Vec<usize> =
            free.iter().copied().filter(|i| !quota.get(&self.accounts[*i].id).is_some_and(|q| q.near_limit)).collect();
        let free = if roomy.is_empty() { free } else { roomy };
        let cands: Vec<Candidate> = free
            .iter()
            .map(|&i| {
                let a = &self.accounts[i];
                Candidate {
                    id: a.id,
                    priority: a.priority,
                    weight: a.weight,
                    in_flight: a.slot.in_flight(),
                    backoff_level: a.health.backoff_level,
                    last_leased: a.slot.last_leased(),
                }
            })
            .collect();
        let pick = strategy::choose(p.strategy, &cands, &mut p.cursor, self.sticky_limit, rng).unwrap_or(0);
        if probe {
            p.probe_granted_at = Some(now);
        }
        let index = free[pick];
        if let Some(s) = session {
            let id = self.accounts[index].id;
            if self.sessions.bind(provider, s, id, now) {
                Self::tell(&mut self.told, provider, s, id, now);
            }
        }
        Self::paced(&mut self.pacers, &self.accounts[index], self.share, tokens, now);
        Ok(Picked { index, probe, sticky: false })
    }

    /// Counts a lease of a paced account.
    fn paced(pacers: &mut HashMap<i64, Pacer>, a: &AccountEntry, share: u32, tokens: u64, now: i64) {
        if a.pacing.is_set() {
            pacers.entry(a.id).or_default().record(a.pacing.shared(share), tokens, now);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::outcome::{OutcomeKind, ResiliencePolicy};

    /// A plain enabled account of `provider` (also for the router actor's tests).
    pub(crate) fn acc(id: i64, provider: &str) -> AccountEntry {
        AccountEntry {
            id,
            provider: provider.into(),
            name: format!("a{id}").into(),
            priority: 1,
            weight: 1,
            enabled: true,
            max_concurrent: None,
            pacing: Pacing::default(),
            base_url: "http://x".into(),
            credential: None,
            health: AccountHealth::default(),
            slot: Arc::new(Slot::default()),
            addr: None,
        }
    }

    fn table(accounts: Vec<AccountEntry>) -> RoutingTable {
        RoutingTable::new(accounts, HashMap::new(), 3)
    }

    #[test]
    fn skips_excluded_cooling_and_locked_accounts() {
        let mut t = table(vec![acc(1, "p"), acc(2, "p"), acc(3, "p")]);
        let mut rng = rand::rng();
        let mut h = AccountHealth::default();
        h.apply(OutcomeKind::RateLimited { retry_after: None }, 100, &ResiliencePolicy::default());
        t.set_health(1, h);
        let mut h = AccountHealth::default();
        h.model_locks.insert("m".into(), 10_000);
        t.set_health(2, h);
        let got = t.lease("p", "m", &[], 200, &mut rng).map(|p| t.accounts()[p.index].id);
        assert_eq!(got, Ok(3));
        assert_eq!(t.lease("p", "m", &[3], 200, &mut rng).err(), Some(Unavailable::Cooling { retry_after_ms: 900 }));
        assert_eq!(t.lease("p", "other", &[3], 200, &mut rng).map(|p| t.accounts()[p.index].id), Ok(2));
        assert_eq!(t.lease("p", "m", &[1, 2, 3], 200, &mut rng).err(), Some(Unavailable::AllTried));
        assert_eq!(t.lease("q", "m", &[], 200, &mut rng).err(), Some(Unavailable::NoAccounts));
    }

    #[test]
    fn open_breaker_refuses_then_admits_one_probe() {
        let mut t = table(vec![acc(1, "p")]);
        let mut rng = rand::rng();
        let open = BreakerState { phase: BreakerPhase::Open, failures: 0, open_until: 1_000, trips: 1 };
        t.set_breaker("p", open);
        assert_eq!(t.lease("p", "m", &[], 500, &mut rng).err(), Some(Unavailable::BreakerOpen { retry_after_ms: 500 }));
        let first = t.lease("p", "m", &[], 1_000, &mut rng);
        assert!(first.as_ref().is_ok_and(|p| p.probe));
        assert!(matches!(t.lease("p", "m", &[], 1_001, &mut rng), Err(Unavailable::BreakerOpen { .. })));
        t.set_breaker("p", BreakerState::default());
        assert!(t.lease("p", "m", &[], 1_002, &mut rng).is_ok_and(|p| !p.probe));
    }

    #[test]
    fn reload_keeps_slots_health_and_breakers_of_known_entries() {
        let mut t = table(vec![acc(1, "p"), acc(2, "p")]);
        let mut rng = rand::rng();
        let mut h = AccountHealth::default();
        h.apply(OutcomeKind::RateLimited { retry_after: None }, 100, &ResiliencePolicy::default());
        t.set_health(1, h.clone());
        let open = BreakerState { phase: BreakerPhase::Open, failures: 0, open_until: 5_000, trips: 1 };
        t.set_breaker("p", open);
        let slot = Arc::clone(&t.accounts()[1].slot);
        let held = super::super::slot::SlotGuard::take(&slot, 0);
        // Account 2 is edited (new priority), account 1 removed, account 3 added.
        let mut edited = acc(2, "p");
        edited.priority = 7;
        t.reload(vec![edited.clone(), acc(3, "p")], HashMap::from([("p".into(), ProviderEntry::default())]), 3);
        assert_eq!(t.accounts().iter().map(|a| a.id).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(t.accounts()[0].priority, 7);
        assert_eq!(t.accounts()[0].slot.in_flight(), 1, "the lease out on account 2 holds the same slot");
        assert_eq!(t.provider("p").map(|p| p.breaker), Some(open));
        drop(held);
        assert_eq!(t.accounts()[0].slot.in_flight(), 0);
        // Health survives a reload of the same account; a reload of the same input changes nothing.
        t.set_health(3, h.clone());
        t.reload(vec![edited, acc(3, "p")], HashMap::from([("p".into(), ProviderEntry::default())]), 3);
        assert_eq!(t.accounts()[1].health, h);
        assert!(matches!(t.lease("p", "m", &[], 6_000, &mut rng), Ok(Picked { probe: true, .. })));
    }

    #[test]
    fn exhausted_quota_skips_and_near_limit_goes_last() {
        let mut t = table(vec![acc(1, "p"), acc(2, "p")]);
        let mut rng = rand::rng();
        // Fill-first would pick account 1; its window is exhausted until 5 000.
        t.set_quota(1, QuotaView { blocked_until: 5_000, ..QuotaView::default() });
        assert_eq!(t.lease("p", "m", &[], 100, &mut rng).map(|p| t.accounts()[p.index].id), Ok(2));
        assert_eq!(t.lease("p", "m", &[2], 100, &mut rng).err(), Some(Unavailable::Cooling { retry_after_ms: 4_900 }));
        assert_eq!(t.lease("p", "m", &[], 5_000, &mut rng).map(|p| t.accounts()[p.index].id), Ok(1), "after the reset");
        // Near its limit, account 1 is used only when account 2 is not available.
        t.set_quota(1, QuotaView { near_limit: true, ..QuotaView::default() });
        assert_eq!(t.lease("p", "m", &[], 6_000, &mut rng).map(|p| t.accounts()[p.index].id), Ok(2));
        assert_eq!(t.lease("p", "m", &[2], 6_000, &mut rng).map(|p| t.accounts()[p.index].id), Ok(1));
        // A model's own window blocks that model only; views survive a reload.
        let mut v = QuotaView::default();
        v.model_blocks.insert("m".into(), 9_000);
        t.set_quota(1, v);
        t.reload(vec![acc(1, "p")], HashMap::from([("p".into(), ProviderEntry::default())]), 3);
        assert!(matches!(t.lease("p", "m", &[], 7_000, &mut rng), Err(Unavailable::Cooling { .. })));
        assert!(t.lease("p", "other", &[], 7_000, &mut rng).is_ok());
        t.set_quota(1, QuotaView::default());
        assert!(t.quota(1).is_none());
    }

    #[test]
    fn a_banned_account_is_never_leased() {
        let mut t = table(vec![acc(1, "p"), acc(2, "p")]);
        let mut rng = rand::rng();
        t.set_health(1, AccountHealth { disabled: Some("account suspended".into()), ..AccountHealth::default() });
        for _ in 0..5 {
            assert_eq!(t.lease("p", "m", &[], 0, &mut rng).map(|p| t.accounts()[p.index].id), Ok(2));
        }
        assert_eq!(t.lease("p", "m", &[2], 0, &mut rng).err(), Some(Unavailable::AllTried));
        t.set_health(2, AccountHealth { disabled: Some("invalid API key".into()), ..AccountHealth::default() });
        assert_eq!(t.lease("p", "m", &[], 0, &mut rng).err(), Some(Unavailable::NoAccounts));
    }

    #[test]
    fn a_probe_that_ends_without_a_verdict_frees_the_probe_slot() {
        let mut t = table(vec![acc(1, "p")]);
        let mut rng = rand::rng();
        let open = BreakerState { phase: BreakerPhase::Open, failures: 0, open_until: 1_000, trips: 1 };
        t.set_breaker("p", open);
        assert!(t.lease("p", "m", &[], 1_000, &mut rng).is_ok_and(|p| p.probe));
        assert!(matches!(t.lease("p", "m", &[], 1_001, &mut rng), Err(Unavailable::BreakerOpen { .. })));
        // The breaker hears the probe was cancelled and restates its unchanged state.
        t.set_breaker("p", open);
        assert!(t.lease("p", "m", &[], 1_002, &mut rng).is_ok_and(|p| p.probe), "the next request probes");
    }

    #[test]
    fn a_session_keeps_its_account_under_round_robin_and_moves_when_it_cannot_serve() {
        let providers =
            HashMap::from([("p".into(), ProviderEntry { strategy: Strategy::RoundRobin, ..Default::default() })]);
        let mut t = RoutingTable::new(vec![acc(1, "p"), acc(2, "p"), acc(3, "p")], providers, 1);
        t.set_session_policy(SessionPolicy { ttl_ms: 10_000, max: 100 }, 0);
        let mut rng = rand::rng();
        fn pick(
            t: &mut RoutingTable,
            ex: &[i64],
            now: i64,
            rng: &mut impl rand::Rng,
        ) -> Result<(i64, bool), Unavailable> {
            let p = t.lease_for("p", "m", ex, Some("s"), now, rng)?;
            Ok((t.accounts()[p.index].id, p.sticky))
        }
        let first = pick(&mut t, &[], 0, &mut rng).map(|(a, _)| a).unwrap_or(0);
        for now in 1..20 {
            // Others rotate round-robin meanwhile; the session stays.
            let _ = t.lease("p", "m", &[], now, &mut rng);
            assert_eq!(pick(&mut t, &[], now, &mut rng), Ok((first, true)));
        }
        // Its account cools: the session moves and is re-bound to the new account.
        let mut h = AccountHealth::default();
        h.apply(OutcomeKind::RateLimited { retry_after: None }, 20, &ResiliencePolicy::default());
        t.set_health(first, h);
        let moved = pick(&mut t, &[], 21, &mut rng).map(|(a, _)| a).unwrap_or(0);
        assert_ne!(moved, first);
        t.set_health(first, AccountHealth::default());
        assert_eq!(pick(&mut t, &[], 22, &mut rng), Ok((moved, true)), "it stays moved");
        // A retry that excluded it moves it too; a reload that deletes its account forgets it.
        let other = pick(&mut t, &[moved], 23, &mut rng).map(|(a, _)| a).unwrap_or(0);
        assert_ne!(other, moved);
        let keep: Vec<AccountEntry> = [1, 2, 3].into_iter().filter(|i| *i != other).map(|i| acc(i, "p")).collect();
        t.reload(keep, HashMap::new(), 1);
        assert_eq!(t.sessions().bound("p", "s", 24), None);
        // Idle past the TTL: a fresh pick.
        let _ = t.lease_for("p", "m", &[], Some("t"), 30, &mut rng);
        assert!(t.sessions().bound("p", "t", 10_029).is_some());
        assert!(t.sessions().bound("p", "t", 10_030).is_none());
    }

    #[test]
    fn paced_accounts_share_the_load_and_say_when_the_next_may_go() {
        let mut a = acc(1, "p");
        a.pacing = Pacing { rpm: Some(2), ..Pacing::default() };
        let mut b = acc(2, "p");
        b.pacing = Pacing { rpm: Some(2), min_gap_ms: Some(1_000), ..Pacing::default() };
        let mut t = table(vec![a.clone(), b.clone()]);
        let mut rng = rand::rng();
        let mut got = Vec::new();
        for now in [0, 1, 2, 3] {
            got.push(t.lease("p", "m", &[], now, &mut rng).map(|p| t.accounts()[p.index].id));
        }
        // Fill-first uses account 1 up to its limit, then account 2 (its second after its gap).
        assert_eq!(got[..3], [Ok(1), Ok(1), Ok(2)]);
        assert_eq!(got[3], Err(Unavailable::Paced { retry_after_ms: 999 }), "account 2's gap ends first");
        assert_eq!(t.lease("p", "m", &[], 1_002, &mut rng).map(|p| t.accounts()[p.index].id), Ok(2));
        assert_eq!(t.lease("p", "m", &[], 1_003, &mut rng).err(), Some(Unavailable::Paced { retry_after_ms: 58_997 }));
        // Pacing survives a reload; a cooldown longer than the pacing is reported as cooling.
        t.reload(vec![a, b], HashMap::new(), 3);
        assert_eq!(t.lease("p", "m", &[], 1_004, &mut rng).err(), Some(Unavailable::Paced { retry_after_ms: 58_996 }));
        let mut h = AccountHealth::default();
        h.apply(
            OutcomeKind::RateLimited { retry_after: Some(std::time::Duration::from_secs(120)) },
            1_005,
            &ResiliencePolicy::default(),
        );
        t.set_health(1, h.clone());
        t.set_health(2, h);
        assert!(matches!(t.lease("p", "m", &[], 1_006, &mut rng), Err(Unavailable::Cooling { .. })));
        t.set_health(1, AccountHealth::default());
        t.set_health(2, AccountHealth::default());
        assert_eq!(t.lease("p", "m", &[], 60_000, &mut rng).map(|p| t.accounts()[p.index].id), Ok(1));
    }

    #[test]
    fn concurrency_limit_is_respected() {
        let mut a = acc(1, "p");
        a.max_concurrent = Some(1);
        let mut t = table(vec![a]);
        let mut rng = rand::rng();
        let p = t.lease("p", "m", &[], 0, &mut rng).expect("first");
        let _g = super::super::slot::SlotGuard::take(&t.accounts()[p.index].slot, 0);
        assert_eq!(t.lease("p", "m", &[], 0, &mut rng).err(), Some(Unavailable::Busy));
    }
}

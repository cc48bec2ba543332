//! The router actor: owns the routing table and hears health changes; `Lease` is answered from
//! the same table by each thread's `LeaseDesk`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix::{Actor, Context, Handler, MessageResult};

use super::messages::{
    AccountChanged, AccountState, AccountStatus, AdoptSession, BreakerChanged, GetRoutingView, GetSessionCount, Lease,
    LeaseGrant, ProbeTicket, Reload, SetShare, ShareSessions,
};
use super::sessions::Bound;
use super::slot::SlotGuard;
use super::table::{Ask, RoutingTable, Unavailable};
use crate::breaker::BreakerState;
use crate::clock::now_ms;
use crate::quota::messages::QuotaChanged;

/// The routing state the router owns and the lease desks lease from: one lock, held for one
/// lease or one change (microseconds), never across an await.
#[derive(Debug, Default)]
struct Routing {
    table: RoutingTable,
    /// Where session bindings go for the other instances (`ShareSessions`).
    sessions_out: Option<tokio::sync::mpsc::UnboundedSender<Bound>>,
}

/// A handle on the routing state, for the router and the lease desks.
#[derive(Debug, Clone, Default)]
pub struct SharedRouting(Arc<Mutex<Routing>>);

impl SharedRouting {
    /// A new, empty routing state; send `Reload` to the router to fill it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state, also after a panic elsewhere while it was held (every change to it is made in
    /// one step, so a panic cannot leave it half-written).
    fn lock(&self) -> MutexGuard<'_, Routing> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The one router.
#[derive(Debug)]
pub struct RouterActor {
    routing: SharedRouting,
}

impl RouterActor {
    /// A router over `routing` (empty until `Reload`); the lease desks share the same state.
    pub fn new(routing: SharedRouting) -> Self {
        Self { routing }
    }
}

/// One per HTTP worker thread, started on that thread: answers the worker's `Lease` messages
/// from the router's state without a cross-thread wake-up (both the ask and the answer stay on
/// the worker's own event loop). Every other decision stays with the `RouterActor`.
#[derive(Debug)]
pub struct LeaseDesk {
    routing: SharedRouting,
}

impl LeaseDesk {
    /// A desk over the router's state.
    pub fn new(routing: SharedRouting) -> Self {
        Self { routing }
    }
}

impl Actor for LeaseDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Lease> for LeaseDesk {
    type Result = Result<LeaseGrant, Unavailable>;

    fn handle(&mut self, msg: Lease, _: &mut Context<Self>) -> Self::Result {
        lease(&mut self.routing.lock(), &msg)
    }
}

impl Handler<ShareSessions> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: ShareSessions, _: &mut Context<Self>) {
        let mut r = self.routing.lock();
        r.table.share_sessions();
        r.sessions_out = Some(msg.0);
    }
}

impl Handler<SetShare> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: SetShare, _: &mut Context<Self>) {
        self.routing.lock().table.set_share(msg.0);
    }
}

impl Handler<AdoptSession> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: AdoptSession, _: &mut Context<Self>) {
        let b = msg.0;
        if let (Some(provider), Ok(account)) = (b.scope.strip_prefix("p:"), b.value.parse::<i64>()) {
            self.routing.lock().table.adopt_session(provider, &b.session, account, b.seen);
        }
    }
}

impl Actor for RouterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Leases are on every request's path: give the mailbox room for bursts.
        ctx.set_mailbox_capacity(4096);
    }
}

/// One lease from the routing state: an account picked by strategy, its in-flight slot taken.
fn lease(r: &mut Routing, msg: &Lease) -> Result<LeaseGrant, Unavailable> {
    let now = now_ms();
    let ask = Ask {
        provider: &msg.provider,
        model: &msg.model,
        exclude: &msg.exclude,
        session: msg.session.as_deref(),
        tokens: msg.tokens,
    };
    let picked = r.table.lease_ask(&ask, now, &mut rand::rng())?;
    if let Some(tx) = &r.sessions_out {
        for b in r.table.take_told() {
            // Closed only while the daemon stops.
            let _ = tx.send(b);
        }
    }
    let a = r.table.account(picked.index).ok_or(Unavailable::NoAccounts)?;
    let provider = r.table.provider(&msg.provider);
    let breaker = provider.and_then(|p| p.addr.clone());
    let breaker_clean = provider.is_none_or(|p| p.breaker == BreakerState::default());
    let streak = provider.map(|p| Arc::clone(&p.streak)).unwrap_or_default();
    let probe_ticket = if picked.probe { breaker.clone().map(ProbeTicket::new) } else { None };
    Ok(LeaseGrant {
        account_id: a.id,
        account_name: a.name.clone(),
        provider: a.provider.clone(),
        base_url: a.base_url.clone(),
        credential: a.credential.clone(),
        probe: picked.probe,
        account_clean: a.health.is_clean(),
        breaker_clean,
        account: a.addr.clone(),
        breaker,
        guard: SlotGuard::take(&a.slot, now),
        streak,
        probe_ticket,
    })
}

impl Handler<AccountChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, _: &mut Context<Self>) {
        self.routing.lock().table.set_health(msg.id, msg.health);
    }
}

impl Handler<BreakerChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: BreakerChanged, _: &mut Context<Self>) {
        self.routing.lock().table.set_breaker(&msg.provider, msg.state);
    }
}

impl Handler<QuotaChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: QuotaChanged, _: &mut Context<Self>) {
        self.routing.lock().table.set_quota(msg.id, msg.view);
    }
}

impl Handler<Reload> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: Reload, _: &mut Context<Self>) {
        let mut r = self.routing.lock();
        r.table.reload(msg.accounts, msg.providers, msg.sticky_limit);
        r.table.set_session_policy(msg.sessions, now_ms());
    }
}

impl Handler<GetSessionCount> for RouterActor {
    type Result = usize;

    fn handle(&mut self, _: GetSessionCount, _: &mut Context<Self>) -> usize {
        self.routing.lock().table.sessions().len()
    }
}

impl Handler<GetRoutingView> for RouterActor {
    type Result = MessageResult<GetRoutingView>;

    fn handle(&mut self, _: GetRoutingView, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let r = self.routing.lock();
        let table = &r.table;
        let view = table
            .accounts()
            .iter()
            .map(|a| {
                let b = table.provider(&a.provider).map(|p| p.breaker).unwrap_or_default();
                let quota_until = table.quota(a.id).map_or(0, |q| q.blocked_until).max(0);
                let quota_until = if quota_until > now { quota_until } else { 0 };
                AccountStatus {
                    id: a.id,
                    provider: a.provider.to_string(),
                    name: a.name.to_string(),
                    enabled: a.enabled,
                    priority: a.priority,
                    in_flight: a.slot.in_flight(),
                    leases: a.slot.leases(),
                    cooldown_until: if a.health.cooldown_until > now { a.health.cooldown_until } else { 0 },
                    backoff_level: a.health.backoff_level,
                    reason: a.health.reason.clone().filter(|_| a.health.cooldown_until > now),
                    model_locks: a
                        .health
                        .model_locks
                        .iter()
                        .filter(|(_, u)| **u > now)
                        .map(|(m, u)| (m.clone(), *u))
                        .collect(),
                    breaker: b.phase_at(now).as_str(),
                    breaker_open_until: b.open_until,
                    disabled: a.health.disabled.clone(),
                    pacing: a.pacing,
                    paced_until: table.paced_until(a, now),
                    quota_blocked_until: quota_until,
                    quota_reason: table.quota(a.id).filter(|_| quota_until > 0).and_then(|q| q.reason.clone()),
                    last_used_at: a.slot.last_leased().max(a.health.last_used_at),
                    last_error: a.health.disabled.clone().or_else(|| a.health.reason.clone()),
                    last_error_since: a.health.reason_since,
                    state: AccountState::of(a.enabled, &a.health, b.phase_at(now), now),
                }
            })
            .collect();
        MessageResult(view)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use actix::{Actor, Arbiter};

    use super::*;
    use crate::account::AccountHealth;
    use crate::outcome::{OutcomeKind, ResiliencePolicy};
    use crate::router::table::tests::acc;

    fn ask() -> Lease {
        Lease { provider: "p".into(), model: "m".into(), exclude: Vec::new(), session: None, tokens: 0 }
    }

    async fn in_flight(router: &actix::Addr<RouterActor>, id: i64) -> u32 {
        let view = router.send(GetRoutingView).await.expect("the router answers");
        view.iter().find(|a| a.id == id).map_or(u32::MAX, |a| a.in_flight)
    }

    #[actix_rt::test]
    async fn desks_on_two_threads_lease_from_the_routers_state_and_see_its_changes_at_once() {
        let routing = SharedRouting::new();
        let router = RouterActor::new(routing.clone()).start();
        let reload = Reload {
            accounts: vec![acc(1, "p"), acc(2, "p")],
            providers: HashMap::new(),
            sticky_limit: 1,
            sessions: crate::router::sessions::SessionPolicy::default(),
        };
        router.send(reload).await.expect("the router answers");
        let here = LeaseDesk::new(routing.clone()).start();
        let other_thread = Arbiter::new();
        let shared = routing.clone();
        let there = LeaseDesk::start_in_arbiter(&other_thread.handle(), move |_| LeaseDesk::new(shared));

        // Both desks lease from the one table (fill-first: the first account while it serves).
        for desk in [&here, &there] {
            let grant = desk.send(ask()).await.expect("the desk answers").expect("an account");
            assert_eq!(grant.account_id, 1);
        }

        // A cooldown told to the router holds at both desks from the next lease on.
        let mut cooling = AccountHealth::default();
        let limited = OutcomeKind::RateLimited { retry_after: Some(Duration::from_secs(60)) };
        cooling.apply(limited, now_ms(), &ResiliencePolicy::default());
        router.send(AccountChanged { id: 1, health: cooling }).await.expect("the router answers");
        let mut held = Vec::new();
        for desk in [&here, &there, &here, &there] {
            let grant = desk.send(ask()).await.expect("the desk answers").expect("account 2 serves");
            assert_eq!(grant.account_id, 2);
            held.push(grant);
        }

        // Their in-flight slots are the router's: it sees the four leases, and none once they end.
        assert_eq!(in_flight(&router, 2).await, 4);
        drop(held);
        assert_eq!(in_flight(&router, 2).await, 0);
        other_thread.stop();
    }
}

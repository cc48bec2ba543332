//! The router actor: answers `Lease` from its routing table; hears health changes.

use std::sync::Arc;

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

/// The one router.
#[derive(Debug)]
pub struct RouterActor {
    table: RoutingTable,
    sticky_limit: u32,
    /// Where session bindings go for the other instances (`ShareSessions`).
    sessions_out: Option<tokio::sync::mpsc::UnboundedSender<Bound>>,
}

impl RouterActor {
    /// An empty router; send `Reload` to fill it.
    pub fn new(sticky_limit: u32) -> Self {
        Self { table: RoutingTable::default(), sticky_limit, sessions_out: None }
    }
}

impl Handler<ShareSessions> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: ShareSessions, _: &mut Context<Self>) {
        self.table.share_sessions();
        self.sessions_out = Some(msg.0);
    }
}

impl Handler<SetShare> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: SetShare, _: &mut Context<Self>) {
        self.table.set_share(msg.0);
    }
}

impl Handler<AdoptSession> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: AdoptSession, _: &mut Context<Self>) {
        let b = msg.0;
        if let (Some(provider), Ok(account)) = (b.scope.strip_prefix("p:"), b.value.parse::<i64>()) {
            self.table.adopt_session(provider, &b.session, account, b.seen);
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

impl Handler<Lease> for RouterActor {
    type Result = Result<LeaseGrant, Unavailable>;

    fn handle(&mut self, msg: Lease, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let ask = Ask {
            provider: &msg.provider,
            model: &msg.model,
            exclude: &msg.exclude,
            session: msg.session.as_deref(),
            tokens: msg.tokens,
        };
        let picked = self.table.lease_ask(&ask, now, &mut rand::rng())?;
        if let Some(tx) = &self.sessions_out {
            for b in self.table.take_told() {
                // Closed only while the daemon stops.
                let _ = tx.send(b);
            }
        }
        let a = self.table.account(picked.index).ok_or(Unavailable::NoAccounts)?;
        let provider = self.table.provider(&msg.provider);
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
}

impl Handler<AccountChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, _: &mut Context<Self>) {
        self.table.set_health(msg.id, msg.health);
    }
}

impl Handler<BreakerChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: BreakerChanged, _: &mut Context<Self>) {
        self.table.set_breaker(&msg.provider, msg.state);
    }
}

impl Handler<QuotaChanged> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: QuotaChanged, _: &mut Context<Self>) {
        self.table.set_quota(msg.id, msg.view);
    }
}

impl Handler<Reload> for RouterActor {
    type Result = ();

    fn handle(&mut self, msg: Reload, _: &mut Context<Self>) {
        self.sticky_limit = msg.sticky_limit;
        self.table.reload(msg.accounts, msg.providers, msg.sticky_limit);
        self.table.set_session_policy(msg.sessions, now_ms());
    }
}

impl Handler<GetSessionCount> for RouterActor {
    type Result = usize;

    fn handle(&mut self, _: GetSessionCount, _: &mut Context<Self>) -> usize {
        self.table.sessions().len()
    }
}

impl Handler<GetRoutingView> for RouterActor {
    type Result = MessageResult<GetRoutingView>;

    fn handle(&mut self, _: GetRoutingView, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let view = self
            .table
            .accounts()
            .iter()
            .map(|a| {
                let b = self.table.provider(&a.provider).map(|p| p.breaker).unwrap_or_default();
                let quota_until = self.table.quota(a.id).map_or(0, |q| q.blocked_until).max(0);
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
                    paced_until: self.table.paced_until(a, now),
                    quota_blocked_until: quota_until,
                    quota_reason: self.table.quota(a.id).filter(|_| quota_until > 0).and_then(|q| q.reason.clone()),
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

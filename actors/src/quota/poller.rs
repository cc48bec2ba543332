//! The quota poller: a task actor per subscription account whose provider has a usage endpoint.
//! On a slow timer it asks the root crate's `UsageSource` for the account's windows and hands
//! them to the account's quota tracker. A failed poll is logged and waits for the next tick.

use std::rc::Rc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, ResponseActFuture, SpawnHandle, Supervised,
    WrapFuture,
};
use futures_util::future::LocalBoxFuture;

use super::Observation;
use super::actor::QuotaTracker;
use super::messages::Observe;

/// Reads an account's quota from its provider's usage endpoint (implemented by the root crate).
pub trait UsageSource: 'static {
    /// One poll.
    fn poll(&self) -> LocalBoxFuture<'static, Result<Observation, String>>;
}

/// Polls now (the dashboard's refresh, tests); answers when the windows reached the tracker.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<(), String>")]
pub struct PollNow;

/// A new polling period (settings edited at run time); zero stops polling.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SetPollEvery(pub Duration);

/// One account's usage poller.
pub struct QuotaPoller {
    account_id: i64,
    source: Rc<dyn UsageSource>,
    tracker: Addr<QuotaTracker>,
    every: Duration,
    busy: bool,
    timer: Option<SpawnHandle>,
    /// Several instances on this PostgreSQL: poll only when this one claims the turn.
    claim: Option<sea_orm::DatabaseConnection>,
}

impl std::fmt::Debug for QuotaPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaPoller").field("account_id", &self.account_id).field("every", &self.every).finish()
    }
}

impl QuotaPoller {
    /// A poller asking `source` every `every` (the first time after a jitter of up to a tenth
    /// of it); a zero `every` only polls on `PollNow`.
    pub fn new(account_id: i64, source: Rc<dyn UsageSource>, tracker: Addr<QuotaTracker>, every: Duration) -> Self {
        Self { account_id, source, tracker, every, busy: false, timer: None, claim: None }
    }

    /// Polls once per cluster: only when this instance claims the turn in `db` (PostgreSQL).
    pub fn once_per_cluster(mut self, db: sea_orm::DatabaseConnection) -> Self {
        self.claim = Some(db);
        self
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        use rand::RngExt;
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        if self.every.is_zero() {
            return;
        }
        let spread = u64::try_from(self.every.as_millis() / 10).unwrap_or(0).max(1);
        let first = Duration::from_millis(rand::rng().random_range(0..spread));
        self.timer = Some(ctx.run_later(first, |act, ctx| {
            act.tick(ctx);
            act.timer = Some(ctx.run_interval(act.every, |act, ctx| act.tick(ctx)));
        }));
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let source = Rc::clone(&self.source);
        let (claim, id) = (self.claim.clone(), self.account_id);
        let every = i64::try_from(self.every.as_millis()).unwrap_or(i64::MAX / 4);
        let turn = async move {
            let Some(db) = claim else { return true };
            // A database that cannot say whose turn it is: poll anyway (at worst once per instance).
            super::persist::claim_poll(&db, id, crate::clock::now_ms(), every).await.unwrap_or(true)
        };
        ctx.spawn(async move { if turn.await { Some(source.poll().await) } else { None } }.into_actor(self).map(
            |res, act, _| {
                act.busy = false;
                if let Some(res) = res {
                    let _ = act.deliver(res);
                }
            },
        ));
    }

    fn deliver(&self, res: Result<Observation, String>) -> Result<(), String> {
        match res {
            Ok(obs) => {
                if !obs.is_empty() {
                    self.tracker.do_send(Observe(obs));
                }
                Ok(())
            }
            Err(e) => {
                tracing::debug!(account = self.account_id, error = %e, "polling the usage endpoint failed");
                Err(e)
            }
        }
    }
}

impl Actor for QuotaPoller {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule(ctx);
    }
}

impl Supervised for QuotaPoller {
    fn restarting(&mut self, _: &mut Self::Context) {
        self.busy = false;
        self.timer = None;
    }
}

impl Handler<SetPollEvery> for QuotaPoller {
    type Result = ();

    fn handle(&mut self, msg: SetPollEvery, ctx: &mut Context<Self>) {
        if msg.0 != self.every {
            self.every = msg.0;
            self.schedule(ctx);
        }
    }
}

impl Handler<PollNow> for QuotaPoller {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, _: PollNow, _: &mut Context<Self>) -> Self::Result {
        let source = Rc::clone(&self.source);
        Box::pin(async move { source.poll().await }.into_actor(self).map(|res, act, _| act.deliver(res)))
    }
}

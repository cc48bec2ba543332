//! The breaker actor: one per provider. Applies outcomes, writes changes through SeaORM and tells
//! the router; after a supervised restart it reloads from the database.

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, MessageResult, Recipient, Supervised, WrapFuture};
use sea_orm::DatabaseConnection;

use super::BreakerState;
use super::messages::{BreakerOutcome, GetBreaker, ResetBreaker};
use crate::clock::now_ms;
use crate::outcome::ResiliencePolicy;
use crate::persist;
use crate::router::messages::BreakerChanged;

/// One provider's circuit breaker.
#[derive(Debug)]
pub struct BreakerActor {
    provider: String,
    state: BreakerState,
    policy: ResiliencePolicy,
    db: Option<DatabaseConnection>,
    router: Recipient<BreakerChanged>,
    reload_on_start: bool,
}

impl BreakerActor {
    /// A breaker starting from `state`.
    pub fn new(
        provider: String,
        state: BreakerState,
        policy: ResiliencePolicy,
        db: Option<DatabaseConnection>,
        router: Recipient<BreakerChanged>,
    ) -> Self {
        Self { provider, state, policy, db, router, reload_on_start: false }
    }

    fn publish(&self) {
        self.router.do_send(BreakerChanged { provider: self.provider.clone(), state: self.state });
        if let Some(db) = self.db.clone() {
            let (p, s) = (self.provider.clone(), self.state);
            actix_rt::spawn(async move {
                if let Err(e) = persist::save_breaker(&db, &p, &s).await {
                    tracing::warn!(provider = %p, error = %e, "saving breaker state failed");
                }
            });
        }
    }
}

impl Actor for BreakerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if !self.reload_on_start {
            return;
        }
        let Some(db) = self.db.clone() else { return };
        ctx.wait(async move { persist::load_breakers(&db).await }.into_actor(self).map(|res, act, _| match res {
            Ok(mut all) => {
                act.state = all.remove(&act.provider).unwrap_or_default();
                act.router.do_send(BreakerChanged { provider: act.provider.clone(), state: act.state });
            }
            Err(e) => tracing::warn!(provider = %act.provider, error = %e, "reloading breaker failed"),
        }));
    }
}

impl Supervised for BreakerActor {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!(provider = %self.provider, "breaker actor restarting");
        self.reload_on_start = true;
    }
}

impl Handler<BreakerOutcome> for BreakerActor {
    type Result = ();

    fn handle(&mut self, msg: BreakerOutcome, _: &mut Context<Self>) {
        let now = now_ms();
        let was = self.state.phase_at(now);
        if self.state.apply(msg.kind, now, &self.policy) {
            let is = self.state.phase_at(now);
            if was != is {
                tracing::warn!(provider = %self.provider, from = was.as_str(), to = is.as_str(), "circuit breaker changed");
            }
            self.publish();
        }
    }
}

impl Handler<ResetBreaker> for BreakerActor {
    type Result = ();

    fn handle(&mut self, _: ResetBreaker, _: &mut Context<Self>) {
        self.state.reset();
        self.publish();
    }
}

impl Handler<GetBreaker> for BreakerActor {
    type Result = MessageResult<GetBreaker>;

    fn handle(&mut self, _: GetBreaker, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state)
    }
}

//! The breaker actor: one per provider. Applies outcomes, writes changes through SeaORM and tells
//! the router. A panic in the state machine is caught: the actor stops, its `Supervisor` restarts
//! it, and `started()` reloads the persisted breaker, discarding the half-updated one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, MessageResult, Recipient, Supervised,
    WrapFuture,
};
use sea_orm::DatabaseConnection;

use super::BreakerState;
use super::messages::{Adopt, BreakerOutcome, GetBreaker, ResetBreaker, SetPolicy};
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
    /// Told after each write, so other instances on the same database re-read it.
    announce: persist::Announce,
    /// Writes the state in order (started at the first change).
    saver: Option<persist::Saver<BreakerState>>,
    /// Test hook: the next guarded step scrambles the state and panics.
    #[cfg(feature = "fault-injection")]
    panic_next: bool,
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
        Self {
            provider,
            state,
            policy,
            db,
            router,
            reload_on_start: false,
            announce: None,
            saver: None,
            #[cfg(feature = "fault-injection")]
            panic_next: false,
        }
    }

    /// Announces each write of this breaker on `announce` (several instances).
    pub fn announcing(mut self, announce: persist::Announce) -> Self {
        self.announce = announce;
        self
    }

    /// Runs one state-machine step under `catch_unwind`. On a panic the state may be half
    /// updated: log it and stop, so the supervisor restarts this actor from the persisted state.
    fn guarded(&mut self, ctx: &mut Context<Self>, step: impl FnOnce(&mut Self)) {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            self.injected_fault();
            step(self)
        }));
        if let Err(payload) = caught {
            tracing::error!(
                provider = %self.provider,
                panic = crate::account::actor::panic_message(payload.as_ref()),
                "breaker actor panicked: restarting it from its persisted state"
            );
            ctx.stop();
        }
    }

    #[cfg(feature = "fault-injection")]
    fn injected_fault(&mut self) {
        if std::mem::take(&mut self.panic_next) {
            // What a bug half-way through `apply` leaves behind: a state nobody persisted.
            self.state = BreakerState::default();
            panic!("injected breaker actor fault");
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn injected_fault(&mut self) {}

    fn publish(&mut self) {
        self.router.do_send(BreakerChanged { provider: self.provider.clone(), state: self.state });
        if self.saver.is_none()
            && let Some(db) = self.db.clone()
        {
            let (p, announce) = (self.provider.clone(), self.announce.clone());
            self.saver = Some(persist::Saver::start(move |s: BreakerState| {
                let (db, p, announce) = (db.clone(), p.clone(), announce.clone());
                async move {
                    match persist::save_breaker(&db, &p, &s).await {
                        Ok(()) => {
                            if let Some(tx) = announce {
                                // Closed only while the daemon stops: nobody is left to tell.
                                let _ = tx.send(persist::Written::Breaker(p));
                            }
                        }
                        Err(e) => tracing::warn!(provider = %p, error = %e, "saving breaker state failed"),
                    }
                }
            }));
        }
        if let Some(s) = &self.saver {
            s.save(self.state);
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

    fn handle(&mut self, msg: BreakerOutcome, ctx: &mut Context<Self>) {
        self.guarded(ctx, |act| {
            let now = now_ms();
            let was = act.state.phase_at(now);
            if act.state.apply_streak(msg.kind, msg.streak, now, &act.policy) {
                let is = act.state.phase_at(now);
                if was != is {
                    tracing::warn!(provider = %act.provider, from = was.as_str(), to = is.as_str(), "circuit breaker changed");
                }
                act.publish();
            } else if msg.probe {
                // No verdict (the client left, a 429, ...): the state stands, the probe slot is free.
                act.router.do_send(BreakerChanged { provider: act.provider.clone(), state: act.state });
            }
        });
    }
}

impl Handler<ResetBreaker> for BreakerActor {
    type Result = ();

    fn handle(&mut self, _: ResetBreaker, ctx: &mut Context<Self>) {
        self.guarded(ctx, |act| {
            act.state.reset();
            act.publish();
        });
    }
}

impl Handler<Adopt> for BreakerActor {
    type Result = ();

    fn handle(&mut self, msg: Adopt, _: &mut Context<Self>) {
        // Another instance wrote it: the router hears it, nothing is written back.
        self.state = msg.0;
        self.router.do_send(BreakerChanged { provider: self.provider.clone(), state: self.state });
    }
}

impl Handler<SetPolicy> for BreakerActor {
    type Result = ();

    fn handle(&mut self, msg: SetPolicy, _: &mut Context<Self>) {
        // Kept across a supervised restart: the actor value itself survives it.
        self.policy = msg.0;
    }
}

impl Handler<GetBreaker> for BreakerActor {
    type Result = MessageResult<GetBreaker>;

    fn handle(&mut self, _: GetBreaker, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state)
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<super::messages::InjectPanic> for BreakerActor {
    type Result = ();

    fn handle(&mut self, _: super::messages::InjectPanic, _: &mut Context<Self>) {
        self.panic_next = true;
    }
}

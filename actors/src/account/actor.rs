//! The account actor: one per provider account. Applies outcomes to its health, writes changes
//! through SeaORM and tells the router. A panic in the state machine is caught (a panic would
//! otherwise drop the actor for good, mailbox and all): the actor stops, its `Supervisor` restarts
//! it, and `started()` reloads the persisted health, discarding the half-updated one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Recipient, Supervised, WrapFuture};
use sea_orm::DatabaseConnection;

use super::AccountHealth;
use super::Streaks;
use super::messages::{AccountFault, AccountOutcome, Adopt, GetAccount, ResetAccount, SetPolicy};
use crate::clock::now_ms;
use crate::outcome::{OutcomeKind, ResiliencePolicy};
use crate::persist;
use crate::router::messages::AccountChanged;

/// One provider account.
#[derive(Debug)]
pub struct AccountActor {
    id: i64,
    health: AccountHealth,
    policy: ResiliencePolicy,
    db: Option<DatabaseConnection>,
    router: Recipient<AccountChanged>,
    reload_on_start: bool,
    /// Told after each write, so other instances on the same database re-read it.
    announce: persist::Announce,
    /// Writes the health in order (started at the first change).
    saver: Option<persist::Saver<AccountHealth>>,
    /// Test hook: the next guarded step scrambles the health and panics.
    #[cfg(feature = "fault-injection")]
    panic_next: bool,
}

impl AccountActor {
    /// An actor starting from `health` (already loaded by the caller).
    pub fn new(
        id: i64,
        health: AccountHealth,
        policy: ResiliencePolicy,
        db: Option<DatabaseConnection>,
        router: Recipient<AccountChanged>,
    ) -> Self {
        Self {
            id,
            health,
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

    /// Announces each write of this account's health on `announce` (several instances).
    pub fn announcing(mut self, announce: persist::Announce) -> Self {
        self.announce = announce;
        self
    }

    /// Runs one state-machine step under `catch_unwind`. On a panic the health may be half
    /// updated: log it and stop, so the supervisor restarts this actor from the persisted state.
    fn guarded(&mut self, ctx: &mut Context<Self>, step: impl FnOnce(&mut Self)) {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            self.injected_fault();
            step(self)
        }));
        if let Err(payload) = caught {
            tracing::error!(
                account = self.id,
                panic = panic_message(payload.as_ref()),
                "account actor panicked: restarting it from its persisted state"
            );
            ctx.stop();
        }
    }

    #[cfg(feature = "fault-injection")]
    fn injected_fault(&mut self) {
        if std::mem::take(&mut self.panic_next) {
            // What a bug half-way through `apply` leaves behind: a state nobody persisted.
            self.health = AccountHealth::default();
            panic!("injected account actor fault");
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn injected_fault(&mut self) {}

    fn publish(&mut self) {
        self.router.do_send(AccountChanged { id: self.id, health: self.health.clone() });
        if self.saver.is_none()
            && let Some(db) = self.db.clone()
        {
            let (id, announce) = (self.id, self.announce.clone());
            self.saver = Some(persist::Saver::start(move |h: AccountHealth| {
                let (db, announce) = (db.clone(), announce.clone());
                async move {
                    match persist::save_account(&db, id, &h).await {
                        Ok(()) => {
                            if let Some(tx) = announce {
                                // Closed only while the daemon stops: nobody is left to tell.
                                let _ = tx.send(persist::Written::Account(id));
                            }
                        }
                        Err(e) => tracing::warn!(account = id, error = %e, "saving account state failed"),
                    }
                }
            }));
        }
        if let Some(s) = &self.saver {
            s.save(self.health.clone());
        }
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if !self.reload_on_start {
            return;
        }
        let Some(db) = self.db.clone() else { return };
        let id = self.id;
        // Hold the mailbox until the persisted state is back, so no outcome is applied to a stale state.
        ctx.wait(async move { persist::load_account(&db, id).await }.into_actor(self).map(|res, act, _| match res {
            Ok(h) => {
                act.health = h;
                act.router.do_send(AccountChanged { id: act.id, health: act.health.clone() });
            }
            Err(e) => tracing::warn!(account = act.id, error = %e, "reloading account state failed"),
        }));
    }
}

impl Supervised for AccountActor {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!(account = self.id, "account actor restarting");
        self.reload_on_start = true;
    }
}

impl AccountActor {
    fn outcome(&mut self, ctx: &mut Context<Self>, kind: OutcomeKind, model: &str, streaks: Streaks) {
        self.guarded(ctx, |act| {
            if act.health.apply_in(kind, model, streaks, now_ms(), &act.policy) {
                tracing::debug!(
                    account = act.id,
                    outcome = kind.label(),
                    cooldown_until = act.health.cooldown_until,
                    disabled = act.health.disabled.as_deref(),
                    "account health changed"
                );
                act.publish();
            }
        });
    }
}

impl Handler<AccountOutcome> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: AccountOutcome, ctx: &mut Context<Self>) {
        self.outcome(ctx, msg.kind, &msg.model, Streaks::default());
    }
}

impl Handler<AccountFault> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: AccountFault, ctx: &mut Context<Self>) {
        self.outcome(ctx, msg.kind, &msg.model, msg.streaks);
    }
}

impl Handler<ResetAccount> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: ResetAccount, ctx: &mut Context<Self>) {
        self.guarded(ctx, |act| {
            let last = act.health.last_used_at;
            act.health = AccountHealth { last_used_at: last, ..AccountHealth::default() };
            act.publish();
        });
    }
}

impl Handler<Adopt> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: Adopt, _: &mut Context<Self>) {
        // Another instance wrote it: the router hears it, nothing is written back.
        self.health = msg.0;
        self.router.do_send(AccountChanged { id: self.id, health: self.health.clone() });
    }
}

impl Handler<SetPolicy> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: SetPolicy, _: &mut Context<Self>) {
        // Kept across a supervised restart: the actor value itself survives it.
        self.policy = msg.0;
    }
}

impl Handler<GetAccount> for AccountActor {
    type Result = actix::MessageResult<GetAccount>;

    fn handle(&mut self, _: GetAccount, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.health.clone())
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<super::messages::InjectPanic> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: super::messages::InjectPanic, _: &mut Context<Self>) {
        self.panic_next = true;
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-text panic payload")
}

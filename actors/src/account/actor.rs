//! The account actor: one per provider account. Applies outcomes to its health, writes changes
//! through SeaORM and tells the router; after a supervised restart it reloads from the database.

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Recipient, Supervised, WrapFuture};
use sea_orm::DatabaseConnection;

use super::AccountHealth;
use super::messages::{AccountOutcome, GetAccount, ResetAccount};
use crate::clock::now_ms;
use crate::outcome::ResiliencePolicy;
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
        Self { id, health, policy, db, router, reload_on_start: false }
    }

    fn publish(&self) {
        self.router.do_send(AccountChanged { id: self.id, health: self.health.clone() });
        if let Some(db) = self.db.clone() {
            let (id, h) = (self.id, self.health.clone());
            actix_rt::spawn(async move {
                if let Err(e) = persist::save_account(&db, id, &h).await {
                    tracing::warn!(account = id, error = %e, "saving account state failed");
                }
            });
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

impl Handler<AccountOutcome> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: AccountOutcome, _: &mut Context<Self>) {
        if self.health.apply(msg.kind, now_ms(), &self.policy) {
            tracing::debug!(
                account = self.id,
                outcome = msg.kind.label(),
                cooldown_until = self.health.cooldown_until,
                "account health changed"
            );
            self.publish();
        }
    }
}

impl Handler<ResetAccount> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: ResetAccount, _: &mut Context<Self>) {
        let last = self.health.last_used_at;
        self.health = AccountHealth { last_used_at: last, ..AccountHealth::default() };
        self.publish();
    }
}

impl Handler<GetAccount> for AccountActor {
    type Result = actix::MessageResult<GetAccount>;

    fn handle(&mut self, _: GetAccount, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.health.clone())
    }
}

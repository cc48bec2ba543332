//! The quota tracker: one actor per account. It folds what upstreams say about the account's
//! quota into its windows, tells the router when the routing view changes (an exhausted window
//! keeps the account out until its reset; a window near its limit puts the account last), saves
//! the windows, and wakes itself at the next reset.

use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, MessageResult, Recipient, SpawnHandle, Supervised,
    WrapFuture,
};
use sea_orm::DatabaseConnection;

use super::messages::{AdoptWindows, GetQuota, Observe, QuotaChanged, QuotaSnapshot, Retire, SetQuotaConfig};
use super::{Change, QuotaConfig, QuotaState, QuotaView, Window, persist};
use crate::clock::now_ms;

/// Used shares that only drift are saved at most this often.
const DRIFT_SAVE_EVERY: Duration = Duration::from_secs(30);
/// The reset timer re-checks at least this often (clock jumps, very long windows).
const MAX_SLEEP_MS: i64 = 3600 * 1000;

/// One account's quota tracker.
#[derive(Debug)]
pub struct QuotaTracker {
    id: i64,
    subject: String,
    state: QuotaState,
    db: Option<DatabaseConnection>,
    router: Option<Recipient<QuotaChanged>>,
    published: QuotaView,
    save_timer: Option<SpawnHandle>,
    reset_timer: Option<SpawnHandle>,
    reload_on_start: bool,
    /// Retired (its account was deleted): no timer, no write, no message.
    retired: bool,
    /// Where each write is announced (several instances).
    announce: crate::persist::Announce,
}

impl QuotaTracker {
    /// A tracker for account `id` starting from its stored windows.
    pub fn new(
        id: i64,
        windows: Vec<Window>,
        cfg: QuotaConfig,
        db: Option<DatabaseConnection>,
        router: Option<Recipient<QuotaChanged>>,
    ) -> Self {
        Self {
            id,
            subject: persist::account_subject(id),
            state: QuotaState::new(windows, cfg),
            db,
            router,
            published: QuotaView::default(),
            save_timer: None,
            reset_timer: None,
            retired: false,
            reload_on_start: false,
            announce: None,
        }
    }

    /// Announces each write of the windows on `announce` (several instances).
    pub fn announcing(mut self, announce: crate::persist::Announce) -> Self {
        self.announce = announce;
        self
    }

    /// Tells the router when the view changed (always once at start, so a restarted daemon
    /// keeps skipping an exhausted account).
    fn publish(&mut self, force: bool) {
        let view = self.state.view(now_ms());
        if force || view != self.published {
            if view.blocked_until > 0 && view.blocked_until != self.published.blocked_until {
                tracing::info!(account = self.id, until = view.blocked_until, reason = ?view.reason, "quota exhausted: account skipped until the reset");
            }
            self.published = view.clone();
            if let Some(r) = &self.router {
                r.do_send(QuotaChanged { id: self.id, view });
            }
        }
    }

    fn save_now(&mut self, ctx: &mut Context<Self>) {
        if let Some(t) = self.save_timer.take() {
            ctx.cancel_future(t);
        }
        let Some(db) = self.db.clone() else { return };
        let (subject, id, announce) = (self.subject.clone(), self.id, self.announce.clone());
        let windows: Vec<Window> = self.state.windows().cloned().collect();
        actix_rt::spawn(async move {
            match persist::save(&db, &subject, &windows, now_ms()).await {
                Ok(()) => {
                    if let Some(tx) = announce {
                        // Closed only while the daemon stops.
                        let _ = tx.send(crate::persist::Written::Quota(id));
                    }
                }
                Err(e) => tracing::warn!(account = id, error = %e, "saving quota windows failed"),
            }
        });
    }

    fn save_soon(&mut self, ctx: &mut Context<Self>) {
        if self.save_timer.is_none() && !self.retired {
            self.save_timer = Some(ctx.run_later(DRIFT_SAVE_EVERY, |act, ctx| {
                act.save_timer = None;
                act.save_now(ctx);
            }));
        }
    }

    fn schedule_reset(&mut self, ctx: &mut Context<Self>) {
        if let Some(t) = self.reset_timer.take() {
            ctx.cancel_future(t);
        }
        if self.retired {
            return;
        }
        let now = now_ms();
        let Some(at) = self.state.next_change(now) else { return };
        let delay = u64::try_from((at - now).clamp(0, MAX_SLEEP_MS)).unwrap_or(0);
        self.reset_timer = Some(ctx.run_later(Duration::from_millis(delay), |act, ctx| {
            act.reset_timer = None;
            if act.state.expire(now_ms()) {
                act.save_now(ctx);
            }
            act.publish(false);
            act.schedule_reset(ctx);
        }));
    }
}

impl Handler<Retire> for QuotaTracker {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        self.retired = true;
        self.db = None;
        self.router = None;
        if let Some(t) = self.save_timer.take() {
            ctx.cancel_future(t);
        }
        self.schedule_reset(ctx);
    }
}

impl Actor for QuotaTracker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        match (self.reload_on_start, self.db.clone()) {
            (true, Some(db)) => {
                let subject = self.subject.clone();
                ctx.wait(async move { persist::load(&db, &subject).await }.into_actor(self).map(|res, act, ctx| {
                    match res {
                        Ok(windows) => act.state = QuotaState::new(windows, act.state.config()),
                        Err(e) => tracing::warn!(account = act.id, error = %e, "reloading quota windows failed"),
                    }
                    act.state.expire(now_ms());
                    act.publish(true);
                    act.schedule_reset(ctx);
                }));
            }
            (true, None) | (false, _) => {
                self.state.expire(now_ms());
                self.publish(true);
                self.schedule_reset(ctx);
            }
        }
    }
}

impl Supervised for QuotaTracker {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!(account = self.id, "quota tracker restarting");
        self.reload_on_start = true;
        self.save_timer = None;
        self.reset_timer = None;
    }
}

impl Handler<Observe> for QuotaTracker {
    type Result = ();

    fn handle(&mut self, msg: Observe, ctx: &mut Context<Self>) {
        let now = now_ms();
        let expired = self.state.expire(now);
        match self.state.observe(&msg.0, now) {
            Change::Shift => {
                self.save_now(ctx);
                self.publish(false);
                self.schedule_reset(ctx);
            }
            Change::Drift => {
                self.save_soon(ctx);
                self.publish(false);
            }
            Change::None if expired => {
                self.save_now(ctx);
                self.publish(false);
            }
            Change::None => {}
        }
    }
}

impl Handler<AdoptWindows> for QuotaTracker {
    type Result = ();

    fn handle(&mut self, msg: AdoptWindows, ctx: &mut Context<Self>) {
        if self.retired || !self.state.adopt(msg.0) {
            return;
        }
        self.publish(false);
        self.schedule_reset(ctx);
    }
}

impl Handler<SetQuotaConfig> for QuotaTracker {
    type Result = ();

    fn handle(&mut self, msg: SetQuotaConfig, ctx: &mut Context<Self>) {
        self.state.set_config(msg.0);
        self.publish(false);
        self.schedule_reset(ctx);
    }
}

impl Handler<GetQuota> for QuotaTracker {
    type Result = MessageResult<GetQuota>;

    fn handle(&mut self, _: GetQuota, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        MessageResult(QuotaSnapshot { windows: self.state.windows().cloned().collect(), view: self.state.view(now) })
    }
}

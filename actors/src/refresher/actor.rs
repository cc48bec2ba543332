//! The token refresher: one supervised task actor per OAuth account. It refreshes ahead of
//! expiry on its own timer, runs at most one refresh call at a time (every caller that finds the
//! token stale, or hits a 401, waits for that one call), saves rotated tokens before anyone uses
//! them, backs off on passing failures and disables the account on a final one.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, MessageResult, ResponseFuture, SpawnHandle, Supervised,
    WrapFuture,
};
use rand::RngExt;
use tokio::sync::oneshot;

use super::messages::{
    ConfirmWorking, GetRefresherStatus, GetToken, MarkReauthRequired, RefreshRejected, ReplaceTokens, Retire,
};
use super::{Lifecycle, RefreshError, SessionStatus, Timing, TokenCell, TokenError, TokenSource, Tokens, stale};
use crate::clock::now_ms;

/// The longest the timer sleeps in one go (it re-checks after that).
const MAX_SLEEP_MS: i64 = 6 * 3600 * 1000;

type Answer = Result<Arc<Tokens>, TokenError>;

/// A caller waiting for the refresh out.
struct Waiter {
    tx: oneshot::Sender<Answer>,
    /// Only tokens newer than this generation will do (the caller's token was refused).
    after: Option<i64>,
}

/// What one refresh round ended with.
#[derive(Default)]
struct Round {
    /// New tokens, saved (or adopted from the store): they go into force.
    tokens: Option<Tokens>,
    /// Tokens obtained but not saved, and why.
    unsaved: Option<(Tokens, String)>,
    /// Why the round failed.
    error: Option<RefreshError>,
}

/// One OAuth account's token refresher.
pub struct TokenRefresher {
    account_id: i64,
    life: Lifecycle,
    source: Rc<dyn TokenSource>,
    cell: TokenCell,
    waiters: Vec<Waiter>,
    timer: Option<SpawnHandle>,
    /// Retired: never refreshes again (kept across a supervisor restart).
    retired: bool,
}

impl std::fmt::Debug for TokenRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRefresher").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

impl TokenRefresher {
    /// A refresher for `account_id` starting from its stored tokens, publishing into `cell`
    /// (made with `TokenCell::new` by the caller, who hands it to request handlers).
    pub fn new(
        account_id: i64,
        tokens: Tokens,
        status: SessionStatus,
        reason: Option<String>,
        timing: Timing,
        source: Rc<dyn TokenSource>,
        cell: TokenCell,
    ) -> Self {
        let mut life = Lifecycle::new(tokens, status, reason, timing);
        let max = life.max_jitter();
        life.set_jitter(if max > 0 { rand::rng().random_range(0..=max) } else { 0 });
        cell.set(Arc::clone(life.tokens()));
        cell.set_dead(life.dead().is_some());
        Self { account_id, life, source, cell, waiters: Vec::new(), timer: None, retired: false }
    }

    /// Tokens a request may use now, if the current ones will do.
    fn usable(&self, now: i64, after: Option<i64>) -> Option<Arc<Tokens>> {
        let t = self.life.tokens();
        let newer = after.is_none_or(|g| t.generation > g);
        (newer && !self.life.stale(now) && !self.source.needs_prepare(t)).then(|| Arc::clone(t))
    }

    fn wait(&mut self, after: Option<i64>) -> ResponseFuture<Answer> {
        let (tx, rx) = oneshot::channel();
        self.waiters.push(Waiter { tx, after });
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| Err(TokenError::Unavailable("the token refresher restarted".into())))
        })
    }

    /// Starts a refresh round unless one is out (or the account is dead).
    fn kick(&mut self, ctx: &mut Context<Self>, force: bool) {
        let now = now_ms();
        if self.retired {
            self.answer(now);
            return;
        }
        let due = force || self.life.due(now) || self.source.needs_prepare(self.life.tokens());
        if !due && self.life.unsaved().is_none() {
            self.schedule(ctx);
            return;
        }
        if !self.life.begin() {
            return;
        }
        let source = Rc::clone(&self.source);
        let current = Arc::clone(self.life.tokens());
        let unsaved = self.life.unsaved().cloned();
        let timing = self.life.timing();
        let fut = run_round(source, current, unsaved, timing, force);
        ctx.spawn(fut.into_actor(self).map(|round, act, ctx| act.settle(round, ctx)));
    }

    fn settle(&mut self, round: Round, ctx: &mut Context<Self>) {
        let now = now_ms();
        if let Some((t, e)) = round.unsaved {
            tracing::warn!(account = self.account_id, error = %e, "refreshed tokens could not be saved: retrying the save");
            self.life.unsaved_tokens(t, e, now);
        } else {
            match round.tokens {
                Some(t) => {
                    let max = (t.expires_at.unwrap_or(t.obtained_at) - t.obtained_at).max(0) / 20;
                    let t = self.life.succeeded(t, now);
                    let jitter = max.min(self.life.timing().jitter_max_ms);
                    self.life.set_jitter(if jitter > 0 { rand::rng().random_range(0..=jitter) } else { 0 });
                    tracing::info!(account = self.account_id, generation = t.generation, "OAuth tokens refreshed");
                    self.cell.set(t);
                    self.cell.set_dead(false);
                }
                None => self.life.idle(),
            }
            if let Some(e) = round.error {
                self.fail(e, now);
            }
        }
        self.answer(now);
        self.schedule(ctx);
    }

    fn fail(&mut self, e: RefreshError, now: i64) {
        match &e {
            RefreshError::Revoked(reason) => {
                tracing::warn!(account = self.account_id, reason = %reason, "OAuth refresh refused for good: disabling the account");
                self.cell.set_dead(true);
                let (source, reason) = (Rc::clone(&self.source), reason.clone());
                let id = self.account_id;
                actix_rt::spawn(async move {
                    if let Err(e) = source.set_status(SessionStatus::Disabled, Some(reason)).await {
                        tracing::warn!(account = id, error = %e, "recording the disabled account failed");
                    }
                });
            }
            RefreshError::Transient(msg) => {
                tracing::warn!(account = self.account_id, error = %msg, "OAuth refresh failed: retrying with backoff");
            }
        }
        self.life.failed(e, now);
    }

    /// Answers every waiter the current state can answer; the rest wait for the next round.
    fn answer(&mut self, now: i64) {
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            if let Some(reason) = self.life.dead() {
                let _ = w.tx.send(Err(TokenError::Revoked(reason.to_string())));
            } else if let Some(t) = self.usable(now, w.after) {
                let _ = w.tx.send(Ok(t));
            } else {
                let why = self.life.report().last_error.unwrap_or_else(|| "the token could not be refreshed".into());
                let _ = w.tx.send(Err(TokenError::Unavailable(why)));
            }
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        if self.retired {
            return;
        }
        let Some(at) = self.life.next_wake() else { return };
        let delay = at.saturating_sub(now_ms()).clamp(0, MAX_SLEEP_MS);
        let delay = Duration::from_millis(u64::try_from(delay).unwrap_or(0));
        self.timer = Some(ctx.run_later(delay, |act, ctx| {
            act.timer = None;
            act.kick(ctx, false);
        }));
    }

    fn record_status(&self, status: SessionStatus, reason: Option<String>) {
        let source = Rc::clone(&self.source);
        let id = self.account_id;
        actix_rt::spawn(async move {
            if let Err(e) = source.set_status(status, reason).await {
                tracing::warn!(account = id, error = %e, "recording the account's sign-in status failed");
            }
        });
    }
}

/// One refresh round, off the mailbox: save tokens left unsaved, adopt newer stored tokens,
/// refresh when due, prepare when needed, and save before anything is handed out.
async fn run_round(
    source: Rc<dyn TokenSource>,
    current: Arc<Tokens>,
    unsaved: Option<Arc<Tokens>>,
    timing: Timing,
    force: bool,
) -> Round {
    if let Some(t) = unsaved {
        return match source.persist(Arc::clone(&t)).await {
            Ok(()) => Round { tokens: Some((*t).clone()), ..Round::default() },
            Err(e) => Round { unsaved: Some(((*t).clone(), e)), ..Round::default() },
        };
    }
    let now = now_ms();
    let mut base = Arc::clone(&current);
    let mut changed = false;
    // Someone else may have written newer tokens (a new sign-in, another instance's refresh):
    // spending our refresh token then would only fail, or worse, rotate theirs away.
    if let Ok(Some(stored)) = source.load().await
        && stored.generation > base.generation
    {
        base = Arc::new(stored);
        changed = true;
    }
    let due = super::due_at(&base, &timing, 0).is_some_and(|d| now >= d) || stale(&base, &timing, now);
    if (force && !changed) || due {
        let next = base.generation.max(current.generation) + 1;
        let mut t = match source.refresh(Arc::clone(&base)).await {
            Ok(t) => t,
            Err(e) => return Round { tokens: changed.then(|| (*base).clone()), error: Some(e), ..Round::default() },
        };
        t.generation = next;
        if let Err(e) = source.persist(Arc::new(t.clone())).await {
            return Round { unsaved: Some((t, e)), ..Round::default() };
        }
        base = Arc::new(t);
        changed = true;
    }
    if source.needs_prepare(&base) {
        match source.prepare(Arc::clone(&base)).await {
            Ok(mut t) => {
                t.generation = base.generation + 1;
                if let Err(e) = source.persist(Arc::new(t.clone())).await {
                    return Round { unsaved: Some((t, e)), ..Round::default() };
                }
                base = Arc::new(t);
                changed = true;
            }
            Err(e) => return Round { tokens: changed.then(|| (*base).clone()), error: Some(e), ..Round::default() },
        }
    }
    Round { tokens: changed.then(|| (*base).clone()), ..Round::default() }
}

impl Actor for TokenRefresher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule(ctx);
    }
}

impl Supervised for TokenRefresher {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!(account = self.account_id, "token refresher restarting");
        // The round that was out is gone with the old context; its callers are told.
        self.life.abandon();
        self.timer = None;
        self.waiters.clear();
    }
}

impl Handler<Retire> for TokenRefresher {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        self.retired = true;
        self.schedule(ctx);
    }
}

impl Handler<GetToken> for TokenRefresher {
    type Result = ResponseFuture<Answer>;

    fn handle(&mut self, _: GetToken, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(reason) = self.life.dead() {
            let e = TokenError::Revoked(reason.to_string());
            return Box::pin(async move { Err(e) });
        }
        if let Some(t) = self.usable(now_ms(), None) {
            return Box::pin(async move { Ok(t) });
        }
        if self.life.backing_off(now_ms()) {
            let why = self.life.report().last_error.unwrap_or_default();
            return Box::pin(async move { Err(TokenError::Unavailable(why)) });
        }
        let answer = self.wait(None);
        self.kick(ctx, false);
        answer
    }
}

impl Handler<RefreshRejected> for TokenRefresher {
    type Result = ResponseFuture<Answer>;

    fn handle(&mut self, msg: RefreshRejected, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(reason) = self.life.dead() {
            let e = TokenError::Revoked(reason.to_string());
            return Box::pin(async move { Err(e) });
        }
        if let Some(t) = self.usable(now_ms(), Some(msg.generation)) {
            return Box::pin(async move { Ok(t) });
        }
        if self.life.backing_off(now_ms()) {
            let why = self.life.report().last_error.unwrap_or_default();
            return Box::pin(async move { Err(TokenError::Unavailable(why)) });
        }
        if self.life.tokens().generation > msg.generation {
            // A newer token exists but is not usable yet (stale, or being prepared): a plain
            // round makes it so; refreshing again would only spend it.
            let answer = self.wait(Some(msg.generation));
            self.kick(ctx, false);
            return answer;
        }
        let answer = self.wait(Some(msg.generation));
        self.kick(ctx, true);
        answer
    }
}

impl Handler<MarkReauthRequired> for TokenRefresher {
    type Result = ();

    fn handle(&mut self, msg: MarkReauthRequired, _: &mut Context<Self>) {
        tracing::warn!(account = self.account_id, "the upstream refused the refreshed token: sign-in required");
        self.life.reauth_required(msg.reason.clone());
        self.record_status(self.life.status(), Some(msg.reason));
    }
}

impl Handler<ConfirmWorking> for TokenRefresher {
    type Result = ();

    fn handle(&mut self, _: ConfirmWorking, _: &mut Context<Self>) {
        if self.life.confirmed() {
            self.record_status(SessionStatus::Ok, None);
        }
    }
}

impl Handler<ReplaceTokens> for TokenRefresher {
    type Result = ();

    fn handle(&mut self, msg: ReplaceTokens, ctx: &mut Context<Self>) {
        if msg.tokens.generation <= self.life.tokens().generation && msg.status == self.life.status() {
            return;
        }
        if msg.tokens.generation > self.life.tokens().generation || self.life.dead().is_some() {
            self.life.replace(msg.tokens, msg.status);
            self.cell.set(Arc::clone(self.life.tokens()));
            self.cell.set_dead(self.life.dead().is_some());
            self.answer(now_ms());
            self.schedule(ctx);
        }
    }
}

impl Handler<GetRefresherStatus> for TokenRefresher {
    type Result = MessageResult<GetRefresherStatus>;

    fn handle(&mut self, _: GetRefresherStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.life.report())
    }
}

//! The executor actor: owns its worker thread's `awc::Client`; runs each `Execute` as an
//! independent task so a restart never cuts the streams already flowing. It stops itself on a
//! fault it cannot carry (a panic in stream translation); its `Supervisor` restarts it with a
//! fresh client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Message, ResponseFuture, Supervised};

use tokio::sync::watch;

use super::{ExecOutcome, Execute, ExecutorConfig, run};

/// Counters shared by every executor, for status pages and tests.
#[derive(Debug, Default)]
pub struct ExecutorStats {
    /// Supervised restarts so far.
    pub restarts: AtomicU64,
    /// Faults caught (panics in provider-facing code).
    pub faults: AtomicU64,
    /// Invalid upstream stream frames dropped instead of forwarded.
    pub dropped_frames: AtomicU64,
}

/// A fault the executor cannot carry: it stops so its supervisor restarts it.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Fault;

/// One worker thread's executor.
pub struct ExecutorActor {
    cfg: ExecutorConfig,
    /// The settings as edited at run time; read (one atomic load) before each attempt.
    live: watch::Receiver<ExecutorConfig>,
    client: awc::Client,
    stats: Arc<ExecutorStats>,
    drain: watch::Receiver<bool>,
}

impl std::fmt::Debug for ExecutorActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorActor").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

fn build_client(cfg: &ExecutorConfig) -> awc::Client {
    let connector = awc::Connector::new()
        .connector(super::eof_body::EofAwareConnector::default())
        .timeout(cfg.connect)
        .limit(cfg.max_connections)
        .conn_keep_alive(Duration::from_secs(60))
        .conn_lifetime(Duration::from_secs(600));
    // No total timeout: streams may last minutes. First-byte, idle and (non-streamed) total limits
    // are ours. Redirects are never followed: a 307 would replay the prompt, credentials and all,
    // to whatever host the upstream names.
    awc::Client::builder().connector(connector).disable_timeout().disable_redirects().finish()
}

impl ExecutorActor {
    /// An executor with a fresh client. `drain` turns true when the daemon's shutdown grace is
    /// nearly over: every attempt still running then ends cleanly in its client's dialect.
    /// `live` carries the upstream settings: an edit applies from the next attempt on (a new
    /// connect timeout or pool size gets a new client; attempts running keep theirs).
    pub fn new(
        mut live: watch::Receiver<ExecutorConfig>,
        stats: Arc<ExecutorStats>,
        drain: watch::Receiver<bool>,
    ) -> Self {
        let cfg = *live.borrow_and_update();
        Self { client: build_client(&cfg), cfg, live, stats, drain }
    }

    /// Takes up edited settings, if any.
    fn refresh(&mut self) {
        if !self.live.has_changed().unwrap_or(false) {
            return;
        }
        let next = *self.live.borrow_and_update();
        if next.connect != self.cfg.connect || next.max_connections != self.cfg.max_connections {
            self.client = build_client(&next);
        }
        self.cfg = next;
    }
}

impl Actor for ExecutorActor {
    type Context = Context<Self>;
}

impl Supervised for ExecutorActor {
    fn restarting(&mut self, _: &mut Self::Context) {
        self.stats.restarts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("executor restarting with a fresh upstream client");
        self.client = build_client(&self.cfg);
    }
}

impl Handler<Execute> for ExecutorActor {
    type Result = ResponseFuture<ExecOutcome>;

    fn handle(&mut self, msg: Execute, ctx: &mut Context<Self>) -> Self::Result {
        self.refresh();
        // `ResponseFuture` runs as its own task: it outlives a restart of this actor.
        let env = run::RunEnv {
            cfg: self.cfg,
            faults: ctx.address().recipient(),
            stats: Arc::clone(&self.stats),
            drain: self.drain.clone(),
        };
        Box::pin(run::run(self.client.clone(), msg, env))
    }
}

impl Handler<Fault> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, _: Fault, ctx: &mut Context<Self>) {
        self.stats.faults.fetch_add(1, Ordering::Relaxed);
        ctx.stop();
    }
}

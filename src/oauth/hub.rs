//! The subscription side of the running system: a supervised quota tracker for every account,
//! and for every OAuth account its token refresher (and a usage poller where the provider has a
//! usage endpoint). `Runtime::reload` calls `sync` so these follow the database; request handlers
//! read an account's tokens and observer here without a message.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Addr, Recipient, Supervisor, System};
use actors::executor::ResponseObserver;
use actors::quota::actor::QuotaTracker;
use actors::quota::messages::{GetQuota, Observe, QuotaChanged, QuotaSnapshot, SetQuotaConfig};
use actors::quota::poller::{QuotaPoller, SetPollEvery};
use actors::quota::{Observation, QuotaConfig, persist as quota_persist};
use actors::refresher::actor::TokenRefresher;
use actors::refresher::messages::{GetRefresherStatus, ReplaceTokens};
use actors::refresher::{RefresherStatus, Timing, TokenCell, Tokens};
use awc::http::header::HeaderMap;
use dashmap::DashMap;
use entities::{account, oauth_session};
use sea_orm::DatabaseConnection;
use sea_orm::EntityTrait;

use super::source::{Source, Usage};
use super::store::{self, StoreError};
use super::{Kind, claude_code, codex, copilot, gemini_cli, qwen, ratelimit};
use crate::secrets::Sealer;

/// An OAuth account as request handlers use it.
#[derive(Clone)]
pub struct OAuthAccount {
    /// The provider.
    pub kind: Kind,
    /// The tokens in force.
    pub cell: TokenCell,
    /// Its refresher.
    pub refresher: Addr<TokenRefresher>,
    /// Its usage poller, if the provider has a usage endpoint.
    pub poller: Option<Addr<QuotaPoller>>,
    /// The account's own base URL, if it overrides the provider's.
    pub base_override: Option<String>,
    /// The provider's base URL.
    pub default_base: String,
    /// What the refresher was started with (a change restarts it).
    fingerprint: String,
}

impl OAuthAccount {
    /// Stops its refresher and poller for good (the account went, or they are replaced): their
    /// timers would otherwise keep them alive, refreshing with tokens nobody uses any more.
    fn retire(&self) {
        self.refresher.do_send(actors::refresher::messages::Retire);
        if let Some(p) = &self.poller {
            p.do_send(SetPollEvery(Duration::ZERO));
        }
    }

    /// Where this account's requests go with `tokens`: the account's override, else what the
    /// tokens name (Copilot's API endpoint, Qwen's resource URL), else the provider's default.
    pub fn base(&self, tokens: &Tokens) -> String {
        base_of(self.kind, self.base_override.as_deref(), &self.default_base, tokens)
    }
}

/// See `OAuthAccount::base`.
fn base_of(kind: Kind, base_override: Option<&str>, default_base: &str, tokens: &Tokens) -> String {
    if let Some(b) = base_override {
        return b.to_string();
    }
    match kind {
        Kind::Copilot if tokens.extra_str("api_base").is_some() => copilot::api_base(tokens).to_string(),
        Kind::QwenCode if tokens.extra_str("resource_url").is_some() => qwen::api_base(tokens),
        Kind::ClaudeCode | Kind::Codex | Kind::GeminiCli | Kind::Copilot | Kind::QwenCode => default_base.to_string(),
    }
}

/// One account's subscription actors.
#[derive(Clone)]
struct Entry {
    quota: Addr<QuotaTracker>,
    oauth: Option<OAuthAccount>,
}

/// Feeds an account's quota tracker from upstream answers.
pub struct Observer {
    kind: Option<Kind>,
    quota: Addr<QuotaTracker>,
}

impl ResponseObserver for Observer {
    fn observe(&self, status: u16, headers: &HeaderMap, error_body: Option<&[u8]>) {
        let now = actors::clock::now_ms();
        let mut obs = match self.kind {
            Some(Kind::ClaudeCode) => claude_code::quota(headers),
            Some(Kind::Codex) => codex::quota(headers, now),
            Some(Kind::GeminiCli | Kind::Copilot | Kind::QwenCode) | None => Observation::default(),
        };
        obs.readings.extend(ratelimit::generic(headers, now).readings);
        if status == 429
            && let Some(body) = error_body
        {
            let from_body = match self.kind {
                Some(Kind::Codex) => codex::quota_from_error(body, now),
                Some(Kind::GeminiCli) => gemini_cli::quota_from_error(body, now),
                Some(Kind::ClaudeCode | Kind::Copilot | Kind::QwenCode) | None => Observation::default(),
            };
            obs.readings.extend(from_body.readings);
        }
        if !obs.is_empty() {
            self.quota.do_send(Observe(obs));
        }
    }
}

/// The subscription actors of every account.
pub struct Hub {
    db: DatabaseConnection,
    sealer: Sealer,
    entries: DashMap<i64, Entry>,
    quota_cfg: Mutex<QuotaConfig>,
    timing: Timing,
    poll_every: Mutex<Duration>,
    /// Sign-ins started from the dashboard and not finished yet.
    pub flows: super::pending::Flows,
    /// Sessions that cannot be opened, by account, at the generation that failed (not retried
    /// until it changes).
    unopenable: DashMap<i64, i64>,
    /// Woken when a refresher disabled its account (the runtime reloads at once).
    changed: Arc<tokio::sync::Notify>,
    /// Set when the daemon stops: the watch ends.
    stopped: std::sync::atomic::AtomicBool,
}

/// How often the stored sessions are compared with the running actors.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Reloads the runtime when the stored sessions are ahead of it (a sign-in by the CLI while the
/// daemon runs is live within `WATCH_EVERY`).
pub fn spawn_watch(runtime: Arc<crate::runtime::Runtime>) {
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(WATCH_EVERY);
        let changed = Arc::clone(&runtime.oauth.changed);
        loop {
            let forced = tokio::select! {
                _ = tick.tick() => false,
                () = changed.notified() => true,
            };
            if runtime.oauth.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let behind = if forced { Ok(true) } else { runtime.oauth.behind().await };
            match behind {
                Ok(true) => {
                    if let Err(e) = runtime.reload().await {
                        tracing::warn!(error = %e, "reloading after a sign-in failed");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "reading OAuth sessions failed"),
            }
        }
    });
}

/// What `sync` started and stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HubReport {
    /// Quota trackers started.
    pub trackers_started: usize,
    /// Token refreshers started (or restarted after an endpoint change).
    pub refreshers_started: usize,
    /// Sessions whose newer stored tokens were handed to their refresher.
    pub sessions_replaced: usize,
    /// Accounts let go.
    pub stopped: usize,
}

impl Hub {
    /// An empty hub; `sync` fills it.
    pub fn new(db: DatabaseConnection, sealer: Sealer, quota: QuotaConfig, poll_every: Duration) -> Self {
        Self {
            db,
            sealer,
            entries: DashMap::new(),
            quota_cfg: Mutex::new(quota),
            timing: Timing::default(),
            poll_every: Mutex::new(poll_every),
            flows: super::pending::Flows::default(),
            unopenable: DashMap::new(),
            changed: Arc::new(tokio::sync::Notify::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Brings the actors in line with `accounts` (the stored rows): trackers for new accounts,
    /// refreshers for new OAuth sessions (restarted when their endpoints or base URL changed),
    /// newer stored tokens (a sign-in elsewhere, a changed config seed) handed to running
    /// refreshers, and the actors of removed accounts let go. `defaults` gives a provider's
    /// base URL.
    pub async fn sync(
        &self,
        accounts: &[account::Model],
        defaults: impl Fn(&str) -> Option<String>,
        router: Recipient<QuotaChanged>,
        announce: actors::persist::Announce,
    ) -> Result<HubReport, sea_orm::DbErr> {
        let mut report = HubReport::default();
        let quota_cfg = self.quota_config();
        let arbiter = System::current().arbiter().clone();
        for a in accounts {
            let entry = self.entries.get(&a.id).map(|e| e.value().clone());
            let quota = match &entry {
                Some(e) => e.quota.clone(),
                None => {
                    let windows = quota_persist::load(&self.db, &quota_persist::account_subject(a.id)).await?;
                    let (id, db, r, announce) = (a.id, self.db.clone(), router.clone(), announce.clone());
                    report.trackers_started += 1;
                    Supervisor::start_in_arbiter(&arbiter, move |_| {
                        QuotaTracker::new(id, windows, quota_cfg, Some(db), Some(r)).announcing(announce)
                    })
                }
            };
            let running = entry.and_then(|e| e.oauth);
            let oauth = match Kind::parse(&a.provider) {
                Some(kind) => match self.sync_oauth(a, kind, running.clone(), &quota, &defaults, &mut report).await {
                    Ok(o) => o,
                    Err(StoreError::Db(e)) => return Err(e),
                    Err(e @ (StoreError::Secret(_) | StoreError::Corrupt(_))) => {
                        tracing::warn!(account = a.id, error = %e, "the account's OAuth session cannot be opened: sign in again");
                        if let Ok(Some(r)) = oauth_session::Entity::find_by_id(a.id).one(&self.db).await {
                            self.unopenable.insert(a.id, r.generation);
                        }
                        running
                    }
                },
                None => None,
            };
            self.entries.insert(a.id, Entry { quota, oauth });
        }
        let before = self.entries.len();
        self.entries.retain(|id, e| {
            let keep = accounts.iter().any(|a| a.id == *id);
            if !keep {
                e.quota.do_send(actors::quota::messages::Retire);
                if let Some(o) = &e.oauth {
                    o.retire();
                }
            }
            keep
        });
        report.stopped = before - self.entries.len();
        Ok(report)
    }

    async fn sync_oauth(
        &self,
        a: &account::Model,
        kind: Kind,
        running: Option<OAuthAccount>,
        quota: &Addr<QuotaTracker>,
        defaults: &impl Fn(&str) -> Option<String>,
        report: &mut HubReport,
    ) -> Result<Option<OAuthAccount>, StoreError> {
        let Some(session) = store::load(&self.db, &self.sealer, a.id).await? else { return Ok(None) };
        let default_base = defaults(kind.id()).unwrap_or_default();
        let fingerprint = format!("{}|{:?}|{}", session.endpoints.to_json(), a.base_url, default_base);
        if let Some(r) = running.as_ref().filter(|r| r.fingerprint != fingerprint) {
            r.retire();
        }
        if let Some(r) = running.filter(|r| r.fingerprint == fingerprint) {
            let current = r.cell.get();
            if session.tokens.generation > current.generation
                || (r.cell.dead() && session.status != actors::refresher::SessionStatus::Disabled)
            {
                r.refresher.do_send(ReplaceTokens { tokens: session.tokens, status: session.status });
                report.sessions_replaced += 1;
            }
            return Ok(Some(r));
        }
        let endpoints = kind.default_endpoints().with(&session.endpoints);
        let cell = TokenCell::new(Arc::new(session.tokens.clone()));
        let base = base_of(kind, a.base_url.as_deref(), &default_base, &session.tokens);
        let arbiter = System::current().arbiter().clone();
        let source = Source {
            account_id: a.id,
            kind,
            endpoints: endpoints.clone(),
            base: base.clone(),
            db: self.db.clone(),
            sealer: self.sealer.clone(),
            changed: Arc::clone(&self.changed),
        };
        let (c, timing, id) = (cell.clone(), self.timing, a.id);
        let (tokens, status, reason) = (session.tokens, session.status, session.reason);
        let refresher = Supervisor::start_in_arbiter(&arbiter, move |_| {
            TokenRefresher::new(id, tokens, status, reason, timing, Rc::new(source), c)
        });
        let poller = Usage::exists(kind, &endpoints).then(|| {
            let usage = Usage { kind, endpoints, base, cell: cell.clone() };
            let (tracker, every) = (quota.clone(), self.poll_every());
            // Several instances share a PostgreSQL or a MariaDB: one of them polls each turn.
            let shared = match actors::sql::Dialect::of(self.db.get_database_backend()) {
                actors::sql::Dialect::Postgres | actors::sql::Dialect::MySql => Some(self.db.clone()),
                actors::sql::Dialect::Sqlite => None,
            };
            Supervisor::start_in_arbiter(&arbiter, move |_| {
                let p = QuotaPoller::new(id, Rc::new(usage), tracker, every);
                match shared {
                    Some(db) => p.once_per_cluster(db),
                    None => p,
                }
            })
        });
        report.refreshers_started += 1;
        Ok(Some(OAuthAccount {
            kind,
            cell,
            refresher,
            poller,
            base_override: a.base_url.clone(),
            default_base,
            fingerprint,
        }))
    }

    /// An OAuth account's handle.
    pub fn oauth(&self, account_id: i64) -> Option<OAuthAccount> {
        self.entries.get(&account_id).and_then(|e| e.oauth.clone())
    }

    /// What listens to an account's upstream answers.
    pub fn observer(&self, account_id: i64) -> Option<Arc<dyn ResponseObserver>> {
        self.entries.get(&account_id).map(|e| {
            let o: Arc<dyn ResponseObserver> =
                Arc::new(Observer { kind: e.oauth.as_ref().map(|o| o.kind), quota: e.quota.clone() });
            o
        })
    }

    /// Every account's quota tracker.
    pub fn trackers(&self) -> Vec<(i64, Addr<QuotaTracker>)> {
        self.entries.iter().map(|e| (*e.key(), e.value().quota.clone())).collect()
    }

    /// An account's quota windows.
    pub async fn quota(&self, account_id: i64) -> Option<QuotaSnapshot> {
        let addr = self.entries.get(&account_id).map(|e| e.quota.clone())?;
        addr.send(GetQuota).await.ok()
    }

    /// An account's refresher status (no token in it).
    pub async fn session_status(&self, account_id: i64) -> Option<RefresherStatus> {
        let addr = self.oauth(account_id)?.refresher;
        addr.send(GetRefresherStatus).await.ok()
    }

    /// The quota tuning in force.
    pub fn quota_config(&self) -> QuotaConfig {
        match self.quota_cfg.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    /// New quota tuning for every tracker.
    pub fn set_quota_config(&self, cfg: QuotaConfig) {
        let changed = match self.quota_cfg.lock() {
            Ok(mut g) => std::mem::replace(&mut *g, cfg) != cfg,
            Err(p) => std::mem::replace(&mut *p.into_inner(), cfg) != cfg,
        };
        if changed {
            for e in &self.entries {
                e.quota.do_send(SetQuotaConfig(cfg));
            }
        }
    }

    /// Retires every refresher and poller and ends the watch (the daemon is stopping).
    pub fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        self.changed.notify_one();
        for e in &self.entries {
            if let Some(o) = &e.oauth {
                o.retire();
            }
        }
    }

    /// The polling period in force.
    pub fn poll_every(&self) -> Duration {
        match self.poll_every.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    /// A new polling period for every usage poller (zero: poll only on demand).
    pub fn set_poll_every(&self, every: Duration) {
        let changed = match self.poll_every.lock() {
            Ok(mut g) => std::mem::replace(&mut *g, every) != every,
            Err(p) => std::mem::replace(&mut *p.into_inner(), every) != every,
        };
        if changed {
            for e in &self.entries {
                if let Some(p) = e.oauth.as_ref().and_then(|o| o.poller.as_ref()) {
                    p.do_send(SetPollEvery(every));
                }
            }
        }
    }

    /// Whether the stored sessions say something the running actors do not know: a session of
    /// an account they do not serve (a sign-in by the CLI while the daemon runs), or a newer
    /// generation or another status than theirs (a sign-in elsewhere, another instance).
    pub async fn behind(&self) -> Result<bool, sea_orm::DbErr> {
        let rows = store::rows(&self.db).await?;
        Ok(rows.iter().filter(|r| Kind::parse(&r.provider).is_some()).any(|r| {
            if self.unopenable.get(&r.account_id).is_some_and(|g| *g == r.generation) {
                return false;
            }
            match self.entries.get(&r.account_id).and_then(|e| e.oauth.clone()) {
                None => true,
                Some(o) => {
                    let disabled = actors::refresher::SessionStatus::parse(&r.status)
                        == actors::refresher::SessionStatus::Disabled;
                    r.generation > o.cell.get().generation || (o.cell.dead() && !disabled)
                }
            }
        }))
    }

    /// The usage poller of an account, if it has one.
    pub fn poller(&self, account_id: i64) -> Option<Addr<QuotaPoller>> {
        self.oauth(account_id).and_then(|o| o.poller)
    }
}

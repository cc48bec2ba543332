//! The running actor system: the router, account and breaker actors and the usage writer, the
//! registry snapshot the resolver reads, the price table requests are costed by, and the live
//! settings. `Runtime::reload` brings all of
//! it in line with the database (rows, stored setting overrides) in one idempotent step; start-up,
//! every admin change and (later) the multi-instance change feed go through it.

pub mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use actix::{Actor, Addr, Supervisor};
use actors::account::actor::AccountActor;
use actors::account::messages::SetPolicy as AccountPolicy;
use actors::breaker::actor::BreakerActor;
use actors::breaker::messages::SetPolicy as BreakerPolicy;
use actors::executor::ExecutorConfig;
use actors::executor::actor::ExecutorStats;
use actors::persist;
use actors::router::actor::{RouterActor, SharedRouting};
use actors::router::messages::Reload;
use actors::router::slot::Slot;
use actors::router::table::{AccountEntry, ProviderEntry};
use actors::usage::actor::{Flush, Reconfigure, UsageWriter};
use actors::usage::inbox::UsageInbox;
use dashmap::DashMap;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::watch;

use crate::config::{Config, ConfigError};
use crate::keys::KeyTable;
use crate::providers::{Catalog, Registry};
use crate::secrets::{Sealer, SecretError};
use crate::store;

pub use settings::policy;

/// Why the running system could not be brought in line with the database.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Reading the rows failed.
    #[error("database error while reloading: {0}")]
    Db(#[from] DbErr),
    /// A stored credential could not be opened.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The stored setting overrides are not valid over this config file.
    #[error("stored settings (set through /api/settings): {0}")]
    Settings(#[from] ConfigError),
    /// The router is gone (the daemon is stopping).
    #[error("the router is not running")]
    Router,
}

impl From<ReloadError> for crate::app::StartError {
    fn from(e: ReloadError) -> Self {
        match e {
            ReloadError::Db(e) => Self::Store(e),
            ReloadError::Secret(e) => Self::Secret(e),
            ReloadError::Settings(e) => Self::Config(e),
            ReloadError::Router => Self::Catalog("the router actor did not start".into()),
        }
    }
}

/// What one reload changed, for the log and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReloadReport {
    /// Account actors started.
    pub accounts_started: usize,
    /// Account actors let go (they stop once their last lease ends).
    pub accounts_stopped: usize,
    /// Breaker actors started.
    pub breakers_started: usize,
    /// Breaker actors let go.
    pub breakers_stopped: usize,
}

/// The quota tuning of a config.
fn quota_config(cfg: &Config) -> actors::quota::QuotaConfig {
    actors::quota::QuotaConfig { near_limit: cfg.routing.quota_near_limit, ..actors::quota::QuotaConfig::default() }
}

/// What a reload reads besides the database, fixed for the daemon's life.
struct Inputs {
    /// The config file as loaded at start or at the last SIGHUP (before stored overrides).
    file: RwLock<Arc<Config>>,
    catalog: Catalog,
    sealer: Sealer,
    keys: KeyTable,
    db: DatabaseConnection,
}

/// Addresses of the long-lived actors, the registry they were built from, and the live settings.
pub struct Runtime {
    registry: RwLock<Arc<Registry>>,
    /// The price table requests are costed by (rebuilt from `pricing` on every reload).
    prices: RwLock<Arc<crate::pricing::PriceTable>>,
    /// The router.
    pub router: Addr<RouterActor>,
    /// The router's state, which each worker thread's `LeaseDesk` leases from.
    pub routing: SharedRouting,
    /// The usage writer (always running; it drops events while `usage.enabled` is off).
    pub usage: Option<Addr<UsageWriter>>,
    /// Where requests' usage events go: gathered in front of the usage writer.
    pub usage_inbox: Option<UsageInbox>,
    /// Counters shared by every executor.
    pub executor_stats: Arc<ExecutorStats>,
    /// What combo strategies learnt from served requests (kept across reloads).
    pub targets: crate::pipeline::stats::TargetBook,
    /// Requests waiting for a paced or cooling account (bounds live).
    pub queue: crate::pipeline::queue::WaitQueue,
    /// Which combo target each sticky session was last served by.
    pub combo_sessions: crate::pipeline::session::ComboSessions,
    /// Which session each Responses API response id belongs to (`previous_response_id` chains).
    pub response_chains: Arc<crate::pipeline::session::ResponseChains>,
    /// Per-key limits and budgets.
    pub limiter: crate::limits::Limiter,
    /// The response cache and idempotency keys (bounds read from the file at start).
    pub cache: Arc<crate::cache::Cache>,
    /// Upstream settings every executor reads before each attempt.
    executor_cfg: watch::Sender<ExecutorConfig>,
    /// Account actors by account id.
    pub accounts: DashMap<i64, Addr<AccountActor>>,
    /// Breaker actors by provider id.
    pub breakers: DashMap<String, Addr<BreakerActor>>,
    /// Set when the shutdown grace is nearly over: running streams end in their client's dialect.
    pub drain: watch::Sender<bool>,
    /// Quota trackers of every account; token refreshers and usage pollers of OAuth accounts.
    pub oauth: crate::oauth::hub::Hub,
    /// Access tokens minted from service account keys (Vertex AI).
    pub google_tokens: crate::providers::vertex::Tokens,
    /// The effective config: the file with the stored overrides applied.
    live: RwLock<Arc<Config>>,
    max_attempts: AtomicU32,
    /// One reload at a time: two admin changes never interleave their actor bookkeeping.
    reload_lock: tokio::sync::Mutex<()>,
    inputs: Inputs,
    /// This instance among those sharing a PostgreSQL (`None` on SQLite).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

fn read<T: ?Sized>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    match lock.read() {
        Ok(g) => Arc::clone(&g),
        Err(p) => Arc::clone(&p.into_inner()),
    }
}

fn write<T: ?Sized>(lock: &RwLock<Arc<T>>, value: Arc<T>) {
    match lock.write() {
        Ok(mut g) => *g = value,
        Err(p) => *p.into_inner() = value,
    }
}

impl Runtime {
    /// Starts every actor from the database and `file` (with the stored setting overrides).
    /// Must run inside an actix System.
    pub async fn start(
        file: &Config,
        db: &DatabaseConnection,
        catalog: Catalog,
        sealer: Sealer,
        keys: KeyTable,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Result<Arc<Self>, ReloadError> {
        let overrides = store::overrides::load(db).await?;
        let cfg = settings::effective(file, &overrides, &catalog)?;
        // The router owns the routing state and hears every change to it; requests lease from the
        // same state through their worker thread's `LeaseDesk`, so no lease waits for the router
        // (or for the database work on the main arbiter it shares).
        let routing = SharedRouting::new();
        let router = RouterActor::new(routing.clone()).start();
        let usage = UsageWriter::new(db.clone(), settings::writer_config(&cfg)).start();
        let runtime = Arc::new(Self {
            registry: RwLock::new(Arc::new(Registry::default())),
            prices: RwLock::new(Arc::new(crate::pricing::PriceTable::default())),
            router,
            routing,
            usage_inbox: Some(UsageInbox::new(usage.clone())),
            usage: Some(usage),
            executor_stats: Arc::new(ExecutorStats::default()),
            targets: Default::default(),
            queue: crate::pipeline::queue::WaitQueue::new(cfg.routing.max_wait_ms, cfg.routing.max_queue),
            combo_sessions: Default::default(),
            response_chains: Default::default(),
            limiter: Default::default(),
            cache: Arc::new(crate::cache::Cache::new(&file.cache)),
            executor_cfg: watch::Sender::new(settings::executor_config(&cfg)),
            accounts: DashMap::new(),
            breakers: DashMap::new(),
            drain: watch::Sender::new(false),
            oauth: crate::oauth::hub::Hub::new(
                db.clone(),
                sealer.clone(),
                quota_config(&cfg),
                std::time::Duration::from_secs(cfg.usage.quota_poll_secs),
            ),
            google_tokens: crate::providers::vertex::Tokens::default(),
            max_attempts: AtomicU32::new(cfg.routing.max_attempts),
            live: RwLock::new(Arc::new(cfg)),
            reload_lock: tokio::sync::Mutex::new(()),
            inputs: Inputs { file: RwLock::new(Arc::new(file.clone())), catalog, sealer, keys, db: db.clone() },
            cluster,
        });
        if let Some(c) = &runtime.cluster {
            // Key and team limits hold across the instances (leases of the shared rows).
            runtime.limiter.share(crate::limits::SharedLimits::new(db.clone(), c.id().to_string()));
            // Read before the first reload: a change committed meanwhile is newer and reloads again.
            c.init().await?;
        }
        runtime.reload().await?;
        Ok(runtime)
    }

    /// Brings the running system in line with the database: stored setting overrides, custom
    /// providers, accounts, combos, aliases, keys and prices (declared prices seeded first). New accounts and providers get supervised
    /// actors (from their persisted health), removed ones are let go (an actor stops once the
    /// last lease on it ends, so a request in flight finishes normally), and the router gets the
    /// new view while keeping every known account's in-flight slot and health. Idempotent: a
    /// reload with nothing changed in the database changes nothing.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let Inputs { file: _, catalog, sealer, keys, db } = &self.inputs;
        let file = &self.file();
        let overrides = store::overrides::load(db).await?;
        let cfg = settings::effective(file, &overrides, catalog)?;
        let rows = store::runtime::load(db).await?;
        let mut registry = Registry::build(catalog, &rows, sealer, file.server.demo)?;
        // Declared prices first (never over an operator's row), then the table requests read.
        let declared = store::pricing::declared(catalog, &rows.providers, file.server.demo);
        let seeded = store::pricing::seed(db, &declared).await?;
        if seeded != store::pricing::SeedReport::default() {
            tracing::info!(
                inserted = seeded.inserted,
                updated = seeded.updated,
                removed = seeded.removed,
                "pricing rows seeded from the catalog and custom providers"
            );
        }
        let prices = crate::pricing::PriceTable::build(&store::pricing::all(db).await?);
        registry.apply_prices(&prices);
        let policy = settings::policy(&cfg);
        let policy_changed = policy != settings::policy(&self.live());
        let mut report = ReloadReport::default();

        let fresh = registry.accounts.iter().any(|a| !self.accounts.contains_key(&a.id));
        let mut health = if fresh { persist::load_accounts(db).await? } else { HashMap::new() };
        let mut entries = Vec::with_capacity(registry.accounts.len());
        for a in &registry.accounts {
            let known = self.accounts.get(&a.id).map(|r| r.value().clone());
            let (addr, h) = match known {
                Some(addr) => {
                    if policy_changed {
                        addr.do_send(AccountPolicy(policy));
                    }
                    // The router keeps its own, newer view of a known account's health.
                    (addr, Default::default())
                }
                None => {
                    let h = health.remove(&a.id).unwrap_or_default();
                    let (id, h2, dbc, rr) = (a.id, h.clone(), db.clone(), self.router.clone().recipient());
                    let announce = self.announce();
                    let addr = Supervisor::start(move |_| {
                        AccountActor::new(id, h2, policy, Some(dbc), rr).announcing(announce)
                    });
                    self.accounts.insert(a.id, addr.clone());
                    report.accounts_started += 1;
                    (addr, h)
                }
            };
            let slot = Arc::new(Slot::default());
            slot.set_last_leased(h.last_used_at);
            let defaults = registry.provider(&a.provider).map(|p| p.defaults).unwrap_or_default();
            entries.push(AccountEntry {
                id: a.id,
                provider: a.provider.as_str().into(),
                name: a.name.as_str().into(),
                priority: a.priority,
                weight: a.weight,
                enabled: a.enabled,
                // An account's own pacing wins over its provider's defaults.
                max_concurrent: a.max_concurrent.or(defaults.max_concurrent),
                pacing: actors::router::pacing::Pacing {
                    rpm: a.options.rpm.or(defaults.rpm),
                    tpm: a.options.tpm.or(defaults.tpm),
                    min_gap_ms: a.options.min_gap_ms.or(defaults.min_gap_ms),
                },
                base_url: a.base_url.as_str().into(),
                credential: a.credential.clone(),
                health: h,
                slot,
                addr: Some(addr),
            });
        }
        let wanted: HashSet<i64> = registry.accounts.iter().map(|a| a.id).collect();
        let before = self.accounts.len();
        // Dropping our address is all it takes: leases still out hold theirs until they end.
        self.accounts.retain(|id, _| wanted.contains(id));
        report.accounts_stopped = before - self.accounts.len();

        let served: HashSet<&str> = registry.accounts.iter().map(|a| a.provider.as_str()).collect();
        let fresh = served.iter().any(|p| !self.breakers.contains_key(*p));
        let mut breaker_states = if fresh { persist::load_breakers(db).await? } else { HashMap::new() };
        let mut providers = HashMap::new();
        for p in registry.providers().filter(|p| served.contains(p.id.as_str())) {
            let known = self.breakers.get(&p.id).map(|r| r.value().clone());
            let (addr, state) = match known {
                Some(addr) => {
                    if policy_changed {
                        addr.do_send(BreakerPolicy(policy));
                    }
                    (addr, Default::default())
                }
                None => {
                    let state = breaker_states.remove(&p.id).unwrap_or_default();
                    let (pid, dbc, rr) = (p.id.clone(), db.clone(), self.router.clone().recipient());
                    let announce = self.announce();
                    let addr = Supervisor::start(move |_| {
                        BreakerActor::new(pid, state, policy, Some(dbc), rr).announcing(announce)
                    });
                    self.breakers.insert(p.id.clone(), addr.clone());
                    report.breakers_started += 1;
                    (addr, state)
                }
            };
            providers.insert(
                p.id.clone(),
                ProviderEntry {
                    strategy: p.strategy.unwrap_or(cfg.routing.strategy),
                    breaker: state,
                    probe_granted_at: None,
                    cursor: Default::default(),
                    addr: Some(addr),
                    streak: Default::default(),
                },
            );
        }
        let before = self.breakers.len();
        self.breakers.retain(|id, _| served.contains(id.as_str()));
        report.breakers_stopped = before - self.breakers.len();

        let reload = Reload {
            accounts: entries,
            providers,
            sticky_limit: cfg.routing.sticky_limit,
            sessions: cfg.routing.session_policy(),
        };
        self.router.send(reload).await.map_err(|_| ReloadError::Router)?;
        self.oauth.set_quota_config(quota_config(&cfg));
        self.oauth.set_poll_every(std::time::Duration::from_secs(cfg.usage.quota_poll_secs));
        let defaults = |id: &str| catalog.get(id).map(|p| p.base_url.clone());
        let subs = self.oauth.sync(&rows.accounts, defaults, self.router.clone().recipient(), self.announce()).await?;
        if subs != crate::oauth::hub::HubReport::default() {
            tracing::info!(
                trackers_started = subs.trackers_started,
                refreshers_started = subs.refreshers_started,
                sessions_replaced = subs.sessions_replaced,
                stopped = subs.stopped,
                "subscription actors synchronised"
            );
        }
        write(&self.registry, Arc::new(registry));
        write(&self.prices, Arc::new(prices));
        let exec = settings::executor_config(&cfg);
        self.executor_cfg.send_if_modified(|c| std::mem::replace(c, exec) != exec);
        if let Some(u) = &self.usage {
            u.do_send(Reconfigure(settings::writer_config(&cfg)));
        }
        self.max_attempts.store(cfg.routing.max_attempts, Ordering::Relaxed);
        self.queue.configure(cfg.routing.max_wait_ms, cfg.routing.max_queue);
        self.combo_sessions.configure(cfg.routing.session_policy(), actors::clock::now_ms());
        self.response_chains.configure(cfg.routing.session_policy(), actors::clock::now_ms());
        keys.reload(&rows.keys);
        self.limiter.set_zone(cfg.budgets.zone());
        self.seed_budgets(&rows.keys, &cfg.teams).await?;
        write(&self.live, Arc::new(cfg));
        if report != ReloadReport::default() {
            tracing::info!(
                accounts_started = report.accounts_started,
                accounts_stopped = report.accounts_stopped,
                breakers_started = report.breakers_started,
                breakers_stopped = report.breakers_stopped,
                "runtime reloaded"
            );
        }
        Ok(report)
    }

    /// Where actors announce their health writes (only with several instances possible).
    fn announce(&self) -> persist::Announce {
        self.cluster.as_ref().and_then(|c| c.announce())
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        read(&self.registry)
    }

    /// The current price table.
    pub fn prices(&self) -> Arc<crate::pricing::PriceTable> {
        read(&self.prices)
    }

    /// Starts each budget's period not yet counted here from what its key's usage rows say it spent
    /// (a restart keeps counting; later reloads ask the database nothing), and forgets the state of
    /// keys no longer active. With several instances the period starts from the shared spend
    /// (seeded from the usage rows by the first instance to count it).
    async fn seed_budgets(
        &self,
        rows: &[entities::api_key::Model],
        teams: &[crate::config::TeamEntry],
    ) -> Result<(), sea_orm::DbErr> {
        use crate::limits::Holder;
        let now = actors::clock::now_ms();
        let active: Vec<&entities::api_key::Model> =
            rows.iter().filter(|r| r.enabled && r.revoked_at.is_none()).collect();
        self.limiter.retain_keys(|k| active.iter().any(|r| r.name == k));
        self.limiter.set_teams(teams.iter().map(|t| (t.name.clone(), t.limits())));
        for r in &active {
            if let Some(b) = crate::keys::KeyLimits::from_column(r.limits.as_deref()).budget {
                let (start, _) = b.period.bounds(now, self.limiter.zone());
                if self.limiter.counts(Holder::Key, &r.name, start) {
                    continue;
                }
                let spent = match self.limiter.shared_spent(Holder::Key, &r.name, start).await? {
                    Some(shared) => shared,
                    None => store::keys::spent_since(&self.inputs.db, &[r.name.as_str()], start).await?,
                };
                self.limiter.seed_shared(Holder::Key, &r.name, start, spent).await?;
            }
        }
        // A team's period: what its keys (all of them, revoked ones too) spent in it.
        for t in teams {
            if let Some(b) = t.budget {
                let (start, _) = b.period.bounds(now, self.limiter.zone());
                if self.limiter.counts(Holder::Team, &t.name, start) {
                    continue;
                }
                let members: Vec<&str> = rows
                    .iter()
                    .filter(|r| r.team.as_deref() == Some(t.name.as_str()))
                    .map(|r| r.name.as_str())
                    .collect();
                let spent = match self.limiter.shared_spent(Holder::Team, &t.name, start).await? {
                    Some(shared) => shared,
                    None => store::keys::spent_since(&self.inputs.db, &members, start).await?,
                };
                self.limiter.seed_shared(Holder::Team, &t.name, start, spent).await?;
            }
        }
        Ok(())
    }

    /// The effective config: the file's values with the stored setting overrides applied.
    pub fn live(&self) -> Arc<Config> {
        read(&self.live)
    }

    /// The config file as loaded at start (what entries it declares, the values under overrides).
    pub fn file(&self) -> Arc<Config> {
        read(&self.inputs.file)
    }

    /// A config file read again (SIGHUP): its values and entries apply from the next reload.
    pub fn replace_file(&self, file: Config) {
        write(&self.inputs.file, Arc::new(file));
    }

    /// The built-in provider catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inputs.catalog
    }

    /// Upper bound on upstream attempts per request (`routing.max_attempts`, live).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.load(Ordering::Relaxed)
    }

    /// A receiver of the upstream settings, for one executor.
    pub fn executor_config(&self) -> watch::Receiver<ExecutorConfig> {
        self.executor_cfg.subscribe()
    }

    /// The actor of an account, if it has one.
    pub fn account_actor(&self, id: i64) -> Option<Addr<AccountActor>> {
        self.accounts.get(&id).map(|r| r.value().clone())
    }

    /// The breaker actor of a provider, if it has one.
    pub fn breaker_actor(&self, provider: &str) -> Option<Addr<BreakerActor>> {
        self.breakers.get(provider).map(|r| r.value().clone())
    }

    /// Writes every buffered usage row (on shutdown).
    pub async fn flush_usage(&self) {
        if let Some(u) = &self.usage {
            let _ = u.send(Flush).await;
        }
    }

    /// Stops the subscription actors' timers (after the server stopped).
    pub fn stop(&self) {
        self.oauth.stop();
    }
}

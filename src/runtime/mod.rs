//! The running actor system: builds the router, account and breaker actors and the usage writer
//! from the registry and the persisted state, and holds their addresses.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, Supervisor};
use actors::account::actor::AccountActor;
use actors::breaker::actor::BreakerActor;
use actors::executor::ExecutorConfig;
use actors::executor::actor::ExecutorStats;
use actors::outcome::ResiliencePolicy;
use actors::persist;
use actors::router::actor::RouterActor;
use actors::router::messages::Reload;
use actors::router::slot::Slot;
use actors::router::table::{AccountEntry, ProviderEntry};
use actors::usage::actor::{Flush, UsageWriter, WriterConfig};
use sea_orm::{DatabaseConnection, DbErr};

use crate::config::Config;
use crate::providers::Registry;

/// Addresses of the long-lived actors and the registry they were built from.
pub struct Runtime {
    registry: RwLock<Arc<Registry>>,
    /// The router.
    pub router: Addr<RouterActor>,
    /// The usage writer (`None` when usage recording is off).
    pub usage: Option<Addr<UsageWriter>>,
    /// Counters shared by every executor.
    pub executor_stats: Arc<ExecutorStats>,
    /// Settings every executor is built with.
    pub executor_cfg: ExecutorConfig,
    /// Account actors by account id.
    pub accounts: HashMap<i64, Addr<AccountActor>>,
    /// Breaker actors by provider id.
    pub breakers: HashMap<String, Addr<BreakerActor>>,
    /// Set when the shutdown grace is nearly over: running streams end in their client's dialect.
    pub drain: tokio::sync::watch::Sender<bool>,
    router_arbiter: Arbiter,
}

/// The resilience policy of a config.
pub fn policy(cfg: &Config) -> ResiliencePolicy {
    let r = &cfg.resilience;
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    ResiliencePolicy {
        cooldown_base_ms: ms(r.cooldown_base_ms),
        cooldown_max_ms: ms(r.cooldown_max_ms),
        retry_after_max_ms: ms(r.retry_after_max_secs.saturating_mul(1000)),
        breaker_threshold: r.breaker_threshold.max(1),
        breaker_open_ms: ms(r.breaker_open_ms),
        breaker_open_max_ms: ms(r.breaker_open_max_ms),
    }
}

impl Runtime {
    /// Starts every actor. Must run inside an actix System.
    pub async fn start(cfg: &Config, db: &DatabaseConnection, registry: Registry) -> Result<Arc<Self>, DbErr> {
        let policy = policy(cfg);
        // The router answers every request's `Lease`: it gets a thread of its own, so database
        // work and batch inserts on the main arbiter never queue in front of a lease.
        let router_arbiter = Arbiter::new();
        let sticky = cfg.routing.sticky_limit;
        let router = RouterActor::start_in_arbiter(&router_arbiter.handle(), move |_| RouterActor::new(sticky));
        let mut health = persist::load_accounts(db).await?;
        let mut breaker_states = persist::load_breakers(db).await?;

        let mut accounts = HashMap::new();
        let mut entries = Vec::new();
        for a in &registry.accounts {
            let h = health.remove(&a.id).unwrap_or_default();
            let (id, h2, dbc, rr) = (a.id, h.clone(), db.clone(), router.clone().recipient());
            let addr = Supervisor::start(move |_| AccountActor::new(id, h2, policy, Some(dbc), rr));
            let slot = Arc::new(Slot::default());
            slot.set_last_leased(h.last_used_at);
            entries.push(AccountEntry {
                id: a.id,
                provider: a.provider.as_str().into(),
                name: a.name.as_str().into(),
                priority: a.priority,
                weight: a.weight,
                enabled: a.enabled,
                max_concurrent: a.max_concurrent,
                base_url: a.base_url.as_str().into(),
                credential: a.credential.clone(),
                health: h,
                slot,
                addr: Some(addr.clone()),
            });
            accounts.insert(a.id, addr);
        }

        let mut breakers = HashMap::new();
        let mut providers = HashMap::new();
        for p in registry.providers().filter(|p| registry.accounts.iter().any(|a| a.provider == p.id)) {
            let state = breaker_states.remove(&p.id).unwrap_or_default();
            let (pid, dbc, rr) = (p.id.clone(), db.clone(), router.clone().recipient());
            let addr = Supervisor::start(move |_| BreakerActor::new(pid, state, policy, Some(dbc), rr));
            providers.insert(
                p.id.clone(),
                ProviderEntry {
                    strategy: p.strategy.unwrap_or(cfg.routing.strategy),
                    breaker: state,
                    probe_granted_at: None,
                    cursor: Default::default(),
                    addr: Some(addr.clone()),
                },
            );
            breakers.insert(p.id.clone(), addr);
        }
        let _ = router.send(Reload { accounts: entries, providers }).await;

        let usage = cfg.usage.enabled.then(|| {
            UsageWriter::new(
                db.clone(),
                WriterConfig {
                    batch_size: cfg.usage.batch_size,
                    flush_interval: Duration::from_millis(cfg.usage.flush_interval_ms.max(10)),
                    retention_days: cfg.usage.retention_days,
                },
            )
            .start()
        });
        let u = &cfg.upstream;
        let executor_cfg = ExecutorConfig {
            connect: Duration::from_millis(u.connect_timeout_ms),
            first_byte: Duration::from_millis(u.first_byte_timeout_ms),
            idle: Duration::from_millis(u.idle_timeout_ms),
            total: Duration::from_millis(u.total_timeout_ms),
            max_connections: u.max_connections,
            max_response_bytes: u.max_response_mib.saturating_mul(1024 * 1024),
        };
        Ok(Arc::new(Self {
            registry: RwLock::new(Arc::new(registry)),
            router,
            usage,
            executor_stats: Arc::new(ExecutorStats::default()),
            executor_cfg,
            accounts,
            breakers,
            drain: tokio::sync::watch::Sender::new(false),
            router_arbiter,
        }))
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        match self.registry.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Writes every buffered usage row (on shutdown).
    pub async fn flush_usage(&self) {
        if let Some(u) = &self.usage {
            let _ = u.send(Flush).await;
        }
    }

    /// Stops the router's thread (after the server stopped).
    pub fn stop(&self) {
        self.router_arbiter.stop();
    }
}

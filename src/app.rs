//! Start-up and shutdown: open the database, unlock the secrets, bootstrap credentials, upsert
//! config entries, build the state and the actors, serve, and on stop drain, flush and checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Supervisor};
use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use actors::executor::actor::ExecutorActor;
use actors::router::actor::LeaseDesk;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::auth::Sessions;
use crate::config::{Config, ConfigError};
use crate::db::{self, Database, DbError};
use crate::keys::{KeyTable, generate_key};
use crate::providers::Catalog;
use crate::routes;
use crate::runtime::Runtime;
use base64::Engine as _;

use crate::secrets::{self, KeySource, Sealer, SecretError};
use crate::state::AppState;
use crate::store::{self, config_sync, keys as key_store, settings};

/// Secrets and bootstrap values read from the environment by `main`, passed in explicitly.
#[derive(Debug, Default, Clone)]
pub struct Bootstrap {
    /// `OMNIGATE_MASTER_KEY` (base64 of 32 bytes).
    pub master_key: Option<String>,
    /// `OMNIGATE_ADMIN_PASSWORD`, used on first start only.
    pub admin_password: Option<String>,
    /// `OMNIGATE_ADMIN_TOKEN`: a management token for `/api/...`.
    pub admin_token: Option<String>,
}

impl Bootstrap {
    /// Reads the bootstrap variables from the process environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            master_key: var("OMNIGATE_MASTER_KEY"),
            admin_password: var("OMNIGATE_ADMIN_PASSWORD"),
            admin_token: var("OMNIGATE_ADMIN_TOKEN"),
        }
    }
}

/// Why the daemon could not start. Each message tells the operator what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The master key is missing, malformed or wrong.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A database query failed during start-up.
    #[error("database error during start-up: {0}")]
    Store(#[from] sea_orm::DbErr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// host:port
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The embedded catalog is broken.
    #[error("{0}")]
    Catalog(String),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Credentials generated on first start, to show the operator once.
#[derive(Debug, Default, Clone)]
pub struct FirstStart {
    /// The generated admin password.
    pub admin_password: Option<String>,
    /// A generated gateway key (named `default`), when no key existed.
    pub gateway_key: Option<String>,
}

/// The database and sealer, opened and checked: what the daemon and the CLI commands share.
pub struct Opened {
    /// The database (holding the SQLite lock when opened for the daemon).
    pub db: Database,
    /// The sealer under the master key.
    pub sealer: Sealer,
}

/// Creates the data directory (mode 0700 on Unix).
pub fn ensure_data_dir(cfg: &Config) -> Result<(), StartError> {
    let dir = cfg.data_dir();
    let err = |source| StartError::DataDir { path: dir.clone(), source };
    std::fs::create_dir_all(&dir).map_err(err)?;
    crate::uploads::sweep(&crate::uploads::spool_dir(&dir));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Opens the database (migrating it), loads the master key and checks it against sealed data.
pub async fn open(cfg: &Config, boot: &Bootstrap, daemon: bool) -> Result<Opened, StartError> {
    ensure_data_dir(cfg)?;
    let url = cfg.database_url();
    let database = if daemon {
        db::open(&url, cfg.database.max_connections).await?
    } else {
        let d = db::connect(&url, cfg.database.max_connections, false).await?;
        use migration::Trait as _;
        migration::Migrator::up(&d.conn, None).await.map_err(|e| DbError::Migrate(e.to_string()))?;
        d
    };
    let sealer = unlock(&database.conn, cfg, boot).await?;
    Ok(Opened { db: database, sealer })
}

/// What the database holds that only the right master key opens: the check value and, from
/// before it existed, a sealed account secret.
struct SealedProbe {
    check: Option<String>,
    sealed_account: Option<String>,
}

impl SealedProbe {
    async fn read(db: &impl ConnectionTrait) -> Result<Self, StartError> {
        let check = settings::get(db, settings::MASTER_KEY_CHECK).await?;
        let sealed_account = entities::account::Entity::find().all(db).await?.into_iter().find_map(|a| a.secret);
        Ok(Self { check, sealed_account })
    }

    fn any(&self) -> bool {
        self.check.is_some() || self.sealed_account.is_some()
    }

    /// Whether `sealer` opens what is sealed (true when nothing is).
    fn opens(&self, sealer: &Sealer) -> bool {
        match (&self.check, &self.sealed_account) {
            (Some(c), _) => sealer.open("master_key_check", c).is_ok(),
            (None, Some(s)) => sealer.open(config_sync::ACCOUNT_SECRET, s).is_ok(),
            (None, None) => true,
        }
    }
}

/// What `omnigate doctor` learns about the master key, generating and writing nothing.
#[derive(Debug)]
pub enum MasterKeyCheck {
    /// The key opens the sealed data.
    Opens(KeySource),
    /// A key is there and nothing is sealed yet.
    NothingSealed(KeySource),
    /// No key and nothing sealed: the first start generates one.
    NoneYet,
}

/// Checks the master key (`OMNIGATE_MASTER_KEY` or the key file) against the sealed data the way
/// start-up does, without generating a key or writing the check value.
pub async fn check_master_key(
    db: &impl ConnectionTrait,
    cfg: &Config,
    boot: &Bootstrap,
) -> Result<MasterKeyCheck, StartError> {
    let probe = SealedProbe::read(db).await?;
    let (key, source) = match secrets::load_master_key(boot.master_key.as_deref(), &cfg.data_dir(), false) {
        Ok(k) => k,
        Err(SecretError::MissingKey(_)) if !probe.any() => return Ok(MasterKeyCheck::NoneYet),
        Err(e) => return Err(e.into()),
    };
    if !probe.any() {
        return Ok(MasterKeyCheck::NothingSealed(source));
    }
    if probe.opens(&Sealer::new(&key)) { Ok(MasterKeyCheck::Opens(source)) } else { Err(SecretError::WrongKey.into()) }
}

async fn unlock(db: &impl ConnectionTrait, cfg: &Config, boot: &Bootstrap) -> Result<Sealer, StartError> {
    let probe = SealedProbe::read(db).await?;
    let has_sealed = probe.any();
    let (key, source) = secrets::load_master_key(boot.master_key.as_deref(), &cfg.data_dir(), !has_sealed)?;
    match &source {
        KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            "generated a new master key; back this file up: without it the sealed provider credentials cannot be read"
        ),
        KeySource::File(path) => {
            tracing::info!(path = %path.display(), "master key loaded from file")
        }
        KeySource::Env => tracing::info!("master key taken from OMNIGATE_MASTER_KEY"),
    }
    let sealer = Sealer::new(&key);
    if !probe.opens(&sealer) {
        return Err(SecretError::WrongKey.into());
    }
    if probe.check.is_none() {
        settings::set(db, settings::MASTER_KEY_CHECK, &sealer.seal("master_key_check", "omnigate")).await?;
    }
    // A database that took in an export bundle keeps the exporter's digest key, so its gateway
    // keys go on matching.
    match settings::get(db, settings::DIGEST_KEY).await? {
        Some(sealed) => {
            let text = sealer.open(settings::DIGEST_KEY, &sealed)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or(SecretError::Unseal("the imported digest key is not 32 bytes"))?;
            Ok(sealer.with_digest_key(bytes))
        }
        None => Ok(sealer),
    }
}

/// Sets the admin password hash on first start; returns the password when it was generated.
async fn bootstrap_admin(db: &impl ConnectionTrait, boot: &Bootstrap) -> Result<Option<String>, StartError> {
    if settings::get(db, settings::ADMIN_PASSWORD_HASH).await?.is_some() {
        return Ok(None);
    }
    let (password, generated) = match &boot.admin_password {
        Some(p) => (p.clone(), false),
        None => (secrets::random_token(15), true),
    };
    set_admin_password(db, &password).await?;
    Ok(generated.then_some(password))
}

/// Hashes and stores a new admin password.
pub async fn set_admin_password(db: &impl ConnectionTrait, password: &str) -> Result<(), StartError> {
    let pw = password.to_string();
    let hash =
        tokio::task::spawn_blocking(move || secrets::hash_password(&pw)).await.map_err(|_| SecretError::Hash)??;
    settings::set(db, settings::ADMIN_PASSWORD_HASH, &hash).await?;
    Ok(())
}

/// A running daemon.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// Generated credentials not yet claimed by a dashboard login (this start's or an earlier,
    /// failed one's), shown at each start.
    pub first_start: FirstStart,
    /// The shared state (tests inspect it).
    pub state: AppState,
    handle: ServerHandle,
    server: actix_rt::task::JoinHandle<std::io::Result<()>>,
    db: Database,
}

/// Opens everything and starts serving. Must run inside an actix System.
pub async fn start(cfg: Config, boot: Bootstrap) -> Result<Running, StartError> {
    let catalog = Catalog::builtin().map_err(StartError::Catalog)?;
    crate::config::validate(&cfg, &catalog)?;
    let Opened { db: database, sealer } = open(&cfg, &boot, true).await?;
    let conn = database.conn.clone();
    let report = config_sync::sync(&conn, &cfg, &sealer).await?;
    tracing::info!(
        inserted = report.inserted,
        updated = report.updated,
        removed = report.removed,
        "config entries synchronised"
    );
    if report.kept > 0 {
        tracing::warn!(
            kept = report.kept,
            "no config file loaded: the entries an earlier config file declared are kept (start with --config to manage them)"
        );
    }
    crate::oauth::seeds::sync(&conn, &cfg, &sealer).await.map_err(crate::oauth::store::StoreError::into_start)?;
    let mut first_start = FirstStart { admin_password: bootstrap_admin(&conn, &boot).await?, gateway_key: None };
    if cfg.auth.require_api_key && key_store::list(&conn).await?.is_empty() {
        let key = generate_key();
        let digest = sealer.digest(&key);
        key_store::insert(&conn, "default", &digest, &store::keys::display_prefix(&key), &["*".into()], "generated")
            .await?;
        first_start.gateway_key = Some(key);
    }
    // Kept before binding: a start that fails after this point shows them again next time.
    let first_start = crate::first_start::remember(&cfg.data_dir(), &first_start);
    let keys = KeyTable::default();
    keys.reload(&key_store::list(&conn).await?);

    // Several instances may share a PostgreSQL or a MariaDB; a SQLite file has exactly one.
    let sessions = Sessions::default();
    let cluster = match database.backend {
        db::Backend::Postgres | db::Backend::MySql => {
            Some(crate::cluster::Cluster::new(conn.clone(), cfg.database_url(), sessions.clone()))
        }
        db::Backend::Sqlite { .. } => None,
    };
    let runtime = Runtime::start(&cfg, &conn, catalog, sealer.clone(), keys.clone(), cluster).await?;
    crate::oauth::hub::spawn_watch(Arc::clone(&runtime));
    let (warnings, warned) = tokio::sync::mpsc::unbounded_channel();
    runtime.limiter.on_warning(warnings);
    crate::alerts::spawn(cfg.budgets.webhook.clone(), warned);

    let state = AppState {
        config: Arc::new(cfg.clone()),
        db: conn.clone(),
        sealer,
        keys,
        sessions,
        admin_token: boot.admin_token.clone(),
        local_token: crate::local_token::create(&cfg.data_dir()),
        started: Instant::now(),
        runtime: Arc::clone(&runtime),
        desk: LeaseDesk::new(runtime.routing.clone()).start(),
    };
    spawn_key_reloader(state.clone());

    let max_body = cfg.server.max_body_mib * 1024 * 1024;
    let (exec_cfg, exec_stats) = (runtime.executor_config(), Arc::clone(&runtime.executor_stats));
    let drain = runtime.drain.subscribe();
    let worker_state = state.clone();
    let mut server = HttpServer::new(move || {
        // One supervised executor per worker thread, owning that thread's upstream client.
        let (live, stats, drain) = (exec_cfg.clone(), Arc::clone(&exec_stats), drain.clone());
        let executor = Supervisor::start(move |_| ExecutorActor::new(live, stats, drain));
        // And its lease desk, over the router's state.
        let desk = LeaseDesk::new(worker_state.runtime.routing.clone()).start();
        let data = web::Data::new(AppState { desk, ..worker_state.clone() });
        App::new()
            .app_data(data)
            .app_data(web::Data::new(executor))
            .app_data(web::PayloadConfig::new(max_body))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .disable_signals()
    // A client that closes its connection while its request waits for an upstream answer must
    // end that request at once (actix otherwise keeps half-closed connections open): the handler
    // is dropped, and with it the upstream call and the lease.
    .h1_allow_half_closed(false)
    .shutdown_timeout(cfg.server.shutdown_grace_secs);
    if cfg.server.workers > 0 {
        server = server.workers(cfg.server.workers);
    }
    let bind_addr = format!("{}:{}", cfg.server.host, cfg.server.port);
    let server = server
        .bind((cfg.server.host.as_str(), cfg.server.port))
        .map_err(|source| StartError::Bind { addr: bind_addr.clone(), source })?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| StartError::Bind { addr: bind_addr, source: std::io::ErrorKind::AddrNotAvailable.into() })?;
    let server = server.run();
    let handle = server.handle();
    let server = actix_rt::spawn(server);
    if let Some(c) = &runtime.cluster {
        c.start(Arc::clone(&runtime), addr);
        if !c.listening(Duration::from_secs(5)).await {
            tracing::warn!("not hearing the other instances yet: serving on the state loaded at start");
        }
    }
    tracing::info!(%addr, database = %db::redact_url(&cfg.database_url()), "omnigate listening");
    Ok(Running { addr, first_start, state, handle, server, db: database })
}

/// Re-reads gateway keys every few seconds, so keys made by the CLI or another instance apply.
fn spawn_key_reloader(state: AppState) {
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            match key_store::list(&state.db).await {
                Ok(rows) => state.keys.reload(&rows),
                Err(e) => tracing::warn!(error = %e, "reloading gateway keys failed"),
            }
        }
    });
}

impl Running {
    /// A handle to stop the server from elsewhere (signals, tests).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops accepting, lets in-flight requests finish within the grace period, then shuts down
    /// cleanly (see `graceful_stop`).
    pub async fn stop(self) {
        self.graceful_stop().await;
        self.wait().await;
    }

    /// Stops accepting and lets in-flight requests finish for `server.shutdown_grace_secs`. Shortly
    /// before the grace ends, every attempt still running is told to end: streams close with their
    /// dialect's error event and terminator (never a cut body), waiting requests answer 503, and
    /// each one's usage row is recorded before the writer's last flush.
    pub fn graceful_stop(&self) -> impl std::future::Future<Output = ()> + 'static {
        let handle = self.handle.clone();
        let runtime = Arc::clone(&self.state.runtime);
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_secs);
        async move {
            let margin = (grace / 4).min(Duration::from_secs(1));
            let stop = handle.stop(true);
            tokio::pin!(stop);
            tokio::select! {
                () = &mut stop => return,
                () = actix_rt::time::sleep(grace.saturating_sub(margin)) => {}
            }
            tracing::info!("shutdown grace nearly over: ending the requests still running");
            runtime.drain.send_replace(true);
            stop.await;
        }
    }

    /// Waits until the server stops (after `handle().stop(..)`), then flushes and checkpoints.
    pub async fn wait(self) {
        if let Ok(Err(e)) = self.server.await {
            tracing::error!(error = %e, "server stopped with an error");
        }
        self.state.runtime.flush_usage().await;
        if let Some(c) = &self.state.runtime.cluster {
            // What this instance spent is settled and what it holds goes back to the others.
            self.state.runtime.limiter.sync_shared(true).await;
            c.stop().await;
        }
        self.state.runtime.stop();
        if let Err(e) = self.db.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        self.db.close().await;
        tracing::info!("omnigate stopped");
    }
}

/// What a re-read config file changed.
#[derive(Debug, Default)]
pub struct FileReload {
    /// Entries inserted, updated and removed in the database.
    pub sync: config_sync::SyncReport,
    /// Settings of the new file that apply only at the next start (their names).
    pub restart_needed: Vec<&'static str>,
}

/// Applies a config file read again (SIGHUP): checked as at start, its entries synchronised, its
/// live settings put under the stored overrides, then the runtime reloaded: the same path the
/// admin API's changes take. Listening address, data directory, database, logging and workers
/// apply at the next start (named in the answer).
pub async fn reload_file(state: &AppState, cfg: Config) -> Result<FileReload, StartError> {
    let runtime = &state.runtime;
    crate::config::validate(&cfg, runtime.catalog())?;
    let sync = config_sync::sync(&state.db, &cfg, &state.sealer).await?;
    crate::oauth::seeds::sync(&state.db, &cfg, &state.sealer)
        .await
        .map_err(crate::oauth::store::StoreError::into_start)?;
    let old = runtime.file();
    let mut restart_needed = Vec::new();
    let changed = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    for (name, differs) in [
        ("server.host", changed(&old.server.host, &cfg.server.host)),
        ("server.port", changed(&old.server.port, &cfg.server.port)),
        ("server.workers", changed(&old.server.workers, &cfg.server.workers)),
        ("server.data_dir", changed(&old.data_dir(), &cfg.data_dir())),
        ("database", changed(&old.database_url(), &cfg.database_url())),
        ("log", changed(&old.log, &cfg.log)),
    ] {
        if differs {
            restart_needed.push(name);
        }
    }
    runtime.replace_file(cfg);
    runtime.reload().await?;
    Ok(FileReload { sync, restart_needed })
}

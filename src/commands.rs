//! The CLI commands: serve, check-config, keys, migrate, reset-admin-password, accounts, and the
//! tool commands (setup, run, status, doctor) handed to `tools::cli` and `doctor`.

use std::process::ExitCode;

use crate::app::{self, Bootstrap, StartError};
use crate::cli::{Command, Common, KeysAction};
use crate::config::{self, Config, ConfigError, LoadOptions};
use crate::keys::generate_key;
use crate::providers::Catalog;
use crate::store::keys::{self as key_store, KeyRow, display_prefix};

/// The full layered config (entries and secret references resolved), with `overrides`.
pub(crate) fn load_config(common: &Common, overrides: Vec<(String, toml::Value)>) -> Result<Config, ConfigError> {
    let mut overrides = overrides;
    if let Some(d) = &common.data_dir {
        overrides.push(("server.data_dir".into(), toml::Value::String(d.display().to_string())));
    }
    config::load(&LoadOptions { file: common.config.clone(), env: std::env::vars().collect(), overrides })
}

/// The config without its runtime entries, for commands that work on the data dir and database
/// only: a secret reference (`{ env = ... }`) only the daemon's environment resolves cannot stop them.
pub(crate) fn load_settings(common: &Common) -> Result<Config, ConfigError> {
    let mut overrides = Vec::new();
    if let Some(d) = &common.data_dir {
        overrides.push(("server.data_dir".into(), toml::Value::String(d.display().to_string())));
    }
    config::load_without_entries(&LoadOptions {
        file: common.config.clone(),
        env: std::env::vars().collect(),
        overrides,
    })
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("omnigate: {e}");
    ExitCode::FAILURE
}

/// Runs a parsed command; the exit code tells success.
pub async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve { common, host, port, demo, log_file } => {
            let mut ov = Vec::new();
            if let Some(f) = log_file {
                ov.push(("log.file".into(), toml::Value::String(f.to_string_lossy().into_owned())));
            }
            if let Some(h) = host {
                ov.push(("server.host".into(), toml::Value::String(h)));
            }
            if let Some(p) = port {
                ov.push(("server.port".into(), toml::Value::Integer(i64::from(p))));
            }
            if demo {
                ov.push(("server.demo".into(), toml::Value::Boolean(true)));
            }
            match load_config(&common, ov.clone()) {
                Ok(cfg) => serve(cfg, Box::new(move || load_config(&common, ov.clone()))).await,
                Err(e) => fail(e),
            }
        }
        Command::CheckConfig { common } => check_config(&common),
        Command::Keys { common, action } => match load_settings(&common) {
            Ok(cfg) => keys(cfg, action).await,
            Err(e) => fail(e),
        },
        Command::Accounts { common, remote, action } => crate::accounts_cli::run(common, remote, action).await,
        Command::Users { common, remote, action } => crate::users_cli::run(common, remote, action).await,
        Command::Migrate { common } => match load_settings(&common) {
            Ok(cfg) => match app::open(&cfg, &Bootstrap::from_env(), true).await {
                Ok(o) => {
                    o.db.close().await;
                    println!("migrations applied");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            },
            Err(e) => fail(e),
        },
        Command::Backup { common, file } => match load_settings(&common) {
            Ok(cfg) => backup(&cfg, &file).await,
            Err(e) => fail(e),
        },
        Command::Restore { common, file } => match load_settings(&common) {
            Ok(cfg) => restore(&cfg, &file).await,
            Err(e) => fail(e),
        },
        Command::ImportOmniroute { common, args } => crate::import_omniroute::run(&common, args).await,
        Command::Export { common, file, passphrase_env } => bundle(&common, &file, passphrase_env, true).await,
        Command::Import { common, file, passphrase_env } => bundle(&common, &file, passphrase_env, false).await,
        Command::Service { common, action } => match load_settings(&common) {
            Ok(cfg) => service(&common, &cfg, action),
            Err(e) => fail(e),
        },
        Command::ResetAdminPassword { common } => match load_settings(&common) {
            Ok(cfg) => reset_admin_password(cfg).await,
            Err(e) => fail(e),
        },
        Command::Setup { common, remote, tool, model, print, undo } => {
            crate::tools::cli::setup(common, remote, crate::tools::cli::SetupArgs { tool, model, print, undo }).await
        }
        Command::Run { common, remote, model, tool, args } => {
            crate::tools::cli::run(common, remote, tool, model, args).await
        }
        Command::Status { common, remote } => crate::doctor::status(common, remote).await,
        Command::Doctor { common, remote } => crate::doctor::doctor(common, remote).await,
    }
}

/// `omnigate backup FILE`: a snapshot through a connection of its own (SQLite lets it read while
/// the daemon writes), then checked as a restore would check it.
async fn backup(cfg: &Config, file: &std::path::Path) -> ExitCode {
    let db = match crate::db::connect(&cfg.database_url(), 1, false).await {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    let written = crate::backup::snapshot(&db.conn, file).await;
    db.close().await;
    if let Err(e) = written {
        return fail(e);
    }
    match crate::backup::check(file).await {
        Ok(c) => {
            let rows: i64 = c.rows.iter().map(|(_, n)| n).sum();
            println!(
                "backup written: {} ({} bytes, {} tables, {rows} rows, {} migrations); integrity check ok",
                file.display(),
                c.bytes,
                c.rows.len(),
                c.migrations
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// The bundle passphrase: from the variable named, else one line of stdin; at least 12 characters.
fn passphrase(var: Option<String>) -> Result<String, String> {
    let p = match var {
        Some(v) => std::env::var(&v).map_err(|_| format!("--passphrase-env: `{v}` is not set"))?,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the passphrase from stdin: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if p.chars().count() < 12 {
        return Err("the passphrase must be at least 12 characters".into());
    }
    Ok(p)
}

/// `omnigate export FILE` (`out`) or `omnigate import FILE`.
async fn bundle(common: &Common, file: &std::path::Path, var: Option<String>, out: bool) -> ExitCode {
    let cfg = match load_config(common, vec![]) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let phrase = match passphrase(var) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if out && let Err(e) = existing_database(&cfg) {
        return fail(e);
    }
    // Import: no daemon may hold the database (its sealer and keys would be stale).
    let _lock = match (out, crate::db::sqlite_file(&cfg.database_url())) {
        (false, Some(db)) => match crate::db::take_lock(&db) {
            Ok(l) => Some(l),
            Err(e) => return fail(format!("stop the daemon first: {e}")),
        },
        _ => None,
    };
    let opened = match app::open(&cfg, &Bootstrap::from_env(), false).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    if !out && matches!(opened.db.backend, crate::db::Backend::Postgres | crate::db::Backend::MySql) {
        let now = crate::store::now_ms();
        let alive =
            crate::store::cluster::instances(&opened.db.conn, now - crate::cluster::ALIVE.as_millis() as i64, 0).await;
        if alive.is_ok_and(|l| !l.is_empty()) {
            opened.db.close().await;
            return fail("instances are running on this database: stop every one first");
        }
    }
    let res = if out {
        crate::bundle::export(&opened.db.conn, &opened.sealer, file, &phrase).await
    } else {
        crate::bundle::import(&opened.db.conn, &opened.sealer, file, &phrase).await
    };
    opened.db.close().await;
    match res {
        Ok(counts) => {
            let list: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{n} {t}")).collect();
            let verb = if out { "exported to" } else { "imported from" };
            println!("{verb} {}: {}", file.display(), list.join(", "));
            if out {
                eprintln!("the bundle holds credentials in the clear under its passphrase: keep both safe");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `omnigate restore FILE`.
async fn restore(cfg: &Config, file: &std::path::Path) -> ExitCode {
    match crate::backup::restore(file, &cfg.database_url()).await {
        Ok((c, kept)) => {
            let rows: i64 = c.rows.iter().map(|(_, n)| n).sum();
            println!("restored {} ({} tables, {rows} rows); integrity check ok", file.display(), c.rows.len());
            if let Some(k) = kept {
                println!("the database it replaced is kept as {}", k.display());
            }
            println!("start the daemon with the same master key as the backup's (sealed credentials need it)");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn check_config(common: &Common) -> ExitCode {
    let cfg = match load_config(common, vec![]) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let catalog = match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match config::validate(&cfg, &catalog) {
        Ok(()) => {
            println!(
                "configuration is valid: {} key(s), {} provider(s), {} account(s), {} combo(s)",
                cfg.keys.len(),
                cfg.providers.len(),
                cfg.accounts.len(),
                cfg.combos.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Reads the config file again, from the same layers as at start.
type Reread = Box<dyn Fn() -> Result<Config, ConfigError>>;

async fn serve(cfg: Config, reread: Reread) -> ExitCode {
    if let Err(e) = crate::logging::init(&cfg.log) {
        return fail(e);
    }
    crate::logging::install_panic_hook();
    let data_dir = cfg.data_dir();
    // Caught from now on: a SIGTERM or SIGHUP while the daemon starts (it answers HTTP before it
    // hears the other instances) waits for the start instead of killing the process.
    let signalled = shutdown_signal();
    let hangups = hangups();
    let running = match app::start(cfg, Bootstrap::from_env()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return fail(e);
        }
    };
    announce(&running.first_start, running.addr, &data_dir);
    let stop = running.graceful_stop();
    actix_rt::spawn(async move {
        signalled.await;
        tracing::info!("shutdown requested: draining in-flight requests");
        crate::service::notify("STOPPING=1");
        stop.await;
    });
    reload_on_hangup(hangups, running.state.clone(), reread);
    let router = running.state.runtime.router.clone();
    crate::service::spawn_watchdog(move || {
        let router = router.clone();
        async move {
            let asked = router.send(actors::router::messages::GetSessionCount);
            matches!(actix_rt::time::timeout(std::time::Duration::from_secs(1), asked).await, Ok(Ok(_)))
        }
    });
    crate::service::notify(&format!("READY=1\nSTATUS=serving on {}\nMAINPID={}", running.addr, std::process::id()));
    running.wait().await;
    ExitCode::SUCCESS
}

/// SIGHUP: the config file is read again and applied live (`app::reload_file`); a file that does
/// not load or validate is refused with a log line and the running config stays.
#[cfg(unix)]
fn reload_on_hangup(hangups: Hangups, state: crate::state::AppState, reread: Reread) {
    let Some(mut hup) = hangups else { return };
    actix_rt::spawn(async move {
        while hup.recv().await.is_some() {
            crate::service::notify("RELOADING=1");
            crate::logging::reopen();
            let done = match reread() {
                Ok(cfg) => app::reload_file(&state, cfg).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match done {
                Ok(r) => {
                    tracing::info!(
                        inserted = r.sync.inserted,
                        updated = r.sync.updated,
                        removed = r.sync.removed,
                        "config file reloaded (SIGHUP)"
                    );
                    if !r.restart_needed.is_empty() {
                        tracing::warn!(settings = %r.restart_needed.join(", "), "these settings of the reloaded file apply at the next start");
                    }
                }
                Err(e) => tracing::error!(error = %e, "config file not reloaded (SIGHUP): the running config stays"),
            }
            crate::service::notify("READY=1");
        }
    });
}

#[cfg(not(unix))]
fn reload_on_hangup(_: Hangups, _: crate::state::AppState, _: Reread) {}

#[cfg(not(unix))]
type Hangups = ();

#[cfg(not(unix))]
fn hangups() -> Hangups {}

/// `omnigate service install [--user] [--print]`.
fn service(common: &Common, cfg: &Config, action: crate::cli::ServiceAction) -> ExitCode {
    let crate::cli::ServiceAction::Install { user, print } = action;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot tell where this program is: {e}")),
    };
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let config = common.config.as_deref().map(absolute);
    let log_file = cfg.log.file.as_deref().map(absolute);
    let unit = crate::service::unit(&exe, config.as_deref(), &absolute(&cfg.data_dir()), log_file.as_deref(), user);
    let path = crate::service::unit_path(user);
    if print {
        println!("# {}\n{unit}", path.display());
        return ExitCode::SUCCESS;
    }
    if std::fs::read_to_string(&path).is_ok_and(|old| old == unit) {
        println!("{} is up to date", path.display());
        return ExitCode::SUCCESS;
    }
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return fail(format!("{}: {e}", dir.display()));
    }
    if let Err(e) = std::fs::write(&path, &unit) {
        return fail(format!("{}: {e} (a system service needs root; --user installs one for you)", path.display()));
    }
    let ctl = if user { "systemctl --user" } else { "systemctl" };
    println!("wrote {}\nnext: {ctl} daemon-reload && {ctl} enable --now omnigate", path.display());
    println!("reload the config file live with: {ctl} reload omnigate (SIGHUP)");
    ExitCode::SUCCESS
}

fn announce(first: &app::FirstStart, addr: std::net::SocketAddr, data_dir: &std::path::Path) {
    if first.admin_password.is_none() && first.gateway_key.is_none() {
        return;
    }
    let file = crate::first_start::path(data_dir);
    let mut msg = format!(
        "\n  First start: store these credentials now. They are shown at each start (and kept in\n  {}, mode 0600) until the first dashboard login deletes them.\n",
        file.display()
    );
    if let Some(p) = &first.admin_password {
        msg.push_str(&format!("    dashboard  http://{addr}/dashboard   admin password: {p}\n"));
    }
    if let Some(k) = &first.gateway_key {
        msg.push_str(&format!("    gateway key (name \"default\"): {k}\n"));
    }
    eprintln!("{msg}");
}

/// SIGHUP, caught from when this is called (`None` where it cannot be).
#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

/// SIGTERM or SIGINT: registered when this is called (a signal from then on is not lost),
/// resolved when one arrives.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let streams = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        match streams {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A command that works on an existing installation refuses to make a fresh, empty one (whose
/// keys no daemon would know): the SQLite file must exist where the daemon keeps it.
fn existing_database(cfg: &Config) -> Result<(), String> {
    if cfg.database.url.is_some() {
        return Ok(());
    }
    let path = cfg.data_dir().join("omnigate.db");
    if path.exists() {
        Ok(())
    } else {
        Err(format!(
            "no Omnigate database at {}; pass --data-dir (or OMNIGATE_DATA_DIR, or the config's server.data_dir) or start the daemon first",
            path.display()
        ))
    }
}

async fn keys(cfg: Config, action: KeysAction) -> ExitCode {
    if let Err(e) = existing_database(&cfg) {
        return fail(e);
    }
    let opened = match app::open(&cfg, &Bootstrap::from_env(), false).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let db = &opened.db.conn;
    let code = match action {
        KeysAction::Create { name, models } => {
            let models = if models.is_empty() { vec!["*".to_string()] } else { models };
            let key = generate_key();
            let digest = opened.sealer.digest(&key);
            match key_store::insert(db, &name, &digest, &display_prefix(&key), &models, "cli").await {
                Ok(()) => {
                    println!("{key}");
                    eprintln!("key `{name}` created for models {models:?}; it is shown only this once");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot create key `{name}` (does the name exist already?): {e}")),
            }
        }
        KeysAction::List => match key_store::list(db).await {
            Ok(rows) => {
                println!("{:<20} {:<14} {:<9} {:<10} MODELS", "NAME", "PREFIX", "STATE", "SOURCE");
                for r in rows.into_iter().map(KeyRow::from) {
                    let st = if r.revoked_at.is_some() {
                        "revoked"
                    } else if r.enabled {
                        "active"
                    } else {
                        "disabled"
                    };
                    println!("{:<20} {:<14} {:<9} {:<10} {}", r.name, r.prefix, st, r.source, r.models.join(","));
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        KeysAction::Revoke { name } => match key_store::revoke(db, &name).await {
            Ok(true) => {
                println!("revoked `{name}`");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no active key named `{name}`")),
            Err(e) => fail(e),
        },
    };
    opened.db.close().await;
    code
}

/// `omnigate accounts login | import`: a subscription sign-in written to the database (sealed).
pub async fn sign_in(common: &Common, action: crate::cli::SignInAction) -> ExitCode {
    let cfg = match load_config(common, vec![]) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = existing_database(&cfg) {
        return fail(e);
    }
    let opened = match app::open(&cfg, &Bootstrap::from_env(), false).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let res = crate::oauth::cli::run(&opened.db.conn, &opened.sealer, action).await;
    opened.db.close().await;
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn reset_admin_password(cfg: Config) -> ExitCode {
    if let Err(e) = existing_database(&cfg) {
        return fail(e);
    }
    let boot = Bootstrap::from_env();
    let opened = match app::open(&cfg, &boot, false).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let (password, generated) = match boot.admin_password {
        Some(p) => (p, false),
        None => (crate::secrets::random_token(15), true),
    };
    let res: Result<(), StartError> = app::set_admin_password(&opened.db.conn, &password).await;
    opened.db.close().await;
    if res.is_ok() {
        crate::first_start::password_replaced(&cfg.data_dir());
    }
    match res {
        Ok(()) if generated => {
            println!("{password}");
            eprintln!("new admin password set (shown once); existing sessions stay valid until they expire");
            ExitCode::SUCCESS
        }
        Ok(()) => {
            eprintln!("admin password set from OMNIGATE_ADMIN_PASSWORD");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

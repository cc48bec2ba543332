//! `omnigate status` and `omnigate doctor`: the installation's health, one line per fact.
//! `status` asks the running daemon (public `/health`, then the admin API for accounts and
//! today's requests) and exits non-zero when none answers. `doctor` checks what a start
//! needs without starting anything: the config, the data directory, the database and its
//! migrations, the master key against the sealed data (`app::check_master_key`, the start-up
//! path without its writes), the port (or the daemon on it), each account's test and the clock
//! against the daemon's `Date` header; it exits non-zero when any check fails.

use std::process::ExitCode;
use std::time::Duration;

use awc::http::Method;
use migration::{Migrator, Trait as _};
use serde_json::Value;

use crate::accounts_cli::{Daemon, Remote, is_loopback};
use crate::app::{self, Bootstrap, MasterKeyCheck};
use crate::cli::Common;
use crate::config::Config;
use crate::secrets::KeySource;

/// How long the daemon has to answer `/health`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// A clock further than this from the daemon's is a failure (OAuth tokens and usage windows
/// depend on it).
const MAX_SKEW_SECS: i64 = 30;

/// What `/health` said, or why it did not.
enum Health {
    /// An Omnigate daemon answered.
    Up {
        /// Its version.
        version: String,
        /// Seconds since it started.
        uptime: u64,
        /// Its `Date` header, as seconds since the epoch.
        date: Option<i64>,
    },
    /// Nothing listens there.
    Down,
    /// Something listens but is no Omnigate daemon (or hangs).
    Other(String),
}

async fn health(d: &Daemon) -> Health {
    let sent = d.client.get(format!("{}/health", d.url)).timeout(HEALTH_TIMEOUT).send().await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(awc::error::SendRequestError::Connect(_)) => return Health::Down,
        Err(awc::error::SendRequestError::Timeout) => {
            return Health::Other(format!("something accepts connections at {} but does not answer HTTP", d.url));
        }
        Err(e) => return Health::Other(format!("{} answers oddly: {e}", d.url)),
    };
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp());
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    match body["version"].as_str() {
        Some(v) => Health::Up { version: v.to_string(), uptime: body["uptime_secs"].as_u64().unwrap_or(0), date },
        None => Health::Other(format!("{} answers /health with {status} but is not an Omnigate daemon", d.url)),
    }
}

fn port_of(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((_, p)) if !p.ends_with(']') => p.parse().ok(),
        _ if url.starts_with("https://") => Some(443),
        _ => Some(80),
    }
}

/// Runs `omnigate status`.
pub async fn status(common: Common, remote: Remote) -> ExitCode {
    let d = match Daemon::locate(&common, &remote) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("omnigate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (version, uptime) = match health(&d).await {
        Health::Up { version, uptime, .. } => (version, uptime),
        Health::Down => {
            println!("daemon:   down (nothing answers at {}); start it with `omnigate serve`", d.url);
            return ExitCode::FAILURE;
        }
        Health::Other(why) => {
            println!("daemon:   not answering: {why}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "daemon:   up at {} (version {version}, up {})",
        d.url,
        crate::pipeline::words::span(uptime as i64 * 1000)
    );
    println!("port:     {}", port_of(&d.url).map_or_else(|| "?".into(), |p| p.to_string()));
    match d.call(Method::GET, "/api/accounts", None).await {
        Ok(v) => {
            let all = v["accounts"].as_array().cloned().unwrap_or_default();
            let count =
                |words: &[&str]| all.iter().filter(|a| words.contains(&a["state"].as_str().unwrap_or(""))).count();
            println!(
                "accounts: {} healthy, {} cooling, {} dead, {} off ({} in all)",
                count(&["ready"]),
                count(&["cooling", "breaker open"]),
                count(&["credentials refused", "out of service"]),
                count(&["off"]),
                all.len()
            );
        }
        Err(e) => println!("accounts: unknown ({e})"),
    }
    match d.call(Method::GET, "/api/usage/summary?window=24h&bucket=5m", None).await {
        Ok(v) => {
            let (requests, errors) = since(&v, local_midnight_ms());
            println!("requests: {requests} today ({errors} failed)");
        }
        Err(e) => println!("requests: unknown ({e})"),
    }
    ExitCode::SUCCESS
}

/// Today's start on this machine's clock and time zone (ms since the epoch), as the dashboard's
/// Overview counts "today".
fn local_midnight_ms() -> i64 {
    use chrono::TimeZone as _;
    let now = chrono::Local::now();
    let midnight = now.date_naive().and_time(chrono::NaiveTime::MIN);
    chrono::Local.from_local_datetime(&midnight).earliest().map_or(0, |t| t.timestamp_millis())
}

/// The requests and failures of a usage summary's buckets that start at or after `from` (ms).
fn since(summary: &Value, from: i64) -> (i64, i64) {
    let buckets = summary["buckets"].as_array().map(Vec::as_slice).unwrap_or_default();
    buckets
        .iter()
        .filter(|b| b["ts"].as_i64().is_some_and(|t| t >= from))
        .fold((0, 0), |(r, e), b| (r + b["requests"].as_i64().unwrap_or(0), e + b["errors"].as_i64().unwrap_or(0)))
}

/// One check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Fail,
    Skip,
}

/// The checks so far, printed as they come.
#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn line(&mut self, v: Verdict, what: &str, text: impl AsRef<str>) {
        let word = match v {
            Verdict::Ok => "ok  ",
            Verdict::Fail => {
                self.failed += 1;
                "FAIL"
            }
            Verdict::Skip => "skip",
        };
        println!("{word}  {what}: {}", text.as_ref());
    }
}

fn source_words(s: &KeySource) -> String {
    match s {
        KeySource::Env => "OMNIGATE_MASTER_KEY".into(),
        KeySource::File(p) | KeySource::Generated(p) => p.display().to_string(),
    }
}

/// Runs `omnigate doctor`.
pub async fn doctor(common: Common, remote: Remote) -> ExitCode {
    let mut r = Report::default();
    let cfg = config_check(&common, &mut r);
    if let Some(cfg) = &cfg {
        let writable = data_dir_check(cfg, &mut r);
        database_checks(cfg, writable, &mut r).await;
    }
    daemon_checks(&common, &remote, cfg.as_ref(), &mut r).await;
    if r.failed > 0 {
        println!("{} check(s) failed", r.failed);
        ExitCode::FAILURE
    } else {
        println!("all checks passed");
        ExitCode::SUCCESS
    }
}

/// The full config (entries and secret references too) against the catalog; the settings alone
/// for the checks that follow, so a bad entry does not hide the rest.
fn config_check(common: &Common, r: &mut Report) -> Option<Config> {
    let full = crate::commands::load_config(common, Vec::new()).map_err(|e| e.to_string()).and_then(|cfg| {
        let catalog = crate::providers::Catalog::builtin()?;
        crate::config::validate(&cfg, &catalog).map_err(|e| e.to_string()).map(|()| cfg)
    });
    let file = common
        .config
        .as_ref()
        .map_or_else(|| "no config file, defaults and environment".to_string(), |f| f.display().to_string());
    match full {
        Ok(cfg) => {
            r.line(Verdict::Ok, "config", format!("valid ({file})"));
            Some(cfg)
        }
        Err(e) => {
            r.line(Verdict::Fail, "config", format!("{e} — fix it, then `omnigate check-config` ({file})"));
            crate::commands::load_settings(common).ok()
        }
    }
}

/// Whether the data directory can be written (creating and removing a probe file).
fn data_dir_check(cfg: &Config, r: &mut Report) -> bool {
    let dir = cfg.data_dir();
    if !dir.exists() {
        r.line(Verdict::Ok, "data dir", format!("{} does not exist yet (`omnigate serve` creates it)", dir.display()));
        return true;
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            r.line(Verdict::Ok, "data dir", format!("{} is writable", dir.display()));
            true
        }
        Err(e) => {
            r.line(
                Verdict::Fail,
                "data dir",
                format!(
                    "{} is not writable ({e}) — give the daemon's user write access (chmod u+w {0}) or pass --data-dir",
                    dir.display()
                ),
            );
            false
        }
    }
}

async fn database_checks(cfg: &Config, dir_writable: bool, r: &mut Report) {
    let boot = Bootstrap::from_env();
    let url = cfg.database_url();
    let sqlite_file = cfg.database.url.is_none().then(|| cfg.data_dir().join("omnigate.db"));
    if let Some(file) = sqlite_file.as_ref().filter(|f| !f.exists()) {
        r.line(Verdict::Ok, "database", format!("none yet at {} (`omnigate serve` creates it)", file.display()));
        match crate::secrets::load_master_key(boot.master_key.as_deref(), &cfg.data_dir(), false) {
            Ok((_, s)) => {
                r.line(Verdict::Ok, "master key", format!("present ({}); nothing sealed yet", source_words(&s)))
            }
            Err(crate::secrets::SecretError::MissingKey(_)) => {
                r.line(Verdict::Ok, "master key", "none yet (the first start generates one)")
            }
            Err(e) => {
                r.line(Verdict::Fail, "master key", format!("{e} — set OMNIGATE_MASTER_KEY to the key you backed up"))
            }
        }
        return;
    }
    if !dir_writable && sqlite_file.is_some() {
        r.line(Verdict::Skip, "database", "not opened: SQLite needs a writable data dir for its journal (see above)");
        return;
    }
    let db = match crate::db::connect(&url, 1, false).await {
        Ok(db) => db,
        Err(e) => {
            r.line(
                Verdict::Fail,
                "database",
                format!("{e} — check DATABASE_URL / database.url and that the server runs"),
            );
            return;
        }
    };
    match Migrator::get_pending_migrations_read_only(&db.conn).await {
        Ok(p) if p.is_empty() => {
            r.line(Verdict::Ok, "database", format!("reachable at {}, migrations current", crate::db::redact_url(&url)))
        }
        Ok(p) => r.line(
            Verdict::Fail,
            "database",
            format!("{} migration(s) pending — run `omnigate migrate` (or start the daemon)", p.len()),
        ),
        Err(e) => r.line(Verdict::Fail, "database", format!("cannot read the migrations ({e})")),
    }
    match app::check_master_key(&db.conn, cfg, &boot).await {
        Ok(MasterKeyCheck::Opens(s)) => {
            r.line(Verdict::Ok, "master key", format!("opens the sealed data ({})", source_words(&s)))
        }
        Ok(MasterKeyCheck::NothingSealed(s)) => {
            r.line(Verdict::Ok, "master key", format!("present ({}); nothing sealed yet", source_words(&s)))
        }
        Ok(MasterKeyCheck::NoneYet) => r.line(Verdict::Ok, "master key", "none yet (the first start generates one)"),
        Err(e) => r.line(
            Verdict::Fail,
            "master key",
            format!("{e} — use the OMNIGATE_MASTER_KEY (or master.key file) the daemon was started with"),
        ),
    }
    db.close().await;
}

async fn daemon_checks(common: &Common, remote: &Remote, cfg: Option<&Config>, r: &mut Report) {
    let d = match Daemon::locate(common, remote) {
        Ok(d) => d,
        Err(e) => {
            r.line(Verdict::Fail, "daemon", e);
            return;
        }
    };
    match health(&d).await {
        Health::Up { version, date, .. } => {
            r.line(Verdict::Ok, "daemon", format!("answers at {} (version {version})", d.url));
            r.line(Verdict::Ok, "port", format!("{} is the daemon's", port_of(&d.url).unwrap_or(0)));
            account_checks(&d, r).await;
            clock_check(date, r);
        }
        Health::Down => {
            r.line(Verdict::Skip, "daemon", format!("not running at {} (`omnigate serve` starts it)", d.url));
            port_check(&d.url, cfg, r);
            r.line(Verdict::Skip, "accounts", "tested through the running daemon only");
            r.line(Verdict::Skip, "clock", "compared with the daemon's Date header, and no daemon answers");
        }
        Health::Other(why) => {
            r.line(
                Verdict::Fail,
                "port",
                format!("{why} — stop that program, or give Omnigate another port (server.port / --port)"),
            );
        }
    }
}

/// With no daemon answering: can the daemon bind its port?
fn port_check(url: &str, cfg: Option<&Config>, r: &mut Report) {
    let Some(port) = port_of(url) else {
        r.line(Verdict::Skip, "port", format!("no port in {url}"));
        return;
    };
    if !is_loopback(url) {
        r.line(Verdict::Skip, "port", format!("{url} is another machine: its port can only be checked there"));
        return;
    }
    let host = cfg.map_or("127.0.0.1", |c| c.server.host.as_str());
    match std::net::TcpListener::bind((host, port)) {
        Ok(_) => r.line(Verdict::Ok, "port", format!("{host}:{port} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => r.line(
            Verdict::Fail,
            "port",
            format!("{host}:{port} is in use by another program — stop it, or give Omnigate another port (server.port / --port)"),
        ),
        Err(e) => r.line(Verdict::Fail, "port", format!("cannot listen on {host}:{port}: {e}")),
    }
}

/// Each enabled account's test through the daemon (one minimal request upstream each).
async fn account_checks(d: &Daemon, r: &mut Report) {
    let all = match d.call(Method::GET, "/api/accounts", None).await {
        Ok(v) => v["accounts"].as_array().cloned().unwrap_or_default(),
        Err(e) => {
            r.line(Verdict::Fail, "accounts", e);
            return;
        }
    };
    if all.is_empty() {
        r.line(Verdict::Ok, "accounts", "none yet (`omnigate accounts add`)");
    }
    for a in all {
        let label = format!("account {}/{}", a["provider"].as_str().unwrap_or("?"), a["name"].as_str().unwrap_or("?"));
        if a["enabled"].as_bool() == Some(false) {
            r.line(Verdict::Skip, &label, "disabled");
            continue;
        }
        let Some(id) = a["id"].as_i64() else { continue };
        match d.call(Method::POST, &format!("/api/accounts/{id}/test"), None).await {
            Ok(t) if t["ok"].as_bool() == Some(true) => r.line(
                Verdict::Ok,
                &label,
                format!("answered {} in {} ms", t["status"], t["latency_ms"].as_u64().unwrap_or(0)),
            ),
            Ok(t) => r.line(
                Verdict::Fail,
                &label,
                format!(
                    "test failed ({}): {} — check its key with `omnigate accounts test`, or disable it",
                    t["status"].as_u64().map_or_else(|| "no answer".to_string(), |s| s.to_string()),
                    t["error"].as_str().unwrap_or("no answer")
                ),
            ),
            Err(e) => r.line(Verdict::Fail, &label, e),
        }
    }
}

fn clock_check(daemon_date: Option<i64>, r: &mut Report) {
    let Some(theirs) = daemon_date else {
        r.line(Verdict::Skip, "clock", "the daemon sent no Date header to compare with");
        return;
    };
    let ours = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let (v, text) = skew_verdict(ours, theirs);
    r.line(v, "clock", text);
}

/// This machine's clock (`ours`, seconds) against the daemon's `Date` header (`theirs`).
fn skew_verdict(ours: i64, theirs: i64) -> (Verdict, String) {
    let skew = ours - theirs;
    if skew.abs() > MAX_SKEW_SECS {
        (
            Verdict::Fail,
            format!("{skew} s off the daemon's Date header — sync both clocks (NTP: timedatectl set-ntp true)"),
        )
    } else {
        (Verdict::Ok, format!("within {} s of the daemon's Date header", skew.abs().max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_the_url() {
        assert_eq!(port_of("http://127.0.0.1:20128"), Some(20128));
        assert_eq!(port_of("https://gw.example.com/x"), Some(443));
        assert_eq!(port_of("http://[::1]:9/"), Some(9));
        assert_eq!(port_of("http://[::1]"), Some(80));
    }

    #[test]
    fn requests_today_are_the_buckets_since_midnight() {
        let v = serde_json::json!({"buckets": [
            {"ts": 100, "requests": 5, "errors": 1},
            {"ts": 200, "requests": 2, "errors": 0},
            {"ts": 300, "requests": 3, "errors": 2},
        ]});
        assert_eq!(since(&v, 200), (5, 2));
        assert_eq!(since(&Value::Null, 0), (0, 0));
        assert!(local_midnight_ms() <= crate::store::now_ms());
    }

    #[test]
    fn a_clock_more_than_30_s_off_fails() {
        assert_eq!(skew_verdict(1000, 1000).0, Verdict::Ok);
        assert_eq!(skew_verdict(1030, 1000).0, Verdict::Ok);
        let (v, text) = skew_verdict(1000, 1031);
        assert_eq!(v, Verdict::Fail);
        assert!(text.contains("-31 s") && text.contains("NTP"), "{text}");
    }
}

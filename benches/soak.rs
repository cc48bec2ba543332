//! The soak test: 30 minutes (`SOAK_SECS` overrides) of mixed streaming traffic with upstream faults
//! against the release gateway binary, usage recording on (SQLite in a temp data dir), our mock
//! upstream in-process. It owns the long-run checks: memory drift, fd leaks and "exactly one usage
//! row per request" under faults. Run: `cargo bench --bench soak` (`SOAK_SECS=120` for a quick run).
//! Results: tables on stdout and `target/bench/soak.json`; the process exits 1 when a check fails.
//! The gateway's log (level warn) goes to `target/bench/soak-gateway.log`.
//!
//! Traffic (about 250 req/s on the repository's 2-core machine): 50 closed-loop stream workers
//! rotating through OpenAI chat streams, Anthropic `/v1/messages` streams (translated to the
//! OpenAI-dialect mock), the combo `soak-combo` (provider `dead` first: its breaker opens, half-opens
//! and closes on a success scripted every 15 s; then provider `mock`), clients that drop the stream
//! after two chunks (both dialects) and clients that give up 300 ms into a 1 s first byte (provider
//! `slow`); plus 10 workers sending non-streaming chat at 10 req/s each. Provider `mock` rotates
//! (round-robin) over three healthy accounts and three faulty ones: `r429` (always 429,
//! Retry-After 1), `e500` (always 500) and `flaky` (healthy, but every 10 s scripted with a 429, a
//! 500, a stream dropped after 3 events, a malformed frame and a first byte slower than the
//! gateway's first-byte timeout), so fallback and cooldowns run all the time.
//!
//! Measured every 10 s: gateway VmRSS, open fds (entries of /proc/<pid>/fd), requests sent / ok /
//! failed / cancelled. Warm-up = max(10 % of the run, min(60 s, half the run)); window W = min(60 s,
//! half of the time after warm-up). Verdicts:
//! - RSS drift = (median RSS of the last W − median RSS of the first W after warm-up) / the latter;
//!   fails at >= 5 %.
//! - fd growth = max fds after warm-up − fds at the end of warm-up; fails above 10.
//! - Usage rows: after the load stops and in-flight requests finish, the gateway gets SIGTERM (it
//!   flushes), then the `usage` table is counted. It must equal the counted requests: every request
//!   that got an HTTP response (any status; whether its body was then read, broke, or was dropped by
//!   us mid-stream) plus every request we cancelled before its response arrived (the `slow` clients,
//!   or a 30 s safety limit). Requests whose connection failed before any response (awc connect or
//!   send errors) are not counted; their number is printed as "no response" (expected 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/mock/mod.rs"]
mod mock;

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use futures_util::StreamExt;
use mock::Reply;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, sleep_until, timeout};

const KEY: &str = "sk-og-soak-0001";
const SAMPLE_SECS: u64 = 10;
const STREAM_WORKERS: usize = 50;
const JSON_WORKERS: usize = 10;
const JSON_PERIOD: Duration = Duration::from_millis(100);
/// A stream worker starts at most one request per this (a fast failure must not turn into a flood).
const STREAM_PERIOD: Duration = Duration::from_millis(250);
const IMPATIENT_AFTER: Duration = Duration::from_millis(300);
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// A kind of client request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    ChatStream,
    ChatJson,
    MessagesStream,
    Combo,
    ChatDisconnect,
    MessagesDisconnect,
    Impatient,
}

use Class::*;

const CLASSES: [Class; 7] =
    [ChatStream, ChatJson, MessagesStream, Combo, ChatDisconnect, MessagesDisconnect, Impatient];

/// What a stream worker sends, in turn (each worker starts at its own offset).
const STREAM_MIX: [Class; 10] = [
    ChatStream,
    MessagesStream,
    Combo,
    ChatStream,
    MessagesStream,
    ChatDisconnect,
    ChatStream,
    MessagesStream,
    MessagesDisconnect,
    Impatient,
];

impl Class {
    fn name(self) -> &'static str {
        match self {
            ChatStream => "openai stream",
            ChatJson => "openai non-stream",
            MessagesStream => "anthropic stream",
            Combo => "combo stream (dead → mock)",
            ChatDisconnect => "openai disconnect mid-stream",
            MessagesDisconnect => "anthropic disconnect mid-stream",
            Impatient => "cancel before first byte",
        }
    }

    /// Its key in `SOAK_CLASSES`.
    fn key(self) -> &'static str {
        match self {
            ChatStream => "chat",
            ChatJson => "json",
            MessagesStream => "messages",
            Combo => "combo",
            ChatDisconnect => "chat-drop",
            MessagesDisconnect => "messages-drop",
            Impatient => "impatient",
        }
    }

    fn anthropic(self) -> bool {
        matches!(self, MessagesStream | MessagesDisconnect)
    }

    fn body(self) -> (&'static str, Value) {
        let model = match self {
            Combo => "soak-combo",
            Impatient => "slow/mock-model",
            _ => "mock/mock-model",
        };
        if self.anthropic() {
            let body = json!({"model": model, "stream": true, "max_tokens": 64, "system": "You are terse.",
                              "messages": [{"role": "user", "content": "Say hello to the soak."}]});
            return ("/v1/messages", body);
        }
        let body = json!({"model": model, "stream": self != ChatJson, "max_tokens": 64,
                          "messages": [{"role": "user", "content": "Say hello to the soak."}]});
        ("/v1/chat/completions", body)
    }
}

enum Outcome {
    Ok,
    Failed,
    /// We hung up: mid-stream on purpose, before the first byte, or at the safety limit.
    Cancelled,
    /// The connection failed before any response: not counted for usage.
    NoResponse,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sent: u64,
    ok: u64,
    failed: u64,
    cancelled: u64,
    no_response: u64,
    /// Got response headers (any status).
    responded: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.sent += o.sent;
        self.ok += o.ok;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
        self.no_response += o.no_response;
        self.responded += o.responded;
    }

    /// Requests that must have a usage row: a response, or cancelled by us before one.
    fn counted(&self) -> u64 {
        self.ok + self.failed + self.cancelled
    }

    fn json(&self) -> Value {
        json!({"sent": self.sent, "ok": self.ok, "failed": self.failed, "cancelled": self.cancelled,
               "no_response": self.no_response, "responded": self.responded, "counted": self.counted()})
    }
}

type Stats = Rc<RefCell<[Counts; CLASSES.len()]>>;

fn totals(stats: &Stats) -> Counts {
    let mut t = Counts::default();
    stats.borrow().iter().for_each(|c| t.add(c));
    t
}

/// One request of `class`; the bool says whether response headers arrived.
async fn run_one(c: &awc::Client, base: &str, class: Class) -> (Outcome, bool) {
    let responded = Cell::new(false);
    let work = async {
        let (path, body) = class.body();
        let Ok(mut r) = c.post(format!("{base}{path}")).bearer_auth(KEY).send_json(&body).await else {
            return Outcome::NoResponse;
        };
        responded.set(true);
        if !r.status().is_success() {
            let _ = r.body().await;
            return Outcome::Failed;
        }
        if matches!(class, ChatDisconnect | MessagesDisconnect) {
            for _ in 0..2 {
                if !matches!(r.next().await, Some(Ok(_))) {
                    return Outcome::Failed;
                }
            }
            return Outcome::Cancelled; // dropping `r` closes the connection mid-stream
        }
        if class == ChatJson {
            let ok = r.json::<Value>().await.is_ok_and(|v| v["choices"][0]["message"].is_object());
            return if ok { Outcome::Ok } else { Outcome::Failed };
        }
        let mut text = Vec::new();
        while let Some(chunk) = r.next().await {
            let Ok(b) = chunk else { return Outcome::Failed };
            text.extend_from_slice(&b);
        }
        let text = String::from_utf8_lossy(&text);
        let complete = if class.anthropic() {
            text.contains("event: message_stop") && !text.contains("event: error")
        } else {
            text.ends_with("data: [DONE]\n\n") && !text.contains("\"error\"")
        };
        if complete { Outcome::Ok } else { Outcome::Failed }
    };
    let limit = if class == Impatient { IMPATIENT_AFTER } else { REQUEST_LIMIT };
    let outcome = timeout(limit, work).await.unwrap_or(Outcome::Cancelled);
    (outcome, responded.get())
}

/// Starts the load; the workers stop after their current request once `stop` is set.
fn start_load(base: &str, only: &[Class], stats: &Stats, stop: &Rc<Cell<bool>>) -> Vec<actix_rt::task::JoinHandle<()>> {
    let mix: Rc<Vec<Class>> = Rc::new(STREAM_MIX.into_iter().filter(|c| only.contains(c)).collect());
    let streams = if mix.is_empty() { 0 } else { STREAM_WORKERS };
    let json = if only.contains(&ChatJson) { JSON_WORKERS } else { 0 };
    // Idle pooled connections are closed before the gateway's 5 s keep-alive could race a request.
    let connector = awc::Connector::new().limit(0).conn_keep_alive(Duration::from_secs(3));
    let c = awc::Client::builder().connector(connector).disable_timeout().finish();
    (0..streams + json)
        .map(|w| {
            let (c, base, stats, stop, mix) = (c.clone(), base.to_string(), stats.clone(), stop.clone(), mix.clone());
            actix_rt::spawn(async move {
                sleep(Duration::from_millis(20 * w as u64)).await;
                let mut next = Instant::now();
                let mut n = w;
                while !stop.get() {
                    let class = if w < streams { mix[n % mix.len()] } else { ChatJson };
                    let i = CLASSES.iter().position(|k| *k == class).unwrap_or(0);
                    stats.borrow_mut()[i].sent += 1;
                    let (outcome, responded) = run_one(&c, &base, class).await;
                    {
                        let s = &mut stats.borrow_mut()[i];
                        s.responded += u64::from(responded);
                        match outcome {
                            Outcome::Ok => s.ok += 1,
                            Outcome::Failed => s.failed += 1,
                            Outcome::Cancelled => s.cancelled += 1,
                            Outcome::NoResponse => s.no_response += 1,
                        }
                    }
                    n += 1;
                    next = (next + if class == ChatJson { JSON_PERIOD } else { STREAM_PERIOD }).max(Instant::now());
                    sleep_until(next).await;
                }
            })
        })
        .collect()
}

/// Healthy reply: the recorded OpenAI text fixture, one event every 40 ms when streamed.
fn good() -> Reply {
    Reply::Fixture { kind: "text", delay: Duration::from_millis(40) }
}

fn sse(frames: Vec<String>, first_delay: Duration, drop_after: Option<usize>) -> Reply {
    Reply::Sse { frames, first_delay, delay: Duration::from_millis(20), drop_after }
}

/// The faults `flaky` gets every 10 s, each followed by a healthy reply.
fn flaky_faults() -> Vec<Reply> {
    let frames = || Reply::chat_frames(&["one", " two", " three", " four"], true);
    let mut malformed = frames();
    malformed.insert(1, "data: {\"choices\": [{\"delta\": oops\n\n".into());
    let faults = [
        Reply::rate_limited("1"),
        Reply::status(500),
        sse(frames(), Duration::ZERO, Some(3)),
        sse(malformed, Duration::ZERO, None),
        sse(frames(), Duration::from_secs(2), None), // beyond the 1.5 s first-byte timeout
    ];
    faults.into_iter().flat_map(|f| [f, good()]).collect()
}

/// Starts the scripted mock on its own thread (its own actix System), returning its base URL.
fn start_mock(faults: bool) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let m = mock::MockUpstream::start_with(1, false).await;
            for k in ["good-a", "good-b", "good-c", "flaky"] {
                m.always(k, good());
            }
            let bad = |r: Reply| if faults { r } else { good() };
            m.always("r429", bad(Reply::rate_limited("1")));
            m.always("e500", bad(Reply::status(500)));
            m.always("dead", bad(Reply::status(503)));
            let words = Reply::chat_frames(&["slow", " but", " fine"], true);
            m.always("slow", sse(words, Duration::from_secs(1), None));
            tx.send(m.base()).unwrap();
            if !faults {
                std::future::pending::<()>().await;
            }
            for tick in 0u64.. {
                if tick % 10 == 0 {
                    m.script("flaky", flaky_faults());
                }
                if tick % 15 == 14 {
                    m.script("dead", vec![good()]); // lets a half-open probe close the breaker
                }
                sleep(Duration::from_secs(1)).await;
            }
        });
    });
    rx.recv().unwrap()
}

struct Gateway {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Gateway {
    fn start(mock: &str, log: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cfg = format!(
            r#"
[server]
port = {port}
[log]
level = "warn"
[usage]
enabled = true
[routing]
strategy = "round-robin"
sticky_limit = 1
[resilience]
cooldown_base_ms = 500
cooldown_max_ms = 4000
breaker_open_ms = 2000
breaker_open_max_ms = 8000
[upstream]
first_byte_timeout_ms = 1500
[[keys]]
name = "soak"
key = "{KEY}"
[[combos]]
name = "soak-combo"
models = ["dead/mock-model", "mock/mock-model"]
"#
        );
        for p in ["mock", "dead", "slow"] {
            cfg += &format!(
                "[[providers]]\nid = \"{p}\"\ndialect = \"openai-chat\"\nbase_url = \"{mock}\"\nmodels = [\"mock-model\"]\n"
            );
        }
        let accounts = [("mock", "good-a"), ("mock", "good-b"), ("mock", "good-c"), ("mock", "flaky")];
        let accounts =
            accounts.into_iter().chain([("mock", "r429"), ("mock", "e500"), ("dead", "dead"), ("slow", "slow")]);
        for (p, a) in accounts {
            cfg += &format!("[[accounts]]\nprovider = \"{p}\"\nname = \"{a}\"\napi_key = \"{a}\"\n");
        }
        let file = dir.path().join("soak.toml");
        std::fs::write(&file, cfg).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_omnigate"))
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path())
            .env("OMNIGATE_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .env("OMNIGATE_ADMIN_PASSWORD", "soak-admin")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("gateway binary starts");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        Self { child, port, dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (the gateway flushes usage and exits); its exit code, `None` if killed after 60 s.
    async fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        for _ in 0..600 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// A `/proc/<pid>/status` memory field (`VmRSS`, `RssAnon`, `RssFile`), in MiB.
fn mem_mib(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) { (v[m - 1] + v[m]) / 2.0 } else { v[m] }
}

struct Sample {
    t: u64,
    rss: f64,
    anon: f64,
    fds: usize,
    counts: Counts,
}

/// The `usage` row count, and rows per (client dialect, provider, status).
async fn usage_rows(db_file: &Path) -> (u64, Vec<Value>) {
    let db = sea_orm::Database::connect(format!("sqlite://{}", db_file.display())).await.expect("open usage db");
    let q = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql);
    let row = db.query_one_raw(q("SELECT COUNT(*) AS n FROM usage")).await.unwrap().unwrap();
    let total = row.try_get::<i64>("", "n").unwrap() as u64;
    let sql = "SELECT client_dialect AS d, COALESCE(provider, '-') AS p, status AS s, COUNT(*) AS n FROM usage \
               GROUP BY d, p, s ORDER BY d, p, s";
    let groups = db.query_all_raw(q(sql)).await.unwrap();
    let groups = groups
        .iter()
        .map(|r| {
            json!({"client_dialect": r.try_get::<String>("", "d").unwrap(), "provider": r.try_get::<String>("", "p").unwrap(),
                   "status": r.try_get::<i64>("", "s").unwrap(), "rows": r.try_get::<i64>("", "n").unwrap()})
        })
        .collect();
    (total, groups)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = std::env::var("SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(1800u64).max(40);
    let secs = secs / SAMPLE_SECS * SAMPLE_SECS;
    let round = |s: u64| s.div_ceil(SAMPLE_SECS) * SAMPLE_SECS;
    let warmup = round((secs / 10).max(60.min(secs / 2)));
    let window = ((secs - warmup) / 2).min(60) / SAMPLE_SECS * SAMPLE_SECS;
    let only: Vec<Class> = match std::env::var("SOAK_CLASSES") {
        Ok(v) => CLASSES.into_iter().filter(|c| v.split(',').any(|k| k.trim() == c.key())).collect(),
        Err(_) => CLASSES.to_vec(),
    };
    let faults = std::env::var("SOAK_FAULTS").map_or(true, |v| v != "0");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).unwrap();

    let pass = actix_rt::System::new().block_on(async move {
        let mock = start_mock(faults);
        let mut gw = Gateway::start(&mock, &out.join("soak-gateway.log"));
        let pid = gw.pid();
        let keys: Vec<&str> = only.iter().map(|c| c.key()).collect();
        println!("soak: {secs} s, warm-up {warmup} s, window {window} s, classes {}, gateway pid {pid}\n", keys.join(","));
        println!("| t (s) | RSS MiB | of it anon | fds | sent | ok | failed | cancelled | no response |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let stats: Stats = Rc::default();
        let stop = Rc::new(Cell::new(false));
        let start = Instant::now();
        let workers = start_load(&format!("http://127.0.0.1:{}", gw.port), &only, &stats, &stop);
        let mut samples = Vec::new();
        for i in 0..=secs / SAMPLE_SECS {
            sleep_until(start + Duration::from_secs(i * SAMPLE_SECS)).await;
            let (t, c) = (i * SAMPLE_SECS, totals(&stats));
            let (rss, anon) = (mem_mib(pid, "VmRSS"), mem_mib(pid, "RssAnon"));
            let s = Sample { t, rss, anon, fds: fd_count(pid), counts: c };
            println!(
                "| {t} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} |",
                s.rss, s.anon, s.fds, c.sent, c.ok, c.failed, c.cancelled, c.no_response
            );
            samples.push(s);
        }
        stop.set(true);
        for w in workers {
            let _ = w.await;
        }
        let drain_secs = start.elapsed().as_secs_f64() - secs as f64;
        sleep(Duration::from_secs(1)).await;
        let exit = gw.terminate().await;
        let (rows, groups) = usage_rows(&gw.dir.path().join("omnigate.db")).await;

        let rss_in = |a: u64, b: u64| median(samples.iter().filter(|s| s.t >= a && s.t <= b).map(|s| s.rss).collect());
        let base_rss = rss_in(warmup, warmup + window - SAMPLE_SECS);
        let end_rss = rss_in(secs - window + SAMPLE_SECS, secs);
        let drift = (end_rss - base_rss) / base_rss;
        let fd_at_warmup = samples.iter().find(|s| s.t == warmup).map_or(0, |s| s.fds);
        let fd_max = samples.iter().filter(|s| s.t >= warmup).map(|s| s.fds).max().unwrap_or(0);
        let fd_growth = fd_max as i64 - fd_at_warmup as i64;
        let total = totals(&stats);
        let counted = total.counted();

        println!("\nload stopped; in-flight requests drained in {drain_secs:.1} s; gateway exit code {exit:?}\n");
        println!("| traffic class | sent | ok | failed | cancelled by us | no response | counted |");
        println!("|---|---|---|---|---|---|---|");
        let mut classes = serde_json::Map::new();
        for (k, c) in CLASSES.iter().zip(stats.borrow().iter()) {
            let cells = [c.sent, c.ok, c.failed, c.cancelled, c.no_response, c.counted()];
            let cells: Vec<String> = cells.iter().map(u64::to_string).collect();
            println!("| {} | {} |", k.name(), cells.join(" | "));
            classes.insert(k.name().into(), c.json());
        }
        let anthropic: u64 = CLASSES.iter().zip(stats.borrow().iter()).filter(|(k, _)| k.anthropic()).map(|(_, c)| c.counted()).sum();
        let dialect_rows = |d: &str| -> i64 {
            groups.iter().filter(|g| g["client_dialect"] == d).map(|g| g["rows"].as_i64().unwrap_or(0)).sum()
        };
        println!(
            "usage rows by client dialect: openai-chat {} (counted {}), anthropic {} (counted {anthropic})",
            dialect_rows("openai-chat"),
            counted - anthropic,
            dialect_rows("anthropic")
        );
        let by_status: Vec<String> =
            groups.iter().map(|g| format!("{}/{}/{}: {}", g["client_dialect"], g["provider"], g["status"], g["rows"])).collect();
        println!("usage rows by dialect/provider/status: {}", by_status.join(", ").replace('"', ""));

        let rss_ok = drift < 0.05;
        let fd_ok = fd_growth <= 10;
        let rows_ok = rows == counted;
        let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
        println!("\n| check | value | limit | verdict |");
        println!("|---|---|---|---|");
        println!(
            "| RSS drift | {:+.2} % ({base_rss:.1} → {end_rss:.1} MiB; first sample {:.1}, last {:.1}) | < 5 % | {} |",
            drift * 100.0,
            samples[0].rss,
            samples[samples.len() - 1].rss,
            verdict(rss_ok)
        );
        println!("| fd growth | {fd_growth:+} ({fd_at_warmup} at warm-up end, max {fd_max}) | <= 10 | {} |", verdict(fd_ok));
        println!(
            "| usage rows | {rows} rows vs {counted} counted ({} responded + {} cancelled before a response; {} no response) | equal | {} |",
            total.responded,
            counted - total.responded,
            total.no_response,
            verdict(rows_ok)
        );
        let pass = rss_ok && fd_ok && rows_ok;
        let report = json!({
            "secs": secs, "warmup_secs": warmup, "window_secs": window, "drain_secs": drain_secs, "gateway_exit_code": exit,
            "samples": samples.iter().map(|s| json!({"t": s.t, "rss_mib": s.rss, "rss_anon_mib": s.anon, "fds": s.fds, "requests": s.counts.json()})).collect::<Vec<_>>(),
            "classes": classes, "totals": total.json(), "usage_rows_by_group": groups,
            "rss": {"baseline_median_mib": base_rss, "final_median_mib": end_rss, "drift": drift, "pass": rss_ok},
            "fds": {"at_warmup_end": fd_at_warmup, "max_after_warmup": fd_max, "growth": fd_growth, "pass": fd_ok},
            "usage": {"rows": rows, "counted_requests": counted, "responded": total.responded,
                      "cancelled_before_response": counted - total.responded, "no_response": total.no_response, "pass": rows_ok},
            "pass": pass,
        });
        std::fs::write(out.join("soak.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
        println!("\n{}: results written to target/bench/soak.json", if pass { "PASS" } else { "FAIL" });
        pass
    });
    if !pass {
        std::process::exit(1);
    }
}

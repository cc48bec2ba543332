//! The soak test: 30 minutes (`SOAK_SECS` overrides) of mixed streaming traffic with upstream faults
//! against the release gateway binary, usage recording on (SQLite in a temp data dir), our mock
//! upstream in-process. It owns the long-run checks: memory drift, fd leaks, and exactly one usage
//! row per request under faults. Run: `cargo bench --bench soak` (`SOAK_SECS=120` for a quick run).
//! Results: tables on stdout and `target/bench/soak.json`; exit code 1 when a check fails. The
//! gateway's log (level warn) goes to `target/bench/soak-gateway.log`.
//!
//! Traffic, at most ~300 req/s: 50 stream workers (each starts at most one request per 250 ms) cycle
//! through the classes `chat` (OpenAI chat stream), `messages` (Anthropic `/v1/messages` stream,
//! translated to the OpenAI-dialect mock), `combo` (combo `soak-combo`: provider `dead` first, whose
//! breaker opens, half-opens and closes on a success scripted every 15 s; then provider `mock`),
//! `chat-drop` / `messages-drop` (the client hangs up after two chunks) and `impatient` (the client
//! gives up 300 ms into the 1 s first byte of provider `slow`); 10 workers send `json` (OpenAI chat,
//! non-streaming) at 10 req/s each. Provider `mock` rotates (round-robin) over three healthy
//! accounts and three faulty ones: `r429` (429, Retry-After 1), `e500` (500) and `flaky` (healthy,
//! but every 10 s scripted with a 429, a 500, a stream dropped after 3 events, a malformed frame and
//! a first byte slower than the gateway's 1.5 s first-byte timeout), so fallback, cooldowns and
//! breakers run all the time. For bisecting a leak: `SOAK_CLASSES=chat,json,...` runs only those
//! classes, `SOAK_FAULTS=0` makes every upstream account healthy.
//!
//! Sampled every 10 s: gateway VmRSS (and RssAnon), open fds (entries of /proc/<pid>/fd), requests
//! sent / ok / failed / cancelled. Warm-up = max(10 % of the run, min(60 s, half the run)); window
//! W = min(60 s, half of the time after warm-up). Verdicts:
//! - RSS drift = (median RSS of the last W − median RSS of the first W after warm-up) / the latter;
//!   fails at >= 5 %.
//! - fd growth = median open fds of the last W − median of the first W after warm-up (the count
//!   swings by dozens with the connections in flight; a leak moves the median); fails above 10.
//! - Usage rows: the load stops, in-flight requests finish, the gateway gets SIGTERM (it flushes and
//!   exits), then the `usage` table is counted. It must equal the counted requests: every request
//!   that got an HTTP response (any status; whether its body was then read whole, broke, or was
//!   dropped by us mid-stream) plus every request we cancelled before its response arrived
//!   (`impatient`, or a 30 s safety limit). Requests whose connection failed before any response
//!   (awc connect or send errors) are not counted; their number is printed as "no response".

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
const STREAM_PERIOD: Duration = Duration::from_millis(250);
const JSON_WORKERS: usize = 10;
const JSON_PERIOD: Duration = Duration::from_millis(100);
const IMPATIENT_AFTER: Duration = Duration::from_millis(300);
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// A kind of client request (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Chat,
    Json,
    Messages,
    Combo,
    ChatDrop,
    MessagesDrop,
    Impatient,
}

use Class::*;

const CLASSES: [Class; 7] = [Chat, Json, Messages, Combo, ChatDrop, MessagesDrop, Impatient];
/// What a stream worker sends, in turn (each worker starts at its own offset).
const STREAM_MIX: [Class; 10] =
    [Chat, Messages, Combo, Chat, Messages, ChatDrop, Chat, Messages, MessagesDrop, Impatient];

impl Class {
    fn key(self) -> &'static str {
        match self {
            Chat => "chat",
            Json => "json",
            Messages => "messages",
            Combo => "combo",
            ChatDrop => "chat-drop",
            MessagesDrop => "messages-drop",
            Impatient => "impatient",
        }
    }

    fn anthropic(self) -> bool {
        matches!(self, Messages | MessagesDrop)
    }

    fn request(self) -> (&'static str, Value) {
        let model = match self {
            Combo => "soak-combo",
            Impatient => "slow/mock-model",
            _ => "mock/mock-model",
        };
        let messages = json!([{"role": "user", "content": "Say hello to the soak."}]);
        if self.anthropic() {
            let body =
                json!({"model": model, "stream": true, "max_tokens": 64, "system": "Be terse.", "messages": messages});
            return ("/v1/messages", body);
        }
        (
            "/v1/chat/completions",
            json!({"model": model, "stream": self != Json, "max_tokens": 64, "messages": messages}),
        )
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
        let (path, body) = class.request();
        let Ok(mut r) = c.post(format!("{base}{path}")).bearer_auth(KEY).send_json(&body).await else {
            return Outcome::NoResponse;
        };
        responded.set(true);
        if !r.status().is_success() {
            let _ = r.body().await;
            return Outcome::Failed;
        }
        if matches!(class, ChatDrop | MessagesDrop) {
            for _ in 0..2 {
                if !matches!(r.next().await, Some(Ok(_))) {
                    return Outcome::Failed;
                }
            }
            return Outcome::Cancelled; // dropping `r` closes the connection mid-stream
        }
        if class == Json {
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

/// Starts the workers; each stops after its current request once `stop` is set.
fn start_load(base: &str, only: &[Class], stats: &Stats, stop: &Rc<Cell<bool>>) -> Vec<actix_rt::task::JoinHandle<()>> {
    let mix: Rc<Vec<Class>> = Rc::new(STREAM_MIX.into_iter().filter(|c| only.contains(c)).collect());
    let streams = if mix.is_empty() { 0 } else { STREAM_WORKERS };
    let jsons = if only.contains(&Json) { JSON_WORKERS } else { 0 };
    // Idle pooled connections close before the gateway's 5 s keep-alive could race a request.
    let connector = awc::Connector::new().limit(0).conn_keep_alive(Duration::from_secs(3));
    let c = awc::Client::builder().connector(connector).disable_timeout().finish();
    (0..streams + jsons)
        .map(|w| {
            let (c, base, stats, stop, mix) = (c.clone(), base.to_string(), stats.clone(), stop.clone(), mix.clone());
            actix_rt::spawn(async move {
                sleep(Duration::from_millis(20 * w as u64)).await;
                let (mut next, mut n) = (Instant::now(), w);
                while !stop.get() {
                    let class = if w < streams { mix[n % mix.len()] } else { Json };
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
                    // Paced, so that fast failures (an open breaker) cannot turn into a flood.
                    next = (next + if class == Json { JSON_PERIOD } else { STREAM_PERIOD }).max(Instant::now());
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
            let bad = |r: Reply| if faults { r } else { good() };
            for (k, r) in
                [("r429", Reply::rate_limited("1")), ("e500", Reply::status(500)), ("dead", Reply::status(503))]
            {
                m.always(k, bad(r));
            }
            for k in ["good-a", "good-b", "good-c", "flaky"] {
                m.always(k, good());
            }
            m.always("slow", sse(Reply::chat_frames(&["slow", " but", " fine"], true), Duration::from_secs(1), None));
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
            cfg += &format!("[[providers]]\nid = \"{p}\"\ndialect = \"openai-chat\"\nbase_url = \"{mock}\"\n");
            cfg += "models = [\"mock-model\"]\n";
        }
        let mock_accounts = ["good-a", "good-b", "good-c", "flaky", "r429", "e500"].map(|a| ("mock", a));
        for (p, a) in mock_accounts.into_iter().chain([("dead", "dead"), ("slow", "slow")]) {
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

    /// SIGTERM (the gateway flushes usage and exits); its exit code, `None` if it is still up after 60 s.
    async fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..600 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// A `/proc/<pid>/status` memory field (`VmRSS`, `RssAnon`), in MiB.
fn mem_mib(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
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
    let text = |r: &sea_orm::QueryResult, c: &str| r.try_get::<String>("", c).unwrap();
    let int = |r: &sea_orm::QueryResult, c: &str| r.try_get::<i64>("", c).unwrap();
    let groups = groups
        .iter()
        .map(|r| json!({"dialect": text(r, "d"), "provider": text(r, "p"), "status": int(r, "s"), "rows": int(r, "n")}))
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
    let warmup = (secs / 10).max(60.min(secs / 2)).div_ceil(SAMPLE_SECS) * SAMPLE_SECS;
    let window = ((secs - warmup) / 2).min(60) / SAMPLE_SECS * SAMPLE_SECS;
    let only: Vec<Class> = match std::env::var("SOAK_CLASSES") {
        Ok(v) => CLASSES.into_iter().filter(|c| v.split(',').any(|k| k.trim() == c.key())).collect(),
        Err(_) => CLASSES.to_vec(),
    };
    let faults = std::env::var("SOAK_FAULTS").map_or(true, |v| v != "0");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).unwrap();

    let pass = actix_rt::System::new().block_on(async move {
        let mut gw = Gateway::start(&start_mock(faults), &out.join("soak-gateway.log"));
        let pid = gw.child.id();
        let keys: Vec<&str> = only.iter().map(|c| c.key()).collect();
        let classes_run = keys.join(",");
        println!("soak: {secs} s, warm-up {warmup} s, window {window} s, faults {faults}, classes {classes_run}\n");
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
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
            let s = Sample { t, rss: mem_mib(pid, "VmRSS"), anon: mem_mib(pid, "RssAnon"), fds, counts: c };
            let cells = [c.sent, c.ok, c.failed, c.cancelled, c.no_response].map(|v| v.to_string()).join(" | ");
            println!("| {t} | {:.1} | {:.1} | {fds} | {cells} |", s.rss, s.anon);
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

        // Medians of a sampled figure over the first window after warm-up and over the last one.
        let windows = |f: fn(&Sample) -> f64| {
            let median_in =
                |a: u64, b: u64| median(samples.iter().filter(|s| s.t >= a && s.t <= b).map(f).collect());
            (median_in(warmup, warmup + window - SAMPLE_SECS), median_in(secs + SAMPLE_SECS - window, secs))
        };
        let (base_rss, end_rss) = windows(|s| s.rss);
        let drift = (end_rss - base_rss) / base_rss;
        let (fd_base, fd_end) = windows(|s| s.fds as f64);
        let fd_max = samples.iter().filter(|s| s.t >= warmup).map(|s| s.fds).max().unwrap_or(0);
        let fd_growth = (fd_end - fd_base).round() as i64;
        let total = totals(&stats);
        let counted = total.counted();

        println!("\nload stopped; in-flight requests done {drain_secs:.1} s later; gateway exit code {exit:?}\n");
        println!("| class | sent | ok | failed | cancelled by us | no response | counted |");
        println!("|---|---|---|---|---|---|---|");
        let mut classes = serde_json::Map::new();
        for (k, c) in CLASSES.iter().zip(stats.borrow().iter()) {
            let cells = [c.sent, c.ok, c.failed, c.cancelled, c.no_response, c.counted()].map(|v| v.to_string());
            println!("| {} | {} |", k.key(), cells.join(" | "));
            classes.insert(k.key().into(), c.json());
        }
        let group = |g: &Value| format!("{}/{}/{}: {}", g["dialect"], g["provider"], g["status"], g["rows"]);
        let groups_text: Vec<String> = groups.iter().map(group).collect();
        println!("usage rows by client dialect/provider/status: {}", groups_text.join(", ").replace('"', ""));

        let (rss_ok, fd_ok, rows_ok) = (drift < 0.05, fd_growth <= 10, rows == counted);
        let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
        let (first, last) = (samples[0].rss, samples[samples.len() - 1].rss);
        println!("\n| check | value | limit | verdict |\n|---|---|---|---|");
        let drift_pct = drift * 100.0;
        let rss_text = format!("{base_rss:.1} → {end_rss:.1} MiB; {first:.1} at start, {last:.1} at end");
        println!("| RSS drift | {drift_pct:+.2} % ({rss_text}) | < 5 % | {} |", verdict(rss_ok));
        let fd_text = format!("median {fd_base:.0} after warm-up, {fd_end:.0} at the end, max {fd_max}");
        println!("| fd growth | {fd_growth:+} ({fd_text}) | <= 10 | {} |", verdict(fd_ok));
        let (responded, before) = (total.responded, counted - total.responded);
        let rows_text = format!(
            "{responded} responded + {before} cancelled before a response; {} with no response, not counted",
            total.no_response
        );
        println!("| usage rows | {rows} rows vs {counted} counted ({rows_text}) | equal | {} |", verdict(rows_ok));
        let pass = rss_ok && fd_ok && rows_ok;
        let samples: Vec<Value> = samples
            .iter()
            .map(|s| json!({"t": s.t, "rss_mib": s.rss, "anon_mib": s.anon, "fds": s.fds, "requests": s.counts.json()}))
            .collect();
        let report = json!({
            "secs": secs, "warmup_secs": warmup, "window_secs": window, "faults": faults, "classes_run": classes_run,
            "drain_secs": drain_secs, "gateway_exit_code": exit, "samples": samples, "classes": classes,
            "totals": total.json(), "usage_rows_by_group": groups,
            "rss": {"baseline_median_mib": base_rss, "final_median_mib": end_rss, "drift": drift, "pass": rss_ok},
            "fds": {"baseline_median": fd_base, "final_median": fd_end, "max_after_warmup": fd_max, "growth": fd_growth, "pass": fd_ok},
            "usage": {"rows": rows, "counted_requests": counted, "responded": responded,
                      "cancelled_before_response": before, "no_response": total.no_response, "pass": rows_ok},
            "pass": pass,
        });
        std::fs::write(out.join("soak.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
        println!("\n{}: results written to target/bench/soak.json", verdict(pass));
        pass
    });
    if !pass {
        std::process::exit(1);
    }
}

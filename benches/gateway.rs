//! The load benchmark: our mock upstream, a load generator and the release gateway binary, in one
//! run. Direct-to-mock vs. through the gateway at fixed rates, unloaded and at max throughput,
//! streaming time to first byte, translated traffic both ways, gateway CPU per request (from
//! /proc), RSS idle and with 1,000 concurrent streams, what each optional feature costs (usage
//! rows, `/metrics` scrapes, a key's limits and budget, sticky sessions; only that:
//! `BENCH_ONLY=costs`, see `costs.rs`), admin changes every 100 ms under 1,000 req/s (only that:
//! `BENCH_ONLY=churn`), and the response cache: a miss against a hit on a mock that takes at least
//! 50 ms per stream (only that: `BENCH_ONLY=cache`). Apart: `/api/usage/summary` over 10 million
//! usage rows (`BENCH_ONLY=summary`, see `summary.rs`) and two instances on one PostgreSQL against
//! one on SQLite (`BENCH_ONLY=cluster` with `BENCH_PG` naming a PostgreSQL server, see
//! `cluster.rs`). Run: `cargo bench --bench gateway`.
//! Results: tables on stdout, `target/bench/results.json` and the README's table in
//! `target/bench/table.md`; `BENCH_ONLY=readme` records the run as `benches/results.json` and
//! rewrites the README's table from it (`table.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "gateway/cluster.rs"]
mod cluster;
#[path = "gateway/costs.rs"]
mod costs;
#[path = "gateway/load.rs"]
mod load;
#[path = "gateway/machine.rs"]
mod machine;
#[path = "../tests/mock/mod.rs"]
mod mock;
#[path = "gateway/summary.rs"]
mod summary;
#[path = "gateway/table.rs"]
mod table;

use std::cell::RefCell;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use load::{
    RunStats, Sessions, client, fixed_rate, max_throughput, max_throughput_with, paired, paired_unloaded, pct, summary,
    ttfb, ttfb_with,
};
use machine::{cpu_secs, machine, measured, rss_mib, rss_split_mib};

const KEY: &str = "sk-og-bench-0001";
const ADMIN: &str = "bench-admin-token-0123456789";

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Gateway {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn start(mock_base: &str, usage: bool) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), mock_base, usage)
    }

    /// A gateway whose data directory is `dir` (a database may be waiting there).
    fn start_in(dir: tempfile::TempDir, mock_base: &str, usage: bool) -> Self {
        Self::start_limited(dir, mock_base, usage, "")
    }

    /// A gateway whose key carries `limits` (config lines of its `[[keys]]` entry); the mock
    /// model is priced, so a budget reserves and settles on every request.
    fn start_limited(dir: tempfile::TempDir, mock_base: &str, usage: bool, limits: &str) -> Self {
        Self::start_on(dir, mock_base, usage, limits, None)
    }

    /// The same on the database at `database` (PostgreSQL), else on SQLite in `dir`.
    fn start_on(dir: tempfile::TempDir, mock_base: &str, usage: bool, limits: &str, database: Option<&str>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = format!(
            r#"
[server]
port = {port}
[log]
level = "warn"
[usage]
enabled = {usage}
[[keys]]
name = "bench"
key = "{KEY}"
{limits}
"#
        );
        // The mock answers in the dialect of the path it is asked on: one provider per dialect.
        let cfg = [("mock", "openai-chat", "mock-model"), ("mockant", "anthropic", "mock-ant-model")].iter().fold(
            cfg,
            |cfg, (id, dialect, model)| {
                format!(
                    "{cfg}[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{mock_base}\"\n\
                     models = [{{ id = \"{model}\", price = [1.0, 2.0] }}]\n[[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"k\"\n"
                )
            },
        );
        let file = dir.path().join("bench.toml");
        std::fs::write(&file, cfg).unwrap();
        // `BENCH_GATEWAY_BIN`: another build of the daemon, for an A/B of two builds.
        let mut cmd = Command::new(
            std::env::var_os("BENCH_GATEWAY_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_omnigate").into()),
        );
        cmd.args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path())
            .env("OMNIGATE_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .env("OMNIGATE_ADMIN_PASSWORD", "bench-admin")
            .env("OMNIGATE_ADMIN_TOKEN", ADMIN);
        match database {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("gateway binary starts");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        Self { child, port, _dir: dir }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/chat/completions", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `BENCH_ONLY=readme`: records the last full run's `target/bench/results.json` as
/// `benches/results.json` and rewrites the README's table from it.
fn readme() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("target/bench/results.json"))
        .expect("a full run's target/bench/results.json");
    let results: Value = serde_json::from_str(&text).expect("results.json is JSON");
    assert!(results.get("max_throughput").is_some() && results.get("cache").is_some(), "results.json is a full run's");
    std::fs::write(root.join("benches/results.json"), format!("{}\n", serde_json::to_string_pretty(&results).unwrap()))
        .unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let new = table::splice(&readme, &table::readme_table(&results)).expect("the README has the bench-table markers");
    std::fs::write(root.join("README.md"), new).unwrap();
    println!("benches/results.json recorded and the README's benchmark table rewritten");
}

/// An Anthropic Messages body for the translated run.
fn anthropic_body(stream: bool) -> Value {
    json!({"model": "mock/mock-model", "stream": stream, "max_tokens": 64, "system": "You are terse.",
           "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
}

fn body(stream: bool) -> Value {
    json!({"model": "mock-model", "stream": stream, "max_tokens": 64,
           "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello to the benchmark."}]})
}

/// Opens `n` long streams at once; returns RSS (MiB) of `pid` once all of them have started.
async fn concurrent_streams(url: &str, n: usize, pid: u32) -> (f64, usize) {
    let c = client();
    let started = Arc::new(AtomicUsize::new(0));
    let finished_ok = Rc::new(RefCell::new(0usize));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (c, started, ok, url) = (c.clone(), started.clone(), finished_ok.clone(), url.to_string());
            actix_rt::spawn(async move {
                let Ok(mut r) = c.post(url).bearer_auth(KEY).send_json(&body(true)).await else { return };
                if r.next().await.is_some() {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                let mut text = Vec::new();
                while let Some(Ok(b)) = r.next().await {
                    text.extend_from_slice(&b);
                }
                if text.ends_with(b"data: [DONE]\n\n") {
                    *ok.borrow_mut() += 1;
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while started.load(Ordering::SeqCst) < n && t0.elapsed() < Duration::from_secs(20) {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let rss = rss_mib(pid);
    for t in tasks {
        let _ = t.await;
    }
    let ok = *finished_ok.borrow();
    (rss, ok)
}

/// 1,000 req/s without, then with, an admin change every 100 ms: (quiet run, churn run, changes
/// made, changes the API refused).
async fn admin_churn(gw: &Gateway, secs: u64) -> (RunStats, RunStats, usize, usize) {
    let admin = |path: &str| format!("http://127.0.0.1:{}{path}", gw.port);
    let c = client();
    let mut r = c
        .post(admin("/api/accounts"))
        .bearer_auth(ADMIN)
        .send_json(&json!({"provider": "mock", "name": "churn", "api_key": "k2"}))
        .await
        .expect("admin API answers");
    let made: Value = r.json().await.expect("account JSON");
    let id = made["id"].as_i64().expect("the new account's id");
    let quiet = fixed_rate(&gw.url(), 1000, secs, &body(false)).await;
    let stop = Rc::new(std::cell::Cell::new(false));
    let counts = Rc::new(std::cell::Cell::new((0usize, 0usize)));
    let churner = {
        let (stop, counts, c) = (stop.clone(), counts.clone(), c.clone());
        let (patch, aliases) = (admin(&format!("/api/accounts/{id}")), admin("/api/aliases"));
        actix_rt::spawn(async move {
            let mut i = 0u64;
            while !stop.get() {
                let req = match i % 3 {
                    0 => c.patch(&patch).bearer_auth(ADMIN).send_json(&json!({"weight": 1 + i % 5})).await,
                    1 => {
                        c.post(&aliases)
                            .bearer_auth(ADMIN)
                            .send_json(&json!({"alias": "churn-alias", "target": "mock/mock-model"}))
                            .await
                    }
                    _ => c.delete(format!("{aliases}/churn-alias")).bearer_auth(ADMIN).send().await,
                };
                let ok = req.is_ok_and(|r| r.status().is_success());
                let (n, bad) = counts.get();
                counts.set((n + 1, bad + usize::from(!ok)));
                i += 1;
                actix_rt::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let churn = fixed_rate(&gw.url(), 1000, secs, &body(false)).await;
    stop.set(true);
    let _ = churner.await;
    let (n, bad) = counts.get();
    (quiet, churn, n, bad)
}

/// Times `n` sequential requests read to their end; `body(i)` is request `i`'s body. Returns the
/// latencies in ms and the `x-omnigate-cache` answers seen.
async fn sequential(url: &str, n: usize, body: impl Fn(usize) -> Value) -> (Vec<f64>, Vec<String>) {
    let c = client();
    let (mut lat, mut marks) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = Instant::now();
        let mut r = c
            .post(url)
            .bearer_auth(KEY)
            .insert_header(("x-omnigate-cache", "on"))
            .send_json(&body(i))
            .await
            .expect("request sent");
        let _ = r.body().limit(64 * 1024 * 1024).await;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        marks.push(r.headers().get("x-omnigate-cache").and_then(|v| v.to_str().ok()).unwrap_or("").to_string());
    }
    lat.sort_by(f64::total_cmp);
    (lat, marks)
}

/// The response cache: deterministic requests (temperature 0) asked with `x-omnigate-cache: on`,
/// each miss a new question, each hit the same one, streamed from a mock that sends 10 events
/// 5 ms apart, then whole answers from the instant mock.
async fn cache_part(results: &mut serde_json::Map<String, Value>) {
    let n = env_secs("BENCH_CACHE_N", 100) as usize;
    let chat = |stream: bool, q: String| {
        json!({"model": "mock-model", "stream": stream, "temperature": 0, "max_tokens": 64,
               "messages": [{"role": "user", "content": q}]})
    };
    println!(
        "
| response cache ({n} sequential requests each) | miss p50 / p99 ms | hit p50 / p99 ms | hit speed-up (p50) |"
    );
    println!("|---|---|---|---|");
    let mut out = serde_json::Map::new();
    for (name, mock_base, stream) in [
        ("streamed, 10 events 5 ms apart", start_mock(Duration::from_millis(5), 10), true),
        ("whole answer, instant upstream", start_mock(Duration::ZERO, 0), false),
    ] {
        let gw = Gateway::start(&mock_base, true);
        let (miss, mm) = sequential(&gw.url(), n, |i| chat(stream, format!("question {i}"))).await;
        let (hit, hm) = sequential(&gw.url(), n, |_| chat(stream, "question 0".into())).await;
        assert!(mm.iter().all(|m| m == "miss") && hm.iter().all(|m| m == "hit"), "misses and hits as planned");
        let speedup = pct(&miss, 0.5) / pct(&hit, 0.5);
        println!(
            "| {name} | {:.3} / {:.3} | {:.3} / {:.3} | {speedup:.1}x |",
            pct(&miss, 0.5),
            pct(&miss, 0.99),
            pct(&hit, 0.5),
            pct(&hit, 0.99)
        );
        out.insert(
            name.into(),
            json!({"miss_p50_ms": pct(&miss, 0.5), "miss_p99_ms": pct(&miss, 0.99),
            "hit_p50_ms": pct(&hit, 0.5), "hit_p99_ms": pct(&hit, 0.99), "speedup_p50": speedup}),
        );
        drop(gw);
    }
    results.insert("cache".into(), Value::Object(out));
}

/// Starts the mock on its own thread (its own actix System), returning its base URL.
fn start_mock(stream_delay: Duration, frames: usize) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let m = mock::MockUpstream::start_with(1, false).await;
            if frames > 0 {
                let words: Vec<String> = (0..frames).map(|i| format!("w{i} ")).collect();
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                let f = mock::Reply::chat_frames(&refs, true);
                m.always(
                    "k",
                    mock::Reply::Sse { frames: f, first_delay: Duration::ZERO, delay: stream_delay, drop_after: None },
                );
            }
            tx.send(m.base()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = env_secs("BENCH_SECS", 8);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let mut results = serde_json::Map::new();
    actix_rt::System::new().block_on(async move {
        if only == "cache" {
            cache_part(&mut results).await;
            return;
        }
        if only == "readme" {
            readme();
            return;
        }
        if only == "summary" {
            let figures = summary::run(|dir| Gateway::start_in(dir, "http://127.0.0.1:9", true), ADMIN).await;
            println!("\n{figures}");
            return;
        }
        let mock_base = start_mock(Duration::ZERO, 0);
        let direct = format!("{mock_base}/chat/completions");
        let gw = Gateway::start(&mock_base, true);
        let idle = rss_mib(gw.pid());
        let (anon, file) = rss_split_mib(gw.pid());
        println!("gateway idle RSS: {idle:.1} MiB ({anon:.1} MiB its own, {file:.1} MiB pages of its executable and libraries)");
        results.insert("machine".into(), machine());
        results.insert("measured".into(), measured());
        results.insert("idle_rss_mib".into(), json!(idle));
        results.insert("idle_rss_split_mib".into(), json!({"anon": anon, "file": file}));

        // Warm-up.
        let _ = max_throughput(&gw.url(), 16, 2, &body(false)).await;
        if let Ok(rate) = std::env::var("BENCH_PROFILE_RATE") {
            // Profiling and A/B aid: only a fixed-rate, max or unloaded run against the gateway,
            // its pid and CPU per request on stderr.
            eprintln!("PROFILE gateway pid {}", gw.pid());
            actix_rt::time::sleep(Duration::from_secs(2)).await;
            let cpu0 = cpu_secs(gw.pid());
            if rate == "unloaded" {
                let direct = format!("{mock_base}/chat/completions");
                let (d, g) = paired_unloaded(&direct, &gw.url(), secs).await;
                eprintln!("PROFILE unloaded added p50 {:.3} ms (direct {:.3})", pct(&g, 0.5) - pct(&d, 0.5), pct(&d, 0.5));
                return;
            }
            let n = if rate == "max" {
                let (rps, _) = max_throughput(&gw.url(), 64, secs, &body(false)).await;
                (rps * secs as f64) as usize
            } else {
                fixed_rate(&gw.url(), rate.parse().unwrap_or(1000), secs, &body(false)).await.lat_ms.len()
            };
            eprintln!(
                "PROFILE {n} requests ({:.0} req/s), {:.0} µs CPU each",
                n as f64 / secs as f64,
                (cpu_secs(gw.pid()) - cpu0) * 1e6 / n as f64
            );
            return;
        }
        if only == "cluster" {
            drop(gw);
            cluster::run(&mock_base, secs, &mut results).await;
            return;
        }
        if only == "costs" {
            drop(gw);
            costs::run(&mock_base, secs, &mut results).await;
            return;
        }
        if only == "churn" {
            let (quiet, churn, changes, refused) = admin_churn(&gw, secs).await;
            println!(
                "admin churn at 1000 req/s: {changes} changes ({refused} refused); p99 {:.3} ms quiet, {:.3} ms with churn; failed {} / {}",
                pct(&quiet.lat_ms, 0.99), pct(&churn.lat_ms, 0.99), quiet.errors, churn.errors
            );
            return;
        }
        let _ = max_throughput(&direct, 16, 1, &body(false)).await;

        println!("\n| load (non-streaming) | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 / p99 ms | gateway CPU µs/req | errors |");
        println!("|---|---|---|---|---|---|");
        let mut fixed = Vec::new();
        for rate in [500u64, 1000, 2000] {
            let (d, g, cpu_us) = paired((&direct, &body(false)), (&gw.url(), &body(false)), rate, secs, gw.pid()).await;
            let (dp50, dp99, gp50, gp99) = (pct(&d.lat_ms, 0.5), pct(&d.lat_ms, 0.99), pct(&g.lat_ms, 0.5), pct(&g.lat_ms, 0.99));
            println!(
                "| {rate} req/s | {dp50:.3} / {dp99:.3} | {gp50:.3} / {gp99:.3} | {:.3} / {:.3} | {cpu_us:.0} | {} / {} |",
                gp50 - dp50, gp99 - dp99, d.errors, g.errors
            );
            fixed.push(json!({"rate": rate, "direct": summary("direct", &d), "gateway": summary("gateway", &g),
                              "added_p50_ms": gp50 - dp50, "added_p99_ms": gp99 - dp99, "gateway_cpu_us_per_req": cpu_us}));
        }
        results.insert("fixed_rate".into(), json!(fixed));

        // Unloaded: one connection, 20 requests a second.
        let (d, g) = paired_unloaded(&direct, &gw.url(), secs).await;
        println!(
            "\nunloaded (20 req/s, one connection): direct p50 {:.3} ms, gateway p50 {:.3} ms, added p50 {:.3} / p99 {:.3} ms",
            pct(&d, 0.5), pct(&g, 0.5), pct(&g, 0.5) - pct(&d, 0.5), pct(&g, 0.99) - pct(&d, 0.99)
        );
        results.insert("unloaded".into(), json!({"direct_p50_ms": pct(&d, 0.5), "gateway_p50_ms": pct(&g, 0.5),
            "added_p50_ms": pct(&g, 0.5) - pct(&d, 0.5), "added_p99_ms": pct(&g, 0.99) - pct(&d, 0.99)}));

        let (d_rps, d_err) = max_throughput(&direct, 64, secs, &body(false)).await;
        let cpu0 = cpu_secs(gw.pid());
        let t0 = Instant::now();
        let (g_rps, g_err) = max_throughput(&gw.url(), 64, secs, &body(false)).await;
        let cpu_us = (cpu_secs(gw.pid()) - cpu0) * 1e6 / (g_rps * t0.elapsed().as_secs_f64()).max(1.0);
        println!("\nmax throughput (64 connections): direct {d_rps:.0} req/s, gateway {g_rps:.0} req/s = {:.1} % of direct; gateway CPU {cpu_us:.0} µs/req; errors {d_err}/{g_err}", 100.0 * g_rps / d_rps);
        results.insert("max_throughput".into(), json!({"direct_rps": d_rps, "gateway_rps": g_rps, "ratio": g_rps / d_rps, "gateway_cpu_us_per_req": cpu_us}));
        let busy_rss = rss_mib(gw.pid());
        let (busy_anon, busy_file) = rss_split_mib(gw.pid());
        println!("gateway RSS after max load: {busy_rss:.1} MiB ({busy_anon:.1} own, {busy_file:.1} executable and libraries)");
        results.insert("rss_after_load_mib".into(), json!(busy_rss));
        results.insert("rss_after_load_split_mib".into(), json!({"anon": busy_anon, "file": busy_file}));
        drop(gw);

        costs::run(&mock_base, secs, &mut results).await;

        // Translated, both ways: an Anthropic client (/v1/messages) in front of the OpenAI-dialect
        // mock, and an OpenAI client in front of the Anthropic-dialect one (its direct baseline the
        // mock's own /v1/messages).
        let gw = Gateway::start(&mock_base, true);
        let messages = format!("http://127.0.0.1:{}/v1/messages", gw.port);
        let direct_messages = format!("{mock_base}/v1/messages");
        let to_anthropic = json!({"model": "mockant/mock-ant-model", "stream": false, "max_tokens": 64,
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello to the benchmark."}]});
        let plain_anthropic = {
            let mut b = anthropic_body(false);
            b["model"] = json!("mock-ant-model");
            b
        };
        let chat = gw.url();
        let (dm_rps, _) = max_throughput(&direct_messages, 64, secs, &plain_anthropic).await;
        for (key, what, url, payload, direct_url, direct_payload, direct_rps) in [
            ("translated", "Anthropic client -> OpenAI upstream", messages.as_str(), anthropic_body(false), direct.as_str(), body(false), d_rps),
            ("translated_reverse", "OpenAI client -> Anthropic upstream", chat.as_str(), to_anthropic, direct_messages.as_str(), plain_anthropic.clone(), dm_rps),
        ] {
            let _ = max_throughput(url, 16, 2, &payload).await;
            let (d, g, cpu_us) = paired((direct_url, &direct_payload), (url, &payload), 1000, secs, gw.pid()).await;
            let (t_rps, t_err) = max_throughput(url, 64, secs, &payload).await;
            assert_eq!(g.errors + t_err, 0, "{what}: no request fails");
            println!(
                "\ntranslated ({what}) at 1000 req/s: added p50 {:.3} / p99 {:.3} ms, gateway CPU {cpu_us:.0} µs/req; max {t_rps:.0} req/s ({:.1} % of direct {direct_rps:.0})",
                pct(&g.lat_ms, 0.5) - pct(&d.lat_ms, 0.5), pct(&g.lat_ms, 0.99) - pct(&d.lat_ms, 0.99), 100.0 * t_rps / direct_rps
            );
            results.insert(key.into(), json!({"added_p50_ms": pct(&g.lat_ms, 0.5) - pct(&d.lat_ms, 0.5),
                "added_p99_ms": pct(&g.lat_ms, 0.99) - pct(&d.lat_ms, 0.99), "gateway_cpu_us_per_req": cpu_us,
                "max_rps": t_rps, "direct_max_rps": direct_rps}));
        }

        // Admin churn: an account edit or an alias created/deleted every 100 ms (each rebuilds the
        // registry and routing table) while 1,000 req/s run, against the same load without churn.
        let (quiet, churn, changes, refused) = admin_churn(&gw, secs).await;
        let (qp99, cp99) = (pct(&quiet.lat_ms, 0.99), pct(&churn.lat_ms, 0.99));
        println!(
            "\nadmin churn at 1000 req/s: {changes} admin changes ({refused} refused); p50 / p99 {:.3} / {qp99:.3} ms quiet, {:.3} / {cp99:.3} ms with churn; failed requests {} quiet, {} with churn",
            pct(&quiet.lat_ms, 0.5), pct(&churn.lat_ms, 0.5), quiet.errors, churn.errors
        );
        results.insert("admin_churn".into(), json!({"changes": changes, "refused_changes": refused,
            "quiet": summary("quiet", &quiet), "churn": summary("churn", &churn)}));
        drop(gw);

        // Streaming: time to first byte, then 1,000 concurrent streams.
        let stream_mock = start_mock(Duration::ZERO, 16);
        let gw = Gateway::start(&stream_mock, true);
        let _ = ttfb(&gw.url(), 50).await;
        let d = ttfb(&format!("{stream_mock}/chat/completions"), 300).await;
        let g = ttfb(&gw.url(), 300).await;
        println!(
            "\nstreaming TTFB: direct p50 {:.3} / p99 {:.3} ms, gateway p50 {:.3} / p99 {:.3} ms, added p50 {:.3} ms",
            pct(&d, 0.5), pct(&d, 0.99), pct(&g, 0.5), pct(&g, 0.99), pct(&g, 0.5) - pct(&d, 0.5)
        );
        results.insert("ttfb".into(), json!({"direct_p50_ms": pct(&d, 0.5), "direct_p99_ms": pct(&d, 0.99), "gateway_p50_ms": pct(&g, 0.5), "gateway_p99_ms": pct(&g, 0.99), "added_p50_ms": pct(&g, 0.5) - pct(&d, 0.5)}));
        let messages = format!("http://127.0.0.1:{}/v1/messages", gw.port);
        let t = ttfb_with(&messages, 300, &anthropic_body(true)).await;
        println!("translated streaming TTFB (Anthropic client -> OpenAI upstream): p50 {:.3} / p99 {:.3} ms, added p50 {:.3} ms", pct(&t, 0.5), pct(&t, 0.99), pct(&t, 0.5) - pct(&d, 0.5));
        results.insert("translated_ttfb".into(), json!({"p50_ms": pct(&t, 0.5), "p99_ms": pct(&t, 0.99), "added_p50_ms": pct(&t, 0.5) - pct(&d, 0.5)}));
        drop(gw);

        let slow_mock = start_mock(Duration::from_millis(500), 10);
        let gw = Gateway::start(&slow_mock, true);
        let (rss, ok) = concurrent_streams(&gw.url(), 1000, gw.pid()).await;
        println!("1,000 concurrent streams: gateway RSS {rss:.1} MiB; {ok}/1000 completed with [DONE]");
        results.insert("streams_1000".into(), json!({"rss_mib": rss, "completed": ok}));
        drop(gw);

        cache_part(&mut results).await;

        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
        std::fs::create_dir_all(&out).ok();
        let results = Value::Object(results);
        std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&results).unwrap()).ok();
        std::fs::write(out.join("table.md"), table::readme_table(&results)).ok();
        println!("\nresults written to target/bench/results.json, the README table to target/bench/table.md");
    });
}

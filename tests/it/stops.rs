//! Stops and crashes (issue "Hardening"): a graceful stop that reaches the end of its grace with
//! streams still running, `kill -9` under load (the usage loss bound), and the memory a single
//! very large request leaves behind. The last two run the real binary.

use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{
    TestEnv, base, client, free_port, header, json_body, mock_config, sse_data, text_body, wait_healthy,
};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");

async fn rows_in(db_url: &str) -> Vec<entities::usage::Model> {
    let conn = sea_orm::Database::connect(db_url).await.expect("open the database");
    let rows =
        entities::usage::Entity::find().order_by_asc(entities::usage::Column::Id).all(&conn).await.expect("usage rows");
    conn.close().await.ok();
    rows
}

#[actix_web::test]
async fn streams_running_at_the_end_of_the_grace_end_with_their_terminator_and_a_usage_row() {
    let mock = MockUpstream::start().await;
    let words: Vec<String> = (0..40).map(|i| format!(" w{i}")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let frames = Reply::chat_frames(&refs, true);
    let slow = Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(200), drop_after: None };
    mock.always("ka", slow);
    mock.always("kstall", Reply::Stall);
    let env = TestEnv::new().await;
    let extra = "[[providers]]\nid = \"stall\"\ndialect = \"openai-chat\"\nbase_url = \"BASE\"\nmodels = [\"m\"]\n\
                 [[accounts]]\nprovider = \"stall\"\nname = \"s\"\napi_key = \"kstall\"\n"
        .replace("BASE", &mock.base());
    let mut cfg = env.config(&format!("{}\n{extra}", mock_config(&mock.base(), &[("a", "ka")], "")));
    cfg.server.shutdown_grace_secs = 2;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let b = base(&app);

    let openai = {
        let url = format!("{b}/v1/chat/completions");
        actix_rt::spawn(async move {
            let body =
                json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "x"}]});
            let mut r = client().post(url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send");
            (r.status().as_u16(), text_body(&mut r).await)
        })
    };
    let anthropic = {
        let url = format!("{b}/v1/messages");
        actix_rt::spawn(async move {
            let body = json!({"model": "mock/mock-model", "max_tokens": 100, "stream": true,
                              "messages": [{"role": "user", "content": "x"}]});
            let mut r =
                client().post(url).insert_header(("x-api-key", "sk-og-ci-0001")).send_json(&body).await.expect("send");
            (r.status().as_u16(), text_body(&mut r).await)
        })
    };
    let waiting = {
        let url = format!("{b}/v1/chat/completions");
        actix_rt::spawn(async move {
            let body = json!({"model": "stall/m", "messages": [{"role": "user", "content": "x"}]});
            let mut r = client().post(url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send");
            let retry = header(&r, "retry-after");
            (r.status().as_u16(), json_body(&mut r).await, retry)
        })
    };
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    app.stop().await;
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(3_500), "the stop took {took:?} for a 2 s grace");

    let (status, text) = openai.await.expect("openai client");
    assert_eq!(status, 200);
    let data = sse_data(&text);
    assert!(data.iter().any(|d| d["error"]["message"].as_str().is_some_and(|m| m.contains("shut down"))), "{text}");
    assert_eq!(data.last(), Some(&json!("[DONE]")), "ends with the terminator, not a cut body: {text}");
    assert!(data.len() > 3 && data.len() < 40, "it was cut short, cleanly: {} events", data.len());

    let (status, text) = anthropic.await.expect("anthropic client");
    assert_eq!(status, 200);
    assert!(text.contains("event: error") && text.contains("shut down"), "{text}");
    // The error event is how a Messages stream ends when it fails.
    assert!(text.trim_end().ends_with("\"type\":\"error\"}"), "{text}");
    assert!(!text.contains("message_stop") && !text.contains("end_turn"), "{text}");

    let (status, body, retry) = waiting.await.expect("waiting client");
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("shutting down")), "{body}");
    assert_eq!(retry, "1");

    let rows = rows_in(&env.db_url).await;
    assert_eq!(rows.len(), 3, "every request has its row: {rows:?}");
    let shut = rows.iter().filter(|r| r.error.as_deref() == Some("the gateway shut down before the stream ended"));
    assert_eq!(shut.count(), 2);
    assert!(rows.iter().any(|r| r.status == 503));
}

/// The daemon binary on `port` with `config`, on the test environment's data dir and database.
fn spawn_daemon(env: &TestEnv, config: &str, port: u16) -> Child {
    let file = env.dir.path().join("daemon.toml");
    std::fs::write(&file, config).expect("write config");
    Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(env.dir.path())
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env("OMNIGATE_ADMIN_PASSWORD", &env.admin_password)
        .env("OMNIGATE_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        // What it said last, for a failing assertion to show.
        .stderr(
            std::fs::File::create(env.dir.path().join("daemon.log"))
                .map_or_else(|_| std::process::Stdio::null(), Into::into),
        )
        .spawn()
        .expect("spawn the daemon")
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[actix_web::test]
async fn kill_9_under_load_loses_at_most_one_flush_interval_of_usage_rows() {
    let mock = MockUpstream::start_with(2, false).await;
    let env = TestEnv::new().await;
    let flush_ms = 200u64;
    let cfg = mock_config(&mock.base(), &[("a", "ka")], &format!("[usage]\nflush_interval_ms = {flush_ms}\n"));
    let port = free_port();
    let mut daemon = spawn_daemon(&env, &cfg, port);
    wait_healthy(port).await;

    let stop = Arc::new(AtomicBool::new(false));
    let done: Arc<std::sync::Mutex<Vec<(String, Instant)>>> = Arc::default();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            actix_rt::spawn(async move {
                let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
                let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "load"}]});
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut r) = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&body).await else {
                        break;
                    };
                    let id = header(&r, "x-request-id");
                    if r.status() == 200 && r.body().await.is_ok() {
                        done.lock().unwrap().push((id, Instant::now()));
                    }
                }
            })
        })
        .collect();
    actix_rt::time::sleep(Duration::from_millis(1_500)).await;
    let killed_at = Instant::now();
    let status = Command::new("kill").args(["-KILL", &daemon.id().to_string()]).status().expect("kill");
    assert!(status.success());
    daemon.wait().ok();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.ok();
    }

    let completed = done.lock().unwrap().clone();
    assert!(completed.len() >= 50, "enough load to mean something: {}", completed.len());
    let stored: std::collections::HashSet<String> =
        rows_in(&env.db_url).await.into_iter().map(|r| r.request_id).collect();
    // The bound (README): completed requests of the last flush interval (plus one batch write)
    // may be lost; everything older is on disk.
    let window = Duration::from_millis(flush_ms + 300);
    let old_missing: Vec<&(String, Instant)> =
        completed.iter().filter(|(id, at)| *at + window <= killed_at && !stored.contains(id)).collect();
    assert!(old_missing.is_empty(), "{} rows older than the bound were lost", old_missing.len());
    let lost = completed.iter().filter(|(id, _)| !stored.contains(id)).count();
    eprintln!(
        "kill -9: {} completed, {} stored, {lost} lost (all within the last {window:?})",
        completed.len(),
        stored.len()
    );

    // The database is intact: the daemon starts again on it and serves.
    let mut again = spawn_daemon(&env, &cfg, port);
    wait_healthy(port).await;
    let r = client()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "after"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    Command::new("kill").args(["-TERM", &again.id().to_string()]).status().ok();
    let exit = again.wait().expect("wait");
    let log = std::fs::read_to_string(env.dir.path().join("daemon.log")).unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
}

#[actix_web::test]
async fn a_30_mb_request_does_not_leave_the_daemon_100_mb_larger() {
    let mock = MockUpstream::start_with(1, false).await;
    let env = TestEnv::new().await;
    let port = free_port();
    let mut daemon = spawn_daemon(&env, &mock_config(&mock.base(), &[("a", "ka")], ""), port);
    wait_healthy(port).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    for _ in 0..20 {
        let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "warm up"}]});
        client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send");
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(daemon.id());
    let big = "x".repeat(30 * 1024 * 1024);
    let body = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": big}]});
    let r = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send");
    assert_eq!(r.status(), 200);
    drop(body);
    actix_rt::time::sleep(Duration::from_millis(1_000)).await;
    let after = rss_kib(daemon.id());
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!("RSS before {} MiB, after a 30 MB request {} MiB", before / 1024, after / 1024);
    assert!(grown_mib < 100, "RSS grew by {grown_mib} MiB and stayed there");
    Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().ok();
    daemon.wait().ok();
}

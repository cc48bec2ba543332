//! The first hour, through the real binary: a failed first start keeps the generated credentials
//! (shown again until the first dashboard login), and a start without a config file keeps what an
//! earlier file declared.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, client, free_port, mock_config, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");

/// `serve` on `port`, the environment's data dir and database, stderr into `log`; no admin
/// password from the environment (the daemon generates one).
fn serve(env: &TestEnv, port: u16, config: Option<&Path>, log: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(["serve", "--port", &port.to_string(), "--data-dir"]).arg(env.dir.path());
    if let Some(file) = config {
        c.arg("--config").arg(file);
    }
    c.env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env_remove("OMNIGATE_ADMIN_PASSWORD")
        .env_remove("OMNIGATE_CONFIG")
        .env("OMNIGATE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    c
}

fn stop(mut daemon: Child) {
    Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().ok();
    daemon.wait().ok();
}

/// The value after `marker` on the line that has it.
fn after(text: &str, marker: &str) -> Option<String> {
    text.lines().find_map(|l| l.split_once(marker)).map(|(_, v)| v.trim().to_string())
}

#[actix_web::test]
async fn a_failed_first_start_keeps_the_credentials_until_the_first_login() {
    let env = TestEnv::new().await;
    let logs = env.dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let kept = env.dir.path().join("first-start.txt");

    // First start: the port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let log1 = logs.join("1.log");
    let status = serve(&env, port, None, &log1).status().expect("run");
    assert!(!status.success(), "a taken port fails the start");
    let err = std::fs::read_to_string(&log1).expect("log");
    assert!(err.contains(&format!("{port}")), "the error names the address: {err}");
    assert!(!err.contains("panicked") && !err.contains("reactor"), "an error, not a panic: {err}");
    assert!(kept.exists(), "the generated credentials are kept for the next start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&kept).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads it");
    }
    drop(taken);

    // Second start: the same credentials are shown, and they work.
    let port = free_port();
    let log2 = logs.join("2.log");
    let daemon = serve(&env, port, None, &log2).spawn().expect("spawn");
    wait_healthy(port).await;
    // The announcement follows the start (on PostgreSQL once the cluster feed listens), a moment
    // after /health answers.
    let mut shown = String::new();
    for _ in 0..200 {
        shown = std::fs::read_to_string(&log2).expect("log");
        if shown.contains("gateway key (name \"default\"):") {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let password = after(&shown, "admin password:").expect("the password is shown again");
    let key = after(&shown, "gateway key (name \"default\"):").expect("the key is shown again");
    let file = std::fs::read_to_string(&kept).expect("kept");
    assert!(file.contains(&password) && file.contains(&key), "the file holds what was shown");
    let base = format!("http://127.0.0.1:{port}");
    let r = client().get(format!("{base}/v1/models")).bearer_auth(&key).send().await.expect("send");
    assert_eq!(r.status(), 200, "the kept gateway key is the one in the database");

    // The first dashboard login claims them: the file goes, and the next start shows nothing.
    let r = client().post(format!("{base}/api/login")).send_json(&json!({"password": password})).await.expect("send");
    assert_eq!(r.status(), 200, "the kept password is the admin password");
    assert!(!kept.exists(), "the first login deletes the kept credentials");
    stop(daemon);
    let log3 = logs.join("3.log");
    let daemon = serve(&env, port, None, &log3).spawn().expect("spawn");
    wait_healthy(port).await;
    let shown = std::fs::read_to_string(&log3).expect("log");
    assert!(!shown.contains("admin password") && !shown.contains(&key), "nothing is shown any more: {shown}");
    stop(daemon);
}

#[actix_web::test]
async fn a_start_without_a_config_file_keeps_what_an_earlier_file_declared() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let file: PathBuf = env.dir.path().join("omnigate.toml");
    std::fs::write(&file, mock_config(&mock.base(), &[("a", "ka")], "")).expect("write config");
    let port = free_port();
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");

    let log1 = env.dir.path().join("1.log");
    let daemon = serve(&env, port, Some(&file), &log1).spawn().expect("spawn");
    wait_healthy(port).await;
    let r = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&chat).await.expect("send");
    assert_eq!(r.status(), 200);
    stop(daemon);

    // Restarted without --config: the provider, account and key are still there, and it says so.
    let log2 = env.dir.path().join("2.log");
    let daemon = serve(&env, port, None, &log2).spawn().expect("spawn");
    wait_healthy(port).await;
    let r = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&chat).await.expect("send");
    assert_eq!(r.status(), 200, "the entries of the earlier file still serve");
    assert_eq!(mock.hits(), 2);
    let said = std::fs::read_to_string(&log2).expect("log");
    let lines: Vec<&str> = said.lines().filter(|l| l.contains("no config file loaded")).collect();
    assert_eq!(lines.len(), 1, "one line says the entries were kept: {said}");
    stop(daemon);

    // A file that no longer lists them removes them.
    std::fs::write(&file, "[[keys]]\nname = \"other\"\nkey = \"sk-og-ci-0002\"\n").expect("write config");
    let log3 = env.dir.path().join("3.log");
    let daemon = serve(&env, port, Some(&file), &log3).spawn().expect("spawn");
    wait_healthy(port).await;
    let r = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&chat).await.expect("send");
    assert_eq!(r.status(), 401, "the key the file dropped is revoked");
    let r = client().post(&url).bearer_auth("sk-og-ci-0002").send_json(&chat).await.expect("send");
    assert!(r.status().is_client_error(), "the provider the file dropped is gone: {}", r.status());
    assert_eq!(mock.hits(), 2);
    stop(daemon);
}

#[actix_web::test]
async fn each_request_leaves_one_json_log_line_with_who_where_and_how_long() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let file: PathBuf = env.dir.path().join("omnigate.toml");
    let cfg = mock_config(&mock.base(), &[("a", "ka")], "[log]\nformat = \"json\"\n");
    std::fs::write(&file, cfg).expect("write config");
    let port = free_port();
    let log = env.dir.path().join("json.log");
    let daemon = serve(&env, port, Some(&file), &log).env("OMNIGATE_LOG_LEVEL", "info").spawn().expect("spawn");
    wait_healthy(port).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "the secret prompt"}]});
    let r = client().post(&url).bearer_auth("sk-og-ci-0001").send_json(&chat).await.expect("send");
    assert_eq!(r.status(), 200);
    let id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let r = client().post(&url).bearer_auth("sk-og-wrong-key").send_json(&chat).await.expect("send");
    assert_eq!(r.status(), 401);
    // The writer logs as it receives; give it a moment, then stop.
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    stop(daemon);
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "omnigate::request")
        .collect();
    assert_eq!(lines.len(), 2, "one line per request: {text}");
    let ok = lines.iter().find(|v| v["request_id"] == id.as_str()).expect("the served request's line");
    for (field, want) in [
        ("key", "ci"),
        ("provider", "mock"),
        ("account", "a"),
        ("model", "mock/mock-model"),
        ("path", "/v1/chat/completions"),
    ] {
        assert_eq!(ok[field], want, "{field}: {ok}");
    }
    assert_eq!((ok["status"].as_u64(), ok["attempts"].as_u64()), (Some(200), Some(1)), "{ok}");
    assert!(ok["latency_ms"].as_i64().is_some() && ok["input_tokens"].as_u64() == Some(10), "{ok}");
    let refused = lines.iter().find(|v| v["status"] == 401).expect("the refused request's line");
    assert_eq!(refused["key"], "-", "{refused}");
    assert!(
        !text.contains("the secret prompt") && !text.contains("sk-og-wrong-key") && !text.contains("sk-og-ci-0001"),
        "no body, no key"
    );
}

//! Secret references in the config file (issue 16): `{ env = "VAR" }` and `{ file = "path" }` where
//! a secret goes, so the file can live in git; the real binary starts and serves with the secrets,
//! and a missing one stops `check-config` and `serve` with a line naming it.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, client, free_port, json_body};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");
const UPSTREAM_KEY: &str = "sk-from-the-environment-7788";
const GATEWAY_KEY: &str = "sk-og-from-a-secret-file-01";

fn config(mock_base: &str, port: u16) -> String {
    format!(
        r#"
[server]
port = {port}

[[keys]]
name = "ci"
key = {{ file = "gateway.key" }}

[[providers]]
id = "mock"
dialect = "openai-chat"
base_url = "{mock_base}"
models = ["mock-model"]

[[accounts]]
provider = "mock"
name = "a"
api_key = {{ env = "OG_TEST_UPSTREAM_KEY" }}
"#
    )
}

fn omnigate(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(env.dir.path())
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env("OMNIGATE_ADMIN_PASSWORD", &env.admin_password)
        .env("OMNIGATE_LOG_LEVEL", "warn")
        .env_remove("OG_TEST_UPSTREAM_KEY");
    cmd
}

async fn run(mut cmd: Command) -> Output {
    actix_rt::task::spawn_blocking(move || cmd.output().expect("run")).await.expect("join")
}

#[actix_web::test]
async fn secrets_come_from_variables_and_files_and_a_missing_one_is_named() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let port = free_port();
    let file = env.dir.path().join("og.toml");
    std::fs::write(&file, config(&mock.base(), port)).expect("write config");
    std::fs::write(env.dir.path().join("gateway.key"), format!("{GATEWAY_KEY}\n")).expect("write key file");
    let cfg = file.display().to_string();

    // Missing variable: check-config and serve both refuse, naming it, the entry and the file.
    for args in [["check-config", "--config", &cfg], ["serve", "--config", &cfg]] {
        let o = run(omnigate(&env, &args)).await;
        assert!(!o.status.success(), "{args:?} must refuse");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains("OG_TEST_UPSTREAM_KEY") && e.contains("accounts[0].api_key") && e.contains(&cfg),
            "{args:?}: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
    }
    let mut check = omnigate(&env, &["check-config", "--config", &cfg]);
    check.env("OG_TEST_UPSTREAM_KEY", UPSTREAM_KEY);
    let o = run(check).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(UPSTREAM_KEY));

    // Set: the daemon starts and serves, the gateway key read from its file (newline trimmed) and
    // the upstream key from the variable.
    let mut serve = omnigate(&env, &["serve", "--config", &cfg]);
    serve.env("OG_TEST_UPSTREAM_KEY", UPSTREAM_KEY).stdout(Stdio::null()).stderr(Stdio::piped());
    let daemon = serve.spawn().expect("spawn the daemon");
    let url = format!("http://127.0.0.1:{port}");
    let mut status = 0;
    for _ in 0..200 {
        let sent = client()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(GATEWAY_KEY)
            .send_json(
                &serde_json::json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        if let Ok(mut r) = sent {
            status = r.status().as_u16();
            let body = json_body(&mut r).await;
            assert_eq!(status, 200, "{body}");
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "the daemon answered");
    assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some(UPSTREAM_KEY));

    // The CLI on the same machine: the daemon's address from the same config file, its token
    // from the data dir, and the account's secret reference not needed (the variable is unset).
    let mut list = omnigate(&env, &["accounts", "list", "--config", &cfg]);
    list.env_remove("OMNIGATE_ADMIN_TOKEN").env_remove("OMNIGATE_PORT");
    let o = run(list).await;
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{said}{}", String::from_utf8_lossy(&o.stderr));
    assert!(said.lines().any(|l| l.starts_with("mock/a ") && l.contains("config")), "{said}");
    assert!(!said.contains(UPSTREAM_KEY), "{said}");
    // So do the commands that work on the data dir only.
    let o = run(omnigate(&env, &["keys", "list", "--config", &cfg])).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ci "), "the file's key is listed");
    let pid = daemon.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let o = actix_rt::task::spawn_blocking(move || daemon.wait_with_output().expect("wait")).await.expect("join");
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(!log.contains(UPSTREAM_KEY) && !log.contains(GATEWAY_KEY), "no secret in the log: {log}");
}

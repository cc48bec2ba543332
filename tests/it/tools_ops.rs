//! `omnigate run | status | doctor` (issue 13), through the real binary: `run` starts the tool
//! with the gateway's environment and passes its exit code on; `status` tells a daemon up from
//! down; `doctor` passes with the daemon stopped and running, and fails clearly on a wrong master
//! key, a read-only data dir and a port taken by another program.

use std::process::{Command, Output};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, free_port, mock_config};
use crate::tools::{Home, err, ok, omni, out};

/// A `claude` on PATH that prints what it got and exits 7.
fn fake_claude(home: &Home) -> String {
    let bin = home.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("claude");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"BASE=$ANTHROPIC_BASE_URL\"\necho \"TOKEN=$ANTHROPIC_AUTH_TOKEN\"\necho \"MODEL=${ANTHROPIC_MODEL-none}\"\necho \"APIKEY=${ANTHROPIC_API_KEY-unset}\"\necho \"BEDROCK=${CLAUDE_CODE_USE_BEDROCK-unset}\"\necho \"ARGS=$*\"\nexit 7\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[actix_web::test]
async fn run_starts_the_tool_with_the_gateways_environment_and_its_exit_code() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    let path = fake_claude(&home);

    // No key yet: one clear line saying what to do.
    let o = omni("run", &url, &tok, &home, &["claude-code"], &[("PATH", &path)]).await;
    assert!(!o.status.success() && err(&o).contains("omnigate setup claude-code"), "{}", err(&o));

    // After setup: the key and model setup wrote, the user's ANTHROPIC_API_KEY removed, the
    // arguments passed as they are, the tool's exit code passed on; no file touched.
    ok(&omni("setup", &url, &tok, &home, &["claude-code", "--model", "mock/mock-model"], &[]).await);
    let settings = home.path("claude-dir/settings.json");
    let before = std::fs::read(&settings).unwrap();
    let o = omni(
        "run",
        &url,
        &tok,
        &home,
        &["claude-code", "-p", "--url", "x"],
        &[("PATH", &path), ("ANTHROPIC_API_KEY", "sk-ant-user"), ("CLAUDE_CODE_USE_BEDROCK", "1")],
    )
    .await;
    assert_eq!(o.status.code(), Some(7), "the tool's exit code: {}{}", out(&o), err(&o));
    let said = out(&o);
    let key = said.lines().find_map(|l| l.strip_prefix("TOKEN=")).unwrap_or_default().to_string();
    assert!(key.starts_with("sk-og-") && std::str::from_utf8(&before).unwrap().contains(&key), "{said}");
    assert!(said.contains(&format!("BASE={url}\n")), "{said}");
    assert!(said.contains("MODEL=mock/mock-model\n") && said.contains("APIKEY=unset\n"), "{said}");
    assert!(said.contains("BEDROCK=unset\n"), "Bedrock would take the requests elsewhere: {said}");
    assert!(said.contains("ARGS=-p --url x\n"), "arguments after the tool are the tool's: {said}");
    assert_eq!(std::fs::read(&settings).unwrap(), before, "run touches no file");

    // OMNIGATE_API_KEY wins; --model overrides.
    let o = omni(
        "run",
        &url,
        &tok,
        &home,
        &["--model", "other", "claude-code"],
        &[("PATH", &path), ("OMNIGATE_API_KEY", "sk-og-from-env")],
    )
    .await;
    assert!(out(&o).contains("TOKEN=sk-og-from-env\n") && out(&o).contains("MODEL=other\n"), "{}", out(&o));

    // Codex: the provider as -c overrides before the user's arguments, the key only in the
    // environment (never on the command line).
    let codex = home.path("bin/codex");
    std::fs::write(&codex, "#!/bin/sh\nfor a in \"$@\"; do echo \"ARG=$a\"; done\necho \"KEY=$OMNIGATE_API_KEY\"\n")
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o =
        omni("run", &url, &tok, &home, &["codex", "exec", "hi"], &[("PATH", &path), ("OMNIGATE_API_KEY", "sk-og-env")])
            .await;
    let said = ok(&o);
    let args: Vec<&str> = said.lines().filter_map(|l| l.strip_prefix("ARG=")).collect();
    assert_eq!(args[..2], ["-c", "model_provider=\"omnigate\""], "{said}");
    assert!(
        args[3].contains(&format!("base_url = \"{url}/v1\"")) && args[3].contains("env_key = \"OMNIGATE_API_KEY\""),
        "{said}"
    );
    assert_eq!(args[args.len() - 2..], ["exec", "hi"], "the user's arguments last: {said}");
    assert!(said.contains("KEY=sk-og-env\n") && !args.iter().any(|a| a.contains("sk-og-env")), "{said}");

    // Not installed, and an editor extension: clear errors.
    let o = omni("run", &url, &tok, &home, &["aider"], &[("PATH", "/nonexistent"), ("OMNIGATE_API_KEY", "k")]).await;
    assert!(!o.status.success() && err(&o).contains("`aider` (aider) is not installed"), "{}", err(&o));
    let o = omni("run", &url, &tok, &home, &["cursor"], &[]).await;
    assert!(!o.status.success() && err(&o).contains("runs inside an editor"), "{}", err(&o));
    app.stop().await;
}

#[actix_web::test]
async fn status_tells_up_from_down() {
    let mock = MockUpstream::start().await;
    // Account `dead`'s key is refused upstream: after one request it is dead, `a` stays healthy.
    mock.always("kdead", crate::mock::Reply::status(401));
    let env = TestEnv::new().await;
    let extra = format!(
        "\n[[providers]]\nid = \"other\"\ndialect = \"openai-chat\"\nbase_url = \"{}\"\nmodels = [\"mock-model\"]\n\n[[accounts]]\nprovider = \"other\"\nname = \"dead\"\napi_key = \"kdead\"\n",
        mock.base()
    );
    let app = env.start(&format!("{}{extra}", mock_config(&mock.base(), &[("a", "ka")], ""))).await;
    let (url, tok) = (base(&app), env.admin_token.clone());
    let home = Home::new();
    let said = ok(&omni("status", &url, &tok, &home, &[], &[]).await);
    assert!(said.contains(&format!("up at {url} (version {}", env!("CARGO_PKG_VERSION"))), "{said}");
    assert!(said.contains(&format!("port:     {}", app.addr.port())), "{said}");
    assert!(said.contains("accounts: 2 healthy, 0 cooling, 0 dead, 0 off (2 in all)"), "{said}");
    assert!(said.contains("requests: 0 today (0 failed)"), "{said}");

    // Two requests today, one refused upstream: the account that refused is dead.
    let chat = |model: &str| serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(crate::support::post(&app, "/v1/chat/completions", chat("mock/mock-model")).await.status(), 200);
    assert_ne!(crate::support::post(&app, "/v1/chat/completions", chat("other/mock-model")).await.status(), 200);
    app.state.runtime.flush_usage().await;
    let said = ok(&omni("status", &url, &tok, &home, &[], &[]).await);
    assert!(said.contains("accounts: 1 healthy, 0 cooling, 1 dead, 0 off (2 in all)"), "{said}");
    assert!(said.contains("requests: 2 today (1 failed)"), "{said}");
    app.stop().await;

    let o = omni("status", &format!("http://127.0.0.1:{}", free_port()), &tok, &home, &[], &[]).await;
    assert!(!o.status.success(), "down is a failure");
    assert!(out(&o).contains("daemon:   down"), "{}", out(&o));
}

/// `omnigate doctor` on `env`'s data dir and database with `master_key`, the daemon at `url`.
async fn doctor(env: &TestEnv, url: &str, master_key: &str) -> Output {
    let home = Home::new();
    let dir = env.dir.path().display().to_string();
    omni(
        "doctor",
        url,
        &env.admin_token,
        &home,
        &["--data-dir", &dir],
        &[("OMNIGATE_MASTER_KEY", master_key), ("DATABASE_URL", &env.db_url)],
    )
    .await
}

fn line<'a>(said: &'a str, start: &str) -> &'a str {
    said.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line `{start}` in:\n{said}"))
}

/// A data dir and database a daemon has used (stopped now).
async fn used_env(mock: &MockUpstream) -> TestEnv {
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    app.stop().await;
    env
}

#[actix_web::test]
async fn doctor_passes_with_the_daemon_stopped_and_fails_on_a_wrong_master_key() {
    let mock = MockUpstream::start().await;
    let env = used_env(&mock).await;
    let url = format!("http://127.0.0.1:{}", free_port());
    let o = doctor(&env, &url, &env.master_key).await;
    let said = out(&o);
    assert!(o.status.success(), "{said}{}", err(&o));
    for l in
        ["ok    config", "ok    data dir", "ok    database", "ok    master key: opens the sealed data", "ok    port"]
    {
        line(&said, l);
    }
    assert!(line(&said, "ok    port").contains("is free"), "{said}");
    assert!(line(&said, "skip  daemon").contains("not running"), "{said}");

    let wrong = omnigate::secrets::MasterKey::generate().to_base64();
    let o = doctor(&env, &url, &wrong).await;
    let said = out(&o);
    assert!(!o.status.success(), "{said}");
    let l = line(&said, "FAIL  master key");
    assert!(l.contains("OMNIGATE_MASTER_KEY") && l.contains("started with"), "what to do: {l}");
    assert!(said.contains("1 check(s) failed"), "{said}");
}

/// Makes a directory unwritable for this process while it lives: its mode 0500, or, for root
/// (whom modes do not stop), the immutable attribute (`chattr +i`, where the file system has it).
struct ReadOnly(std::path::PathBuf, bool);

impl ReadOnly {
    #[cfg(unix)]
    fn new(dir: &std::path::Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        if std::fs::write(dir.join("probe"), b"").is_err() {
            return Some(Self(dir.to_path_buf(), false));
        }
        let _ = std::fs::remove_file(dir.join("probe"));
        let immutable = Command::new("chattr").arg("+i").arg(dir).status().is_ok_and(|s| s.success());
        let guard = Self(dir.to_path_buf(), immutable);
        (immutable && std::fs::write(dir.join("probe"), b"").is_err()).then_some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700));
        }
    }
}

#[cfg(unix)]
#[actix_web::test]
async fn doctor_fails_on_a_read_only_data_dir() {
    let mock = MockUpstream::start().await;
    let env = used_env(&mock).await;
    let url = format!("http://127.0.0.1:{}", free_port());
    let Some(read_only) = ReadOnly::new(env.dir.path()) else {
        eprintln!(
            "skipped the read-only assertion: running as root, which ignores directory modes, and `chattr +i` is not available here"
        );
        return;
    };
    let o = doctor(&env, &url, &env.master_key).await;
    drop(read_only);
    let said = out(&o);
    assert!(!o.status.success(), "{said}");
    let l = line(&said, "FAIL  data dir");
    assert!(l.contains("not writable") && l.contains("chmod u+w"), "{l}");
}

#[actix_web::test]
async fn doctor_fails_on_a_port_taken_by_another_program() {
    let mock = MockUpstream::start().await;
    let env = used_env(&mock).await;
    // Something holds the port and never answers HTTP.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", taken.local_addr().unwrap().port());
    let o = doctor(&env, &url, &env.master_key).await;
    let said = out(&o);
    assert!(!o.status.success(), "{said}");
    let l = line(&said, "FAIL  port");
    assert!(l.contains("another port"), "what to do: {l}");
    drop(taken);
}

#[actix_web::test]
async fn doctor_with_the_daemon_running_tests_each_account() {
    let mock = MockUpstream::start().await;
    mock.always("kbad", crate::mock::Reply::status(401));
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "[server]\ndemo = true\n")).await;
    let url = base(&app);
    let o = doctor(&env, &url, &env.master_key).await;
    let said = out(&o);
    assert!(o.status.success(), "{said}{}", err(&o));
    line(&said, "ok    account demo/local");
    assert!(line(&said, "ok    daemon").contains(&url), "{said}");
    assert!(line(&said, "ok    port").contains("the daemon's"), "port in use becomes: the daemon answers: {said}");
    assert!(line(&said, "ok    account mock/a").contains("answered 200"), "{said}");
    assert!(line(&said, "ok    clock").contains("Date header"), "{said}");

    // An account whose key is refused fails the doctor, naming it.
    let r = crate::support::client()
        .post(format!("{url}/api/accounts"))
        .bearer_auth(&env.admin_token)
        .send_json(&serde_json::json!({"provider": "mock", "name": "z", "api_key": "kbad"}))
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let o = doctor(&env, &url, &env.master_key).await;
    let said = out(&o);
    assert!(!o.status.success(), "{said}");
    assert!(line(&said, "FAIL  account mock/z").contains("401"), "{said}");
    app.stop().await;
}

//! `omnigate accounts ...` (issue 16, "the first hour"): the real binary against a running daemon,
//! each change serving the very next request; keys only from a variable or stdin and never shown;
//! errors one line, naming what to do.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::admin_write_support::chat_ci;
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, free_port, mock_config};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");
const KEY_B: &str = "sk-cli-upstream-bbbb-4321";
const KEY_C: &str = "sk-cli-upstream-cccc-8765";

/// Runs `omnigate accounts <args>` against `url` with `token`, `env` and `stdin`, off the test's
/// thread (the daemon's actors live on it).
async fn cli(url: &str, token: Option<&str>, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    // A home without an Omnigate data dir: only what the test passes reaches the daemon.
    cmd.arg("accounts")
        .args(args)
        .args(["--url", url])
        .env_remove("OMNIGATE_ADMIN_TOKEN")
        .env_remove("OMNIGATE_CONFIG")
        .env_remove("OMNIGATE_DATA_DIR")
        .env("HOME", "/nonexistent-omnigate-test-home");
    if let Some(t) = token {
        cmd.env("OMNIGATE_ADMIN_TOKEN", t);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let stdin = stdin.map(str::to_string);
    actix_rt::task::spawn_blocking(move || {
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn the CLI");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("CLI output")
    })
    .await
    .expect("join")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "the command failed: {}{}", out(o), err(o));
    out(o)
}

/// One clear line on stderr, non-zero exit.
fn refused(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure: {}", out(o));
    let e = err(o);
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    e
}

#[actix_web::test]
async fn accounts_cli_changes_what_the_running_daemon_serves_at_once() {
    let mock = MockUpstream::start().await;
    mock.always("kbad", Reply::status(401));
    let env = TestEnv::new().await;
    let extra = format!(
        "\n[[providers]]\nid = \"other\"\ndialect = \"openai-chat\"\nbase_url = \"{}\"\nmodels = [\"mock-model\"]\n",
        mock.base()
    );
    let app = env.start(&format!("{}{extra}", mock_config(&mock.base(), &[("a", "ka")], ""))).await;
    let url = base(&app);
    let tok = Some(env.admin_token.as_str());
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");

    // Added with the key from a variable: it serves the next request, with that key.
    let o = cli(
        &url,
        tok,
        &["add", "mock", "--name", "b", "--key-env", "OG_B", "--priority", "0"],
        &[("OG_B", KEY_B)],
        None,
    )
    .await;
    let said = ok(&o);
    assert!(said.contains("mock/b") && said.contains("sk-…4321"), "{said}");
    assert!(!said.contains(KEY_B) && !err(&o).contains(KEY_B), "the key is never printed");
    let (s, acc, _) = chat_ci(&app, "mock/mock-model").await;
    assert_eq!((s, acc.as_str()), (200, "b"), "live for the very next request");
    assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some(KEY_B));

    // From stdin (a trailing newline is not part of the key), on another provider.
    let o = cli(&url, tok, &["add", "other", "--name", "c", "--key-stdin"], &[], Some(&format!("{KEY_C}\n"))).await;
    assert!(ok(&o).contains("other/c"));
    let (s, acc, _) = chat_ci(&app, "other/mock-model").await;
    assert_eq!((s, acc.as_str()), (200, "c"));
    assert_eq!(mock.requests().last().and_then(|r| r.credential()).as_deref(), Some(KEY_C));

    // Disabled → the config account serves; enabled → back; by `provider/name` and by name.
    ok(&cli(&url, tok, &["disable", "mock/b"], &[], None).await);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");
    ok(&cli(&url, tok, &["enable", "b"], &[], None).await);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "b");

    // Tested: one request upstream with its key.
    let said = ok(&cli(&url, tok, &["test", "b"], &[], None).await);
    assert!(said.contains("mock/b: ok (200"), "{said}");

    // A refused key: the test fails naming the status; the list shows the cooldown and the error.
    ok(&cli(
        &url,
        tok,
        &["add", "other", "--name", "z", "--key-env", "OG_Z", "--priority", "0"],
        &[("OG_Z", "kbad")],
        None,
    )
    .await);
    let e = refused(&cli(&url, tok, &["test", "other/z"], &[], None).await);
    assert!(e.contains("other/z: test failed (401"), "{e}");
    ok(&cli(&url, tok, &["disable", "other/c"], &[], None).await);
    let (s, _, _) = chat_ci(&app, "other/mock-model").await;
    assert_ne!(s, 200, "nothing else serves `other`");
    app.state.runtime.flush_usage().await;
    let list = ok(&cli(&url, tok, &["list"], &[], None).await);
    let line = |who: &str| list.lines().find(|l| l.starts_with(who)).unwrap_or_default().to_string();
    assert!(line("mock/a ").contains("config") && line("mock/a ").contains("ready"), "{list}");
    assert!(line("mock/b ").contains("ready") && line("mock/b ").contains("sk-…4321"), "{list}");
    assert!(line("other/c ").contains("disabled"), "{list}");
    let z = line("other/z ");
    assert!(z.contains("credentials refused") && z.contains(" ago: "), "state, last error and since when: {list}");
    for key in [KEY_B, KEY_C, "kbad"] {
        assert!(!list.contains(key), "no key in the list: {list}");
    }

    // Removed: gone from what serves and from the list.
    ok(&cli(&url, tok, &["remove", "mock/b"], &[], None).await);
    assert_eq!(chat_ci(&app, "mock/mock-model").await.1, "a");
    assert!(!ok(&cli(&url, tok, &["list"], &[], None).await).contains("mock/b "));

    // Errors: one line each, naming what to do.
    let e = refused(&cli(&url, tok, &["remove", "a"], &[], None).await);
    assert!(e.contains("config file"), "a config account is the file's: {e}");
    let e = refused(&cli(&url, tok, &["enable", "nope"], &[], None).await);
    assert!(e.contains("no account named `nope`"), "{e}");
    ok(&cli(&url, tok, &["add", "other", "--name", "a", "--key-env", "OG_B"], &[("OG_B", KEY_B)], None).await);
    let e = refused(&cli(&url, tok, &["disable", "a"], &[], None).await);
    assert!(e.contains("mock/a") && e.contains("other/a") && e.contains("provider/name"), "ambiguous: {e}");
    let e = refused(&cli(&url, tok, &["add", "mock", "--name", "d", "--key-env", "OG_UNSET_VAR"], &[], None).await);
    assert!(e.contains("OG_UNSET_VAR"), "{e}");
    let e = refused(&cli(&url, tok, &["add", "nosuch", "--name", "d"], &[], None).await);
    assert!(e.contains("unknown provider `nosuch`"), "the daemon's validation: {e}");
    let e = refused(&cli(&url, None, &["list"], &[], None).await);
    assert!(e.contains("OMNIGATE_ADMIN_TOKEN") && e.contains("--data-dir"), "{e}");
    // On the daemon's machine, with its data dir, no token needs setting up: the daemon's own
    // per-start token file opens the API.
    let data_dir = env.dir.path().display().to_string();
    let list = ok(&cli(&url, None, &["list", "--data-dir", &data_dir], &[], None).await);
    assert!(list.contains("other/a "), "{list}");
    let e = refused(&cli(&url, Some("wrong-token"), &["list"], &[], None).await);
    assert!(e.contains("refused the admin token"), "{e}");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let e = refused(&cli(&dead, tok, &["list"], &[], None).await);
    assert!(e.contains(&format!("no daemon answering at {dead}")) && e.contains("omnigate serve"), "{e}");
    app.stop().await;
}

#[actix_web::test]
async fn the_daemon_address_comes_from_the_config_serve_reads() {
    let env = TestEnv::new().await;
    let port = free_port();
    let file = env.dir.path().join("og.toml");
    // The CLI never needs the accounts' secrets: an unset reference does not stop it.
    let text = format!(
        "[server]\nhost = \"0.0.0.0\"\nport = {port}\n\n[[accounts]]\nprovider = \"openai\"\nname = \"x\"\napi_key = {{ env = \"OG_NOT_SET_HERE\" }}\n"
    );
    std::fs::write(&file, text).expect("write config");
    let o = actix_rt::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["accounts", "list", "--config"])
            .arg(&file)
            .env("OMNIGATE_ADMIN_TOKEN", "t")
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let e = refused(&o);
    assert!(e.contains(&format!("no daemon answering at http://127.0.0.1:{port}")), "{e}");
}

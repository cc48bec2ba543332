//! Running as a service, through the real binary: the sd_notify protocol (`READY=1` once it
//! serves, `WATCHDOG=1` while its router answers, `RELOADING=1`/`READY=1` around a SIGHUP,
//! `STOPPING=1`), SIGHUP applying an edited config file live (and keeping the running config when
//! the file is broken), and `service install` writing a hardened unit once.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mock::MockUpstream;
use crate::support::{TestEnv, client, free_port, mock_config, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_omnigate");

/// The notifications received within `secs`, until one contains `want`.
fn until(sock: &UnixDatagram, want: &str, secs: u64) -> Vec<String> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.contains(want);
            got.push(msg);
            if done {
                return got;
            }
        }
    }
    panic!("no `{want}` within {secs} s; got {got:?}");
}

fn kill(pid: u32, sig: &str) {
    Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill");
}

#[actix_web::test]
async fn sd_notify_watchdog_and_sighup_reload_the_config_file_live() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let file = env.dir.path().join("omnigate.toml");
    let base_cfg = mock_config(&mock.base(), &[("a", "ka")], "");
    std::fs::write(&file, &base_cfg).expect("config");
    let sock_path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let port = free_port();
    let log = env.dir.path().join("service.log");
    let mut daemon = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(env.dir.path())
        .arg("--config")
        .arg(&file)
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env("OMNIGATE_ADMIN_PASSWORD", &env.admin_password)
        .env_remove("OMNIGATE_CONFIG")
        .env("OMNIGATE_LOG_LEVEL", "info")
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let pid = daemon.id();
    let ready = until(&sock, "READY=1", 20);
    assert!(
        ready.last().is_some_and(|m| m.contains(&format!("MAINPID={pid}")) && m.contains("STATUS=serving on")),
        "{ready:?}"
    );
    wait_healthy(port).await;
    until(&sock, "WATCHDOG=1", 5);

    // An alias added to the file serves after SIGHUP, without a restart.
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let ask = |model: &'static str| {
        let url = url.clone();
        async move {
            let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
            client().post(url).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send").status().as_u16()
        }
    };
    assert_eq!(ask("fast").await, 404, "no alias yet");
    std::fs::write(&file, format!("[[aliases]]\nalias = \"fast\"\ntarget = \"mock/mock-model\"\n{base_cfg}"))
        .expect("config");
    kill(pid, "-HUP");
    let around = until(&sock, "READY=1", 10);
    assert!(around.iter().any(|m| m.contains("RELOADING=1")), "{around:?}");
    assert_eq!(ask("fast").await, 200, "the reloaded file's alias serves");

    // A broken file is refused; the running config stays.
    std::fs::write(&file, "[[aliases]]\nalias = 3\n").expect("config");
    kill(pid, "-HUP");
    until(&sock, "READY=1", 10);
    assert_eq!(ask("fast").await, 200, "still the last good config");
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(
        said.contains("config file reloaded (SIGHUP)") && said.contains("config file not reloaded (SIGHUP)"),
        "{said}"
    );

    kill(pid, "-TERM");
    until(&sock, "STOPPING=1", 10);
    daemon.wait().ok();
}

#[test]
fn service_install_writes_a_hardened_unit_once_and_print_writes_nothing() {
    let home = tempfile::tempdir().expect("home");
    let data = home.path().join("data");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("OMNIGATE_CONFIG")
            .output()
            .expect("run");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let unit = home.path().join(".config/systemd/user/omnigate.service");
    let dir = data.display().to_string();
    let (code, text) = run(&["service", "--data-dir", &dir, "install", "--user", "--print"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Type=notify") && !unit.exists(), "--print writes nothing: {text}");
    let (code, text) = run(&["service", "--data-dir", &dir, "install", "--user"]);
    assert_eq!(code, Some(0), "{text}");
    let written = std::fs::read_to_string(&unit).expect("unit written");
    for line in [
        "Type=notify",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "WatchdogSec=30",
        "WantedBy=default.target",
    ] {
        assert!(written.lines().any(|l| l == line), "{line}: {written}");
    }
    assert!(written.lines().any(|l| l == format!("ReadWritePaths={dir}")), "{written}");
    assert!(written.contains(&format!("serve --data-dir {dir}")), "{written}");
    let (code, text) = run(&["service", "--data-dir", &dir, "install", "--user"]);
    assert_eq!((code, text.contains("up to date")), (Some(0), true), "{text}");
    // systemd's own checker, where this machine has it.
    if let Ok(out) = Command::new("systemd-analyze").args(["verify", "--user"]).arg(&unit).output() {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("Unknown key") && !said.contains("Invalid"), "{said}");
    } else {
        println!("systemd-analyze not present: the unit's keys are checked against the list above only");
    }
}

/// `--log-file`: the daemon's lines (its start, one per request) go to the file, none to stderr;
/// the file moves aside at `[log] max_size_mb` (whole lines, `keep` old files), and after an
/// outside rotation (the file moved away) SIGHUP makes the daemon write a new file at the path.
#[actix_web::test]
async fn log_file_gets_the_lines_rotates_by_size_and_is_reopened_on_sighup() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let file = env.dir.path().join("omnigate.toml");
    let cfg = format!("[log]\nmax_size_mb = 1\nkeep = 1\n{}", mock_config(&mock.base(), &[("a", "ka")], ""));
    std::fs::write(&file, cfg).expect("config");
    let log = env.dir.path().join("logs.txt");
    let stderr = env.dir.path().join("stderr.txt");
    let port = free_port();
    let mut daemon = Command::new(BIN)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(env.dir.path())
        .arg("--config")
        .arg(&file)
        .arg("--log-file")
        .arg(&log)
        .env("DATABASE_URL", &env.db_url)
        .env("OMNIGATE_MASTER_KEY", &env.master_key)
        .env("OMNIGATE_ADMIN_PASSWORD", &env.admin_password)
        .env_remove("OMNIGATE_CONFIG")
        .env("OMNIGATE_LOG_LEVEL", "info")
        .env("OMNIGATE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr"))
        .spawn()
        .expect("spawn");
    let pid = daemon.id();
    wait_healthy(port).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    // A request whose log line is long: an unknown model of the longest name allowed (its line
    // names it, and its error does).
    let model = format!("mock/{}", "m".repeat(250));
    let ask = || async {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        client().post(url.as_str()).bearer_auth("sk-og-ci-0001").send_json(&body).await.expect("send").status().as_u16()
    };
    let rotated = env.dir.path().join("logs.txt.1");
    let mut n = 0;
    while !rotated.exists() {
        assert!(
            n < 5000,
            "no rotation after {n} requests: log {:?} bytes, stderr {:?}, last answer {}",
            std::fs::metadata(&log).map(|m| m.len()),
            std::fs::read_to_string(&stderr).map(|s| s.chars().take(2000).collect::<String>()),
            ask().await
        );
        ask().await;
        n += 1;
    }
    assert!(!env.dir.path().join("logs.txt.2").exists(), "keep = 1");
    let old = std::fs::read_to_string(&rotated).expect("rotated");
    assert!(old.len() <= 1 << 20 && old.len() > (1 << 20) - 8192, "rotated near 1 MiB: {}", old.len());
    assert!(old.contains("omnigate listening"), "the start line is in the first file");
    let requests = old.matches("\"target\":\"omnigate::request\"").count();
    assert!(requests > 100 && requests <= n, "one line per request: {requests} lines for {n} requests");
    for line in old.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("a whole JSON line ({e}): {line}"));
    }
    // logrotate's way: move the file, then SIGHUP.
    let moved = env.dir.path().join("moved.txt");
    std::fs::rename(&log, &moved).expect("move");
    kill(pid, "-HUP");
    let t = Instant::now();
    loop {
        ask().await;
        if std::fs::read_to_string(&log).is_ok_and(|s| s.contains("\"target\":\"omnigate::request\"")) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no new file after SIGHUP");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    kill(pid, "-TERM");
    daemon.wait().ok();
    let said = std::fs::read_to_string(&stderr).expect("stderr");
    assert!(said.trim().is_empty(), "nothing on stderr: {said}");
}

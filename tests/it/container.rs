//! The container image (`deploy/Containerfile`) and the compose example (`deploy/compose.yaml`),
//! built and run with the machine's container engine (docker or podman, whichever answers
//! `info`): the image serves the demo model as a non-root user, reports healthy, and keeps its
//! data (keys, master key) on the volume across a new container; the compose file starts the
//! gateway on PostgreSQL. `#[ignore]`d in a plain run; `scripts/test` runs them when an engine
//! answers and names them in its last line when none does (they fail, never pass, without one).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{client, free_port};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The engine that answers `info`.
fn engine() -> &'static str {
    for e in ["docker", "podman"] {
        if Command::new(e).arg("info").output().is_ok_and(|o| o.status.success()) {
            return e;
        }
    }
    panic!("the container tests need a running docker or podman engine (scripts/test leaves them out without one)");
}

fn run(engine: &str, args: &[&str]) -> Output {
    Command::new(engine).args(args).current_dir(ROOT).output().expect("run the container engine")
}

fn ok(engine: &str, args: &[&str]) -> String {
    let out = run(engine, args);
    assert!(
        out.status.success(),
        "{engine} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes what a test made, however it ends.
struct Cleanup(Vec<Command>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.output();
        }
    }
}

fn command(engine: &str, args: &[&str]) -> Command {
    let mut c = Command::new(engine);
    c.args(args).current_dir(ROOT);
    c
}

async fn healthy(port: u16, within: Duration) {
    let t = Instant::now();
    while t.elapsed() < within {
        if let Ok(r) = client().get(format!("http://127.0.0.1:{port}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("nothing healthy on port {port} within {within:?}");
}

async fn echo(port: u16, key: &str) -> u16 {
    let body = json!({"model": "demo/echo", "messages": [{"role": "user", "content": "hello"}]});
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    client().post(url).bearer_auth(key).send_json(&body).await.expect("send").status().as_u16()
}

#[ignore = "needs a container engine: scripts/test runs it when docker or podman answers"]
#[actix_web::test]
async fn the_image_serves_as_a_non_root_user_reports_healthy_and_keeps_its_data_on_the_volume() {
    let e = engine();
    let id = std::process::id();
    let (tag, volume, name) =
        (format!("omnigate-test:{id}"), format!("omnigate-test-{id}"), format!("omnigate-test-{id}"));
    let _cleanup = Cleanup(vec![
        command(e, &["rm", "-f", &name]),
        command(e, &["volume", "rm", "-f", &volume]),
        command(e, &["rmi", "-f", &tag]),
    ]);
    ok(e, &["build", "-f", "deploy/Containerfile", "-t", &tag, "."]);
    assert_eq!(ok(e, &["image", "inspect", "--format", "{{.Config.User}}", &tag]), "10001:10001", "not root");

    let port = free_port();
    let start = |port: u16| {
        let publish = format!("127.0.0.1:{port}:20128");
        let mount = format!("{volume}:/data");
        ok(
            e,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-p",
                &publish,
                "-v",
                &mount,
                "-e",
                "OMNIGATE_ADMIN_PASSWORD=container-test-password",
                &tag,
                "serve",
                "--demo",
            ],
        )
    };
    start(port);
    healthy(port, Duration::from_secs(60)).await;
    let key = ok(e, &["exec", &name, "/omnigate", "keys", "create", "--name", "container"]);
    assert!(key.starts_with("sk-"), "a key printed: {key}");
    let t = Instant::now();
    while echo(port, &key).await != 200 {
        assert!(t.elapsed() < Duration::from_secs(20), "the new key never opened the gateway");
        actix_rt::time::sleep(Duration::from_millis(250)).await;
    }
    // The engine's own health check (`omnigate status` in the image) says healthy.
    let t = Instant::now();
    loop {
        let state = ok(e, &["inspect", "--format", "{{.State.Health.Status}}", &name]);
        if state == "healthy" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "health check still `{state}`");
        actix_rt::time::sleep(Duration::from_secs(1)).await;
    }

    // A new container on the same volume: the key (and the master key beside it) survived.
    ok(e, &["rm", "-f", &name]);
    let port = free_port();
    start(port);
    healthy(port, Duration::from_secs(60)).await;
    assert_eq!(echo(port, &key).await, 200, "the key made in the first container opens the second");
}

#[ignore = "needs a container engine: scripts/test runs it when docker or podman answers"]
#[actix_web::test]
async fn the_compose_example_runs_the_gateway_on_postgresql() {
    let e = engine();
    if !run(e, &["compose", "version"]).status.success() {
        panic!("`{e} compose` is missing: install the compose plugin to run this test");
    }
    let project = format!("omnigate-test-{}", std::process::id());
    let port = free_port();
    let compose = |args: &[&str]| {
        let mut c = command(e, &["compose", "-p", &project, "-f", "deploy/compose.yaml"]);
        c.args(args)
            .env("OMNIGATE_PG_PASSWORD", "compose-test-pg")
            .env("OMNIGATE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .env("OMNIGATE_ADMIN_PASSWORD", "compose-test-password")
            .env("OMNIGATE_HOST_PORT", port.to_string());
        c
    };
    let _cleanup = Cleanup(vec![compose(&["down", "-v", "--rmi", "local"])]);
    let up = compose(&["up", "-d", "--build", "--wait"]).output().expect("compose");
    assert!(up.status.success(), "compose up: {}", String::from_utf8_lossy(&up.stderr));
    healthy(port, Duration::from_secs(90)).await;
    let ready = client().get(format!("http://127.0.0.1:{port}/ready")).send().await.expect("ready").status();
    assert_eq!(ready, 200, "ready: the database (PostgreSQL) answers");
}

//! `deploy/nginx.conf`, the file docs/deploy.md tells operators to use, run by a real nginx in
//! front of two daemons on one PostgreSQL: both instances take requests, a stream reaches the
//! client whole and ends with `[DONE]`, the Responses API works over a WebSocket through
//! the proxy, and when one instance stops every request is still served by the other.
//! Needs nginx (`OG_TEST_NGINX`; `scripts/test` finds it, `.ci/run` installs nginx-light).

use std::time::Duration;

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use omnigate::app::Running;
use serde_json::{Value, json};

use super::require_pg;
use crate::mock::Reply;
use crate::support::{base, client, free_port};

/// A running nginx, stopped when dropped.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would leave them behind).
        let _ = std::process::Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// nginx with `deploy/nginx.conf` listening on `port` in front of `instances`.
fn nginx(dir: &std::path::Path, port: u16, instances: &[String]) -> Nginx {
    let bin = std::env::var("OG_TEST_NGINX")
        .ok()
        .filter(|s| !s.is_empty())
        .expect("this test needs nginx: set OG_TEST_NGINX (scripts/test finds it; .ci/run installs nginx-light)");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf")).expect("read");
    // The shipped file as it is, but for its instance list and listening port.
    let mut site = String::new();
    let mut servers_written = false;
    for line in shipped.lines() {
        let t = line.trim_start();
        if t.starts_with("server 10.0.0.") {
            if !servers_written {
                for i in instances {
                    site.push_str(&format!("    server {i} max_fails=2 fail_timeout=10s;\n"));
                }
                servers_written = true;
            }
            continue;
        }
        if t.starts_with("listen 20128;") {
            site.push_str(&format!("    listen 127.0.0.1:{port};\n"));
            continue;
        }
        site.push_str(line);
        site.push('\n');
    }
    assert!(servers_written, "deploy/nginx.conf lists its instances as `server 10.0.0.x:20128`");
    std::fs::write(dir.join("omnigate.conf"), site).expect("write site");
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/omnigate.conf;\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("write main");
    let child = std::process::Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    Nginx(child)
}

async fn chat(url: &str, stream: bool) -> (u16, String) {
    let body = json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    match client().post(format!("{url}/v1/chat/completions")).bearer_auth("sk-og-ci-0001").send_json(&body).await {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let bytes = r.body().limit(1 << 20).await.unwrap_or_default();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Requests this instance itself served (its own `/metrics`; usage rows are shared by both).
async fn served(app: &Running) -> f64 {
    let mut r = client().get(format!("{}/metrics", base(app))).send().await.expect("metrics");
    let text = String::from_utf8_lossy(&r.body().limit(1 << 22).await.expect("body")).into_owned();
    text.lines()
        .filter(|l| l.starts_with("omnigate_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

#[ignore = "needs PostgreSQL (OG_TEST_PG) and nginx (OG_TEST_NGINX): scripts/test runs it in its PostgreSQL pass (not on MariaDB)"]
#[actix_web::test]
async fn the_shipped_nginx_config_spreads_streams_and_sockets_and_outlives_an_instance() {
    require_pg();
    let (mock, _env, a, b, _dir) = super::pair().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr = |app: &Running| base(app).trim_start_matches("http://").to_string();
    let _nginx = nginx(dir.path(), port, &[addr(&a), addr(&b)]);
    let front = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client().get(format!("{front}/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert!(up, "nginx answers /ready from an instance; its error log:\n{log}");

    // Both instances take requests.
    for _ in 0..8 {
        let (s, body) = chat(&front, false).await;
        assert_eq!(s, 200, "{body}");
    }
    let (on_a, on_b) = (served(&a).await, served(&b).await);
    assert!(on_a > 0.0 && on_b > 0.0, "both instances served: {on_a} and {on_b}");

    // A stream arrives whole, ending in [DONE], through the unbuffered proxy.
    mock.always(
        "ka",
        Reply::Sse {
            frames: Reply::chat_frames(&["one", " two", " three"], true),
            first_delay: Duration::ZERO,
            delay: Duration::from_millis(50),
            drop_after: None,
        },
    );
    let (s, body) = chat(&front, true).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("one") && body.contains("three") && body.trim_end().ends_with("data: [DONE]"), "{body}");
    mock.always("ka", Reply::Text("Hello from mock".into()));

    // The Responses API over a WebSocket, through the proxy's upgrade.
    let (resp, mut ws) = client()
        .ws(format!("ws://127.0.0.1:{port}/v1/responses"))
        .bearer_auth("sk-og-ci-0001")
        .header("OpenAI-Beta", "responses_websockets=2026-02-06")
        .connect()
        .await
        .expect("upgrade through nginx");
    assert_eq!(resp.status(), 101);
    let create = json!({"type": "response.create", "model": "mock/mock-model", "input": "hi over a socket"});
    ws.send(Message::Text(create.to_string().into())).await.expect("send");
    let mut last = Value::Null;
    while last["type"] != "response.completed" {
        let frame = actix_rt::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("open")
            .expect("frame");
        if let Frame::Text(t) = frame {
            last = serde_json::from_slice(&t).expect("json");
            assert_ne!(last["type"], "error", "{last}");
        }
    }
    drop(ws);

    // One instance stops: every request is still served, by the other.
    a.stop().await;
    for _ in 0..10 {
        let (s, body) = chat(&front, false).await;
        assert_eq!(s, 200, "{body}");
    }
    b.stop().await;
}

//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver): sign in,
//! see the accounts with their state and the last requests, take a screenshot, sign out.
//! Needs `chromium` and `chromedriver` (installed by `.ci/run`; `OG_TEST_CHROMIUM` and
//! `OG_TEST_CHROMEDRIVER` override the ones on `PATH`). `#[ignore]`d so a plain `cargo test` lists
//! it as ignored with the reason; `scripts/test` runs it whenever both exist and names it in its
//! `skipped:` line when they do not. Run on purpose without them, it fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, mock_config, post};

fn which(name: &str) -> Option<String> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!p.is_empty()).then_some(p)
}

struct Driver {
    child: Child,
    url: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(chromium: &str, chromedriver: &str, profile: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let c = client();
        for _ in 0..100 {
            if c.get(format!("{url}/status")).send().await.is_ok() {
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
                     format!("--user-data-dir={}", profile.display()), "--window-size=1280,900"]
        }}}});
        let mut d = Self { child, url, session: String::new() };
        let v = d.call("POST", "/session", Some(caps)).await;
        d.session = v["sessionId"].as_str().expect("session id").to_string();
        d
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.url)
        } else {
            format!("{}/session/{}{path}", self.url, self.session)
        };
        let c = client();
        let req = match method {
            "GET" => c.get(url),
            "DELETE" => c.delete(url),
            _ => c.post(url),
        };
        let mut r = match body {
            Some(b) => req.send_json(&b).await,
            None if method == "POST" => req.send_json(&json!({})).await,
            None => req.send().await,
        }
        .expect("webdriver call");
        let v: Value = r.json().limit(64 * 1024 * 1024).await.expect("webdriver JSON");
        assert!(v["value"]["error"].is_null(), "webdriver {method} {path}: {v}");
        v["value"].clone()
    }

    async fn js(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    async fn wait_for(&self, script: &str, what: &str) {
        for _ in 0..100 {
            if self.js(script).await == json!(true) {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let page = self.js("return document.body.innerText").await;
        panic!("timed out waiting for {what}; page:\n{page}");
    }
}

/// `OG_TEST_<var>`, else `name` on `PATH`; the test fails without it.
fn tool(var: &str, name: &str) -> String {
    std::env::var(format!("OG_TEST_{var}"))
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| which(name))
        .unwrap_or_else(|| panic!("{name} is not installed (run .ci/run); scripts/test skips this test without it"))
}

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn dashboard_login_accounts_requests_screenshot_logout() {
    let (chromium, chromedriver) = (tool("CHROMIUM", "chromium"), tool("CHROMEDRIVER", "chromedriver"));
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::rate_limited("600"));
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "")).await;
    for _ in 0..3 {
        post(
            &app,
            "/v1/chat/completions",
            json!({"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    }
    app.state.runtime.flush_usage().await;

    let profile = tempfile::tempdir().expect("profile dir");
    let d = Driver::start(&chromium, &chromedriver, profile.path()).await;
    d.call("POST", "/url", Some(json!({"url": format!("{}/dashboard", base(&app))}))).await;
    d.wait_for("return !document.querySelector('#login-view').hidden", "the sign-in form").await;

    // A wrong password shows an error and keeps the form.
    d.js("document.querySelector('#password').value = 'wrong'; document.querySelector('#login-form').requestSubmit(); return true").await;
    d.wait_for(
        "return document.querySelector('#login-error').textContent.includes('wrong password')",
        "the login error",
    )
    .await;

    let pw = serde_json::to_string(&env.admin_password).expect("json");
    d.js(&format!("document.querySelector('#password').value = {pw}; document.querySelector('#login-form').requestSubmit(); return true")).await;
    d.wait_for("return !document.querySelector('#main-view').hidden", "the main view").await;
    d.wait_for("return document.querySelectorAll('#accounts tbody tr').length === 2", "two accounts").await;
    d.wait_for(
        "const r = document.querySelector('tr[data-account=\"mock/a\"]'); return !!r && r.innerText.includes('cooling') && r.innerText.includes('429')",
        "account a cooling after its 429",
    )
    .await;
    d.wait_for(
        "const r = document.querySelector('tr[data-account=\"mock/b\"]'); return !!r && r.innerText.includes('ready')",
        "account b ready",
    )
    .await;
    d.wait_for("return document.querySelectorAll('#requests tbody tr').length === 3", "three requests").await;
    let rows = d.js("return document.querySelector('#requests tbody').innerText").await;
    let rows = rows.as_str().unwrap_or_default();
    assert!(
        rows.contains("mock/mock-model") && rows.contains("mock/b") && rows.contains("200") && rows.contains("ci"),
        "{rows}"
    );

    // New traffic shows up without a reload.
    post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "messages": [{"role": "user", "content": "more"}]}),
    )
    .await;
    d.wait_for(
        "return document.querySelectorAll('#requests tbody tr').length === 4",
        "the new request after a refresh",
    )
    .await;

    let shot = d.call("GET", "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap_or_default()).expect("png base64");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).ok();
    std::fs::write(dir.join("dashboard.png"), &png).expect("write screenshot");

    d.js("document.querySelector('#logout').click(); return true").await;
    d.wait_for("return !document.querySelector('#login-view').hidden", "the sign-in form after logout").await;
    let r = client().get(format!("{}/api/accounts", base(&app))).send().await.expect("send");
    assert_eq!(r.status(), 401);
    d.call("DELETE", "", None).await;
    app.stop().await;
}

//! A small WebDriver client for the browser tests: starts chromedriver and a headless Chromium,
//! and offers what a test needs (navigate, run a script, wait for a condition, click and type like
//! a user, press keys, switch to a phone-sized viewport, save screenshots, read the JS console).
//! Every wait polls a condition with a deadline; nothing sleeps to synchronise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::client;

/// How long a condition may take to hold (a loaded CI machine is slow, never this slow).
const WAIT: Duration = Duration::from_secs(20);
/// Between two checks of a condition.
const POLL: Duration = Duration::from_millis(50);
/// The WebDriver key codes used here.
pub const ALT: &str = "\u{E00A}";
pub const ARROW_UP: &str = "\u{E013}";
pub const ARROW_DOWN: &str = "\u{E015}";
pub const ESCAPE: &str = "\u{E00C}";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn which(name: &str) -> Option<String> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!p.is_empty()).then_some(p)
}

/// `OG_TEST_<var>`, else `name` on `PATH`; the test fails without it.
pub fn tool(var: &str, name: &str) -> String {
    std::env::var(format!("OG_TEST_{var}"))
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| which(name))
        .unwrap_or_else(|| panic!("{name} is not installed (run .ci/run); scripts/test skips this test without it"))
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("screenshots")
}

/// A chromedriver process with one browser session.
pub struct Driver {
    child: Child,
    url: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver and a headless Chromium with a 1280×900 window.
    pub async fn start() -> Self {
        let (chromium, chromedriver) = (tool("CHROMIUM", "chromium"), tool("CHROMEDRIVER", "chromedriver"));
        let profile = tempfile::tempdir().expect("profile dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while client().get(format!("{url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            actix_rt::time::sleep(POLL).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic", "--lang=en-US",
                         format!("--user-data-dir={}", profile.path().display()), "--window-size=1280,900"]
            }
        }}});
        let mut d = Self { child, url, session: String::new(), _profile: profile };
        let v = d.call("POST", "/session", Some(caps)).await;
        d.session = v["sessionId"].as_str().expect("session id").to_string();
        d
    }

    /// One WebDriver command; `Err` carries the WebDriver error value.
    pub async fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
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
        .map_err(|e| json!({"error": "transport", "message": e.to_string()}))?;
        let v: Value =
            r.json().limit(64 * 1024 * 1024).await.map_err(|e| json!({"error": "json", "message": e.to_string()}))?;
        if v["value"]["error"].is_null() { Ok(v["value"].clone()) } else { Err(v["value"].clone()) }
    }

    /// One WebDriver command that must succeed.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("webdriver {method} {path}: {e}"),
        }
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn js_with(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    pub async fn js(&self, script: &str) -> Value {
        self.js_with(script, json!([])).await
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The page's visible text, for failure messages.
    pub async fn page_text(&self) -> String {
        self.js("return document.body.innerText").await.as_str().unwrap_or_default().to_string()
    }

    /// Waits until `script` returns true.
    pub async fn wait(&self, script: &str, what: &str) {
        self.wait_with(script, json!([]), what).await;
    }

    pub async fn wait_with(&self, script: &str, args: Value, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.try_call("POST", "/execute/sync", Some(json!({"script": script, "args": args.clone()}))).await
                == Ok(json!(true))
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; page:\n{}", self.page_text().await);
            }
            actix_rt::time::sleep(POLL).await;
        }
    }

    /// Waits until the element at `css` is shown and its text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        self.wait_with(
            "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null && e.innerText.includes(arguments[1])",
            json!([css, text]),
            &format!("`{text}` in {css}"),
        )
        .await;
    }

    /// The innerText of `css` (empty when absent).
    pub async fn text(&self, css: &str) -> String {
        self.js_with("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", json!([css]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The WebDriver id of the element at `css`, once it exists and is shown.
    pub async fn find(&self, css: &str) -> String {
        self.wait_with(
            "const e = document.querySelector(arguments[0]); if (!e || e.offsetParent === null && e.tagName !== 'DIALOG') return false; e.scrollIntoView({block: 'center'}); return true",
            json!([css]),
            &format!("element {css}"),
        )
        .await;
        let v = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    /// Clicks the element at `css` as a user would (WebDriver element click), retrying while
    /// something covers it (an animation, a notice).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let id = self.find(css).await;
            match self.try_call("POST", &format!("/element/{id}/click"), None).await {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    actix_rt::time::sleep(POLL).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// Clicks the button inside `scope` whose text (or aria-label) is exactly `label`.
    pub async fn click_button(&self, scope: &str, label: &str) {
        self.wait_with(
            "const s = document.querySelector(arguments[0]); if (!s) return false;
             const b = [...s.querySelectorAll('button')].find((b) => b.offsetParent !== null && !b.disabled &&
                 (b.textContent.trim() === arguments[1] || b.getAttribute('aria-label') === arguments[1]));
             document.querySelectorAll('[data-wd-target]').forEach((x) => x.removeAttribute('data-wd-target'));
             if (!b) return false; b.setAttribute('data-wd-target', '1'); return true",
            json!([scope, label]),
            &format!("button `{label}` in {scope}"),
        )
        .await;
        self.click("[data-wd-target='1']").await;
    }

    /// Types into the input at `css` as a user would, replacing what was there.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/clear"), None).await;
        self.call("POST", &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    /// Chooses `value` in the select at `css` (and tells the page, as a user's choice would).
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js_with(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value === arguments[1]",
            json!([css, value]),
        )
        .await;
    }

    /// Presses a chord on the focused element: `modifier` held while `key` is pressed.
    pub async fn chord(&self, modifier: &str, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": modifier}, {"type": "keyDown", "value": key},
            {"type": "keyUp", "value": key}, {"type": "keyUp", "value": modifier}
        ]}]});
        self.call("POST", "/actions", Some(actions)).await;
        self.call("DELETE", "/actions", None).await;
    }

    /// Presses one key on the focused element.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
        ]}]});
        self.call("POST", "/actions", Some(actions)).await;
    }

    /// Emulates a viewport of `width`×`height` CSS pixels (a phone when `mobile`).
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setDeviceMetricsOverride",
                        "params": {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}})),
        )
        .await;
        self.wait_with("return window.innerWidth === arguments[0]", json!([width]), "the new viewport width").await;
    }

    /// Back to the window's own size.
    pub async fn desktop(&self) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}})),
        )
        .await;
        self.wait("return window.innerWidth === 1280", "the desktop viewport").await;
    }

    /// Saves a screenshot of the viewport as `target/screenshots/<name>.png`; returns its size.
    pub async fn screenshot(&self, name: &str) -> usize {
        // Let the page settle (fonts, a chart's first paint) by waiting for two animation frames.
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)))", "args": []})),
        )
        .await;
        let shot = self.call("GET", "/screenshot", None).await;
        let png =
            base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap_or_default()).expect("png base64");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot of {name} ({} bytes)", png.len());
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("write screenshot");
        png.len()
    }

    /// Uncaught JavaScript errors the browser logged since the last call.
    pub async fn js_errors(&self) -> Vec<String> {
        let logs = self.call("POST", "/se/log", Some(json!({"type": "browser"}))).await;
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE" && l["source"] == "javascript")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Ends the browser session.
    pub async fn quit(&self) {
        let _ = self.try_call("DELETE", "", None).await;
    }
}

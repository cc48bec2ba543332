//! A mock OAuth server for the subscription providers, one per test on 127.0.0.1:0. Each
//! provider lives under its prefix (`/cc`, `/cx`, `/gc`, `/gh`, `/qw`) with the endpoints its
//! flows use: `authorize` (redirects with a code, remembering the PKCE challenge), `token`
//! (authorization code with the S256 check, refresh with rotation, the device grant with
//! scripted `authorization_pending` / `slow_down` / `expired_token`), `device/code`,
//! `device/token` (GitHub's poll, errors in a 200), the Copilot token exchange, and a usage
//! endpoint. It checks each provider's client id and body encoding, counts calls, and can be told
//! to fail, slow down or revoke.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client id each provider's requests must carry (the gateway's constants, checked here).
pub fn client_id(prefix: &str) -> &'static str {
    match prefix {
        "cc" => "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "cx" => "app_EMoamEEZ73f0CkXaXp7hrann",
        "gc" => "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
        "gh" => "Iv1.b507a08c87ecfe98",
        "qw" => "f0304373b74a44d2b584a3fb70ca9e56",
        _ => "unknown",
    }
}

/// What a refresh answers next (then: a normal refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshAnswer {
    /// 503, a passing failure.
    Unavailable,
    /// 400 `invalid_grant`.
    InvalidGrant,
}

#[derive(Default)]
struct Inner {
    /// code → (challenge, client id)
    codes: HashMap<String, (Option<String>, String)>,
    /// Refresh tokens (Copilot: GitHub tokens) that still work.
    refresh: HashSet<String>,
    /// Access tokens issued, in order.
    issued: Vec<String>,
    /// device code → answers still to give before success.
    devices: HashMap<String, VecDeque<&'static str>>,
    /// Script for the next device codes' polls.
    device_script: VecDeque<&'static str>,
    refresh_script: VecDeque<RefreshAnswer>,
    usage: HashMap<String, Value>,
    /// Bodies of token requests: (prefix, content type, body as JSON).
    token_requests: Vec<(String, String, Value)>,
}

/// Shared state of the mock.
#[derive(Default)]
pub struct OAuthState {
    inner: Mutex<Inner>,
    n: AtomicUsize,
    /// Refresh calls (grant `refresh_token`, and Copilot exchanges).
    pub refreshes: AtomicUsize,
    /// Authorization-code exchanges.
    pub exchanges: AtomicUsize,
    /// Device-flow polls.
    pub polls: AtomicUsize,
    /// Usage endpoint calls that were answered.
    pub usage_calls: AtomicUsize,
    /// Access token lifetime, seconds.
    pub lifetime_secs: AtomicI64,
    /// Delay before answering a refresh, ms.
    pub refresh_delay_ms: AtomicI64,
    /// Whether refresh tokens rotate (Gemini's do not).
    pub no_rotation: std::sync::atomic::AtomicBool,
    /// The chat API the Copilot exchange names.
    pub copilot_api: Mutex<String>,
    /// The resource URL Qwen's tokens name.
    pub qwen_resource: Mutex<String>,
}

/// A running mock OAuth server.
pub struct MockOAuth {
    pub addr: std::net::SocketAddr,
    pub state: Arc<OAuthState>,
    handle: ServerHandle,
}

impl MockOAuth {
    /// Starts one (inside an actix System).
    pub async fn start() -> Self {
        let state = Arc::new(OAuthState::default());
        state.lifetime_secs.store(3600, Ordering::SeqCst);
        let s2 = Arc::clone(&state);
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(Arc::clone(&s2))).default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("oauth mock binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self { addr, state, handle }
    }

    /// `http://addr/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }

    /// Makes a refresh token (or GitHub token) valid.
    pub fn grant_refresh(&self, token: &str) {
        self.state.inner.lock().unwrap().refresh.insert(token.to_string());
    }

    /// Makes every refresh token invalid.
    pub fn revoke_all(&self) {
        self.state.inner.lock().unwrap().refresh.clear();
    }

    /// What the next refreshes answer.
    pub fn script_refresh(&self, answers: Vec<RefreshAnswer>) {
        self.state.inner.lock().unwrap().refresh_script.extend(answers);
    }

    /// What the polls of the next device code answer before success.
    pub fn script_device(&self, answers: Vec<&'static str>) {
        self.state.inner.lock().unwrap().device_script.extend(answers);
    }

    /// The usage endpoint's answer for a prefix.
    pub fn set_usage(&self, prefix: &str, v: Value) {
        self.state.inner.lock().unwrap().usage.insert(prefix.to_string(), v);
    }

    /// Access tokens issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().issued.clone()
    }

    /// Refresh tokens that still work.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().refresh.iter().cloned().collect()
    }

    /// Token requests: (prefix, content type, body).
    pub fn token_requests(&self) -> Vec<(String, String, Value)> {
        self.state.inner.lock().unwrap().token_requests.clone()
    }

    /// Refresh calls so far.
    pub fn refreshes(&self) -> usize {
        self.state.refreshes.load(Ordering::SeqCst)
    }

    /// Stops it.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// An unsigned JWT with these claims (the gateway only reads the payload).
pub fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn oauth_error(status: u16, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": code, "error_description": description}))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Issues tokens for `prefix`: access (a JWT for Codex), a new refresh token unless rotation is
/// off and one is being refreshed, and the provider's extras.
fn issue(state: &OAuthState, prefix: &str, old_refresh: Option<&str>) -> Value {
    let n = state.n.fetch_add(1, Ordering::SeqCst) + 1;
    let life = state.lifetime_secs.load(Ordering::SeqCst);
    let mut inner = state.inner.lock().unwrap();
    let access = if prefix == "cx" {
        jwt(&json!({"exp": now_secs() + life, "n": n, "sub": format!("{prefix}-at-{n}")}))
    } else {
        format!("{prefix}-at-{n}")
    };
    inner.issued.push(access.clone());
    let mut v = json!({"access_token": access, "token_type": "Bearer", "expires_in": life});
    let rotate = old_refresh.is_none() || !state.no_rotation.load(Ordering::SeqCst);
    if rotate {
        if let Some(old) = old_refresh {
            inner.refresh.remove(old);
        }
        let rt = format!("{prefix}-rt-{n}");
        inner.refresh.insert(rt.clone());
        v["refresh_token"] = json!(rt);
    }
    match prefix {
        "cc" => {
            v["account"] = json!({"uuid": "acc-uuid", "email_address": "max@example.com"});
            v["organization"] = json!({"uuid": "org-uuid", "name": "Example"});
        }
        "cx" => {
            v["id_token"] = json!(jwt(&json!({"email": "plus@example.com",
                "https://api.openai.com/auth": {"chatgpt_account_id": "acct-mock", "chatgpt_plan_type": "plus"}})));
        }
        "qw" => v["resource_url"] = json!(state.qwen_resource.lock().unwrap().clone()),
        _ => {}
    }
    v
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<OAuthState>>) -> HttpResponse {
    let path = req.path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let prefix = parts.next().unwrap_or_default().to_string();
    let rest = parts.next().unwrap_or_default().to_string();
    let ctype = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let fields: Value = if ctype.starts_with("application/json") {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    };
    let query: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let get = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match (req.method().as_str(), rest.as_str()) {
        ("GET", "authorize") => {
            if query.get("client_id").map(String::as_str) != Some(client_id(&prefix)) {
                return oauth_error(400, "invalid_client", "wrong client_id");
            }
            let code = format!("code-{}", state.n.fetch_add(1, Ordering::SeqCst));
            let challenge = query.get("code_challenge").cloned();
            state.inner.lock().unwrap().codes.insert(code.clone(), (challenge, client_id(&prefix).into()));
            let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
            let st = query.get("state").cloned().unwrap_or_default();
            HttpResponse::Found().insert_header(("location", format!("{redirect}?code={code}&state={st}"))).finish()
        }
        ("POST", "token") => {
            state.inner.lock().unwrap().token_requests.push((prefix.clone(), ctype.clone(), fields.clone()));
            if get("client_id") != client_id(&prefix) {
                return oauth_error(401, "invalid_client", "wrong client_id");
            }
            match get("grant_type").as_str() {
                "authorization_code" => {
                    state.exchanges.fetch_add(1, Ordering::SeqCst);
                    let code = get("code");
                    let Some((challenge, _)) = state.inner.lock().unwrap().codes.remove(&code) else {
                        return oauth_error(400, "invalid_grant", "unknown code");
                    };
                    let verifier = get("code_verifier");
                    if let Some(c) = challenge
                        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != c
                    {
                        return oauth_error(400, "invalid_grant", "PKCE verification failed");
                    }
                    if prefix == "cc" && get("state").is_empty() {
                        return oauth_error(400, "invalid_request", "state is required");
                    }
                    HttpResponse::Ok().json(issue(&state, &prefix, None))
                }
                "refresh_token" => {
                    state.refreshes.fetch_add(1, Ordering::SeqCst);
                    let delay = state.refresh_delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        actix_rt::time::sleep(Duration::from_millis(delay as u64)).await;
                    }
                    let scripted = state.inner.lock().unwrap().refresh_script.pop_front();
                    match scripted {
                        Some(RefreshAnswer::Unavailable) => return HttpResponse::ServiceUnavailable().finish(),
                        Some(RefreshAnswer::InvalidGrant) => {
                            return oauth_error(400, "invalid_grant", "Refresh token not found or invalid");
                        }
                        None => {}
                    }
                    let rt = get("refresh_token");
                    if !state.inner.lock().unwrap().refresh.contains(&rt) {
                        return oauth_error(400, "invalid_grant", "Refresh token not found or invalid");
                    }
                    HttpResponse::Ok().json(issue(&state, &prefix, Some(&rt)))
                }
                "urn:ietf:params:oauth:grant-type:device_code" => {
                    device_poll(&state, &prefix, &get("device_code"), false)
                }
                other => oauth_error(400, "unsupported_grant_type", other),
            }
        }
        ("POST", "device/code") => {
            if get("client_id") != client_id(&prefix) {
                return oauth_error(401, "invalid_client", "wrong client_id");
            }
            if prefix == "qw" && get("code_challenge_method") != "S256" {
                return oauth_error(400, "invalid_request", "PKCE required");
            }
            let code = format!("dev-{}", state.n.fetch_add(1, Ordering::SeqCst));
            let script = std::mem::take(&mut state.inner.lock().unwrap().device_script);
            state.inner.lock().unwrap().devices.insert(code.clone(), script);
            HttpResponse::Ok().json(json!({"device_code": code, "user_code": "WDJB-MJHT",
                "verification_uri": format!("http://{}/{prefix}/device", req.connection_info().host()),
                "expires_in": 900, "interval": 0.05}))
        }
        ("POST", "device/token") => device_poll(&state, &prefix, &get("device_code"), true),
        ("GET", "copilot_internal/v2/token") => {
            state.refreshes.fetch_add(1, Ordering::SeqCst);
            let delay = state.refresh_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                actix_rt::time::sleep(Duration::from_millis(delay as u64)).await;
            }
            let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let gh = auth.strip_prefix("token ").unwrap_or_default().to_string();
            let editor = req.headers().get("editor-version").is_some();
            if !state.inner.lock().unwrap().refresh.contains(&gh) || !editor {
                return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
            }
            let n = state.n.fetch_add(1, Ordering::SeqCst);
            let token = format!("tid=gh-at-{n};exp=0;sku=monthly_subscriber");
            state.inner.lock().unwrap().issued.push(token.clone());
            let life = state.lifetime_secs.load(Ordering::SeqCst);
            let api = state.copilot_api.lock().unwrap().clone();
            HttpResponse::Ok().json(json!({"token": token, "expires_at": now_secs() + life, "refresh_in": life - 60,
                "endpoints": {"api": api}, "sku": "monthly_subscriber"}))
        }
        ("GET" | "POST", "usage") => {
            // What each usage endpoint needs (docs/notes: CC usage.js and aim QUOTA_APIS.md; CODEX
            // backend-client; CAPI get-copilot-usage.ts): the OAuth bearer and its beta flag, the
            // bearer and the ChatGPT account, or GitHub's `token` scheme with the GitHub token.
            let h = |k: &str| req.headers().get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let ok = match prefix.as_str() {
                "cc" => {
                    h("authorization").starts_with("Bearer cc-") && h("anthropic-beta").contains("oauth-2025-04-20")
                }
                "cx" => h("authorization").starts_with("Bearer ") && !h("chatgpt-account-id").is_empty(),
                "gh" => h("authorization").starts_with("token ") && !h("editor-version").is_empty(),
                "gc" => {
                    h("authorization").starts_with("Bearer ")
                        && serde_json::from_slice::<Value>(&body)
                            .is_ok_and(|b| b["project"].as_str().is_some_and(|p| !p.is_empty()))
                }
                _ => true,
            };
            if !ok {
                return HttpResponse::Unauthorized().json(json!({"error": "unauthorized"}));
            }
            let v = state.inner.lock().unwrap().usage.get(&prefix).cloned().unwrap_or(json!({}));
            state.usage_calls.fetch_add(1, Ordering::SeqCst);
            HttpResponse::Ok().json(v)
        }
        _ => HttpResponse::NotFound().json(json!({"error": "not_found", "error_description": path})),
    }
}

/// One device-flow poll: the scripted answers first (as 400s, or GitHub's 200s), then tokens.
fn device_poll(state: &OAuthState, prefix: &str, device_code: &str, github: bool) -> HttpResponse {
    state.polls.fetch_add(1, Ordering::SeqCst);
    let next = {
        let mut inner = state.inner.lock().unwrap();
        match inner.devices.get_mut(device_code) {
            None => return oauth_error(400, "invalid_grant", "unknown device code"),
            Some(script) => script.pop_front(),
        }
    };
    if let Some(answer) = next {
        let status = match (github, answer) {
            (true, _) => 200,
            (false, "slow_down") => 429,
            (false, _) => 400,
        };
        return oauth_error(status, answer, "");
    }
    state.inner.lock().unwrap().devices.remove(device_code);
    if prefix == "gh" {
        let n = state.n.fetch_add(1, Ordering::SeqCst);
        let gh = format!("gho_mock{n}");
        state.inner.lock().unwrap().refresh.insert(gh.clone());
        return HttpResponse::Ok().json(json!({"access_token": gh, "token_type": "bearer", "scope": "read:user"}));
    }
    HttpResponse::Ok().json(issue(state, prefix, None))
}

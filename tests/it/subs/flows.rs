//! Sign-in per provider, as the terminal runs it (`oauth::cli::login`, with the mock OAuth server
//! as the provider and the test as the browser, or the device flow with its polling states),
//! import of the official CLIs' credential files (a dead refresh token refused), the device
//! flow's `expired_token`, the dashboard's routes, and Code Assist's project discovery.

use std::time::Duration;

use futures_util::FutureExt;
use omnigate::oauth::cli::{self, CliError, Paste, Target};
use omnigate::oauth::flow::FlowError;
use omnigate::oauth::import::ImportError;
use omnigate::oauth::{EndpointOverrides, Kind};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::{CX, GC, QW, Sub, World, api_account, chat};
use crate::per_provider;
use crate::support::{self, eventually};

/// The endpoint overrides that point `s` at the mock OAuth server.
pub(super) fn endpoints(w: &World, s: Sub) -> EndpointOverrides {
    let o = w.oauth.url(s.prefix);
    EndpointOverrides {
        authorize_url: Some(format!("{o}/authorize")),
        token_url: Some(w.token_url(s)),
        device_url: Some(format!("{o}/device/code")),
        device_token_url: Some(if s.prefix == "gh" { format!("{o}/device/token") } else { format!("{o}/token") }),
        usage_url: Some(format!("{o}/usage")),
        // Where the mock sends the browser back; nothing listens there (the test reads it).
        redirect_uri: Some("http://127.0.0.1:9/callback".into()),
    }
}

/// The browser: opens the authorization URL at the mock, reads where it redirects, and pastes
/// what the provider's flow has the user paste (Claude: `code#state`; Codex: the address;
/// Gemini: the code alone).
fn browser(prefix: &'static str) -> Paste<'static> {
    Box::new(move |url: String| {
        async move {
            let c = awc::Client::builder().disable_redirects().finish();
            let r = c.get(url).send().await.ok()?;
            let location = r.headers().get("location")?.to_str().ok()?.to_string();
            let query = location.split_once('?')?.1.to_string();
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).ok()?;
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            Some(match prefix {
                "cc" => format!("{}#{}", get("code"), get("state")),
                "cx" => location,
                _ => get("code"),
            })
        }
        .boxed_local()
    })
}

fn kind(s: Sub) -> Kind {
    Kind::parse(s.provider).expect("a subscription provider")
}

async fn login(s: Sub) {
    let w = World::new().await;
    let app = w.start(&w.config("", "")).await;
    if matches!(s.prefix, "gh" | "qw") {
        // The user takes a while, and the server asks once to slow down (GitHub adds 5 s).
        w.oauth.script_device(vec!["authorization_pending", "slow_down", "authorization_pending"]);
    }
    let target = Target { name: Some("signed-in".into()), endpoints: endpoints(&w, s), base_url: w.base_url(s) };
    let mut out = Vec::new();
    let acc = cli::login(&app.state.db, &app.state.sealer, kind(s), &target, browser(s.prefix), &mut out)
        .await
        .unwrap_or_else(|e| panic!("sign-in failed: {e}"));
    let printed = String::from_utf8_lossy(&out).to_string();
    assert!(printed.contains(&format!("signed in: account {} `{}/signed-in`", acc.id, s.provider)), "{printed}");
    for t in w.oauth.issued() {
        assert!(!printed.contains(&t), "a token was printed");
    }
    match s.prefix {
        "gh" | "qw" => assert!(w.oauth.state.polls.load(std::sync::atomic::Ordering::SeqCst) >= 4),
        _ => assert_eq!(w.oauth.state.exchanges.load(std::sync::atomic::Ordering::SeqCst), 1),
    }
    // The running daemon picks the new account up by itself.
    let served = eventually(20, || async { chat(&app, s, false).await.0 == 200 }).await;
    assert!(served, "the signed-in account serves requests");
    let a = api_account(&app, &w.env, "signed-in").await;
    assert_eq!(a["subscription"]["status"], "ok", "{a}");
    assert_eq!(a["source"], "api", "{a}");
    if s.prefix == "cx" {
        let call = w.upstream_calls(s).pop().expect("a call");
        assert_eq!(call.headers.get("chatgpt-account-id").map(String::as_str), Some("acct-mock"), "from the id token");
    }
    app.stop().await;
}
per_provider!(login);

pub(crate) fn fixture(s: Sub) -> (std::path::PathBuf, &'static str) {
    let (file, refresh) = match s.prefix {
        "cc" => ("claude-code.credentials.json", "sk-ant-ort01-fixture-refresh"),
        "cx" => ("codex.auth.json", "rt_fixture_refresh"),
        "gc" => ("gemini.oauth_creds.json", "1//fixture-refresh"),
        "gh" => ("copilot.apps.json", "gho_fixture_token"),
        _ => ("qwen.oauth_creds.json", "qwen-fixture-refresh"),
    };
    (std::path::PathBuf::from(format!("{}/tests/fixtures/subscriptions/{file}", env!("CARGO_MANIFEST_DIR"))), refresh)
}

async fn import(s: Sub) {
    let w = World::new().await;
    let app = w.start(&w.config("", "")).await;
    let (path, refresh) = fixture(s);
    let target = Target { name: Some("imported".into()), endpoints: endpoints(&w, s), base_url: w.base_url(s) };
    let mut out = Vec::new();
    // The mock does not know this refresh token yet: a dead one is refused at import.
    let dead = cli::import(&app.state.db, &app.state.sealer, kind(s), Some(path.clone()), &target, &mut out).await;
    match dead {
        Err(CliError::Import(ImportError::Dead { cause, .. })) => assert!(cause.contains("invalid_grant"), "{cause}"),
        other => panic!("a dead refresh token must be refused at import: {other:?}"),
    }
    assert!(support::admin_get(&app, &w.env, "/api/accounts").await["accounts"].as_array().is_some_and(Vec::is_empty));
    w.oauth.grant_refresh(refresh);
    let acc = cli::import(&app.state.db, &app.state.sealer, kind(s), Some(path), &target, &mut out)
        .await
        .unwrap_or_else(|e| panic!("import failed: {e}"));
    assert_eq!(acc.name, "imported");
    assert_eq!(w.oauth.refreshes(), 2, "the import checked the refresh token once each time");
    let served = eventually(30, || async { chat(&app, s, false).await.0 == 200 }).await;
    assert!(served, "the imported account serves requests");
    let fresh = w.oauth.issued().last().cloned().expect("issued at import");
    assert_eq!(w.upstream_calls(s).last().and_then(|c| c.credential()), Some(fresh));
    app.stop().await;
}
per_provider!(import);

#[actix_rt::test]
async fn device_flow_ends_on_expired_token() {
    let w = World::new().await;
    let app = w.start(&w.config("", "")).await;
    w.oauth.script_device(vec!["authorization_pending", "expired_token"]);
    let target = Target { name: None, endpoints: endpoints(&w, QW), base_url: None };
    let mut out = Vec::new();
    let r = cli::login(&app.state.db, &app.state.sealer, Kind::QwenCode, &target, browser("qw"), &mut out).await;
    assert!(matches!(r, Err(CliError::Flow(FlowError::Expired))), "{r:?}");
    app.stop().await;
}

#[actix_rt::test]
async fn dashboard_connect_paste_back_and_device_and_import() {
    let w = World::new().await;
    let app = w.start(&w.config("", "")).await;
    let base = support::base(&app);
    let post = |path: String, body: Value| {
        let token = w.env.admin_token.clone();
        async move {
            let mut r = support::client().post(path).bearer_auth(token).send_json(&body).await.expect("sent");
            (r.status().as_u16(), support::json_body(&mut r).await)
        }
    };
    // Claude Code: start, the browser at the provider, the code pasted back.
    let cc = super::CC;
    let start = json!({"name": "web", "base_url": w.base_url(cc), "endpoints": endpoints(&w, cc)});
    let (status, v) = post(format!("{base}/api/oauth/claude-code/start"), start).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["flow"], "paste_back");
    let pasted = browser("cc")(v["authorize_url"].as_str().unwrap_or_default().to_string()).await.expect("code");
    let (status, acc) =
        post(format!("{base}/api/oauth/claude-code/callback"), json!({"flow_id": v["flow_id"], "code": pasted})).await;
    assert_eq!(status, 201, "{acc}");
    assert_eq!(acc["name"], "web");
    assert_eq!(chat(&app, cc, false).await.0, 200);
    // A second use of the same flow is refused.
    let (status, _) =
        post(format!("{base}/api/oauth/cc/callback"), json!({"flow_id": v["flow_id"], "code": "x"})).await;
    assert_eq!(status, 404);
    // Qwen: a device code the server polls; the dashboard reads the outcome.
    w.oauth.script_device(vec!["authorization_pending"]);
    let (status, v) =
        post(format!("{base}/api/oauth/qw/start"), json!({"name": "dev", "endpoints": endpoints(&w, QW)})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["flow"].as_str(), v["user_code"].as_str()), (Some("device"), Some("WDJB-MJHT")));
    let url = format!("{base}/api/oauth/qwen-code/flows/{}", v["flow_id"].as_str().unwrap_or_default());
    let done =
        eventually(10, || async { support::admin_get(&app, &w.env, &url[base.len()..]).await["status"] == "done" })
            .await;
    assert!(done);
    assert_eq!(chat(&app, QW, false).await.0, 200);
    // Import from the dashboard's box: the file's JSON pasted.
    let (path, refresh) = fixture(GC);
    w.oauth.grant_refresh(refresh);
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let mut ep = endpoints(&w, GC);
    ep.redirect_uri = None;
    let body = json!({"credentials": creds, "name": "box", "base_url": w.base_url(GC), "endpoints": ep});
    let (status, acc) = post(format!("{base}/api/oauth/gemini-cli/import"), body).await;
    assert_eq!(status, 201, "{acc}");
    let listed = support::admin_get(&app, &w.env, "/api/oauth/providers").await;
    assert_eq!(listed["providers"].as_array().map(Vec::len), Some(5));
    app.stop().await;
}

#[actix_rt::test]
async fn code_assist_project_is_found_on_first_use() {
    let w = World::new().await;
    let u = uuid::Uuid::new_v4().simple().to_string();
    let (at, rt) = (format!("gc-at-{u}"), format!("gc-rt-{u}"));
    // A seed without a project: the free tier is onboarded on first use.
    let account = w.account(GC, "main", &at, &rt, 3_600_000).replace(", extra = { project = \"proj-seed\" }", "");
    let app = w.start(&w.config("", &account)).await;
    let (status, body, _) = chat(&app, GC, false).await;
    assert_eq!(status, 200, "{body}");
    let paths: Vec<String> =
        w.upstream.requests().into_iter().map(|r| r.path).filter(|p| p.starts_with("/gc")).collect();
    assert!(paths.iter().any(|p| p.ends_with(":loadCodeAssist")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with(":onboardUser")), "{paths:?}");
    let call = w.upstream_calls(GC).pop().expect("generate");
    assert_eq!(call.body["project"], "proj-onboarded");
    let a = api_account(&app, &w.env, "main").await;
    assert_eq!(a["subscription"]["facts"]["project"], "proj-onboarded", "{a}");
    // Found once: the next request goes straight through.
    assert_eq!(chat(&app, GC, true).await.0, 200);
    let loads = w.upstream.requests().into_iter().filter(|r| r.path.ends_with(":loadCodeAssist")).count();
    assert_eq!(loads, 1);
    let _ = Duration::ZERO;
    app.stop().await;
}

/// The real binary, as a user types it: `omnigate accounts import` refuses a fresh data dir and a
/// dead refresh token (non-zero, the provider's reason), then imports once it works: the account
/// is in the database with its tokens sealed, and no token was printed.
#[actix_rt::test]
async fn the_accounts_command_imports_without_printing_a_token() {
    const BIN: &str = env!("CARGO_BIN_EXE_omnigate");
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = omnigate::secrets::MasterKey::generate().to_base64();
    let (path, refresh) = fixture(QW);
    let token_url = w.token_url(QW);
    // The subprocess runs off this thread: the mock OAuth server must keep answering meanwhile.
    let run = |args: Vec<String>| {
        let (dir, key) = (dir.path().to_path_buf(), key.clone());
        actix_web::rt::task::spawn_blocking(move || {
            let out = std::process::Command::new(BIN)
                .args(&args)
                .arg("--data-dir")
                .arg(&dir)
                .env_remove("DATABASE_URL")
                .env_remove("OMNIGATE_CONFIG")
                .env("OMNIGATE_MASTER_KEY", key)
                .output()
                .expect("run omnigate");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        })
    };
    let import: Vec<String> = ["accounts", "import", "qwen-code", "--name", "bin", "--token-url", &token_url, "--from"]
        .iter()
        .map(|s| (*s).to_string())
        .chain([path.display().to_string()])
        .collect();
    let (ok, text) = run(import.clone()).await.expect("joined");
    assert!(!ok && text.contains("no Omnigate database"), "a fresh data dir is refused: {text}");
    let (ok, text) = run(vec!["migrate".into()]).await.expect("joined");
    assert!(ok, "{text}");
    let (ok, text) = run(import.clone()).await.expect("joined");
    assert!(!ok && text.contains("invalid_grant"), "a dead refresh token is refused at import: {text}");
    w.oauth.grant_refresh(refresh);
    let (ok, text) = run(import).await.expect("joined");
    assert!(ok, "{text}");
    assert!(text.contains("signed in: account 1 `qwen-code/bin`"), "{text}");
    // The account is in the database, its tokens sealed (a running daemon would pick it up).
    let url = format!("sqlite://{}?mode=ro", dir.path().join("omnigate.db").display());
    let db = sea_orm::Database::connect(url).await.expect("the database");
    let accounts = entities::account::Entity::find().all(&db).await.expect("accounts");
    assert_eq!(
        accounts.iter().map(|a| (a.provider.as_str(), a.name.as_str())).collect::<Vec<_>>(),
        vec![("qwen-code", "bin")]
    );
    let sessions = entities::oauth_session::Entity::find().all(&db).await.expect("sessions");
    assert_eq!(sessions.len(), 1);
    let stored = format!("{sessions:?}");
    db.close().await.expect("closed");
    for t in w.oauth.issued().iter().map(String::as_str).chain([refresh, "qwen-fixture-access"]) {
        assert!(!text.contains(t), "a token was printed");
        assert!(!stored.contains(t), "a token stored in clear");
    }
}

/// A PKCE sign-in whose redirect URI is the gateway's own callback (a proxy or provider that
/// allows it): the provider sends the browser to `/api/oauth/{provider}/callback?code&state`, the
/// gateway finishes the sign-in and answers a small page; a replayed redirect is refused.
#[actix_rt::test]
async fn the_browser_redirect_to_the_gateway_finishes_a_sign_in() {
    let w = World::new().await;
    let app = w.start(&w.config("", "")).await;
    let base = support::base(&app);
    let mut ep = endpoints(&w, CX);
    ep.redirect_uri = Some(format!("{base}/api/oauth/codex/callback"));
    let start = json!({"name": "redirected", "base_url": w.base_url(CX), "endpoints": ep});
    let c = support::client();
    let mut r = c
        .post(format!("{base}/api/oauth/codex/start"))
        .bearer_auth(&w.env.admin_token)
        .send_json(&start)
        .await
        .expect("sent");
    let v = support::json_body(&mut r).await;
    assert_eq!(r.status(), 200, "{v}");
    // The provider's page sends the browser back to the gateway.
    let browser = awc::Client::builder().disable_redirects().finish();
    let r = browser.get(v["authorize_url"].as_str().unwrap_or_default()).send().await.expect("authorize");
    let back = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
    assert!(back.starts_with(&format!("{base}/api/oauth/codex/callback?")), "{back}");
    let mut r = c.get(&back).bearer_auth(&w.env.admin_token).send().await.expect("callback");
    let page = support::text_body(&mut r).await;
    assert_eq!(r.status(), 200, "{page}");
    assert!(page.contains("Signed in") && page.contains("redirected"), "{page}");
    assert_eq!(chat(&app, CX, false).await.0, 200);
    let mut r = c.get(&back).bearer_auth(&w.env.admin_token).send().await.expect("replay");
    let page = support::text_body(&mut r).await;
    assert_eq!(r.status(), 404, "a used sign-in cannot be replayed: {page}");
    // The provider's refusal is shown, not swallowed.
    let mut r = c
        .get(format!("{base}/api/oauth/codex/callback?error=access_denied&error_description=missing_codex_entitlement"))
        .bearer_auth(&w.env.admin_token)
        .send()
        .await
        .expect("refused");
    let page = support::text_body(&mut r).await;
    assert_eq!(r.status(), 400);
    assert!(page.contains("missing_codex_entitlement"), "{page}");
    app.stop().await;
}

//! Subscription accounts in the dashboard, in headless Chromium: a seeded Claude Code account
//! shows "signed in" and its 5-hour and weekly windows as bars with reset countdowns (from the
//! headers of a real request); an operator signs in to Claude Code (the provider's page opened,
//! its `code#state` pasted back) and to Qwen Code (the device code shown with its countdown while
//! the server polls the mock OAuth server through `authorization_pending`), and each new account
//! appears signed in and serves a request; a sign-in the provider revoked shows its reason and
//! comes back through Sign in again and the import box.

use serde_json::json;

use super::driver::Driver;
use super::{open, sign_in};
use crate::mock::Reply;
use crate::subs::{CC, QW, Sub, World, chat};
use crate::support::base;

/// Opens the sign-in dialog's overrides and points it at the mocks.
async fn point_at_mocks(d: &Driver, w: &World, s: Sub, base_url: Option<String>) {
    d.click("#signin-form details:not(.import-box) > summary").await;
    let o = w.oauth.url(s.prefix);
    if let Some(b) = base_url {
        d.type_into("#signin-form input[name=base_url]", &b).await;
    }
    d.type_into("#signin-form input[name=token_url]", &w.token_url(s)).await;
    if s.prefix == "qw" {
        // A device flow asks only for its own endpoints.
        assert_eq!(d.js("return document.querySelectorAll('#signin-form input[name=redirect_uri]').length").await, 0);
        d.type_into("#signin-form input[name=device_url]", &format!("{o}/device/code")).await;
        d.type_into("#signin-form input[name=device_token_url]", &format!("{o}/token")).await;
    } else {
        d.type_into("#signin-form input[name=authorize_url]", &format!("{o}/authorize")).await;
        // Where the mock sends the browser back; nothing listens there (the user copies the code).
        d.type_into("#signin-form input[name=redirect_uri]", "http://127.0.0.1:9/callback").await;
    }
}

/// What the user does at Claude's page: sign in, and copy the `code#state` it shows.
async fn provider_page(url: &str) -> String {
    let c = awc::Client::builder().disable_redirects().finish();
    let r = c.get(url).send().await.expect("the provider's page");
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).expect("a redirect").to_string();
    let query = location.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).expect("a query");
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    format!("{}#{}", get("code"), get("state"))
}

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn sign_in_to_subscriptions_and_see_their_quota_windows() {
    let w = World::new().await;
    let u = uuid::Uuid::new_v4().simple().to_string();
    let (at, rt) = (format!("cc-at-{u}"), format!("cc-rt-{u}"));
    let reset = omnigate::store::now_ms() / 1000 + 3 * 3600;
    let headers = [
        ("anthropic-ratelimit-unified-status", "allowed"),
        ("anthropic-ratelimit-unified-5h-utilization", "0.4"),
        ("anthropic-ratelimit-unified-5h-reset", &reset.to_string()),
        ("anthropic-ratelimit-unified-7d-utilization", "0.97"),
        ("anthropic-ratelimit-unified-7d-reset", &(reset + 3 * 86_400).to_string()),
    ];
    let headers = headers.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    let fixture = Reply::Fixture { kind: "text", delay: std::time::Duration::ZERO };
    w.upstream.script(&at, vec![Reply::WithHeaders { headers, reply: Box::new(fixture) }]);
    let app = w.start(&w.config("", &w.account(CC, "max", &at, &rt, 3_600_000))).await;
    assert_eq!(chat(&app, CC, false).await.0, 200);

    let d = Driver::start().await;
    sign_in(&d, &base(&app), &w.env.admin_password).await;
    open(&d, "providers").await;
    let max = "tr[data-account='claude-code/max']";
    d.wait_text(max, "signed in").await;
    d.wait_text(&format!("{max} [data-window='5h']"), "40%").await;
    d.wait_text(&format!("{max} [data-window='5h']"), "resets in 2h 59m").await;
    d.wait_text(&format!("{max} [data-window='7d']"), "97%").await;
    d.wait_text(&format!("{max} [data-window='7d']"), "resets in 3d").await;
    d.find(max).await;
    d.screenshot("subscription-quota").await;

    // ---- Claude Code: the provider's page, then its code pasted back.
    d.click_button("[data-provider='claude-code'] .card-head", "Sign in to claude-code").await;
    d.type_into("#signin-form input[name=name]", "web").await;
    point_at_mocks(&d, &w, CC, w.base_url(CC)).await;
    d.click_button("#signin-form", "Open sign-in").await;
    d.find("#signin-link").await;
    let url = d.js("return document.querySelector('#signin-link').href").await;
    let pasted = provider_page(url.as_str().unwrap_or_default()).await;
    d.type_into("#signin-form input[name=code]", &pasted).await;
    d.screenshot("subscription-paste-back").await;
    d.click("#signin-finish").await;
    d.wait_text("tr[data-account='claude-code/web']", "signed in").await;
    assert_eq!(d.js("return !!document.querySelector('dialog[open]')").await, json!(false), "the dialog closed");

    // ---- Qwen Code (no account yet, so in the catalog): a device code with its countdown.
    w.oauth.script_device(vec!["authorization_pending", "authorization_pending"]);
    d.click("#catalog details > summary").await;
    d.click_button("#catalog", "Sign in to qwen-code").await;
    d.type_into("#signin-form input[name=name]", "dev").await;
    point_at_mocks(&d, &w, QW, None).await;
    d.click_button("#signin-form", "Get a code").await;
    d.wait_text("#signin-user-code", "WDJB-MJHT").await;
    d.wait_text("#signin-countdown", "m").await;
    d.screenshot("subscription-device-code").await;
    d.wait_text("tr[data-account='qwen-code/dev']", "signed in").await;
    d.screenshot("subscriptions").await;

    // ---- The provider revokes the web sign-in: its refresh after a 401 fails for good, the row
    // says so with the reason, and Sign in again with the import box brings it back.
    let web_token = w.oauth.issued().iter().rev().find(|t| t.starts_with("cc-")).cloned().expect("web's token");
    w.upstream.always(&web_token, Reply::status(401));
    w.oauth.revoke_all();
    let body = json!({"model": "cc/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    crate::support::post(&app, "/v1/chat/completions", body).await;
    let web = "tr[data-account='claude-code/web']";
    d.wait_text(web, "sign-in dead").await;
    d.wait_text(web, "invalid_grant").await;
    d.find(web).await;
    d.screenshot("subscription-sign-in-dead").await;
    d.click_button(web, "Sign in again to claude-code/web").await;
    assert_eq!(d.js("return document.querySelector('#signin-form input[name=name]').value").await, json!("web"));
    let (path, refresh) = crate::subs::flows::fixture(CC);
    w.oauth.grant_refresh(refresh);
    point_at_mocks(&d, &w, CC, w.base_url(CC)).await;
    d.click("#signin-form .import-box > summary").await;
    d.type_into("#signin-form textarea[name=credentials]", &std::fs::read_to_string(path).expect("fixture")).await;
    d.click("#signin-import").await;
    d.wait_text(web, "signed in").await;
    assert_eq!(d.js_errors().await, Vec::<String>::new());
    d.quit().await;

    // Both accounts serve requests.
    assert_eq!(chat(&app, QW, false).await.0, 200);
    let before = w.upstream_calls(CC).len();
    assert_eq!(chat(&app, CC, false).await.0, 200);
    assert_eq!(w.upstream_calls(CC).len(), before + 1);
    app.stop().await;
}

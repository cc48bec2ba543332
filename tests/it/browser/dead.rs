//! A dead account in the dashboard, in headless Chromium: after its upstream refused the key,
//! the Providers page shows "credentials refused" with the error and since when (also once the
//! cooldown has lapsed), and the Overview counts it among the accounts that need attention,
//! not among the ready ones.

use super::driver::Driver;
use super::{open, sign_in};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, mock_config, post};

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn a_dead_account_reads_credentials_refused_not_ready() {
    let mock = MockUpstream::start().await;
    mock.always("kdead", Reply::status(401));
    let env = TestEnv::new().await;
    // A short cooldown: the page is read after it lapsed, when a naive view says "ready".
    let app =
        env.start(&mock_config(&mock.base(), &[("dead", "kdead")], "[resilience]\ncooldown_base_ms = 200\n")).await;
    let chat = serde_json::json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post(&app, "/v1/chat/completions", chat).await.status(), 503);
    actix_rt::time::sleep(std::time::Duration::from_millis(400)).await;

    let d = Driver::start().await;
    sign_in(&d, &base(&app), &env.admin_password).await;
    open(&d, "overview").await;
    d.wait_text("#page-overview", "1 need attention").await;
    d.wait_text("#page-overview", "credentials refused").await;
    assert!(d.text("#page-overview .provider-head").await.contains("0 ready"), "the dead account is not counted ready");
    open(&d, "providers").await;
    let row = "tr[data-account='mock/dead']";
    d.wait_text(row, "credentials refused").await;
    d.wait_text(row, "credentials refused (401/403)").await;
    let since = d.js("return document.querySelector(\"tr[data-account='mock/dead'] [data-last-error] time\")?.getAttribute('datetime') || ''").await;
    assert!(since.as_str().is_some_and(|s| !s.is_empty()), "the error shows since when: {since}");
    d.screenshot("dead-account").await;
    assert!(d.js_errors().await.is_empty(), "no script errors");
    d.quit().await;
    app.stop().await;
}

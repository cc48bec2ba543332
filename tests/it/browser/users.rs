//! Dashboard users in headless Chromium: the admin adds a viewer on the Users page, the viewer
//! signs in with a name and password and sees usage and health, but no admin pages in the sidebar
//! and no write buttons, changes their own password; an admin page typed into the address bar
//! falls back to the overview.

use serde_json::json;

use super::driver::Driver;
use super::{open, sign_in};
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, mock_config, post};

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn an_admin_adds_a_viewer_who_sees_usage_but_no_write_buttons() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    for _ in 0..2 {
        post(
            &app,
            "/v1/chat/completions",
            json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    }
    app.state.runtime.flush_usage().await;
    let b = base(&app);
    let d = Driver::start().await;

    // The admin adds a viewer.
    sign_in(&d, &b, &env.admin_password).await;
    open(&d, "users").await;
    d.wait("return !!document.querySelector(\"#users-list tr[data-user='admin']\")", "the bootstrap admin listed")
        .await;
    d.type_into("#user-form input[name=name]", "ann").await;
    d.choose("#user-form select[name=role]", "viewer").await;
    d.type_into("#user-form input[name=password]", "ann-password-1").await;
    d.click_button("#user-form", "Add user").await;
    d.wait_text("#users-list tr[data-user='ann']", "viewer").await;
    d.screenshot("users").await;
    d.click("#logout").await;

    // The viewer signs in with a name and password.
    d.wait("return !document.querySelector('#login-view').hidden", "the sign-in form").await;
    d.type_into("#username", "ann").await;
    d.type_into("#password", "ann-password-1").await;
    d.click("#login-submit").await;
    d.wait("return !document.querySelector('#app').hidden", "the dashboard for the viewer").await;
    d.wait_text("#whoami", "ann · viewer").await;
    let visible = d
        .js("return [...document.querySelectorAll('#nav a')].filter((a) => !a.hidden).map((a) => a.dataset.page)")
        .await;
    assert_eq!(visible, json!(["overview", "usage", "requests", "health"]), "only the read-only pages");
    d.wait_text("#page-overview", "Accounts").await;
    d.wait("return !document.querySelector('#page .state.loading')", "the overview loaded").await;
    let admin_links = d
        .js("return document.querySelectorAll(\"#page a[href='#/providers'], #page a[href='#/playground']\").length")
        .await;
    assert_eq!(admin_links, json!(0), "no links to admin pages on the viewer's overview");

    open(&d, "usage").await;
    d.wait(
        "const v = document.querySelector(\"#usage-totals [data-stat='requests'] .value\"); return !!v && v.textContent === '2'",
        "the viewer sees the two requests",
    )
    .await;
    d.wait_text("#usage-groups", "mock").await;
    d.screenshot("viewer-usage").await;

    open(&d, "health").await;
    d.wait_text("#health-breakers", "mock").await;
    let buttons = d.js("return [...document.querySelectorAll('#page button')].map((b) => b.textContent.trim())").await;
    assert!(
        !buttons.as_array().into_iter().flatten().any(|t| t.as_str().is_some_and(|t| t.contains("Reset"))),
        "no reset buttons for a viewer: {buttons}"
    );

    // The viewer changes their own password; the new one signs in.
    d.click("#change-password").await;
    d.type_into("#password-form input[name=new-password]", "ann-password-2").await;
    d.click_button("#password-form", "Save").await;
    d.wait_text("#notices .notice", "Password changed").await;
    let r = crate::support::client()
        .post(format!("{b}/api/login"))
        .send_json(&json!({"username": "ann", "password": "ann-password-2"}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the new password signs in");

    // An admin page by address falls back to the overview (and the API would refuse it anyway).
    d.goto(&format!("{b}/dashboard#/keys")).await;
    d.wait("return !!document.querySelector('#page-overview')", "the overview instead of keys").await;
    assert!(d.js_errors().await.is_empty(), "no script errors");
    d.quit().await;
    app.stop().await;
}

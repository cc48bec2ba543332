//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver), used as an
//! operator would: sign in, watch the overview, add a custom provider and an account against the
//! mock upstream and test it, run a playground request, find it in Requests and in Usage, build a
//! combo and reorder it by keyboard and buttons, add an alias, create and revoke a key, look at
//! health and settings, then the same pages at phone width, and sign out. Each step asserts what a
//! user would see; every page is saved as a PNG under `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (installed by `.ci/run`; `OG_TEST_CHROMIUM` and
//! `OG_TEST_CHROMEDRIVER` override the ones on `PATH`). `#[ignore]`d so a plain `cargo test` lists
//! it as ignored with the reason; `scripts/test` runs it whenever both exist and names it in its
//! `skipped:` line when they do not. Run on purpose without them, it fails.

mod dead;
mod driver;
mod pricing;
mod subscriptions;
mod tools;
mod users;

use serde_json::{Value, json};

use self::driver::{ALT, ARROW_DOWN, ARROW_UP, Driver, ESCAPE};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, admin_get, base, client, header, json_body, mock_config, post};

/// The pages of the sidebar, in its order.
const PAGES: [&str; 12] = [
    "overview",
    "providers",
    "combos",
    "keys",
    "usage",
    "requests",
    "pricing",
    "health",
    "settings",
    "playground",
    "tools",
    "users",
];

/// Opens a page from the sidebar (a real click on its link) and waits for it to be drawn.
async fn open(d: &Driver, page: &str) {
    d.click(&format!("#nav a[data-page='{page}']")).await;
    d.wait_with(
        "const p = document.querySelector('#page-' + arguments[0]); return !!p && !document.querySelector('#page > .state.loading')",
        json!([page]),
        &format!("the {page} page"),
    )
    .await;
}

async fn sign_in(d: &Driver, app_base: &str, password: &str) {
    d.goto(&format!("{app_base}/dashboard")).await;
    d.wait("return !document.querySelector('#login-view').hidden", "the sign-in form").await;
    // A wrong password shows the error in place and keeps the form.
    d.type_into("#password", "wrong").await;
    d.click("#login-submit").await;
    d.wait_text("#login-error", "Wrong password").await;
    d.type_into("#password", password).await;
    d.click("#login-submit").await;
    d.wait("return !document.querySelector('#app').hidden", "the dashboard after signing in").await;
}

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn dashboard_walk_every_page_as_an_operator() {
    let mock = MockUpstream::start().await;
    // The account added in the browser answers with a recognisable, streamed text.
    mock.always("k-lab", Reply::Text("Hello from the lab".into()));
    mock.always("k-broken", Reply::status(401));
    let env = TestEnv::new().await;
    // The config file declares provider `mock` with account `cfg-a`, and the key `ci`.
    let app = env.start(&mock_config(&mock.base(), &[("cfg-a", "kc")], "")).await;
    let b = base(&app);
    for _ in 0..3 {
        post(
            &app,
            "/v1/chat/completions",
            json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    }
    app.state.runtime.flush_usage().await;

    let d = Driver::start().await;
    sign_in(&d, &b, &env.admin_password).await;

    // ---- Overview: live figures of the traffic so far.
    d.wait("return !!document.querySelector('#page-overview')", "the overview").await;
    d.wait_text("#overview-stats [data-stat='rpm']", "Requests / min").await;
    d.wait_text("#top-models", "mock/mock-model").await;
    d.wait_text("#overview-accounts", "mock/cfg-a").await;
    for page in PAGES {
        assert!(d.text("#nav").await.contains(&page_title(page)), "the sidebar links {page}");
    }
    d.screenshot("overview").await;

    // ---- Providers & accounts: add a custom provider and an account against the mock, test it.
    open(&d, "providers").await;
    d.wait_text("[data-provider='mock']", "cfg-a").await;
    d.wait_text("[data-provider='mock']", "config file").await;
    d.click("#add-provider").await;
    d.type_into("#provider-form input[name=id]", "lab").await;
    d.choose("#provider-form select[name=dialect]", "openai-chat").await;
    d.type_into("#provider-form input[name=base_url]", &mock.base()).await;
    d.type_into("#provider-form textarea[name=models]", "lab-model").await;
    d.click_button("#provider-form", "Add provider").await;
    d.wait_text("[data-provider='lab']", "No accounts for this provider").await;
    d.click_button("[data-provider='lab'] .card-head", "Add an account to lab").await;
    d.wait(
        "return document.querySelector('#account-form select[name=provider]').value === 'lab'",
        "the account form for lab",
    )
    .await;
    d.type_into("#account-form input[name=name]", "lab-1").await;
    d.type_into("#account-form input[name=api_key]", "k-lab").await;
    d.click_button("#account-form", "Add account").await;
    d.wait_text("tr[data-account='lab/lab-1']", "ready").await;
    d.click_button("tr[data-account='lab/lab-1']", "Test account lab/lab-1").await;
    d.wait_text("tr[data-account='lab/lab-1'] .test-result", "OK").await;
    // A second account whose upstream refuses its key: the test says why, in its row.
    d.click_button("[data-provider='lab'] .card-head", "Add an account to lab").await;
    d.type_into("#account-form input[name=name]", "lab-broken").await;
    d.type_into("#account-form input[name=api_key]", "k-broken").await;
    d.type_into("#account-form input[name=priority]", "9").await;
    d.click_button("#account-form", "Add account").await;
    d.click_button("tr[data-account='lab/lab-broken']", "Test account lab/lab-broken").await;
    d.wait_text("tr[data-account='lab/lab-broken'] .test-result", "401").await;
    d.click_button("tr[data-account='lab/lab-broken']", "Disable account lab/lab-broken").await;
    d.wait_text("tr[data-account='lab/lab-broken']", "disabled").await;
    // An account from the config file cannot be edited here: the 409 shows in its card.
    d.click_button("tr[data-account='mock/cfg-a']", "Disable account mock/cfg-a").await;
    d.wait_text("[data-provider='mock'] .form-msg.error", "config file").await;
    d.screenshot("providers").await;

    // ---- Playground: a streamed answer, and the upstream body the gateway built.
    open(&d, "playground").await;
    // The model suggestions load first (and would fill an empty model field).
    d.wait("return document.querySelectorAll('#playground-models option').length > 0", "the model suggestions").await;
    d.choose("#playground-form select[name=dialect]", "anthropic").await;
    d.type_into("#playground-form input[name=model]", "lab/lab-model").await;
    d.type_into("#playground-form textarea[name=message]", "Say hello").await;
    d.click("#playground-send").await;
    d.wait_text("#playground-answer", "Hello from the lab").await;
    d.wait_text("#playground-meta", "via lab/lab-1").await;
    d.wait_text("#playground-upstream-body", "\"model\": \"lab-model\"").await;
    d.wait_text("#playground-upstream", "anthropic → openai-chat").await;
    d.screenshot("playground").await;
    let upstream: Vec<_> = mock.requests().into_iter().filter(|r| r.credential().as_deref() == Some("k-lab")).collect();
    assert!(
        upstream.iter().any(|r| r.body["messages"].to_string().contains("Say hello")),
        "the playground message reached the lab account upstream: {upstream:?}"
    );

    // ---- Requests: the playground request is in the log; its drawer shows the attempt.
    d.click("#playground-request-link").await;
    d.wait_text("#request-detail", "Attempts (1)").await;
    d.wait_text("#request-attempts", "lab/lab-1").await;
    d.wait_text("#request-attempts", "success").await;
    d.wait_text("#request-detail", "admin:playground").await;
    d.screenshot("request-detail").await;
    d.press(ESCAPE).await;
    d.wait("return !document.querySelector('dialog[open]')", "the drawer closed").await;
    d.wait_text("#requests-list", "lab/lab-model").await;
    let rows = d.js("return document.querySelectorAll('#requests-list tbody tr').length").await;
    assert!(
        rows.as_u64().unwrap_or(0) >= 4,
        "the three client requests and the playground's: {}",
        d.text("#requests-list").await
    );
    d.type_into("#requests-filters input[name=model]", "lab/lab-model").await;
    d.click_button("#requests-filters", "Apply").await;
    d.wait("return document.querySelectorAll('#requests-list tbody tr').length === 1", "one request of lab/lab-model")
        .await;
    d.wait_text("#requests-list tbody tr", "admin:playground").await;
    d.screenshot("requests").await;

    // ---- Usage: the playground request counted under its model, drawn as bars.
    open(&d, "usage").await;
    d.click_button("#page-usage .segmented", "1h").await;
    d.wait(
        "return location.hash.includes('window=1h') && !!document.querySelector('#usage-totals .stat')",
        "the 1 h window",
    )
    .await;
    d.choose("#page-usage select[name=by]", "model").await;
    d.wait("return location.hash.includes('by=model') && location.hash.includes('window=1h')", "the split by model")
        .await;
    // Three client requests and the playground's: one of them for lab/lab-model.
    d.wait(
        "const v = document.querySelector(\"#usage-totals [data-stat='requests'] .value\"); return !!v && v.textContent === '4'",
        "four requests in the last hour",
    )
    .await;
    d.wait(
        "const c = document.querySelector(\"#usage-groups tr[data-group='lab/lab-model'] td[data-label='Requests']\"); return !!c && c.textContent === '1'",
        "one request of lab/lab-model in the totals",
    )
    .await;
    d.wait_text("#usage-groups tr[data-group='mock/mock-model'] td[data-label='Requests']", "3").await;
    d.wait("return document.querySelectorAll('#usage-charts svg rect').length >= 2", "bars in the usage charts").await;
    d.screenshot("usage").await;

    // ---- Combos: create one, reorder it by keyboard and by the buttons, save; add an alias.
    open(&d, "combos").await;
    d.click("#new-combo").await;
    d.type_into("#combo-editor input[name=name]", "team").await;
    d.type_into("#combo-targets li:nth-child(1) input[name=model]", "lab/lab-model").await;
    d.click("#combo-add-target").await;
    d.type_into("#combo-targets li:nth-child(2) input[name=model]", "mock/mock-model").await;
    d.click("#combo-save").await;
    d.wait_text("tr[data-combo='team']", "lab/lab-model").await;
    assert_eq!(combo_models(&app, &env).await, json!(["lab/lab-model", "mock/mock-model"]));
    d.click_button("tr[data-combo='team']", "Edit combo team").await;
    d.find("#combo-targets li:nth-child(2)").await;
    let (lab, mock_first) = (json!(["lab/lab-model", "mock/mock-model"]), json!(["mock/mock-model", "lab/lab-model"]));
    assert_eq!(editor_order(&d).await, lab);
    // Drag: WebDriver cannot drive Chrome's native HTML5 drag and drop, so the drag events a mouse
    // drag fires are dispatched: the second row dropped on the top half of the first.
    d.js("const [a, b] = document.querySelectorAll('#combo-targets li'); const dt = new DataTransfer(); const r = a.getBoundingClientRect();
          b.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
          a.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt, clientY: r.top + 2}));
          a.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt, clientY: r.top + 2}));
          b.dispatchEvent(new DragEvent('dragend', {bubbles: true, dataTransfer: dt})); return true").await;
    assert_eq!(editor_order(&d).await, mock_first, "dragged to the top");
    // Keyboard: focus a row, Alt+ArrowDown / Alt+ArrowUp; focus stays on the moved row.
    d.js("document.querySelector('#combo-targets li:nth-child(1)').focus(); return true").await;
    d.chord(ALT, ARROW_DOWN).await;
    assert_eq!(editor_order(&d).await, lab, "Alt+ArrowDown");
    d.wait_text("#combo-announce", "mock/mock-model moved to position 2 of 2").await;
    d.chord(ALT, ARROW_UP).await;
    assert_eq!(editor_order(&d).await, mock_first, "Alt+ArrowUp on the row that kept the focus");
    // Buttons.
    d.click_button("#combo-targets li:nth-child(1)", "Move down").await;
    assert_eq!(editor_order(&d).await, lab, "the Move down button");
    d.click_button("#combo-targets li:nth-child(2)", "Move up").await;
    assert_eq!(editor_order(&d).await, mock_first, "the Move up button");
    d.click("#combo-save").await;
    d.wait("return !document.querySelector('#combo-editor')", "the editor closed after saving").await;
    d.wait(
        "const r = document.querySelector(\"tr[data-combo='team']\"); return !!r && r.innerText.indexOf('mock/mock-model') < r.innerText.indexOf('lab/lab-model')",
        "the new order in the combo list",
    )
    .await;
    assert_eq!(combo_models(&app, &env).await, json!(["mock/mock-model", "lab/lab-model"]), "the saved order");
    d.type_into("#alias-form input[name=alias]", "fast").await;
    d.type_into("#alias-form input[name=target]", "lab/lab-model").await;
    d.click_button("#alias-form", "Add alias").await;
    d.wait_text("tr[data-alias='fast']", "lab/lab-model").await;
    // A request transform for the combo, added from JSON.
    let brief = r#"{"name": "brief", "combo": "team", "system": "Be brief."}"#;
    d.type_into("#transform-form textarea[name=transform]", brief).await;
    d.click_button("#transform-form", "Add transform").await;
    d.wait_text("tr[data-transform='brief']", "combo team").await;
    d.screenshot("combos").await;
    // The combo answers clients, through its first target, with the transform applied.
    let mut r =
        post(&app, "/v1/chat/completions", json!({"model": "team", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!(r.status(), 200, "{}", json_body(&mut r).await);
    assert_eq!(header(&r, "x-omnigate-transforms"), "brief");
    // The request's detail names it.
    let id = header(&r, "x-request-id");
    app.state.runtime.flush_usage().await;
    d.goto(&format!("{b}/dashboard#/requests?id={id}")).await;
    d.wait_text("#request-transforms", "brief").await;
    d.press(ESCAPE).await;
    d.wait("return !document.querySelector('dialog[open]')", "the drawer closed").await;

    // ---- Keys: create one (shown once, with a copy button), use it, revoke it.
    open(&d, "keys").await;
    d.wait_text("tr[data-key='ci']", "config").await;
    d.type_into("#key-form input[name=name]", "browser").await;
    d.type_into("#key-form input[name=models]", "lab/*, team").await;
    d.click_button("#key-form", "Create key").await;
    d.wait_text("#key-created", "will not be shown again").await;
    let secret = d.js("return document.querySelector('#new-key-secret').value").await;
    let secret = secret.as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("sk-og-"), "the new key is shown: {secret}");
    d.click("#copy-key").await;
    d.wait_text("#key-created", "Cop").await;
    d.wait_text("tr[data-key='browser']", "lab/*, team").await;
    d.screenshot("keys").await;
    assert_eq!(models_status(&b, &secret).await, 200, "the new key works");
    // Its limits and budget, set in the edit dialog, show in its row.
    d.click_button("tr[data-key='browser']", "Edit key browser").await;
    d.type_into("dialog input[name=rpm]", "30").await;
    d.type_into("dialog input[name=budget_usd]", "5").await;
    d.choose("dialog select[name=budget_period]", "week").await;
    d.click("dialog input[name=cache]").await;
    d.click_button("dialog", "Save").await;
    d.wait_text("tr[data-key='browser']", "30 rpm").await;
    d.wait_text("tr[data-key='browser']", "cached").await;
    d.wait_text("tr[data-key='browser'] [data-budget]", "$0.00 of $5.00 per week").await;
    d.click_button("tr[data-key='browser']", "Revoke key browser").await;
    d.click_button("dialog.confirm", "Revoke").await;
    d.wait("return !document.querySelector(\"tr[data-key='browser']\")", "the revoked key gone from the list").await;
    assert_eq!(models_status(&b, &secret).await, 401, "the revoked key is refused");
    d.click("#show-revoked").await;
    d.wait_text("tr[data-key='browser']", "revoked").await;

    // ---- Health: breakers, latency of what ran, and a reset button per breaker.
    open(&d, "health").await;
    d.wait_text("tr[data-breaker='lab']", "closed").await;
    d.wait_text("tr[data-breaker='mock']", "closed").await;
    d.wait_text("#health-latency tr[data-latency='lab']", "lab").await;
    d.wait_text("#health-cooldowns", "No account is cooling down").await;
    d.screenshot("health").await;

    // ---- Settings: the runtime form, and the config file's entries read-only.
    open(&d, "settings").await;
    settings_step(&d, &app, &env).await;
    d.screenshot("settings").await;

    // ---- Every page at phone width: no sideways scrolling, the menu opens the sidebar.
    d.viewport(390, 844, true).await;
    for page in PAGES {
        d.goto(&format!("{b}/dashboard#/{page}")).await;
        d.wait_with("return !!document.querySelector('#page-' + arguments[0])", json!([page]), page).await;
        d.wait("return !document.querySelector('#page .state.loading')", "the page loaded").await;
        let overflow = d.js("return document.documentElement.scrollWidth - window.innerWidth").await;
        assert!(overflow.as_i64().unwrap_or(99) <= 0, "{page} scrolls sideways at 390 px by {overflow} px");
        if matches!(page, "overview" | "providers" | "requests" | "combos") {
            d.screenshot(&format!("phone-{page}")).await;
        }
    }
    d.wait(
        "return getComputedStyle(document.querySelector('#sidebar')).transform !== 'none'",
        "the sidebar hidden on a phone",
    )
    .await;
    d.click("#menu-toggle").await;
    d.wait("return document.body.classList.contains('menu-open')", "the menu open").await;
    d.click("#nav a[data-page='keys']").await;
    d.wait(
        "return !!document.querySelector('#page-keys') && !document.body.classList.contains('menu-open')",
        "keys, menu closed",
    )
    .await;
    d.desktop().await;

    // ---- No script error anywhere on the way; sign out.
    let errors = d.js_errors().await;
    assert!(errors.is_empty(), "JavaScript errors: {errors:#?}");
    d.click("#logout").await;
    d.wait("return !document.querySelector('#login-view').hidden", "the sign-in form after logout").await;
    let r = client().get(format!("{b}/api/accounts")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    d.quit().await;
    app.stop().await;
}

fn page_title(page: &str) -> String {
    match page {
        "providers" => "Providers & accounts".into(),
        "combos" => "Combos & aliases".into(),
        p => format!("{}{}", p[..1].to_uppercase(), &p[1..]),
    }
}

/// The targets in the combo editor, in their order on the page.
async fn editor_order(d: &Driver) -> Value {
    d.js("return [...document.querySelectorAll('#combo-targets input[name=model]')].map((i) => i.value)").await
}

/// The saved targets of combo `team`, as the API has them.
async fn combo_models(app: &omnigate::app::Running, env: &TestEnv) -> Value {
    let c = admin_get(app, env, "/api/combos/team").await;
    let models: Vec<Value> = c["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m.get("model").cloned().unwrap_or_else(|| m.clone()))
        .collect();
    Value::Array(models)
}

/// The status of `GET /v1/models` with gateway key `key`.
async fn models_status(base: &str, key: &str) -> u16 {
    client().get(format!("{base}/v1/models")).bearer_auth(key).send().await.expect("send").status().as_u16()
}

/// The settings page: a runtime setting changed live and taken back to the file's value; the config
/// file's entries listed read-only; the audit log shows what this walk changed.
async fn settings_step(d: &Driver, app: &omnigate::app::Running, env: &TestEnv) {
    d.wait_text("#settings-routing", "Config file: fill-first").await;
    d.choose("#settings-form select[name='routing.strategy']", "round-robin").await;
    d.type_into("#settings-form input[name='routing.sticky_limit']", "0").await;
    d.click("#settings-save").await;
    // The server refuses a bad value and names it; the field is marked in place.
    d.wait_text("#settings-form .form-msg.error", "routing.sticky_limit").await;
    d.wait("return document.querySelector(\"#settings-form input[name='routing.sticky_limit']\").getAttribute('aria-invalid') === 'true'", "the bad field marked").await;
    d.type_into("#settings-form input[name='routing.sticky_limit']", "5").await;
    d.click("#settings-save").await;
    d.wait_text("[data-field='routing.strategy']", "changed here").await;
    let s = admin_get(app, env, "/api/settings").await;
    assert_eq!(s["routing"]["strategy"], "round-robin", "{s}");
    assert_eq!(s["routing"]["sticky_limit"], 5, "{s}");
    assert_eq!(s["overrides"]["routing"]["strategy"], "round-robin", "{s}");
    d.click_button("[data-field='routing.strategy']", "Use the config file's value for routing.strategy").await;
    d.wait(
        "return !document.querySelector(\"[data-field='routing.strategy']\").innerText.includes('changed here')",
        "the file's value back",
    )
    .await;
    let s = admin_get(app, env, "/api/settings").await;
    assert_eq!(s["routing"]["strategy"], "fill-first", "{s}");
    // Config as code: the file's provider, account and key, read-only.
    d.wait_text("[data-config-entry='provider:mock']", "mock").await;
    d.wait_text("[data-config-entry='account:mock/cfg-a']", "cfg-a").await;
    d.wait_text("[data-config-entry='key:ci']", "ci").await;
    // The audit log has this walk's changes.
    d.wait_text("#audit-log", "provider lab").await;
    d.wait_text("#audit-log", "combo team").await;
    d.wait_text("#audit-log", "settings").await;
}

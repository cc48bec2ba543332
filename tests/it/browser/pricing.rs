//! The Pricing page in headless Chromium, used as an operator would: the catalog's prices are
//! listed with their source, a price added in the form prices the next request (seen as its cost
//! on the Requests page), an edit goes through the same form, a delete asks first and leaves the
//! model unpriced (shown as "unpriced", never $0), and a refused value names its field.

use sea_orm::ActiveValue::Set;

use super::driver::Driver;
use super::{open, sign_in};
use crate::admin_write_support::get_api;
use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, mock_config, post, text_body};

async fn chat(app: &omnigate::app::Running) {
    let body = serde_json::json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    text_body(&mut r).await;
    app.state.runtime.flush_usage().await;
}

#[actix_web::test]
#[ignore = "needs Chromium and chromedriver: run through scripts/test"]
async fn the_pricing_page_adds_edits_and_deletes_prices() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let d = Driver::start().await;
    sign_in(&d, &base(&app), &env.admin_password).await;
    open(&d, "pricing").await;
    d.wait_text("tr[data-price='openai/gpt-4o']", "catalog").await;

    // Add a price for the mock's model; the next request is costed by it.
    d.type_into("#pricing-form [name=provider]", "mock").await;
    d.type_into("#pricing-form [name=model]", "mock-*").await;
    d.type_into("#pricing-form [name=input]", "1").await;
    d.type_into("#pricing-form [name=output]", "2").await;
    d.click("#pricing-save").await;
    d.wait_text("tr[data-price='mock/mock-*']", "api").await;
    d.screenshot("pricing").await;
    let (_, rows) = get_api(&app, &env, "/api/pricing?provider=mock").await;
    assert_eq!(rows[0]["input"].as_f64(), Some(1.0), "{rows}");
    chat(&app).await;
    open(&d, "requests").await;
    d.wait_text("#page-requests tbody tr:first-child", "$0.000016").await;

    // Edit: the row's values come into the form, a changed figure is saved over them.
    open(&d, "pricing").await;
    // The filter's options come with the list: choose once the list is there.
    d.wait_text("tr[data-price='mock/mock-*']", "api").await;
    d.choose("#pricing-filter", "mock").await;
    d.wait("return document.querySelectorAll('#pricing-list tbody tr').length === 1", "only the mock's row").await;
    d.click_button("tr[data-price='mock/mock-*']", "Edit").await;
    d.wait("return document.querySelector('#pricing-form [name=model]').value === 'mock-*'", "the row in the form")
        .await;
    d.type_into("#pricing-form [name=output]", "4").await;
    d.click("#pricing-save").await;
    d.wait_text("tr[data-price='mock/mock-*']", "$4").await;

    // A refused value names its field.
    d.type_into("#pricing-form [name=model]", "x").await;
    d.type_into("#pricing-form [name=input]", "1").await;
    d.type_into("#pricing-form [name=output]", "1").await;
    d.type_into("#pricing-form [name=provider]", "op*").await;
    d.click("#pricing-save").await;
    d.wait_text("#page-pricing", "`provider`").await;

    // Delete, confirmed in a dialog: the next request is unpriced, and says so.
    d.click_button("tr[data-price='mock/mock-*']", "Delete").await;
    d.click_button("dialog.confirm", "Delete").await;
    d.wait("return !document.querySelector(\"tr[data-price='mock/mock-*']\")", "the row gone").await;
    chat(&app).await;
    open(&d, "requests").await;
    d.wait_text("#page-requests tbody tr:first-child", "unpriced").await;
    d.screenshot("pricing-unpriced-request").await;
    // Usage: the priced cost, with the unpriced request counted beside it (not as $0).
    open(&d, "usage").await;
    d.wait_text("[data-stat='cost']", "$0.000016").await;
    d.wait_text("[data-stat='cost']", "1 unpriced").await;

    // A subscription's request reads $0 with its list price.
    let sub = entities::usage::ActiveModel {
        ts: Set(omnigate::store::now_ms()),
        request_id: Set("sub-row".into()),
        client_dialect: Set("openai-chat".into()),
        provider: Set(Some("claude-code".into())),
        account: Set(Some("me".into())),
        model: Set("claude-code/claude-sonnet-4-5".into()),
        status: Set(200),
        input_tokens: Set(100),
        output_tokens: Set(10),
        cache_read_tokens: Set(0),
        cache_write_tokens: Set(0),
        reasoning_tokens: Set(0),
        total_tokens: Set(110),
        cost_usd: Set(Some(0.0)),
        list_cost_usd: Set(Some(0.5)),
        cost_source: Set("subscription".into()),
        latency_ms: Set(5),
        streamed: Set(false),
        attempts: Set(1),
        ..Default::default()
    };
    sea_orm::EntityTrait::insert(sub).exec(&app.state.db).await.expect("insert");
    open(&d, "requests").await;
    d.wait_text("tr[data-request] td[data-label='Cost']", "list $0.50").await;
    assert!(d.js_errors().await.is_empty(), "no script errors");
    d.quit().await;
    app.stop().await;
}

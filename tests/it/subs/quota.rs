//! Quota windows: headers saying a window is exhausted make the next requests skip the account
//! until the reset (without spending a request on it, across a restart too); a combo of a
//! subscription then an API-key account falls over without the client noticing; windows near
//! their limit put the account last and show in `/api/accounts`; the usage endpoint is polled.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{CC, CX, GC, Sub, World, api_account, chat};
use crate::mock::Reply;
use crate::support::{self, eventually};

fn tokens(s: Sub, tag: &str) -> (String, String) {
    let u = uuid::Uuid::new_v4().simple().to_string();
    (format!("{}-{tag}-at-{u}", s.prefix), format!("{}-{tag}-rt-{u}", s.prefix))
}

fn with_priority(account: String, priority: i32) -> String {
    account.replacen("\nname = ", &format!("\npriority = {priority}\nname = "), 1)
}

fn calls_with(w: &World, token: &str) -> usize {
    w.upstream.requests().iter().filter(|r| r.credential().as_deref() == Some(token)).count()
}

#[actix_rt::test]
async fn an_exhausted_window_skips_the_account_until_its_reset_even_across_a_restart() {
    let w = World::new().await;
    let (a_at, a_rt) = tokens(CC, "a");
    let (b_at, b_rt) = tokens(CC, "b");
    let accounts = with_priority(w.account(CC, "a", &a_at, &a_rt, 3_600_000), 1)
        + &with_priority(w.account(CC, "b", &b_at, &b_rt, 3_600_000), 2);
    let text = w.config("", &accounts);
    let reset = omnigate::store::now_ms() / 1000 + 6;
    let exhausted = vec![
        ("anthropic-ratelimit-unified-status".to_string(), "rejected".to_string()),
        ("anthropic-ratelimit-unified-5h-utilization".to_string(), "1.0".to_string()),
        ("anthropic-ratelimit-unified-5h-status".to_string(), "rejected".to_string()),
        ("anthropic-ratelimit-unified-5h-reset".to_string(), reset.to_string()),
        ("anthropic-ratelimit-unified-7d-utilization".to_string(), "0.31".to_string()),
        ("anthropic-ratelimit-unified-7d-reset".to_string(), (reset + 86_400).to_string()),
    ];
    // This answer still succeeds; its headers say the 5-hour window is used up.
    let fixture = Reply::Fixture { kind: "text", delay: std::time::Duration::ZERO };
    w.upstream.script(&a_at, vec![Reply::WithHeaders { headers: exhausted, reply: Box::new(fixture) }]);
    let app = w.start(&text).await;
    assert_eq!(chat(&app, CC, false).await.2, "a");
    for _ in 0..3 {
        let (status, body, account) = chat(&app, CC, false).await;
        assert_eq!((status, account.as_str()), (200, "b"), "{body}");
    }
    assert_eq!(calls_with(&w, &a_at), 1, "no request was spent on the exhausted account");
    let a = api_account(&app, &w.env, "a").await;
    let windows = a["quota"]["windows"].as_array().cloned().unwrap_or_default();
    let five = windows.iter().find(|x| x["key"] == "5h").cloned().unwrap_or_default();
    assert_eq!((five["status"].as_str(), five["used"].as_f64()), (Some("exhausted"), Some(1.0)), "{a}");
    assert_eq!(a["quota"]["view"]["blocked_until"], reset * 1000, "{a}");
    assert!(windows.iter().any(|x| x["key"] == "7d" && x["status"] == "allowed"), "{a}");
    // The windows are saved: a restarted daemon keeps skipping the account.
    let db = app.state.db.clone();
    let saved = eventually(10, || async {
        entities::quota_window::Entity::find()
            .filter(entities::quota_window::Column::Status.eq("exhausted"))
            .all(&db)
            .await
            .map(|r| !r.is_empty())
            .unwrap_or(false)
    })
    .await;
    assert!(saved);
    app.stop().await;
    let app = w.start(&text).await;
    assert_eq!(chat(&app, CC, false).await.2, "b");
    assert_eq!(calls_with(&w, &a_at), 1);
    // After the reset, the account is first again.
    let back = eventually(15, || async { chat(&app, CC, false).await.2 == "a" }).await;
    assert!(back, "the account serves again after its window reset");
    app.stop().await;
}

#[actix_rt::test]
async fn a_combo_falls_over_from_an_exhausted_subscription_to_an_api_key() {
    let w = World::new().await;
    let (at, rt) = tokens(CC, "sub");
    let reset = omnigate::store::now_ms() / 1000 + 3600;
    let mock = w.upstream.base();
    let extra = r#"
[[combos]]
name = "coding"
models = ["cc/claude-sonnet-4-5", "cheap/mock-model"]
"#;
    let accounts = format!(
        "{}\n[[providers]]\nid = \"cheap\"\ndialect = \"openai-chat\"\nbase_url = \"{mock}\"\nmodels = [\"mock-model\"]\n\n[[accounts]]\nprovider = \"cheap\"\nname = \"cheap-a\"\napi_key = \"sk-cheap-0001\"\n{extra}",
        w.account(CC, "sub", &at, &rt, 3_600_000),
    );
    let limited = Reply::WithHeaders {
        headers: vec![
            ("anthropic-ratelimit-unified-status".into(), "rejected".into()),
            ("anthropic-ratelimit-unified-5h-status".into(), "rejected".into()),
            ("anthropic-ratelimit-unified-5h-reset".into(), reset.to_string()),
            ("retry-after".into(), "1".into()),
        ],
        reply: Box::new(Reply::Json {
            status: 429,
            body: json!({"type": "error", "error": {"type": "rate_limit_error", "message": "usage limit reached"}}),
            retry_after: None,
        }),
    };
    w.upstream.script(&at, vec![limited]);
    let app = w.start(&w.config("", &accounts)).await;
    let ask = || async {
        let body = json!({"model": "coding", "messages": [{"role": "user", "content": "hi"}]});
        let mut r = support::post(&app, "/v1/chat/completions", body).await;
        let provider = support::header(&r, "x-omnigate-provider");
        (r.status().as_u16(), provider, support::json_body(&mut r).await)
    };
    let (status, provider, body) = ask().await;
    assert_eq!((status, provider.as_str()), (200, "cheap"), "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock", "the client sees an ordinary answer");
    assert_eq!(calls_with(&w, &at), 1);
    // Past the 1 s cooldown of the 429, the subscription stays skipped: its window is out.
    actix_rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    for _ in 0..3 {
        let (status, provider, _) = ask().await;
        assert_eq!((status, provider.as_str()), (200, "cheap"));
    }
    assert_eq!(calls_with(&w, &at), 1, "no request was spent on the exhausted subscription");
    let a = api_account(&app, &w.env, "sub").await;
    assert_eq!(a["quota"]["view"]["blocked_until"], reset * 1000, "{a}");
    app.stop().await;
}

#[actix_rt::test]
async fn a_window_near_its_limit_puts_the_account_last_and_shows_in_the_api() {
    let w = World::new().await;
    let (x_at, x_rt) = tokens(CX, "x");
    let (y_at, y_rt) = tokens(CX, "y");
    let accounts = with_priority(w.account(CX, "x", &x_at, &x_rt, 3_600_000), 1)
        + &with_priority(w.account(CX, "y", &y_at, &y_rt, 3_600_000), 2);
    let reset = omnigate::store::now_ms() / 1000 + 3600;
    let headers = vec![
        ("x-codex-primary-used-percent".to_string(), "96.0".to_string()),
        ("x-codex-primary-window-minutes".to_string(), "300".to_string()),
        ("x-codex-primary-reset-at".to_string(), reset.to_string()),
        ("x-codex-secondary-used-percent".to_string(), "12".to_string()),
        ("x-codex-secondary-window-minutes".to_string(), "10080".to_string()),
    ];
    let fixture = Reply::Fixture { kind: "text", delay: std::time::Duration::ZERO };
    w.upstream.script(&x_at, vec![Reply::WithHeaders { headers, reply: Box::new(fixture) }]);
    let app = w.start(&w.config("", &accounts)).await;
    assert_eq!(chat(&app, CX, false).await.2, "x");
    let moved = eventually(10, || async { chat(&app, CX, false).await.2 == "y" }).await;
    assert!(moved, "an account at 96 % is used only when nothing else is left");
    let a = api_account(&app, &w.env, "x").await;
    let windows = a["quota"]["windows"].as_array().cloned().unwrap_or_default();
    assert!(windows.iter().any(|x| x["key"] == "5h" && x["used"] == 0.96 && x["window_secs"] == 18_000), "{a}");
    assert!(windows.iter().any(|x| x["key"] == "7d"), "{a}");
    assert_eq!(a["quota"]["view"]["near_limit"], true, "{a}");
    app.stop().await;
}

#[actix_rt::test]
async fn the_usage_endpoint_is_polled_into_windows() {
    let w = World::new().await;
    let (at, rt) = tokens(CC, "p");
    w.oauth.set_usage(
        "cc",
        json!({"five_hour": {"utilization": 24.0, "resets_at": "2099-01-02T19:59:59.600956+00:00"},
               "seven_day": {"utilization": 36.0, "resets_at": "2099-01-05T00:00:00Z"}, "seven_day_opus": null}),
    );
    let app = w.start(&w.config("", &w.account(CC, "p", &at, &rt, 3_600_000))).await;
    let id = api_account(&app, &w.env, "p").await["id"].as_i64().expect("id");
    let mut r = support::client()
        .post(format!("{}/api/accounts/{id}/quota/poll", support::base(&app)))
        .bearer_auth(&w.env.admin_token)
        .send_json(&json!({}))
        .await
        .expect("sent");
    let v = support::json_body(&mut r).await;
    assert_eq!(r.status(), 200, "{v}");
    let windows = v["windows"].as_array().cloned().unwrap_or_default();
    assert!(windows.iter().any(|x| x["key"] == "5h" && x["used"] == 0.24), "{v}");
    assert!(windows.iter().any(|x| x["key"] == "7d" && x["used"] == 0.36), "{v}");
    app.stop().await;
}

/// Codex's 429 when the plan's limit is reached (`usage_limit_reached` with its reset, the body's
/// only signal): the request moves to the next account, and the account stays out until the reset.
#[actix_rt::test]
async fn a_plan_limit_429_body_keeps_the_account_out_until_its_reset() {
    let w = World::new().await;
    let (x_at, x_rt) = tokens(CX, "x");
    let (y_at, y_rt) = tokens(CX, "y");
    let accounts = with_priority(w.account(CX, "x", &x_at, &x_rt, 3_600_000), 1)
        + &with_priority(w.account(CX, "y", &y_at, &y_rt, 3_600_000), 2);
    // The shape third-party fixtures recorded (see src/oauth/codex.rs): no rate-limit header.
    let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                                "plan_type": "plus", "resets_in_seconds": 3600}});
    w.upstream.script(&x_at, vec![Reply::Json { status: 429, body, retry_after: None }]);
    let app = w.start(&w.config("", &accounts)).await;
    let before = omnigate::store::now_ms();
    let (status, text, account) = chat(&app, CX, false).await;
    assert_eq!((status, account.as_str()), (200, "y"), "{text}");
    // Past any cooldown the 429 earned, the window still keeps x out.
    actix_rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    for _ in 0..3 {
        assert_eq!(chat(&app, CX, false).await.2, "y");
    }
    assert_eq!(calls_with(&w, &x_at), 1, "no request was spent on the account after its limit");
    let a = api_account(&app, &w.env, "x").await;
    let windows = a["quota"]["windows"].as_array().cloned().unwrap_or_default();
    assert!(windows.iter().any(|x| x["key"] == "usage_limit" && x["status"] == "exhausted"), "{a}");
    let blocked = a["quota"]["view"]["blocked_until"].as_i64().unwrap_or(0);
    assert!(blocked >= before + 3_590_000 && blocked <= omnigate::store::now_ms() + 3_600_000, "{a}");
    app.stop().await;
}

/// Code Assist's daily quota is per model: its 429 (`QUOTA_EXHAUSTED` with the reset time) keeps
/// only that model off the account; another model on the same account still goes through, and
/// the exhausted one is refused without an upstream call until the reset.
#[actix_rt::test]
async fn a_per_model_quota_429_blocks_only_that_model() {
    let w = World::new().await;
    let (at, rt) = tokens(GC, "g");
    let reset = omnigate::store::now_ms() + 6 * 3_600_000;
    let reset_text = super::at(6 * 3_600_000);
    // GCLI googleQuotaErrors.ts / aim QUOTA_APIS.md (see src/oauth/gemini_cli.rs).
    let body = json!({"error": {"code": 429, "message": "You have exhausted your capacity on this model.",
        "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com",
        "metadata": {"model": "gemini-2.5-pro", "quotaResetTimeStamp": reset_text}}]}});
    w.upstream.script(&at, vec![Reply::Json { status: 429, body, retry_after: None }]);
    let app = w.start(&w.config("", &w.account(GC, "g", &at, &rt, 3_600_000))).await;
    let (status, text, _) = chat(&app, GC, false).await;
    assert_eq!(status, 429, "{text}");
    let running = &app;
    let ask = |model: &'static str| async move {
        let body = json!({"model": format!("gc/{model}"), "messages": [{"role": "user", "content": "hi"}]});
        let mut r = support::post(running, "/v1/chat/completions", body).await;
        (r.status().as_u16(), support::text_body(&mut r).await)
    };
    actix_rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, text) = ask("gemini-2.5-flash").await;
    assert_eq!(status, 200, "another model of the account still answers: {text}");
    let calls = calls_with(&w, &at);
    let (status, text) = ask("gemini-2.5-pro").await;
    assert!(status == 429 || status == 503, "{status} {text}");
    assert_eq!(calls_with(&w, &at), calls, "the exhausted model is refused without an upstream call");
    let a = api_account(&app, &w.env, "g").await;
    let blocks = &a["quota"]["view"]["model_blocks"];
    let until = blocks["gemini-2.5-pro"].as_i64().unwrap_or(0);
    assert!((until - reset).abs() < 2_000 && blocks.get("gemini-2.5-flash").is_none(), "{a}");
    app.stop().await;
}

/// Codex's and Copilot's usage endpoints, in their recorded shapes (src/oauth/codex.rs,
/// src/oauth/copilot.rs), each asked with the credential it needs (the mock refuses others):
/// Codex's windows are classified by their length, not their position; Copilot's monthly premium
/// quota becomes a window with its reset date. A window used up keeps the account out.
#[actix_rt::test]
async fn codex_and_copilot_usage_endpoints_are_polled_into_windows() {
    let w = World::new().await;
    let (cx_at, cx_rt) = tokens(CX, "u");
    let (gh_at, gh_rt) = tokens(super::GH, "u");
    let now = omnigate::store::now_ms() / 1000;
    // The weekly window in "primary": OpenAI has swapped the two once.
    w.oauth.set_usage(
        "cx",
        json!({"plan_type": "pro", "rate_limit": {"allowed": true, "limit_reached": false,
            "primary_window": {"used_percent": 9, "limit_window_seconds": 604_800, "reset_at": now + 400_000},
            "secondary_window": {"used_percent": 100, "limit_window_seconds": 18_000, "reset_at": now + 7_200}}}),
    );
    w.oauth.set_usage(
        "gh",
        json!({"copilot_plan": "individual", "quota_reset_date": "2099-01-01",
            "quota_snapshots": {"chat": {"unlimited": true},
                "premium_interactions": {"entitlement": 300, "remaining": 120, "percent_remaining": 40.0, "unlimited": false}}}),
    );
    let accounts =
        w.account(CX, "c", &cx_at, &cx_rt, 3_600_000) + &w.account(super::GH, "g", &gh_at, &gh_rt, 3_600_000);
    let app = w.start(&w.config("", &accounts)).await;
    let poll = |name: &'static str| {
        let app = &app;
        let w = &w;
        async move {
            let id = api_account(app, &w.env, name).await["id"].as_i64().expect("id");
            let mut r = support::client()
                .post(format!("{}/api/accounts/{id}/quota/poll", support::base(app)))
                .bearer_auth(&w.env.admin_token)
                .send_json(&json!({}))
                .await
                .expect("sent");
            let v = support::json_body(&mut r).await;
            assert_eq!(r.status(), 200, "{v}");
            v
        }
    };
    let v = poll("c").await;
    let windows = v["windows"].as_array().cloned().unwrap_or_default();
    assert!(windows.iter().any(|x| x["key"] == "7d" && x["used"] == 0.09), "{v}");
    assert!(windows.iter().any(|x| x["key"] == "5h" && x["used"] == 1.0), "{v}");
    assert_eq!(v["view"]["blocked_until"], (now + 7_200) * 1000, "the used-up 5-hour window keeps it out: {v}");
    let (status, body, _) = chat(&app, CX, false).await;
    assert_ne!(status, 200, "no other Codex account: the request is refused without an upstream call: {body}");
    assert!(w.upstream_calls(CX).is_empty());
    let v = poll("g").await;
    let windows = v["windows"].as_array().cloned().unwrap_or_default();
    let premium = windows.iter().find(|x| x["key"] == "premium").cloned().unwrap_or_default();
    assert_eq!(premium["used"].as_f64(), Some(0.6), "{v}");
    assert!(premium["resets_at"].as_i64().unwrap_or(0) > omnigate::store::now_ms(), "{v}");
    assert!(!windows.iter().any(|x| x["key"] == "chat"), "an unlimited quota is no window: {v}");
    app.stop().await;
}

/// Code Assist's `retrieveUserQuota` (GCLI types.ts `BucketInfo`), asked with the project: each
/// model's bucket is its own daily window; an empty one keeps only that model off the account.
#[actix_rt::test]
async fn code_assist_quota_buckets_are_polled_per_model() {
    let w = World::new().await;
    let (at, rt) = tokens(GC, "q");
    w.oauth.set_usage(
        "gc",
        json!({"buckets": [
            {"remainingFraction": 0.0, "resetTime": super::at(6 * 3_600_000), "tokenType": "REQUESTS", "modelId": "gemini-2.5-pro"},
            {"remainingFraction": 0.75, "resetTime": super::at(6 * 3_600_000), "tokenType": "REQUESTS", "modelId": "gemini-2.5-flash"}]}),
    );
    let app = w.start(&w.config("", &w.account(GC, "q", &at, &rt, 3_600_000))).await;
    let id = api_account(&app, &w.env, "q").await["id"].as_i64().expect("id");
    let mut r = support::client()
        .post(format!("{}/api/accounts/{id}/quota/poll", support::base(&app)))
        .bearer_auth(&w.env.admin_token)
        .send_json(&json!({}))
        .await
        .expect("sent");
    let v = support::json_body(&mut r).await;
    assert_eq!(r.status(), 200, "{v}");
    let windows = v["windows"].as_array().cloned().unwrap_or_default();
    assert!(windows.iter().any(|x| x["key"] == "daily@gemini-2.5-pro" && x["used"] == 1.0), "{v}");
    assert!(windows.iter().any(|x| x["key"] == "daily@gemini-2.5-flash" && x["used"] == 0.25), "{v}");
    assert!(v["view"]["model_blocks"]["gemini-2.5-pro"].as_i64().unwrap_or(0) > omnigate::store::now_ms(), "{v}");
    assert_eq!(v["view"]["blocked_until"], 0, "the account itself stays in: {v}");
    assert_eq!(chat(&app, GC, false).await.0, 429, "the used-up model is refused as rate-limited");
    assert!(w.upstream_calls(GC).is_empty(), "without an upstream call");
    let body = json!({"model": "gc/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]});
    let mut r = support::post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200, "{}", support::text_body(&mut r).await);
    app.stop().await;
}

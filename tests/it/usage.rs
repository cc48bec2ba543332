//! Usage accounting as an operator sees it: `GET /api/usage` (order, limits, fields, access),
//! retention pruning of usage rows and request logs, and `usage.enabled = false`.

use std::time::Duration;

use omnigate::app::Running;
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, admin_get, base, client, eventually, header, mock_config, post, text_body};

const DAY_MS: i64 = 86_400_000;

fn chat(stream: bool) -> Value {
    json!({"model": "mock/mock-model", "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "user", "content": "hello"}]})
}

async fn counts(app: &Running) -> (u64, u64) {
    let u = entities::usage::Entity::find().count(&app.state.db).await.expect("count usage");
    let l = entities::request_log::Entity::find().count(&app.state.db).await.expect("count logs");
    (u, l)
}

async fn usage_ts(app: &Running) -> Vec<i64> {
    let mut ts: Vec<i64> =
        entities::usage::Entity::find().all(&app.state.db).await.expect("usage").into_iter().map(|r| r.ts).collect();
    ts.sort_unstable();
    ts
}

#[actix_web::test]
async fn api_usage_lists_the_latest_rows_newest_first_with_their_numbers() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let mut ids = Vec::new();
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 200);
    ids.push(header(&r, "x-request-id"));
    text_body(&mut r).await;
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 200);
    ids.push(header(&r, "x-request-id"));
    text_body(&mut r).await;
    mock.always("ka", Reply::status(500));
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 502);
    ids.push(header(&r, "x-request-id"));
    text_body(&mut r).await;
    app.state.runtime.flush_usage().await;

    let rows = admin_get(&app, &env, "/api/usage").await;
    let rows = rows.as_array().expect("a JSON array");
    let got: Vec<&str> = rows.iter().map(|r| r["request_id"].as_str().unwrap_or_default()).collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str(), ids[0].as_str()], "newest first");
    let essence = |r: &Value| {
        json!([
            r["status"],
            r["streamed"],
            r["input_tokens"],
            r["output_tokens"],
            r["cache_read_tokens"],
            r["total_tokens"],
            r["key_name"],
            r["provider"],
            r["account"],
            r["model"],
            r["attempts"],
            r["client_dialect"]
        ])
    };
    assert_eq!(
        essence(&rows[2]),
        json!([200, false, 10, 3, 4, 13, "ci", "mock", "a", "mock/mock-model", 1, "openai-chat"])
    );
    assert_eq!(
        essence(&rows[1]),
        json!([200, true, 10, 3, 0, 13, "ci", "mock", "a", "mock/mock-model", 1, "openai-chat"])
    );
    assert_eq!(
        essence(&rows[0]),
        json!([502, false, 0, 0, 0, 0, "ci", "mock", "a", "mock/mock-model", 1, "openai-chat"])
    );
    assert_eq!((rows[2]["error"].is_null(), rows[1]["error"].is_null()), (true, true));
    assert!(rows[0]["error"].as_str().is_some_and(|e| e.contains("500")), "{}", rows[0]);
    assert!(rows[1]["ttfb_ms"].as_i64().is_some(), "a stream has a time to first byte: {}", rows[1]);

    // `limit` takes the newest N, clamped to 1..=1000.
    let ids_of = |v: Value| -> Vec<String> {
        v.as_array().expect("array").iter().map(|r| r["request_id"].as_str().unwrap_or_default().to_string()).collect()
    };
    assert_eq!(ids_of(admin_get(&app, &env, "/api/usage?limit=2").await), vec![ids[2].clone(), ids[1].clone()]);
    assert_eq!(ids_of(admin_get(&app, &env, "/api/usage?limit=0").await), vec![ids[2].clone()]);
    assert_eq!(ids_of(admin_get(&app, &env, "/api/usage?limit=5000").await).len(), 3);

    // Not for anonymous callers, nor for gateway keys.
    let url = format!("{}/api/usage", base(&app));
    assert_eq!(client().get(&url).send().await.expect("send").status(), 401);
    assert_eq!(client().get(&url).bearer_auth("sk-og-ci-0001").send().await.expect("send").status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn rows_older_than_the_retention_are_pruned_at_start_and_younger_ones_kept() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = |days: u32| mock_config(&mock.base(), &[("a", "ka")], &format!("[usage]\nretention_days = {days}\n"));
    let app = env.start(&text(0)).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    text_body(&mut r).await;
    mock.always("ka", Reply::status(500));
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 502);
    text_body(&mut r).await;
    app.state.runtime.flush_usage().await;
    assert_eq!(counts(&app).await, (2, 1), "two usage rows, one request log (the failure)");
    let now = actors::clock::now_ms();
    for (i, age_days) in [40, 31, 29].into_iter().enumerate() {
        let ts = now - age_days * DAY_MS;
        entities::usage::Entity::insert(crate::support::usage_row_at(ts, &format!("old-{i}")))
            .exec(&app.state.db)
            .await
            .expect("insert old usage");
        entities::request_log::Entity::insert(entities::request_log::ActiveModel {
            ts: Set(ts),
            request_id: Set(format!("old-{i}")),
            method: Set("POST".into()),
            path: Set("/v1/chat/completions".into()),
            status: Set(502),
            model: Set("mock/mock-model".into()),
            detail: Set("{}".into()),
            ..Default::default()
        })
        .exec(&app.state.db)
        .await
        .expect("insert old log");
    }
    let recent = usage_ts(&app).await[3..].to_vec();
    app.stop().await;

    // retention_days = 0 keeps everything.
    let app = env.start(&text(0)).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counts(&app).await, (5, 4));
    app.stop().await;

    // 30 days: the 40- and 31-day-old rows go at start, the 29-day-old and today's stay.
    let app = env.start(&text(30)).await;
    assert!(eventually(10, || async { counts(&app).await == (3, 2) }).await, "pruned to {:?}", counts(&app).await);
    let mut kept = vec![now - 29 * DAY_MS];
    kept.extend(recent);
    assert_eq!(usage_ts(&app).await, kept);
    app.stop().await;
}

#[actix_web::test]
async fn with_usage_disabled_requests_are_served_and_nothing_is_recorded() {
    let mock = MockUpstream::start().await;
    mock.always("kb", Reply::status(500));
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "[usage]\nenabled = false\n");
    let app = env.start(&text).await;
    // The writer runs (usage can be switched on live through /api/settings) but records nothing.
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 200);
    assert!(text_body(&mut r).await.contains("Hello from mock"));
    let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
    assert_eq!(r.status(), 200);
    let body = text_body(&mut r).await;
    assert!(body.contains("\"usage\"") && body.ends_with("data: [DONE]\n\n"), "{body}");
    // A failure over both accounts (normally a usage row and a request log) is not recorded either.
    mock.always("ka", Reply::status(500));
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!(r.status(), 502);
    text_body(&mut r).await;
    assert_eq!(mock.hits(), 4);
    assert_eq!(admin_get(&app, &env, "/api/usage").await, json!([]));
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(counts(&app).await, (0, 0));
    app.stop().await;
    // Not even a final flush on shutdown.
    let app = env.start(&text).await;
    assert_eq!(counts(&app).await, (0, 0));
    app.stop().await;
}

#[actix_web::test]
async fn requests_refused_at_intake_leave_a_usage_row_with_the_key_when_known() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "[server]\nmax_body_mib = 1\n")).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", base(&app));
    // No key: 401, nobody to charge.
    let r = c.post(&url).send_json(&chat(false)).await.expect("send");
    assert_eq!(r.status(), 401);
    let unauth = header(&r, "x-request-id");
    // Not JSON: 400 on the caller's key.
    let r = c.post(&url).bearer_auth("sk-og-ci-0001").insert_header(("content-type", "application/json"));
    let r = r.send_body("{nope").await.expect("send");
    assert_eq!(r.status(), 400);
    // Too large: 413.
    let big = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x".repeat(2 << 20)}]});
    let r = c.post(&url).bearer_auth("sk-og-ci-0001").send_json(&big).await.expect("send");
    assert_eq!(r.status(), 413);
    // No model, and an unknown model (Anthropic and Gemini surfaces).
    let r = c.post(&url).bearer_auth("sk-og-ci-0001").send_json(&json!({"messages": []})).await.expect("send");
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{}/v1beta/models/nope:fly", base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .send_json(&json!({}))
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let rows = crate::support::usage_rows(&app).await;
    let got: Vec<(i32, Option<&str>, &str, &str)> =
        rows.iter().map(|r| (r.status, r.key_name.as_deref(), r.client_dialect.as_str(), r.model.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (401, None, "openai-chat", ""),
            (400, Some("ci"), "openai-chat", ""),
            (413, Some("ci"), "openai-chat", ""),
            (400, Some("ci"), "openai-chat", ""),
            (404, Some("ci"), "gemini", "nope"),
        ]
    );
    assert_eq!(rows[0].request_id, unauth, "the row carries the id the client was given");
    assert!(rows.iter().all(|r| r.error.as_deref().is_some_and(|e| !e.is_empty()) && r.provider.is_none()));
    assert_eq!(mock.hits(), 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_custom_providers_models_can_be_priced_and_limited_in_the_config() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = format!(
        "[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n\n[[providers]]\nid = \"lab\"\ndialect = \"openai-chat\"\n\
         base_url = \"{}\"\nmodels = [\"free-model\", {{ id = \"paid-model\", max_output = 100, price = [3.0, 15.0] }}]\n\n\
         [[accounts]]\nprovider = \"lab\"\nname = \"a\"\napi_key = \"ka\"\n",
        mock.base()
    );
    let app = env.start(&cfg).await;
    for model in ["lab/paid-model", "lab/free-model"] {
        let body = json!({"model": model, "max_tokens": 5000, "messages": [{"role": "user", "content": "hello"}]});
        let mut r = post(&app, "/v1/chat/completions", body).await;
        assert_eq!(r.status(), 200, "{model}");
        text_body(&mut r).await;
    }
    let sent = mock.requests();
    assert_eq!(sent[0].body["max_tokens"], 100, "clamped to the configured limit");
    assert_eq!(sent[1].body["max_tokens"], 5000, "no limit configured");
    let rows = crate::support::usage_rows(&app).await;
    let (paid, free) = (&rows[0], &rows[1]);
    assert!(paid.input_tokens > 0 && paid.output_tokens > 0, "the mock reports usage");
    let want = (paid.input_tokens as f64 * 3.0 + paid.output_tokens as f64 * 15.0) / 1e6;
    let cost = paid.cost_usd.unwrap_or(f64::NAN);
    assert!((cost - want).abs() < 1e-12, "cost {cost} want {want}");
    assert_eq!(paid.cost_source, "priced");
    assert_eq!((free.cost_usd, free.cost_source.as_str()), (None, "unpriced"), "no price: unknown, not $0");
    // A price that is not [input, output(, cache read(, cache write))] is refused with its place named.
    let bad = cfg.replace("price = [3.0, 15.0]", "price = [3.0]");
    let catalog = omnigate::providers::Catalog::builtin().expect("catalog");
    let err = omnigate::config::parse_str(&bad).and_then(|c| omnigate::config::validate(&c, &catalog)).err();
    assert!(format!("{err:?}").contains("providers[0].models[1].price"), "{err:?}");
    app.stop().await;
}

//! Per-key limits and budgets through the real daemon and the mock: rpm, tpm and requests in
//! flight refused with 429 and an honest `Retry-After` in the caller's dialect without an upstream
//! call; a budget under 50 concurrent requests never overspent (reservations), refused with 402 in
//! words a person can act on; the 80 % warning posted to a webhook once; limits set live through
//! `/api/keys`, a restart keeps counting the period's spend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::admin_write_support::{get_api, patch_api, put_api};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, json_body, mock_config, post};

fn chat(max_tokens: u32) -> Value {
    json!({"model": "mock/mock-model", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hello"}]})
}

/// `mock_config` with `limits` added to the `ci` key.
fn with_limits(base: &str, limits: &str, extra: &str) -> String {
    mock_config(base, &[("a", "ka")], extra)
        .replace("key = \"sk-og-ci-0001\"", &format!("key = \"sk-og-ci-0001\"\n{limits}"))
}

async fn anthropic(app: &omnigate::app::Running) -> (u16, String, Value) {
    let mut r = client()
        .post(format!("{}/v1/messages", base(app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(
            &json!({"model": "mock/mock-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .expect("send");
    (r.status().as_u16(), header(&r, "retry-after"), json_body(&mut r).await)
}

#[actix_web::test]
async fn rpm_and_tpm_refuse_in_the_callers_dialect_without_an_upstream_call() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&with_limits(&mock.base(), "rpm = 3", "")).await;
    for _ in 0..3 {
        assert_eq!(post(&app, "/v1/chat/completions", chat(10)).await.status(), 200);
    }
    let mut r = post(&app, "/v1/chat/completions", chat(10)).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = header(&r, "retry-after").parse().unwrap_or(0);
    assert!((50..=60).contains(&wait), "the oldest request leaves the window within the minute: {wait}");
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["type"], "rate_limit_error", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("key `ci` is over its limit of 3 requests per minute"),
        "{e}"
    );
    let (status, retry, e) = anthropic(&app).await;
    assert_eq!(
        (status, e["type"].as_str(), e["error"]["type"].as_str()),
        (429, Some("error"), Some("rate_limit_error"))
    );
    assert!(!retry.is_empty());
    assert_eq!(mock.hits(), 3, "refusals cost no upstream call");
    // The refusals leave usage rows with the key.
    app.state.runtime.flush_usage().await;
    let (_, rows) = get_api(&app, &env, "/api/requests?status=429").await;
    let items = rows["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{rows}");
    assert!(items.iter().all(|i| i["key"] == "ci" || i["key_name"] == "ci"), "{rows}");
    app.stop().await;

    // tpm: a request counts its input estimate and the output it asks for.
    let env = TestEnv::new().await;
    let app = env.start(&with_limits(&mock.base(), "tpm = 500", "")).await;
    assert_eq!(post(&app, "/v1/chat/completions", chat(300)).await.status(), 200);
    let mut r = post(&app, "/v1/chat/completions", chat(300)).await;
    assert_eq!(r.status(), 429);
    let e = json_body(&mut r).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("500 tokens per minute"), "{e}");
    assert_eq!(post(&app, "/v1/chat/completions", chat(50)).await.status(), 200, "a smaller one still fits");
    app.stop().await;
}

#[actix_web::test]
async fn requests_in_flight_are_capped_until_an_answer_ends() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let frames = Reply::chat_frames(&["one", " two", " three"], false);
    let slow = Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(300), drop_after: None };
    mock.always("ka", slow);
    let app = env.start(&with_limits(&mock.base(), "max_concurrent = 2", "")).await;
    let stream = || {
        let mut body = chat(10);
        body["stream"] = json!(true);
        post(&app, "/v1/chat/completions", body)
    };
    let mut first = stream().await;
    let mut second = stream().await;
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let mut third = stream().await;
    assert_eq!(third.status(), 429, "two in flight already");
    let e = json_body(&mut third).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("max_concurrent"), "{e}");
    // Once both answers have ended, the key may send again.
    let _ = first.body().limit(1 << 20).await;
    let _ = second.body().limit(1 << 20).await;
    let again = crate::support::eventually(10, || async { stream().await.status() == 200 }).await;
    assert!(again);
    app.stop().await;
}

/// A webhook receiver: the bodies it was posted.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = got.clone();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new().route(
            "/hook",
            web::post().to(move |b: web::Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().expect("lock").push(b.into_inner());
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    (format!("http://{addr}/hook"), got)
}

#[actix_web::test]
async fn a_budget_is_never_overspent_under_fifty_concurrent_requests() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let (hook, posted) = webhook().await;
    let app = env.start(&with_limits(&mock.base(), "", &format!("[budgets]\nwebhook = \"{hook}\"\n"))).await;
    // Output at $1,000 per million tokens, input free: the mock's answer (3 output tokens) costs
    // $0.003, and a request asking for 10 output tokens reserves $0.010. With a budget of
    // $0.0405, at least 4 of a burst fit; then requests go while the spend plus one reservation
    // fits: up to $0.033, past the 80 % warning, never over.
    let price = json!({"provider": "mock", "model": "mock-model", "input": 0.0, "output": 1000.0});
    assert_eq!(put_api(&app, &env, "/api/pricing", price).await.0, 200);
    let limits = json!({"limits": {"budget": {"usd": 0.1, "period": "month"}}});
    let (s, v) = patch_api(&app, &env, "/api/keys/ci", limits.clone()).await;
    // A config key is not edited through the API: give the budget in the file instead.
    assert_eq!(s, 409, "{v}");
    app.stop().await;
    let cfg = with_limits(
        &mock.base(),
        "budget = { usd = 0.0405, period = \"month\" }",
        &format!("[budgets]\nwebhook = \"{hook}\"\n"),
    );
    let app = env.start(&cfg).await;
    let burst: Vec<_> = (0..50).map(|_| post(&app, "/v1/chat/completions", chat(10))).collect();
    let mut statuses = Vec::new();
    for mut r in futures_util::future::join_all(burst).await {
        let status = r.status().as_u16();
        if status == 402 {
            let e = json_body(&mut r).await;
            assert_eq!(e["error"]["type"], "insufficient_quota", "{e}");
            assert!(
                e["error"]["message"].as_str().unwrap_or_default().contains("budget of $0.04 per month for key `ci`"),
                "{e}"
            );
        }
        statuses.push(status);
    }
    let burst_served = statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 402), "{statuses:?}");
    assert!((1..50).contains(&burst_served), "{statuses:?}");
    // One at a time, the settled costs free what was reserved: the budget is used up to within
    // one reservation of its end.
    let mut more = 0;
    while post(&app, "/v1/chat/completions", chat(10)).await.status() == 200 {
        more += 1;
        assert!(more < 50, "the budget ends");
    }
    let served = burst_served + more;
    println!("budget $0.0405: {burst_served} of 50 concurrent served, then {more} one at a time");
    app.state.runtime.flush_usage().await;
    let rows: Vec<entities::usage::Model> = {
        use sea_orm::EntityTrait;
        entities::usage::Entity::find().all(&app.state.db).await.expect("rows")
    };
    let spent: f64 = rows.iter().filter(|r| r.status == 200).map(|r| r.cost_usd.unwrap_or(0.0)).sum();
    assert!(spent <= 0.0405, "overspent: ${spent} over $0.0405 with {served} served");
    // At least 4 of the burst fit at once (more when early ones settle while it arrives); in all,
    // 11 requests of $0.003 fit before one more reservation would not.
    assert!((4..=11).contains(&burst_served), "{burst_served}");
    assert_eq!(served, 11, "then one at a time to the end");
    assert!((spent - 0.033).abs() < 1e-9, "used up to one reservation from its end: ${spent}");
    assert_eq!(rows.iter().filter(|r| r.status == 402).count(), 50 - burst_served + 1, "every refusal has its row");
    // The key shows its spend; the webhook heard the 80 % warning once.
    let (_, keys) = get_api(&app, &env, "/api/keys").await;
    let ci = keys.as_array().and_then(|k| k.iter().find(|k| k["name"] == "ci").cloned()).unwrap_or_default();
    let shown = ci["budget_state"]["spent_usd"].as_f64().unwrap_or(-1.0);
    assert!((shown - spent).abs() < 1e-9 && ci["budget_state"]["warning"] == true, "{ci}");
    let heard = crate::support::eventually(10, || async { !posted.lock().expect("lock").is_empty() }).await;
    assert!(heard, "the webhook was told");
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let posts = posted.lock().expect("lock").clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        (posts[0]["event"].as_str(), posts[0]["holder"].as_str(), posts[0]["name"].as_str()),
        (Some("budget.warning"), Some("key"), Some("ci"))
    );
    app.stop().await;
    // A restart keeps counting this month's spend.
    let app = env.start(&cfg).await;
    let mut r = post(&app, "/v1/chat/completions", chat(10)).await;
    let e = json_body(&mut r).await;
    assert_eq!(r.status(), 402, "{e}");
    app.stop().await;
}

#[actix_web::test]
async fn limits_are_set_live_through_the_api_and_checked() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let (s, made) =
        crate::admin_write_support::post_api(&app, &env, "/api/keys", json!({"name": "bot", "limits": {"rpm": 1}}))
            .await;
    assert_eq!(s, 201, "{made}");
    let key = made["key"].as_str().unwrap_or_default().to_string();
    let send = |key: String| {
        let url = format!("{}/v1/chat/completions", base(&app));
        async move { client().post(url).bearer_auth(key).send_json(&chat(10)).await.expect("send").status().as_u16() }
    };
    assert_eq!((send(key.clone()).await, send(key.clone()).await), (200, 429));
    let (s, v) = patch_api(&app, &env, "/api/keys/bot", json!({"limits": {}})).await;
    assert_eq!((s, v["limits"].clone()), (200, json!({})), "{v}");
    assert_eq!(send(key.clone()).await, 200, "no limit any more");
    for (body, field) in [
        (json!({"limits": {"rpm": 0}}), "limits.rpm"),
        (json!({"limits": {"budget": {"usd": -1.0, "period": "month"}}}), "limits.budget.usd"),
        (json!({"limits": {"budget": {"usd": 5.0, "period": "year"}}}), "limits"),
        (json!({"limits": {"rps": 3}}), "limits"),
    ] {
        let (s, v) = patch_api(&app, &env, "/api/keys/bot", body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v.to_string().contains(field), "{body}: {v}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_teams_limits_and_budget_apply_to_all_its_keys_together() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let teams = "[[teams]]\nname = \"blue\"\nrpm = 3\nbudget = { usd = 5.0, period = \"day\" }\n\n\
                 [[keys]]\nname = \"blue-2\"\nkey = \"sk-og-blue-0002\"\nteam = \"blue\"\n";
    let cfg = with_limits(&mock.base(), "team = \"blue\"", "").replace("[[keys]]", &format!("{teams}\n[[keys]]"));
    let app = env.start(&cfg).await;
    let send = |key: &'static str| {
        let url = format!("{}/v1/chat/completions", base(&app));
        async move {
            let mut r = client().post(url).bearer_auth(key).send_json(&chat(10)).await.expect("send");
            (r.status().as_u16(), json_body(&mut r).await)
        }
    };
    assert_eq!(send("sk-og-ci-0001").await.0, 200);
    assert_eq!(send("sk-og-blue-0002").await.0, 200);
    assert_eq!(send("sk-og-ci-0001").await.0, 200);
    let (status, e) = send("sk-og-blue-0002").await;
    assert_eq!(status, 429, "the team's fourth request in the minute: {e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("team `blue` is over its limit of 3 requests per minute"),
        "{e}"
    );
    assert_eq!(mock.hits(), 3);
    let (s, teams) = get_api(&app, &env, "/api/teams").await;
    assert_eq!(s, 200);
    let blue = teams[0].clone();
    assert_eq!((blue["name"].as_str(), blue["limits"]["rpm"].as_u64()), (Some("blue"), Some(3)), "{teams}");
    let mut keys: Vec<String> =
        blue["keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
    keys.sort();
    assert_eq!(keys, vec!["blue-2", "ci"]);
    assert_eq!(blue["budget_state"]["spent"], false, "{blue}");
    app.stop().await;

    // A key naming an undeclared team is refused at load, naming the key.
    let bad = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("key = \"sk-og-ci-0001\"", "key = \"sk-og-ci-0001\"\nteam = \"red\"");
    let err = omnigate::config::parse_str(&bad).map_err(|e| e.to_string()).and_then(|c| {
        omnigate::config::validate(&c, &omnigate::providers::Catalog::builtin().expect("catalog"))
            .map_err(|e| e.to_string())
    });
    assert!(err.as_ref().is_err_and(|e| e.contains("keys[0].team")), "{err:?}");
}

/// `[budgets] time_zone`: a day budget's period starts at that zone's midnight, its refusal and
/// `budget_state.resets_at` say when in that zone, and a name that is not a zone is refused.
#[actix_web::test]
async fn a_budgets_days_start_at_midnight_in_the_configured_time_zone() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let bad = with_limits(&mock.base(), "", "[budgets]\ntime_zone = \"Mars/Olympus\"\n");
    let e = omnigate::config::parse_str(&bad)
        .and_then(|c| {
            let catalog = omnigate::providers::Catalog::builtin().expect("catalog");
            omnigate::config::validate(&c, &catalog).map(|_| c)
        })
        .expect_err("not a zone");
    assert!(e.to_string().contains("budgets.time_zone") && e.to_string().contains("Mars/Olympus"), "{e}");
    let cfg = with_limits(
        &mock.base(),
        "budget = { usd = 0.001, period = \"day\" }",
        "[budgets]\ntime_zone = \"Asia/Tokyo\"\n",
    );
    let app = env.start(&cfg).await;
    let price = json!({"provider": "mock", "model": "mock-model", "input": 0.0, "output": 1000.0});
    assert_eq!(put_api(&app, &env, "/api/pricing", price).await.0, 200);
    let mut r = post(&app, "/v1/chat/completions", chat(10)).await;
    let e = json_body(&mut r).await;
    assert_eq!(r.status(), 402, "a $0.010 reservation does not fit $0.001: {e}");
    let message = e["error"]["message"].as_str().unwrap_or_default().to_string();
    let resets = message.rsplit("resets ").next().unwrap_or_default().to_string();
    // The next midnight in Tokyo, and nothing else: within a day, at 00:00 local, offset +09:00.
    let at = chrono::DateTime::parse_from_str(&resets, "%Y-%m-%dT%H:%M%:z")
        .unwrap_or_else(|e| panic!("`{resets}` ({e}): {message}"));
    assert!(resets.ends_with("T00:00+09:00"), "{message}");
    let ahead = at.timestamp_millis() - omnigate::store::now_ms();
    assert!(ahead > 0 && ahead <= 24 * 3_600_000, "the next Tokyo midnight: {resets}");
    let (_, keys) = get_api(&app, &env, "/api/keys").await;
    let ci = keys.as_array().and_then(|k| k.iter().find(|k| k["name"] == "ci").cloned()).unwrap_or_default();
    assert_eq!(ci["budget_state"]["resets_at"], resets.as_str(), "{ci}");
    app.stop().await;
}

//! The admin API's read side against the real app: the request log (cursor pages, filters,
//! detail with every attempt), the usage summary (totals and buckets that match what was sent),
//! health (cooldowns, breakers, latency percentiles), the OpenAPI document against the routes
//! actually registered, and the playground (preview of the translated body, a real streamed send).

use std::collections::{BTreeSet, HashSet};

use omnigate::app::Running;
use omnigate::routes::admin::openapi::{Verb, openapi_path};
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{
    TestEnv, admin_get, base, client, header, json_body, mock_config, post, sse_data, text_body, usage_rows,
};

fn chat(stream: bool) -> Value {
    json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

/// A chat request for a model nothing serves (refused with a 404 before any upstream).
fn unknown_model() -> Value {
    json!({"model": "nope/x", "messages": [{"role": "user", "content": "hello"}]})
}

/// An admin request with the management token: status and JSON body (`Null` when not JSON).
async fn admin(app: &Running, env: &TestEnv, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let req = client().request(m, format!("{}{path}", base(app))).bearer_auth(&env.admin_token);
    let mut r = match body {
        Some(b) => req.send_json(&b).await.expect("send"),
        None => req.send().await.expect("send"),
    };
    let bytes = r.body().limit(16 * 1024 * 1024).await.expect("body");
    (r.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn message(v: &Value) -> String {
    v["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// Asserts a 400 whose message names `name`.
async fn bad_request(app: &Running, env: &TestEnv, path: &str, name: &str) {
    let (status, v) = admin(app, env, "GET", path, None).await;
    assert_eq!(status, 400, "GET {path}: {v}");
    assert!(message(&v).contains(&format!("`{name}`")), "GET {path} names `{name}`: {v}");
}

/// Every page of `GET /api/requests?{query}` with `limit`, as row ids.
async fn all_pages(app: &Running, env: &TestEnv, query: &str, limit: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor: Option<i64> = None;
    for _ in 0..100 {
        let c = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = admin_get(app, env, &format!("/api/requests?limit={limit}{query}{c}")).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit, "{page}");
        ids.extend(items.iter().map(|i| i["id"].as_i64().expect("id")));
        match page["next_cursor"].as_i64() {
            Some(n) => {
                assert_eq!(Some(n), ids.last().copied(), "the cursor is the page's last id");
                cursor = Some(n);
            }
            None => return ids,
        }
    }
    panic!("paging never ended");
}

/// The required fields of a component schema of the served OpenAPI document.
fn required(spec: &Value, schema: &str) -> Vec<String> {
    spec["components"]["schemas"][schema]["required"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {schema}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn assert_shape(spec: &Value, schema: &str, v: &Value) {
    for f in required(spec, schema) {
        assert!(v.get(&f).is_some(), "{schema}: `{f}` missing in {v}");
    }
}

#[actix_web::test]
async fn admin_observe_requests_page_through_with_a_cursor_and_filters() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    for i in 0..7 {
        let mut r = post(&app, "/v1/chat/completions", chat(i % 2 == 0)).await;
        assert_eq!(r.status(), 200);
        text_body(&mut r).await;
    }
    for _ in 0..2 {
        let mut r = post(&app, "/v1/chat/completions", unknown_model()).await;
        assert_eq!(r.status(), 404);
        text_body(&mut r).await;
    }
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 9);
    let mut expected: Vec<i64> = rows.iter().map(|r| r.id).collect();
    expected.reverse();

    // Pages of 4: newest first, nothing twice, nothing missing, the last page says so.
    assert_eq!(all_pages(&app, &env, "", 4).await, expected);
    assert_eq!(all_pages(&app, &env, "", 9).await, expected);
    assert_eq!(all_pages(&app, &env, "", 500).await, expected);

    // Rows inserted between two pages never shift the pages that follow.
    let first = admin_get(&app, &env, "/api/requests?limit=4").await;
    let cursor = first["next_cursor"].as_i64().expect("a second page");
    for _ in 0..3 {
        let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
        text_body(&mut r).await;
    }
    app.state.runtime.flush_usage().await;
    let mut seen: Vec<i64> =
        first["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_i64()).collect();
    let mut c = Some(cursor);
    while let Some(cur) = c {
        let p = admin_get(&app, &env, &format!("/api/requests?limit=4&cursor={cur}")).await;
        seen.extend(p["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_i64()));
        c = p["next_cursor"].as_i64();
    }
    assert_eq!(seen, expected, "the walk started before the inserts sees exactly the rows of then");
    assert_eq!(all_pages(&app, &env, "", 5).await.len(), 12);

    // Filters.
    let count = |q: &'static str| {
        let (app, env) = (&app, &env);
        async move { all_pages(app, env, q, 50).await.len() }
    };
    assert_eq!(count("&status=error").await, 2);
    assert_eq!(count("&status=404").await, 2);
    assert_eq!(count("&status=4xx").await, 2);
    assert_eq!(count("&status=5xx").await, 0);
    assert_eq!(count("&status=ok").await, 10);
    assert_eq!(count("&status=2xx").await, 10);
    assert_eq!(count("&status=200").await, 10);
    assert_eq!(count("&provider=mock").await, 10);
    assert_eq!(count("&provider=other").await, 0);
    assert_eq!(count("&model=mock/mock-model").await, 10);
    assert_eq!(count("&key=ci").await, 12);
    assert_eq!(count("&key=ci&status=error&model=nope/x").await, 2);
    assert_eq!(count("&since=1h").await, 12);
    let future = actors::clock::now_ms() + 3_600_000;
    assert_eq!(all_pages(&app, &env, &format!("&since={future}"), 50).await.len(), 0);

    // Every field of the summary is there.
    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    let page = admin_get(&app, &env, "/api/requests?limit=1&status=200").await;
    let item = &page["items"][0];
    assert_shape(&spec, "RequestSummary", item);
    assert_eq!((item["provider"].as_str(), item["key_name"].as_str()), (Some("mock"), Some("ci")));

    // Bad parameters are 400s that name the parameter.
    bad_request(&app, &env, "/api/requests?limit=0", "limit").await;
    bad_request(&app, &env, "/api/requests?limit=501", "limit").await;
    bad_request(&app, &env, "/api/requests?limit=x", "limit").await;
    bad_request(&app, &env, "/api/requests?status=abc", "status").await;
    bad_request(&app, &env, "/api/requests?status=6xx", "status").await;
    bad_request(&app, &env, "/api/requests?cursor=-4", "cursor").await;
    bad_request(&app, &env, "/api/requests?since=yesterday", "since").await;
    bad_request(&app, &env, "/api/requests?colour=red", "colour").await;

    // No session, no log.
    let r = client().get(format!("{}/api/requests", base(&app))).send().await.expect("send");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn admin_observe_request_detail_lists_every_attempt_after_a_failover() {
    let mock = MockUpstream::start().await;
    mock.script("ka", vec![Reply::status(500)]);
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], "[routing]\nstrategy = \"fill-first\"\n")
        .replace("api_key = \"ka\"\n", "api_key = \"ka\"\npriority = 0\n");
    let app = env.start(&text).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-attempts")), (200, "2".to_string()));
    let failed_over = header(&r, "x-request-id");
    text_body(&mut r).await;
    let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-attempts")), (200, "1".into()));
    let (clean, clean_account) = (header(&r, "x-request-id"), header(&r, "x-omnigate-account"));
    text_body(&mut r).await;
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);

    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    let d = admin_get(&app, &env, &format!("/api/requests/{failed_over}")).await;
    assert_shape(&spec, "RequestDetail", &d);
    assert_eq!(
        (d["id"].as_i64(), d["status"].as_i64(), d["attempts"].as_i64()),
        (Some(rows[0].id), Some(200), Some(2))
    );
    assert_eq!((d["method"].as_str(), d["path"].as_str()), (Some("POST"), Some("/v1/chat/completions")));
    assert_eq!(d["detail_logged"], true);
    let trace = d["trace"].as_array().expect("trace");
    assert_eq!(trace.len(), 2, "{d}");
    for a in trace {
        assert_shape(&spec, "Attempt", a);
    }
    let essence = |a: &Value| {
        (a["n"].clone(), a["provider"].clone(), a["account"].clone(), a["outcome"].clone(), a["status"].clone())
    };
    assert_eq!(essence(&trace[0]), (json!(1), json!("mock"), json!("a"), json!("server_error"), json!(500)));
    assert_eq!(essence(&trace[1]), (json!(2), json!("mock"), json!("b"), json!("success"), json!(200)));
    assert!(trace[0]["error"].as_str().unwrap_or_default().contains("500"), "{d}");
    assert_eq!(trace[1]["error"], Value::Null);
    assert!(trace[0]["ms"].as_i64().is_some());

    // The row id finds the same request.
    let by_id = admin_get(&app, &env, &format!("/api/requests/{}", rows[0].id)).await;
    assert_eq!(by_id, d);

    // A clean request keeps no log: its one attempt is rebuilt from the row.
    let c = admin_get(&app, &env, &format!("/api/requests/{clean}")).await;
    assert_eq!((c["detail_logged"].clone(), c["method"].clone()), (json!(false), Value::Null));
    let t = c["trace"].as_array().expect("trace");
    assert_eq!(t.len(), 1);
    assert_eq!(essence(&t[0]), (json!(1), json!("mock"), json!(clean_account), json!("success"), json!(200)));

    for unknown in ["999999", "no-such-request"] {
        let (status, v) = admin(&app, &env, "GET", &format!("/api/requests/{unknown}"), None).await;
        assert_eq!(status, 404, "{v}");
    }
    app.stop().await;
}

/// A usage row at `ts` with these tokens, written straight to the database.
fn row(ts: i64, provider: &str, status: i32, input: i64, output: i64, cost: f64) -> entities::usage::ActiveModel {
    entities::usage::ActiveModel {
        ts: Set(ts),
        request_id: Set(format!("seed-{ts}-{input}")),
        key_name: Set(Some("seed".into())),
        client_dialect: Set("openai-chat".into()),
        provider: Set(Some(provider.into())),
        account: Set(Some("acct".into())),
        model: Set(format!("{provider}/m")),
        status: Set(status),
        error: Set(None),
        input_tokens: Set(input),
        output_tokens: Set(output),
        cache_read_tokens: Set(1),
        cache_write_tokens: Set(2),
        reasoning_tokens: Set(3),
        total_tokens: Set(input + output),
        cost_usd: Set(Some(cost)),
        list_cost_usd: Set(None),
        cost_source: Set("priced".into()),
        latency_ms: Set(10),
        ttfb_ms: Set(None),
        streamed: Set(false),
        attempts: Set(1),
        ..Default::default()
    }
}

#[actix_web::test]
async fn admin_observe_usage_summary_matches_the_requests_sent() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("models = [\"mock-model\"]", "models = [{ id = \"mock-model\", price = [2.0, 8.0, 0.5] }]");
    let app = env.start(&text).await;
    // Three whole answers (mock usage: 10 in, 4 of them cached, 3 out), two streams (10 in,
    // 3 out: "Hello from mock"), one refusal (unknown model: no provider, no tokens).
    for _ in 0..3 {
        let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
        assert_eq!(r.status(), 200);
        text_body(&mut r).await;
    }
    for _ in 0..2 {
        let mut r = post(&app, "/v1/chat/completions", chat(true)).await;
        assert_eq!(r.status(), 200);
        text_body(&mut r).await;
    }
    let mut r = post(&app, "/v1/chat/completions", unknown_model()).await;
    assert_eq!(r.status(), 404);
    text_body(&mut r).await;
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 6);
    let cost: f64 = rows.iter().map(|r| r.cost_usd.unwrap_or(0.0)).sum();
    // Per whole answer: 6 plain input at $2/M, 4 cached at $0.5/M, 3 output at $8/M.
    let whole = (6.0 * 2.0 + 4.0 * 0.5 + 3.0 * 8.0) / 1e6;
    let streamed = (10.0 * 2.0 + 3.0 * 8.0) / 1e6;
    assert!((cost - (3.0 * whole + 2.0 * streamed)).abs() < 1e-12, "{cost}");

    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    let s = admin_get(&app, &env, "/api/usage/summary?window=1h&by=provider").await;
    assert_shape(&spec, "UsageSummary", &s);
    assert_eq!(
        (s["window"].as_str(), s["bucket"].as_str(), s["bucket_ms"].as_i64()),
        (Some("1h"), Some("5m"), Some(300_000))
    );
    let t = &s["totals"];
    assert_shape(&spec, "Counts", t);
    let ints = |v: &Value| {
        [
            "requests",
            "errors",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        ]
        .map(|k| v[k].as_i64().unwrap_or(-1))
    };
    assert_eq!(ints(t), [6, 1, 50, 15, 12, 0, 0]);
    assert!((t["cost"].as_f64().unwrap_or_default() - cost).abs() < 1e-12, "{t}");
    assert_eq!((t["unpriced_requests"].as_i64(), t["list_cost"].as_f64()), (Some(0), Some(0.0)), "{t}");
    // Dense buckets: 13 five-minute buckets cover the hour; they add up to the totals.
    let buckets = s["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 13);
    for w in buckets.windows(2) {
        assert_eq!(w[1]["ts"].as_i64().unwrap_or_default() - w[0]["ts"].as_i64().unwrap_or_default(), 300_000);
    }
    let bucket_requests: i64 = buckets.iter().filter_map(|b| b["requests"].as_i64()).sum();
    assert_eq!(bucket_requests, 6);
    // Groups: the provider served five; the refusal has none.
    let groups = s["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{s}");
    assert_eq!((groups[0]["key"].as_str(), ints(&groups[0]["totals"])), (Some("mock"), [5, 0, 50, 15, 12, 0, 0]));
    assert_eq!((groups[1]["key"].clone(), groups[1]["totals"]["requests"].as_i64()), (Value::Null, Some(1)));
    for (by, key, n) in [("model", "mock/mock-model", 5), ("key", "ci", 6), ("account", "mock/a", 5)] {
        let s = admin_get(&app, &env, &format!("/api/usage/summary?window=24h&by={by}")).await;
        let g = s["groups"].as_array().expect("groups");
        assert_eq!((g[0]["key"].as_str(), g[0]["totals"]["requests"].as_i64()), (Some(key), Some(n)), "by {by}: {s}");
        assert_eq!((s["bucket"].as_str(), s["buckets"].as_array().map(Vec::len)), (Some("1h"), Some(25)));
    }
    let plain = admin_get(&app, &env, "/api/usage/summary").await;
    assert_eq!(
        (plain["window"].as_str(), plain["by"].clone(), plain["groups"].clone()),
        (Some("24h"), Value::Null, json!([]))
    );

    // Rows of earlier hours land in their own buckets, and leave the windows they are not in.
    let now = actors::clock::now_ms();
    let hour = 3_600_000;
    crate::support::seed_usage(
        &app.state.db,
        vec![
            row(now - 10 * hour, "seeded", 200, 100, 7, 0.25),
            row(now - 10 * hour + 1, "seeded", 500, 0, 0, 0.0),
            row(now - 3 * hour, "seeded", 200, 40, 2, 0.5),
            row(now - 30 * hour, "seeded", 200, 1000, 1000, 1.0),
        ],
    )
    .await;
    let s = admin_get(&app, &env, "/api/usage/summary?window=24h&bucket=1h&by=provider").await;
    let seeded =
        s["groups"].as_array().expect("groups").iter().find(|g| g["key"] == "seeded").cloned().expect("seeded");
    assert_eq!(ints(&seeded["totals"]), [3, 1, 140, 9, 3, 6, 9]);
    assert!((seeded["totals"]["cost"].as_f64().unwrap_or_default() - 0.75).abs() < 1e-12);
    let at = |ts: i64| ts.div_euclid(hour) * hour;
    let sparse: Vec<(i64, i64)> = seeded["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| (b["ts"].as_i64().unwrap_or_default(), b["requests"].as_i64().unwrap_or_default()))
        .collect();
    let mut want = vec![(at(now - 10 * hour), 2), (at(now - 3 * hour), 1)];
    if at(now - 10 * hour) == at(now - 10 * hour + 1) {
        assert_eq!(sparse, want);
    } else {
        want = vec![(at(now - 10 * hour), 1), (at(now - 10 * hour + 1), 1), (at(now - 3 * hour), 1)];
        assert_eq!(sparse, want);
    }
    let dense = s["buckets"].as_array().expect("buckets");
    let in_bucket = |ts: i64| dense.iter().find(|b| b["ts"] == at(ts)).and_then(|b| b["requests"].as_i64());
    assert_eq!(in_bucket(now - 3 * hour), Some(1));
    let week = admin_get(&app, &env, "/api/usage/summary?window=7d&by=provider").await;
    let seeded =
        week["groups"].as_array().expect("groups").iter().find(|g| g["key"] == "seeded").cloned().expect("seeded");
    assert_eq!(seeded["totals"]["requests"], 4);
    assert_eq!((week["bucket"].as_str(), week["buckets"].as_array().map(Vec::len)), (Some("1d"), Some(8)));
    let hour_only = admin_get(&app, &env, "/api/usage/summary?window=1h&by=provider").await;
    assert!(hour_only["groups"].as_array().expect("groups").iter().all(|g| g["key"] != "seeded"));

    bad_request(&app, &env, "/api/usage/summary?window=2h", "window").await;
    bad_request(&app, &env, "/api/usage/summary?by=colour", "by").await;
    bad_request(&app, &env, "/api/usage/summary?bucket=1w", "bucket").await;
    bad_request(&app, &env, "/api/usage/summary?window=30d&bucket=5m", "bucket").await;
    bad_request(&app, &env, "/api/usage/summary?window=1h&window=24h", "window").await;
    app.stop().await;
}

#[actix_web::test]
async fn admin_observe_health_shows_a_cooled_account_an_open_breaker_and_latency() {
    let mock = MockUpstream::start().await;
    mock.script("ka", vec![Reply::rate_limited("120")]);
    mock.always("kc", Reply::status(500));
    let env = TestEnv::new().await;
    let extra = "[resilience]\nbreaker_threshold = 2\nbreaker_open_ms = 60000\n[routing]\nstrategy = \"fill-first\"\n";
    let text = mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], extra)
        .replace("api_key = \"ka\"\n", "api_key = \"ka\"\npriority = 0\n")
        + &format!(
            "\n[[providers]]\nid = \"flaky\"\ndialect = \"openai-chat\"\nbase_url = \"{}\"\nmodels = [\"mock-model\"]\n\
             \n[[accounts]]\nprovider = \"flaky\"\nname = \"c\"\napi_key = \"kc\"\n",
            mock.base()
        );
    let app = env.start(&text).await;
    for _ in 0..6 {
        let mut r = post(&app, "/v1/chat/completions", chat(false)).await;
        assert_eq!(r.status(), 200);
        text_body(&mut r).await;
    }
    for _ in 0..2 {
        let mut r = post(
            &app,
            "/v1/chat/completions",
            json!({"model": "flaky/mock-model", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(r.status(), 502);
        text_body(&mut r).await;
    }
    app.state.runtime.flush_usage().await;
    let now = actors::clock::now_ms();
    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    let mut h = Value::Null;
    // Outcomes reach the account and breaker actors asynchronously.
    for _ in 0..100 {
        h = admin_get(&app, &env, "/api/health").await;
        let open = h["providers"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["id"] == "flaky" && p["breaker"]["state"] == "open"));
        if open {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_shape(&spec, "Health", &h);
    let providers = h["providers"].as_array().expect("providers");
    let find = |id: &str| providers.iter().find(|p| p["id"] == id).cloned().unwrap_or_else(|| panic!("{id} in {h}"));
    let flaky = find("flaky");
    assert_shape(&spec, "ProviderHealth", &flaky);
    assert_eq!(
        (flaky["breaker"]["state"].as_str(), flaky["breaker"]["trips"].as_i64()),
        (Some("open"), Some(1)),
        "{flaky}"
    );
    let until = flaky["breaker"]["open_until"].as_i64().unwrap_or_default();
    assert!(until > now + 50_000 && until <= now + 61_000, "{flaky}");
    assert_eq!(
        (flaky["requests"].as_i64(), flaky["errors"].as_i64(), flaky["available_accounts"].as_i64()),
        (Some(2), Some(2), Some(0))
    );

    let m = find("mock");
    assert_eq!(
        (m["breaker"]["state"].as_str(), m["requests"].as_i64(), m["samples"].as_i64()),
        (Some("closed"), Some(6), Some(6))
    );
    assert_eq!(
        (m["accounts"].as_i64(), m["available_accounts"].as_i64(), m["dialect"].as_str()),
        (Some(2), Some(1), Some("openai-chat"))
    );
    let rows = usage_rows(&app).await;
    let mut lat: Vec<i64> =
        rows.iter().filter(|r| r.provider.as_deref() == Some("mock")).map(|r| r.latency_ms).collect();
    lat.sort_unstable();
    // Nearest rank over 6 samples: p50 is the 3rd, p95 and p99 the 6th.
    assert_eq!(m["latency_ms"], json!({"p50": lat[2], "p95": lat[5], "p99": lat[5]}), "{m}");
    let mut ttfb: Vec<i64> =
        rows.iter().filter(|r| r.provider.as_deref() == Some("mock")).filter_map(|r| r.ttfb_ms).collect();
    ttfb.sort_unstable();
    assert_eq!(ttfb.len(), 6);
    assert_eq!(m["ttfb_ms"], json!({"p50": ttfb[2], "p95": ttfb[5], "p99": ttfb[5]}), "{m}");

    let accounts = h["accounts"].as_array().expect("accounts");
    let acct = |n: &str| accounts.iter().find(|a| a["name"] == n).cloned().unwrap_or_else(|| panic!("{n}"));
    let a = acct("a");
    assert_shape(&spec, "AccountHealth", &a);
    let cooled = a["cooldown"]["until"].as_i64().unwrap_or_default();
    assert!(cooled > now + 100_000 && cooled <= now + 121_000, "{a}");
    assert_eq!((a["cooldown"]["reason"].as_str(), a["available"].as_bool()), (Some("rate limited (429)"), Some(false)));
    assert_eq!(a["model_lockouts"], json!([]));
    let b = acct("b");
    assert_eq!(
        (b["cooldown"].clone(), b["available"].as_bool(), b["in_flight"].as_i64()),
        (Value::Null, Some(true), Some(0))
    );
    assert_eq!(acct("c")["available"], false);
    assert!(h["executor"]["restarts"].as_i64().is_some());
    app.stop().await;
}

#[actix_web::test]
async fn admin_observe_openapi_lists_exactly_the_registered_routes() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    assert_eq!(spec["openapi"], "3.1.0");
    let mut in_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
            in_spec.insert((method.clone(), path.clone()));
        }
    }
    // Probe every registered path with every method: what the app routes (anything but the
    // API's own "no admin route" 404) must be in the document, and nothing else.
    let paths: HashSet<String> = omnigate::routes::admin::registered_paths().into_iter().collect();
    assert!(paths.len() >= 15, "{paths:?}");
    let mut routed = BTreeSet::new();
    for p in &paths {
        let concrete: String =
            p.split('/').map(|seg| if seg.starts_with('{') { "0" } else { seg }).collect::<Vec<_>>().join("/");
        for verb in Verb::ALL {
            let (status, v) = admin(&app, &env, &verb.as_str().to_uppercase(), &format!("/api{concrete}"), None).await;
            let unrouted = status == 404 && message(&v).starts_with("no admin route");
            if !unrouted {
                routed.insert((verb.as_str().to_string(), openapi_path(p)));
            }
        }
    }
    let undocumented: Vec<_> = routed.difference(&in_spec).collect();
    let unrouted: Vec<_> = in_spec.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes without an entry in openapi::SPEC: {undocumented:?}");
    assert!(unrouted.is_empty(), "spec entries the app does not route: {unrouted:?}");
    // And the probe does see a missing route as missing.
    let (status, v) = admin(&app, &env, "PUT", "/api/requests", None).await;
    assert_eq!((status, message(&v).starts_with("no admin route")), (404, true));
    let r = client().get(format!("{}/api/openapi.json", base(&app))).send().await.expect("send");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

fn anthropic_ask(stream: bool) -> Value {
    json!({"dialect": "anthropic", "model": "mock/mock-model", "stream": stream,
           "message": "Hi there", "system": "Be brief", "max_tokens": 50})
}

#[actix_web::test]
async fn admin_observe_playground_preview_shows_the_translated_upstream_body() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "upstream-secret-a")], "")).await;
    let spec = admin_get(&app, &env, "/api/openapi.json").await;
    let (status, p) = admin(&app, &env, "POST", "/api/playground/preview", Some(anthropic_ask(true))).await;
    assert_eq!(status, 200, "{p}");
    assert_shape(&spec, "PlaygroundPreview", &p);
    assert_eq!(
        (p["client_dialect"].as_str(), p["upstream_dialect"].as_str(), p["mode"].as_str()),
        (Some("anthropic"), Some("openai-chat"), Some("translate"))
    );
    assert_eq!(
        (p["provider"].as_str(), p["upstream_model"].as_str(), p["account"].as_str()),
        (Some("mock"), Some("mock-model"), Some("a"))
    );
    assert_eq!((p["method"].as_str(), p["path"].as_str()), (Some("POST"), Some("/v1/chat/completions")));
    assert_eq!(p["url"].as_str(), Some(format!("{}/chat/completions", mock.base()).as_str()));
    // The client body an Anthropic client would send, and the OpenAI body it became.
    assert_eq!(p["client_body"]["system"], "Be brief");
    assert_eq!(p["client_body"]["messages"], json!([{"role": "user", "content": "Hi there"}]));
    let body = &p["body"];
    assert_eq!((body["model"].as_str(), body["stream"].as_bool()), (Some("mock-model"), Some(true)));
    let msgs = body["messages"].as_array().expect("messages");
    assert_eq!((msgs[0]["role"].as_str(), msgs[0]["content"].as_str()), (Some("system"), Some("Be brief")));
    assert_eq!((msgs[1]["role"].as_str(), msgs[1]["content"].as_str()), (Some("user"), Some("Hi there")));
    assert!(body["max_tokens"] == 50 || body["max_completion_tokens"] == 50, "{body}");
    assert_eq!(p["headers"]["accept"], "text/event-stream");
    assert!(!p.to_string().contains("upstream-secret-a"), "no credential: {p}");
    assert!(p["headers"].get("authorization").is_none());

    // Same dialect on both sides: a passthrough, only the model rewritten.
    let ask = json!({"dialect": "openai-chat", "model": "mock/mock-model", "stream": false,
                     "body": {"messages": [{"role": "user", "content": "yo"}], "x_extra": 1}});
    let (status, p) = admin(&app, &env, "POST", "/api/playground/preview", Some(ask)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["mode"].as_str(), p["body"]["x_extra"].as_i64(), p["body"]["model"].as_str()),
        (Some("passthrough"), Some(1), Some("mock-model"))
    );
    assert_eq!(p["headers"]["accept"], "application/json");

    // Nothing was sent, nothing recorded.
    assert_eq!(mock.hits(), 0);
    assert!(usage_rows(&app).await.is_empty());

    // Bad input names the field; an unknown model is a 404.
    for (ask, field) in [
        (json!({"dialect": "klingon", "model": "mock/mock-model", "message": "x"}), "dialect"),
        (json!({"dialect": "anthropic", "message": "x"}), "model"),
        (json!({"dialect": "anthropic", "model": "  ", "message": "x"}), "model"),
        (json!({"dialect": "anthropic", "model": "mock/mock-model"}), "message"),
        (json!({"dialect": "anthropic", "model": "mock/mock-model", "message": "x", "stream": "yes"}), "stream"),
        (json!({"dialect": "anthropic", "model": "mock/mock-model", "message": "x", "colour": 1}), "colour"),
        (json!({"dialect": "anthropic", "model": "mock/mock-model", "body": {"messages": "nope"}}), "messages"),
    ] {
        let (status, v) = admin(&app, &env, "POST", "/api/playground/preview", Some(ask.clone())).await;
        assert_eq!(status, 400, "{ask} → {v}");
        assert!(message(&v).contains(&format!("`{field}`")), "{ask} names `{field}`: {v}");
    }
    let ask = json!({"dialect": "anthropic", "model": "nope/x", "message": "x"});
    let (status, v) = admin(&app, &env, "POST", "/api/playground/preview", Some(ask)).await;
    assert_eq!(status, 404, "{v}");
    app.stop().await;
}

#[actix_web::test]
async fn admin_observe_playground_send_streams_the_answer_in_the_chosen_dialect() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let url = format!("{}/api/playground/send", base(&app));
    let mut r = client().post(&url).bearer_auth(&env.admin_token).send_json(&anthropic_ask(true)).await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    assert_eq!((header(&r, "x-omnigate-provider"), header(&r, "x-omnigate-account")), ("mock".into(), "a".into()));
    let text = text_body(&mut r).await;
    let events = sse_data(&text);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"), "{text}");
    assert_eq!(kinds.last(), Some(&"message_stop"), "{text}");
    let answer: String = events.iter().filter_map(|e| e["delta"]["text"].as_str()).collect();
    assert_eq!(answer, "Hello from mock");
    // The upstream got the translated body, with the account's credential.
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].path.as_str(), sent[0].credential().as_deref()), ("/v1/chat/completions", Some("ka")));
    assert_eq!(sent[0].body["messages"][0]["content"], "Be brief");

    // A whole answer in the OpenAI chat dialect.
    let ask = json!({"dialect": "openai-chat", "model": "mock/mock-model", "stream": false, "message": "hi"});
    let mut r = client().post(&url).bearer_auth(&env.admin_token).send_json(&ask).await.expect("send");
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from mock");

    // Recorded like any request, under the playground's key name.
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    for (r, dialect, streamed) in [(&rows[0], "anthropic", true), (&rows[1], "openai-chat", false)] {
        assert_eq!(
            (r.key_name.as_deref(), r.client_dialect.as_str(), r.streamed),
            (Some("admin:playground"), dialect, streamed)
        );
        assert_eq!((r.status, r.input_tokens, r.output_tokens), (200, 10, 3));
    }
    // An unknown model answers in the dialect's own error shape, and is recorded too.
    let ask = json!({"dialect": "anthropic", "model": "nope/x", "stream": false, "message": "hi"});
    let mut r = client().post(&url).bearer_auth(&env.admin_token).send_json(&ask).await.expect("send");
    let status = r.status().as_u16();
    let v = json_body(&mut r).await;
    assert!(status >= 400, "{v}");
    assert_eq!(v["type"], "error", "Anthropic error shape: {v}");
    let rows = usage_rows(&app).await;
    assert_eq!(
        (rows.len(), rows[2].key_name.as_deref(), rows[2].status),
        (3, Some("admin:playground"), i32::from(status))
    );
    // Admin only.
    let r = client().post(&url).send_json(&anthropic_ask(true)).await.expect("send");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

//! Cost (issue 11): every client dialect's request is costed from the price table with its cache
//! and reasoning counts, the usage row says where the figure comes from, whole answers carry
//! `x-omnigate-cost-usd`; `PUT`/`DELETE /api/pricing` take effect on the next request; edited and
//! deleted rows survive a restart and the re-seeding; a subscription account costs $0 and keeps
//! its list price.

use serde_json::{Value, json};

use crate::admin_write_support::{audited, call, delete_api, get_api, param_of, put_api};
use crate::mock::{MockUpstream, Reply, fixture};
use crate::support::{TestEnv, base, client, header, json_body, mock_config, post, text_body, usage_rows};

/// The price every dialect's provider declares: input 2, output 10, cache read 0.5, cache write 4.
const PRICE: &str = "price = [2.0, 10.0, 0.5, 4.0]";

/// One custom provider per dialect on the same mock, each pricing its model `m` in the config.
fn config(mock: &MockUpstream) -> String {
    let v1 = mock.base();
    let gem = format!("http://{}/v1beta", mock.addr);
    let mut s = String::from("[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n");
    for (id, dialect, url, key) in [
        ("up-chat", "openai-chat", &v1, "k-chat"),
        ("up-resp", "openai-responses", &v1, "k-resp"),
        ("up-anth", "anthropic", &v1, "k-anth"),
        ("up-gem", "gemini", &gem, "k-gem"),
    ] {
        s.push_str(&format!(
            "\n[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{url}\"\nmodels = [{{ id = \"m\", {PRICE} }}]\n\n[[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"{key}\"\n"
        ));
    }
    s
}

/// A dialect's golden answer with its usage replaced.
fn answer(dialect: &str, usage_key: &str, usage: Value) -> Reply {
    let mut body: Value = serde_json::from_str(&fixture(dialect, "response_text.json")).expect("fixture");
    body[usage_key] = usage;
    Reply::Json { status: 200, body, retry_after: None }
}

/// Sends `body` to `path` in the client dialect of `auth` (`bearer`, `x-api-key`, `x-goog-api-key`).
async fn send(app: &omnigate::app::Running, path: &str, auth: &str, body: Value) -> (u16, String, String) {
    let mut req = client().post(format!("{}{path}", base(app)));
    req = match auth {
        "x-api-key" => {
            req.insert_header(("x-api-key", "sk-og-ci-0001")).insert_header(("anthropic-version", "2023-06-01"))
        }
        "x-goog-api-key" => req.insert_header(("x-goog-api-key", "sk-og-ci-0001")),
        _ => req.bearer_auth("sk-og-ci-0001"),
    };
    let mut r = req.send_json(&body).await.expect("send");
    let cost = header(&r, "x-omnigate-cost-usd");
    let source = header(&r, "x-omnigate-cost-source");
    let status = r.status().as_u16();
    let text = text_body(&mut r).await;
    assert_eq!(status, 200, "{path}: {text}");
    (status, cost, source)
}

fn near(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[actix_web::test]
async fn each_client_dialect_records_its_cost_with_cache_and_reasoning_and_the_header_says_it() {
    let mock = MockUpstream::start().await;
    // OpenAI Chat: 400 of 1000 prompt tokens cached, 200 of 300 completion tokens reasoning.
    let chat_usage = json!({"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
        "prompt_tokens_details": {"cached_tokens": 400}, "completion_tokens_details": {"reasoning_tokens": 200}});
    let chat_body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
        "usage": chat_usage});
    mock.script("k-chat", vec![Reply::Json { status: 200, body: chat_body, retry_after: None }]);
    let resp_usage = json!({"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
        "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 200}, "total_tokens": 1300});
    mock.script("k-resp", vec![answer("openai-responses", "usage", resp_usage)]);
    // Anthropic: cache reads and writes apart from input_tokens.
    let anth_usage = json!({"input_tokens": 100, "cache_read_input_tokens": 400,
        "cache_creation_input_tokens": 500, "output_tokens": 300});
    mock.script("k-anth", vec![answer("anthropic", "usage", anth_usage)]);
    // Gemini: cached inside the prompt count, thoughts apart from the candidates.
    let gem_usage = json!({"promptTokenCount": 1000, "cachedContentTokenCount": 400,
        "candidatesTokenCount": 100, "thoughtsTokenCount": 200, "totalTokenCount": 1300});
    mock.script("k-gem", vec![answer("gemini", "usageMetadata", gem_usage)]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let user = json!([{"role": "user", "content": "Paris?"}]);
    // 600 plain input at 2, 400 cache reads at 0.5, 300 output (reasoning inside) at 10.
    let openai_like = (600.0 * 2.0 + 400.0 * 0.5 + 300.0 * 10.0) / 1e6;
    // 100 plain input, 400 cache reads, 500 cache writes at 4, 300 output.
    let anthropic = (100.0 * 2.0 + 400.0 * 0.5 + 500.0 * 4.0 + 300.0 * 10.0) / 1e6;
    let cases = [
        ("/v1/chat/completions", "bearer", json!({"model": "up-chat/m", "messages": user}), openai_like, "0.0044"),
        ("/v1/responses", "bearer", json!({"model": "up-resp/m", "input": "Paris?"}), openai_like, "0.0044"),
        (
            "/v1/messages",
            "x-api-key",
            json!({"model": "up-anth/m", "max_tokens": 100, "messages": user}),
            anthropic,
            "0.0054",
        ),
        (
            "/v1beta/models/up-gem/m:generateContent",
            "x-goog-api-key",
            json!({"contents": [{"role": "user", "parts": [{"text": "Paris?"}]}]}),
            openai_like,
            "0.0044",
        ),
    ];
    for (path, auth, body, _, header_value) in &cases {
        let (_, cost, source) = send(&app, path, auth, body.clone()).await;
        assert_eq!((cost.as_str(), source.as_str()), (*header_value, "priced"), "{path}");
    }
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 4);
    for (row, (path, _, _, want, _)) in rows.iter().zip(&cases) {
        assert!(near(row.cost_usd, *want), "{path}: {:?} want {want}", row.cost_usd);
        assert_eq!((row.cost_source.as_str(), row.list_cost_usd), ("priced", None), "{path}");
    }
    assert_eq!(
        rows.iter().map(|r| r.client_dialect.as_str()).collect::<Vec<_>>(),
        ["openai-chat", "openai-responses", "anthropic", "gemini"]
    );

    // A stream is costed in its row but carries no cost header (its cost is known after the end).
    let mut r =
        post(&app, "/v1/chat/completions", json!({"model": "up-chat/m", "stream": true, "messages": user})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        (header(&r, "x-omnigate-cost-usd"), header(&r, "x-omnigate-cost-source")),
        (String::new(), String::new())
    );
    text_body(&mut r).await;
    let streamed = usage_rows(&app).await.pop().expect("row");
    assert!(streamed.streamed && streamed.cost_source == "priced" && streamed.cost_usd.is_some_and(|c| c > 0.0));

    // An answer without usage: the gateway estimates the counts and says so.
    let no_usage = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris is the capital."}, "finish_reason": "stop"}]});
    mock.script("k-chat", vec![Reply::Json { status: 200, body: no_usage, retry_after: None }]);
    let (_, cost, source) =
        send(&app, "/v1/chat/completions", "bearer", json!({"model": "up-chat/m", "messages": user})).await;
    assert_eq!(source, "estimated");
    let row = usage_rows(&app).await.pop().expect("row");
    let want = ((row.input_tokens as f64) * 2.0 + (row.output_tokens as f64) * 10.0) / 1e6;
    assert!(row.input_tokens > 0 && row.output_tokens > 0, "estimated counts: {row:?}");
    assert!(near(row.cost_usd, want) && row.cost_source == "estimated", "{row:?}");
    assert!(near(cost.parse().ok(), want), "header {cost} want {want}");

    // The priced cost is in /metrics by source.
    let mut m = client().get(format!("{}/metrics", base(&app))).send().await.expect("metrics");
    let text = text_body(&mut m).await;
    assert!(
        text.contains("omnigate_cost_usd_total{provider=\"up-anth\",model=\"up-anth/m\",source=\"priced\"} 0.0054"),
        "{text}"
    );
    assert!(text.contains("source=\"estimated\""), "{text}");
    app.stop().await;
}

fn chat() -> Value {
    json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello"}]})
}

/// One non-streamed chat through the gateway: the cost header and source header.
async fn one(app: &omnigate::app::Running) -> (String, String) {
    let (_, cost, source) = send(app, "/v1/chat/completions", "bearer", chat()).await;
    (cost, source)
}

#[actix_web::test]
async fn a_price_put_through_the_api_prices_the_next_request_and_a_delete_leaves_it_unpriced() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    // The mock's answer: 10 prompt tokens (4 cached), 3 completion tokens. No price yet.
    assert_eq!(one(&app).await, (String::new(), "unpriced".to_string()), "no header when unpriced");
    let pattern = json!({"provider": "mock", "model": "mock-*", "input": 1.0, "output": 2.0});
    let (s, v) = put_api(&app, &env, "/api/pricing", pattern).await;
    assert_eq!((s, v["source"].as_str()), (200, Some("api")), "{v}");
    assert_eq!(one(&app).await, ("0.000016".to_string(), "priced".to_string()), "(6 + 4) × 1 + 3 × 2");
    let exact = json!({"provider": "mock", "model": "mock-model", "input": 3.0, "output": 5.0, "cache_read": 1.0});
    assert_eq!(put_api(&app, &env, "/api/pricing", exact).await.0, 200);
    assert_eq!(one(&app).await.0, "0.000037", "the exact row wins: 6 × 3 + 4 × 1 + 3 × 5");
    let (s, list) = get_api(&app, &env, "/api/pricing?provider=mock").await;
    assert_eq!(s, 200);
    let models: Vec<&str> = list.as_array().expect("rows").iter().filter_map(|r| r["model"].as_str()).collect();
    assert_eq!(models, ["mock-*", "mock-model"]);
    assert!(audited(&app, &env, "pricing", "mock/mock-model", "create").await);

    let (s, _) = delete_api(&app, &env, "/api/pricing?provider=mock&model=mock-model").await;
    assert_eq!(s, 200);
    assert_eq!(one(&app).await.0, "0.000016", "back to the pattern");
    assert_eq!(delete_api(&app, &env, "/api/pricing?provider=mock&model=mock-*").await.0, 200);
    assert_eq!(one(&app).await, (String::new(), "unpriced".to_string()));
    assert_eq!(delete_api(&app, &env, "/api/pricing?provider=mock&model=mock-*").await.0, 404);
    assert!(audited(&app, &env, "pricing", "mock/mock-*", "delete").await);
    assert_eq!(get_api(&app, &env, "/api/pricing?provider=mock").await.1, json!([]));

    // The rows say it: unpriced is NULL (never $0), and the API shows the source.
    let rows = usage_rows(&app).await;
    let got: Vec<(Option<f64>, &str)> = rows.iter().map(|r| (r.cost_usd, r.cost_source.as_str())).collect();
    assert_eq!(
        got,
        [
            (None, "unpriced"),
            (Some(16e-6), "priced"),
            (Some(37e-6), "priced"),
            (Some(16e-6), "priced"),
            (None, "unpriced")
        ]
    );
    let (_, page) = get_api(&app, &env, "/api/requests?limit=1").await;
    let newest = &page["items"][0];
    assert_eq!((newest["cost_usd"].clone(), newest["cost_source"].as_str()), (Value::Null, Some("unpriced")), "{page}");
    let (_, detail) = get_api(&app, &env, &format!("/api/requests/{}", rows[2].request_id)).await;
    assert_eq!(
        (detail["cost_usd"].as_f64(), detail["cost_source"].as_str()),
        (Some(37e-6), Some("priced")),
        "{detail}"
    );
    let (_, summary) = get_api(&app, &env, "/api/usage/summary?window=1h").await;
    let t = &summary["totals"];
    assert_eq!(t["unpriced_requests"], 2, "{t}");
    assert!(near(t["cost"].as_f64(), 69e-6), "{t}");
    app.stop().await;
}

#[actix_web::test]
async fn pricing_writes_are_validated_naming_the_field() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let ok = json!({"provider": "mock", "model": "m", "input": 1.0, "output": 2.0});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("input", json!(-1.0)), "input"),
        (with("output", json!("2")), "output"),
        (with("cache_read", json!(-0.1)), "cache_read"),
        (with("reasoning", json!(-3)), "reasoning"),
        (with("model", json!("")), "model"),
        (with("provider", json!("op*")), "provider"),
    ] {
        let (s, v) = put_api(&app, &env, "/api/pricing", body).await;
        let p = param_of(s, &v);
        assert!(p.contains(field), "{field}: {v}");
    }
    let (s, v) = put_api(&app, &env, "/api/pricing", with("extra", json!(1))).await;
    assert_eq!(s, 400);
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("extra")), "{v}");
    let mut missing = ok.clone();
    missing.as_object_mut().map(|o| o.remove("output"));
    let (s, v) = put_api(&app, &env, "/api/pricing", missing).await;
    assert_eq!(param_of(s, &v), "output");
    let (s, v) = delete_api(&app, &env, "/api/pricing?provider=mock").await;
    assert_eq!(param_of(s, &v), "model");
    let (s, _) = call(&app, &env, awc::http::Method::GET, "/api/pricing?nope=1", None).await;
    assert_eq!(s, 400);
    // The operations are in the OpenAPI document.
    let (_, spec) = get_api(&app, &env, "/api/openapi.json").await;
    for verb in ["get", "put", "delete"] {
        assert!(spec["paths"]["/api/pricing"][verb].is_object(), "{verb}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn edited_and_deleted_prices_survive_a_restart_and_the_reseeding() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let text = mock_config(&mock.base(), &[("a", "ka")], "")
        .replace("models = [\"mock-model\"]", "models = [{ id = \"mock-model\", price = [1.0, 2.0] }]");
    let app = env.start(&text).await;
    let row = |list: &Value, model: &str| {
        list.as_array().and_then(|a| a.iter().find(|r| r["model"] == model).cloned()).unwrap_or(Value::Null)
    };
    let (_, openai) = get_api(&app, &env, "/api/pricing?provider=openai").await;
    let gpt4o = row(&openai, "gpt-4o");
    assert_eq!((gpt4o["source"].as_str(), gpt4o["input"].as_f64()), (Some("catalog"), Some(2.5)), "{openai}");
    assert_eq!((gpt4o["output"].as_f64(), gpt4o["cache_read"].as_f64()), (Some(10.0), Some(1.25)));
    let (_, mine) = get_api(&app, &env, "/api/pricing?provider=mock").await;
    assert_eq!(row(&mine, "mock-model")["source"], "config", "{mine}");
    let edit = json!({"provider": "openai", "model": "gpt-4o", "input": 9.0, "output": 9.5});
    assert_eq!(put_api(&app, &env, "/api/pricing", edit).await.0, 200);
    assert_eq!(delete_api(&app, &env, "/api/pricing?provider=openai&model=gpt-4o-mini").await.0, 200);
    // A provider made through the API declares its models' prices like the config does.
    let p2 = json!({"id": "p2", "dialect": "openai-chat", "base_url": mock.base(), "models": [{"id": "m2", "price": [1.0, 2.0]}]});
    assert_eq!(crate::admin_write_support::post_api(&app, &env, "/api/providers", p2).await.0, 201);
    let (_, p2rows) = get_api(&app, &env, "/api/pricing?provider=p2").await;
    assert_eq!(
        (row(&p2rows, "m2")["source"].as_str(), row(&p2rows, "m2")["output"].as_f64()),
        (Some("config"), Some(2.0))
    );
    // A catalog row the catalog no longer declares (a model a release dropped) goes at the next start.
    let retired = entities::pricing::ActiveModel {
        provider: sea_orm::ActiveValue::Set("openai".into()),
        model: sea_orm::ActiveValue::Set("retired-model".into()),
        input: sea_orm::ActiveValue::Set(1.0),
        output: sea_orm::ActiveValue::Set(1.0),
        source: sea_orm::ActiveValue::Set("catalog".into()),
        updated_at: sea_orm::ActiveValue::Set(0),
        ..Default::default()
    };
    sea_orm::ActiveModelTrait::insert(retired, &app.state.db).await.expect("insert");
    app.stop().await;

    // Restarted with the config's price changed: the operator's edit and delete stand, the
    // config's row follows the file, the catalog's rows are back as they were.
    let app = env.start(&text.replace("price = [1.0, 2.0]", "price = [1.5, 2.5]")).await;
    let (_, openai) = get_api(&app, &env, "/api/pricing?provider=openai").await;
    let gpt4o = row(&openai, "gpt-4o");
    assert_eq!((gpt4o["source"].as_str(), gpt4o["input"].as_f64()), (Some("api"), Some(9.0)), "{openai}");
    assert!(row(&openai, "gpt-4o-mini").is_null(), "a deleted price is not seeded again: {openai}");
    assert_eq!(row(&openai, "gpt-4.1")["source"], "catalog");
    assert!(row(&openai, "retired-model").is_null(), "{openai}");
    let (_, mine) = get_api(&app, &env, "/api/pricing?provider=mock").await;
    let m = row(&mine, "mock-model");
    assert_eq!(
        (m["source"].as_str(), m["input"].as_f64(), m["output"].as_f64()),
        (Some("config"), Some(1.5), Some(2.5))
    );
    assert_eq!(one(&app).await.0, "0.0000225", "10 × 1.5 + 3 × 2.5");
    // An operator's edit of a config price stands too, and PUT brings a deleted one back.
    let edit = json!({"provider": "mock", "model": "mock-model", "input": 0.5, "output": 0.5});
    assert_eq!(put_api(&app, &env, "/api/pricing", edit).await.0, 200);
    let back = json!({"provider": "openai", "model": "gpt-4o-mini", "input": 0.1, "output": 0.2});
    assert_eq!(put_api(&app, &env, "/api/pricing", back).await.0, 200);
    app.stop().await;
    let app = env.start(&text).await;
    let (_, mine) = get_api(&app, &env, "/api/pricing?provider=mock").await;
    assert_eq!(
        (row(&mine, "mock-model")["source"].as_str(), row(&mine, "mock-model")["input"].as_f64()),
        (Some("api"), Some(0.5))
    );
    let (_, openai) = get_api(&app, &env, "/api/pricing?provider=openai").await;
    assert_eq!(row(&openai, "gpt-4o-mini")["input"].as_f64(), Some(0.1));
    app.stop().await;
}

#[actix_rt::test]
async fn a_subscription_account_costs_nothing_and_keeps_its_list_price() {
    use crate::subs::{CC, World};
    let w = World::new().await;
    let u = uuid::Uuid::new_v4().simple().to_string();
    let (at, rt) = (format!("cc-cost-at-{u}"), format!("cc-cost-rt-{u}"));
    let text = w.config("", &w.account(CC, "a", &at, &rt, 3_600_000));
    let app = w.start(&text).await;
    // Its models carry the list price of the same model at the API provider (anthropic's).
    let (_, rows) = get_api(&app, &w.env, "/api/pricing?provider=claude-code").await;
    let row = rows.as_array().and_then(|a| a.iter().find(|r| r["model"] == CC.model).cloned()).unwrap_or_default();
    let prices = ["input", "output", "cache_read", "cache_write"].map(|k| row[k].as_f64().unwrap_or(-1.0));
    assert_eq!((row["source"].as_str(), prices), (Some("catalog"), [3.0, 15.0, 0.3, 3.75]), "{rows}");
    let body =
        json!({"model": format!("cc/{}", CC.model), "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let mut r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        (header(&r, "x-omnigate-cost-usd"), header(&r, "x-omnigate-cost-source")),
        ("0".into(), "subscription".into())
    );
    json_body(&mut r).await;
    let row = usage_rows(&app).await.pop().expect("row");
    assert_eq!((row.cost_usd, row.cost_source.as_str()), (Some(0.0), "subscription"));
    let plain = (row.input_tokens - row.cache_read_tokens - row.cache_write_tokens) as f64;
    let want = (plain * 3.0
        + row.cache_read_tokens as f64 * 0.3
        + row.cache_write_tokens as f64 * 3.75
        + row.output_tokens as f64 * 15.0)
        / 1e6;
    assert!(row.input_tokens > 0 && near(row.list_cost_usd, want), "{row:?} want {want}");
    let (_, summary) = get_api(&app, &w.env, "/api/usage/summary?window=1h").await;
    assert!(near(summary["totals"]["list_cost"].as_f64(), want), "{summary}");
    assert_eq!(summary["totals"]["cost"].as_f64(), Some(0.0));
    app.stop().await;
}

#[actix_web::test]
async fn migration_folds_the_old_cost_into_cost_usd_and_back() {
    use migration::{Migrator, Trait as _};
    use sea_orm::ConnectionTrait;
    let env = TestEnv::new().await;
    let db = omnigate::db::connect(&env.db_url, 2, false).await.expect("connect");
    Migrator::up(&db.conn, Some(7)).await.expect("up to 000007");
    for (id, cost) in [("old-priced", "0.25"), ("old-zero", "0")] {
        let sql = format!(
            "INSERT INTO \"usage\" (ts, request_id, client_dialect, model, status, input_tokens, output_tokens, \
             cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost, latency_ms, streamed, attempts) \
             VALUES (1, '{id}', 'openai-chat', 'p/m', 200, 10, 5, 0, 0, 0, 15, {cost}, 3, false, 1)"
        );
        db.conn.execute_raw(crate::support::fitted(&db.conn, &sql)).await.expect("insert an old row");
    }
    Migrator::up(&db.conn, None).await.expect("up to 000008");
    let rows = usage_rows_of(&db.conn).await;
    let got: Vec<(&str, Option<f64>, &str)> =
        rows.iter().map(|r| (r.request_id.as_str(), r.cost_usd, r.cost_source.as_str())).collect();
    assert_eq!(got, [("old-priced", Some(0.25), "priced"), ("old-zero", None, "unpriced")]);
    // Down through 000008 (and the migrations after it).
    let n = Migrator::migrations().iter().rev().position(|m| m.name().contains("_000008_")).expect("000008") + 1;
    Migrator::down(&db.conn, Some(n as u32)).await.expect("down through 000008");
    let sql = "SELECT request_id, cost FROM \"usage\" ORDER BY id";
    let back = db.conn.query_all_raw(crate::support::fitted(&db.conn, sql)).await.expect("old cost");
    let costs: Vec<f64> = back.iter().map(|r| r.try_get::<f64>("", "cost").expect("cost")).collect();
    assert_eq!(costs, [0.25, 0.0]);
}

async fn usage_rows_of(db: &sea_orm::DatabaseConnection) -> Vec<entities::usage::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    entities::usage::Entity::find().order_by_asc(entities::usage::Column::Id).all(db).await.expect("usage")
}

#[actix_web::test]
async fn cost_optimized_combos_follow_the_price_table() {
    let mock = MockUpstream::start().await;
    let base = mock.base();
    let env = TestEnv::new().await;
    let mut cfg = mock_config(&base, &[("a", "ka")], "");
    for (id, model, price, key) in [("cheap", "small", "[0.1, 0.4]", "kc"), ("pricy", "big", "[15.0, 75.0]", "kp")] {
        cfg.push_str(&format!(
            "\n[[providers]]\nid = \"{id}\"\ndialect = \"openai-chat\"\nbase_url = \"{base}\"\n\
             models = [{{ id = \"{model}\", price = {price} }}]\n\n[[accounts]]\nprovider = \"{id}\"\nname = \"{id}-1\"\napi_key = \"{key}\"\n"
        ));
    }
    cfg.push_str(
        "\n[[combos]]\nname = \"thrifty\"\nstrategy = \"cost-optimized\"\nmodels = [\"pricy/big\", \"cheap/small\"]\n",
    );
    let app = env.start(&cfg).await;
    let served = |app| async move { crate::admin_write_support::chat_ci(app, "thrifty").await.1 };
    assert_eq!(served(&app).await, "cheap-1");
    // The operator raises the cheap one's price above the other: the combo follows at once.
    let raise = json!({"provider": "cheap", "model": "small", "input": 100.0, "output": 100.0});
    assert_eq!(put_api(&app, &env, "/api/pricing", raise).await.0, 200);
    assert_eq!(served(&app).await, "pricy-1");
    app.stop().await;
}

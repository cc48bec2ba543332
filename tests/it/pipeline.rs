//! The OpenAI surface through the actors: passthrough fidelity, streaming relay, usage chunk
//! handling, models listing, embeddings, pinned providers, errors in OpenAI shape, usage rows.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, json_body, mock_config, post, sse_data, text_body, usage_rows};

#[actix_web::test]
async fn non_streaming_passthrough_keeps_unknown_fields_both_ways() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "upstream-secret-a")], "")).await;
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}], "x_custom": {"keep": [1, 2]}, "temperature": 0.2}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-omnigate-provider"), "mock");
    assert_eq!(header(&r, "x-omnigate-account"), "a");
    assert_eq!(header(&r, "x-omnigate-attempts"), "1");
    // The overhead header's bounds are checked against a slow upstream in upstream_answers.rs.
    assert!(header(&r, "x-omnigate-overhead-ms").parse::<f64>().is_ok(), "overhead is a number");
    assert!(!header(&r, "x-request-id").is_empty());
    let body = json_body(&mut r).await;
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(body["x_mock_field"], "kept", "unknown response fields survive");

    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].body["model"], "mock-model", "only the model is rewritten");
    assert_eq!(seen[0].body["x_custom"], json!({"keep": [1, 2]}));
    assert_eq!(seen[0].body["temperature"], 0.2);
    assert_eq!(seen[0].credential().as_deref(), Some("upstream-secret-a"));
    assert!(!seen[0].headers.contains_key("x-api-key"));

    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let u = &rows[0];
    assert_eq!((u.status, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.total_tokens), (200, 10, 3, 4, 13));
    assert_eq!(
        (u.provider.as_deref(), u.account.as_deref(), u.model.as_str()),
        (Some("mock"), Some("a"), "mock/mock-model")
    );
    assert_eq!(u.key_name.as_deref(), Some("ci"));
    assert!(!u.streamed);
    app.stop().await;
}

#[actix_web::test]
async fn stream_is_relayed_chunk_by_chunk_and_usage_chunk_is_hidden_unless_asked() {
    let mock = MockUpstream::start().await;
    let frames = Reply::chat_frames(&["one", " two", " three"], true);
    mock.script(
        "k",
        vec![Reply::Sse {
            frames: frames.clone(),
            first_delay: Duration::ZERO,
            delay: Duration::from_millis(300),
            drop_after: None,
        }],
    );
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], "")).await;
    let t0 = Instant::now();
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    // The first content arrives long before the upstream finished (6 frames × 300 ms).
    let mut first_at = None;
    let mut text = String::new();
    while let Some(chunk) = r.next().await {
        let chunk = chunk.expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if first_at.is_none() && text.contains("one") {
            first_at = Some(t0.elapsed());
        }
    }
    let total = t0.elapsed();
    let first_at = first_at.expect("content arrived");
    assert!(first_at + Duration::from_millis(900) < total, "first content at {first_at:?}, end at {total:?}");
    let events = sse_data(&text);
    assert_eq!(events.last(), Some(&json!("[DONE]")));
    assert_eq!(text.matches("[DONE]").count(), 1);
    assert!(!text.contains("prompt_tokens"), "the usage chunk we asked for is not leaked: {text}");
    let content: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "one two three");
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["stream_options"]["include_usage"], true, "usage was requested upstream");

    // A client that asks for usage gets the chunk.
    mock.script("k", vec![Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None }]);
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let text = text_body(&mut r).await;
    let usage: Vec<_> = sse_data(&text).into_iter().filter(|e| e["usage"].is_object()).collect();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0]["usage"]["total_tokens"], 13);

    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|u| u.streamed && u.status == 200 && u.total_tokens == 13 && u.ttfb_ms.is_some()));
    app.stop().await;
}

#[actix_web::test]
async fn models_are_filtered_by_the_key_and_include_combos() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let extra = r#"
[[keys]]
name = "narrow"
key = "sk-og-narrow-01"
models = ["demo/*"]

[[combos]]
name = "best"
models = ["mock/mock-model", "demo/echo"]
"#;
    let mut cfg = env.config(&mock_config(&mock.base(), &[("a", "k")], extra));
    cfg.server.demo = true;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let list = |key: &'static str| {
        let url = format!("{}/v1/models", base(&app));
        async move {
            let mut r = client().get(url).bearer_auth(key).send().await.expect("send");
            assert_eq!(r.status(), 200);
            let v = json_body(&mut r).await;
            assert_eq!(v["object"], "list");
            v["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|m| m["id"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    let all = list("sk-og-ci-0001").await;
    assert!(
        all.contains(&"mock/mock-model".to_string())
            && all.contains(&"demo/echo".to_string())
            && all.contains(&"best".to_string()),
        "{all:?}"
    );
    assert!(!all.iter().any(|m| m.starts_with("openai/")), "providers without accounts are not listed: {all:?}");
    let narrow = list("sk-og-narrow-01").await;
    assert_eq!(narrow, vec!["demo/echo".to_string()]);

    // The narrow key may not use the mock model, nor the combo through its name.
    let r = client()
        .post(format!("{}/v1/chat/completions", base(&app)))
        .bearer_auth("sk-og-narrow-01")
        .send_json(&json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    // A combo reaches its second target when the key allows only that one.
    let mut r = client()
        .post(format!("{}/v1/chat/completions", base(&app)))
        .bearer_auth("sk-og-narrow-01")
        .send_json(&json!({"model": "best", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-omnigate-provider"), "demo");
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "Echo: x");
    app.stop().await;
}

#[actix_web::test]
async fn embeddings_pass_through_with_unknown_fields() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], "")).await;
    let mut r = post(
        &app,
        "/v1/embeddings",
        json!({"model": "mock/embed-1", "input": "hello", "input_type": "query", "truncate": "END"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["data"][0]["embedding"], json!([0.1, 0.2]));
    assert_eq!(v["x_mock_field"], true);
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(
        (sent.body["model"].as_str(), sent.body["input_type"].as_str(), sent.body["truncate"].as_str()),
        (Some("embed-1"), Some("query"), Some("END"))
    );
    let rows = usage_rows(&app).await;
    assert_eq!((rows[0].input_tokens, rows[0].total_tokens), (3, 3));
    app.stop().await;
}

#[actix_web::test]
async fn pinned_provider_route_refuses_other_providers_models() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], "")).await;
    let r = post(
        &app,
        "/v1/providers/mock/chat/completions",
        json!({"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.requests()[0].body["model"], "mock-model");
    let mut r = post(
        &app,
        "/v1/providers/mock/chat/completions",
        json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("belongs to provider `openai`"), "{e}");
    assert_eq!(mock.hits(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn client_errors_come_back_in_openai_shape() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], "[server]\nmax_body_mib = 1\n")).await;
    let url = format!("{}/v1/chat/completions", base(&app));
    let c = client();

    let mut r = c.post(&url).send_json(&json!({"model": "mock-model", "messages": []})).await.expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(json_body(&mut r).await["error"]["type"], "authentication_error");

    let mut r = c
        .post(&url)
        .bearer_auth("sk-og-ci-0001")
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["type"], "invalid_request_error");

    let one = json!([{"role": "user", "content": "x"}]);
    let mut r = post(&app, "/v1/chat/completions", json!({"messages": one})).await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&mut r).await["error"]["message"].as_str().unwrap_or_default().contains("`model`"));
    // No messages: a 400 naming them, never an answer made up from nothing.
    for body in [json!({"model": "mock-model"}), json!({"model": "mock-model", "messages": []})] {
        let mut r = post(&app, "/v1/chat/completions", body).await;
        assert_eq!(r.status(), 400);
        assert!(json_body(&mut r).await["error"]["message"].as_str().unwrap_or_default().contains("`messages`"));
    }
    let mut r = post(&app, "/v1/messages", json!({"model": "mock-model", "max_tokens": 5, "messages": []})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&mut r).await["error"]["type"], "invalid_request_error");

    let mut r = post(&app, "/v1/chat/completions", json!({"model": "nope-model", "messages": one})).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json_body(&mut r).await["error"]["code"], "not_found");

    let big = "x".repeat(2 * 1024 * 1024);
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "messages": [{"role": "user", "content": big}]}),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(json_body(&mut r).await["error"]["code"], "payload_too_large");

    // An upstream 400 is passed on with its status and message, not retried.
    mock.script(
        "k",
        vec![Reply::Json {
            status: 400,
            body: json!({"error": {"message": "context length exceeded for k"}}),
            retry_after: None,
        }],
    );
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    let msg = e["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("context length exceeded"), "{e}");
    assert_eq!(mock.hits(), 1, "a client error is not retried");
    let rows = usage_rows(&app).await;
    assert!(
        rows.iter().any(|u| { u.status == 400 && u.error.as_deref().is_some_and(|m| m.contains("context length")) })
    );
    assert!(rows.iter().any(|u| u.status == 404), "failed requests get a usage row too");
    app.stop().await;
}

#[actix_web::test]
async fn bare_model_ambiguity_and_aliases() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let extra = r#"
[[providers]]
id = "mock2"
dialect = "openai-chat"
base_url = "MOCK"
models = ["mock-model"]

[[accounts]]
provider = "mock2"
name = "b"
api_key = "k2"

[[aliases]]
alias = "fast"
target = "mock2/mock-model"

[[aliases]]
alias = "gpt-*"
target = "mock/*"
"#
    .replace("MOCK", &mock.base());
    let app = env.start(&mock_config(&mock.base(), &[("a", "k")], &extra)).await;
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let m = json_body(&mut r).await["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(m.contains("mock/mock-model") && m.contains("mock2/mock-model"), "{m}");
    let r =
        post(&app, "/v1/chat/completions", json!({"model": "fast", "messages": [{"role": "user", "content": "x"}]}))
            .await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-provider")), (200, "mock2".into()));
    let r =
        post(&app, "/v1/chat/completions", json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
            .await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-provider")), (200, "mock".into()));
    assert_eq!(mock.requests().last().map(|q| q.body["model"].clone()), Some(json!("gpt-4o")));
    app.stop().await;
}

#[actix_web::test]
async fn a_combo_moves_past_a_target_that_refuses_the_request() {
    let mock = MockUpstream::start().await;
    mock.always(
        "k",
        Reply::Json { status: 400, body: json!({"error": {"message": "unsupported parameter"}}), retry_after: None },
    );
    let env = TestEnv::new().await;
    let extra = "[[combos]]\nname = \"chain\"\nmodels = [\"mock/mock-model\", \"demo/echo\"]\n";
    let mut cfg = env.config(&mock_config(&mock.base(), &[("a", "k"), ("b", "k")], extra));
    cfg.server.demo = true;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let mut r =
        post(&app, "/v1/chat/completions", json!({"model": "chain", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!(r.status(), 200);
    assert_eq!((header(&r, "x-omnigate-provider"), header(&r, "x-omnigate-attempts")), ("demo".into(), "2".into()));
    assert_eq!(json_body(&mut r).await["choices"][0]["message"]["content"], "Echo: hi");
    assert_eq!(mock.hits(), 1, "the refusing provider's other account is not tried");
    // Without a next target the refusal is passed on as it is.
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&mut r).await["error"]["message"].as_str().unwrap_or_default().contains("unsupported parameter"));
    app.stop().await;
}

#[actix_web::test]
async fn claude_codes_dated_model_ids_reach_the_configured_anthropic_account_without_an_alias() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    // The built-in `anthropic` provider, its one account pointed at the mock.
    let cfg = format!(
        "[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n\n[[accounts]]\nprovider = \"anthropic\"\nname = \"me\"\napi_key = \"k-anth\"\nbase_url = \"{}\"\n",
        mock.base()
    );
    let app = env.start(&cfg).await;
    // What Claude Code sends: its main model and its background (haiku) model, dated.
    for model in ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"] {
        let mut r = client()
            .post(format!("{}/v1/messages", base(&app)))
            .insert_header(("x-api-key", "sk-og-ci-0001"))
            .insert_header(("anthropic-version", "2023-06-01"))
            .send_json(&json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}))
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{model}: {}", text_body(&mut r).await);
        assert_eq!(header(&r, "x-omnigate-provider"), "anthropic");
        assert_eq!(mock.requests().last().map(|q| q.body["model"].clone()), Some(json!(model)), "sent as it is");
    }
    // A name that is not Claude's still needs a provider.
    let r =
        post(&app, "/v1/chat/completions", json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
            .await;
    assert_eq!(r.status(), 404);
    app.stop().await;
}

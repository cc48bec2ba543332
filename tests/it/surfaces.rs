//! The surfaces beyond chat (issue 13): `/v1/completions` passed through and translated (whole
//! and streamed), `/v1/moderations`, `/v1/rerank`, OpenAI embeddings served by a Gemini upstream,
//! the key's model patterns, bad bodies, and the usage rows (with their path) each leaves.

use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, json_body, post, sse_data, text_body, usage_rows};

/// Providers on one mock: `full` serves completions, moderations and rerank itself; `plain` only
/// chats; `gem` is a Gemini upstream. The key `narrow` may use `full/*` only.
fn config(mock: &MockUpstream) -> String {
    let b = mock.base();
    let g = format!("http://{}/v1beta", mock.addr);
    format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"

[[keys]]
name = "narrow"
key = "sk-og-narrow-0001"
models = ["full/*"]

[[providers]]
id = "full"
dialect = "openai-chat"
base_url = "{b}"
models = [{{ id = "instruct-1", price = [1.0, 2.0] }}, "omni-mod", "rerank-1", {{ id = "image-1", price = [5.0, 40.0] }}]
serves = ["completions", "moderations", "rerank", "images"]

[[providers]]
id = "plain"
dialect = "openai-chat"
base_url = "{b}"
models = [{{ id = "chat-1", price = [1.0, 2.0] }}, {{ id = "tiny", context = 8 }}]

[[providers]]
id = "gem"
dialect = "gemini"
base_url = "{g}"
models = ["gemini-embedding-001", "gemini-2.5-flash"]

[[combos]]
name = "writer"
models = ["full/instruct-1", "plain/chat-1"]

[[combos]]
name = "ranker"
models = ["plain/chat-1", "full/rerank-1"]

[[accounts]]
provider = "full"
name = "f"
api_key = "k-full"

[[accounts]]
provider = "plain"
name = "p"
api_key = "k-plain"

[[accounts]]
provider = "gem"
name = "g"
api_key = "k-gem"
"#
    )
}

/// The paths (surfaces) of the usage rows recorded so far, oldest first.
async fn paths(app: &omnigate::app::Running) -> Vec<String> {
    usage_rows(app).await.into_iter().map(|u| u.path).collect()
}

#[actix_web::test]
async fn completions_pass_through_whole_and_streamed_with_usage_and_cost() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r = post(
        &app,
        "/v1/completions",
        json!({"model": "full/instruct-1", "prompt": "Say this is a test", "max_tokens": 7, "suffix": "!", "x_vendor": 1}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-omnigate-provider"), "full");
    assert_eq!(header(&r, "x-omnigate-cost-usd"), "0.000012", "6 in × $1 + 3 out × $2 per million");
    let v = json_body(&mut r).await;
    assert_eq!(
        (v["object"].as_str(), v["choices"][0]["text"].as_str()),
        (Some("text_completion"), Some("Hello from mock"))
    );
    assert_eq!(v["x_mock_field"], "kept", "a passthrough keeps unknown response fields");
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/completions");
    assert_eq!(sent.body["model"], "instruct-1");
    assert_eq!((sent.body["prompt"].as_str(), sent.body["suffix"].as_str()), (Some("Say this is a test"), Some("!")));
    assert_eq!(sent.body["x_vendor"], 1);

    let mut r =
        post(&app, "/v1/completions", json!({"model": "full/instruct-1", "prompt": ["Hi"], "stream": true})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    let text = text_body(&mut r).await;
    let events = sse_data(&text);
    assert_eq!(events.last(), Some(&Value::String("[DONE]".into())), "{text}");
    assert!(!text.contains("prompt_tokens"), "the usage chunk the gateway asked for is hidden: {text}");
    let joined: String = events.iter().filter_map(|e| e["choices"][0]["text"].as_str()).collect();
    assert_eq!(joined, "Hello from mock");
    assert_eq!(mock.requests()[1].body["stream_options"]["include_usage"], true);

    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    for (u, streamed) in rows.iter().zip([false, true]) {
        assert_eq!((u.status, u.provider.as_deref(), u.model.as_str()), (200, Some("full"), "full/instruct-1"));
        assert_eq!((u.input_tokens, u.output_tokens, u.streamed), (6, 3, streamed));
        assert_eq!((u.cost_source.as_str(), u.cost_usd), ("priced", Some(0.000012)));
    }
    assert_eq!(paths(&app).await, ["/v1/completions", "/v1/completions"]);
    // The request log (admin API) shows each row's surface.
    let log = crate::support::admin_get(&app, &env, "/api/requests").await;
    let shown: Vec<&str> = log["items"].as_array().unwrap().iter().filter_map(|r| r["path"].as_str()).collect();
    assert_eq!(shown, ["/v1/completions", "/v1/completions"], "{log}");
    app.stop().await;
}

#[actix_web::test]
async fn completions_are_translated_to_chat_for_chat_only_upstreams() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let body =
        json!({"model": "plain/chat-1", "prompt": "Say hi", "max_tokens": 5, "stop": ["\n"], "temperature": 0.5});
    let mut r = post(&app, "/v1/completions", body).await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["object"], "text_completion");
    assert_eq!(
        v["choices"][0],
        json!({"text": "Hello from mock", "index": 0, "logprobs": null, "finish_reason": "stop"})
    );
    assert_eq!(v["usage"]["total_tokens"], 13);
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body["messages"], json!([{"role": "user", "content": "Say hi"}]));
    assert_eq!((sent.body["max_tokens"].as_u64(), sent.body["temperature"].as_f64()), (Some(5), Some(0.5)));
    assert_eq!(sent.body["stop"], json!(["\n"]));
    assert!(sent.body.get("prompt").is_none());

    // Streamed: chat chunks become text_completion chunks; the stream ends with [DONE].
    let mut r =
        post(&app, "/v1/completions", json!({"model": "plain/chat-1", "prompt": "Say hi", "stream": true})).await;
    assert_eq!(r.status(), 200);
    let text = text_body(&mut r).await;
    let events = sse_data(&text);
    assert_eq!(events.last(), Some(&Value::String("[DONE]".into())), "{text}");
    let chunks: Vec<&Value> = events.iter().filter(|e| e.is_object()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"), "{text}");
    assert!(!text.contains("chat.completion") && !text.contains("delta"), "{text}");
    let joined: String = chunks.iter().filter_map(|e| e["choices"][0]["text"].as_str()).collect();
    assert_eq!(joined, "Hello from mock");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));

    // With the usage chunk asked for, it comes through as a completion chunk.
    let mut r = post(
        &app,
        "/v1/completions",
        json!({"model": "plain/chat-1", "prompt": "x", "stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    let events = sse_data(&text_body(&mut r).await);
    let usage = events.iter().find(|e| !e["usage"].is_null()).expect("a usage chunk");
    assert_eq!(
        (usage["object"].as_str(), usage["choices"].as_array().map(Vec::len)),
        (Some("text_completion"), Some(0))
    );

    // A Gemini upstream: translated through the hub to generateContent and back.
    let mut r =
        post(&app, "/v1/completions", json!({"model": "gem/gemini-2.5-flash", "prompt": "Population of Paris?"})).await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["choices"][0]["text"], "Paris has about 2.1 million inhabitants.");
    let sent = mock.requests().into_iter().last().expect("sent");
    assert!(sent.path.ends_with("/models/gemini-2.5-flash:generateContent"), "{}", sent.path);
    assert_eq!(sent.body["contents"][0]["parts"][0]["text"], "Population of Paris?");

    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 4);
    assert_eq!((rows[0].provider.as_deref(), rows[0].input_tokens, rows[0].output_tokens), (Some("plain"), 10, 3));
    assert_eq!(rows[0].cost_source, "priced");
    assert!(rows[1].streamed && rows[1].input_tokens == 10, "the stream's usage is recorded: {:?}", rows[1]);
    assert_eq!(rows[3].provider.as_deref(), Some("gem"));
    app.stop().await;
}

#[actix_web::test]
async fn combos_fall_back_across_passthrough_and_translation_and_skip_targets_that_cannot_serve() {
    let mock = MockUpstream::start().await;
    mock.script("k-full", vec![Reply::status(500)]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    // The passthrough target fails: the completion falls back to the chat-only target, translated.
    let mut r = post(&app, "/v1/completions", json!({"model": "writer", "prompt": "Say hi"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!((header(&r, "x-omnigate-provider"), header(&r, "x-omnigate-attempts")), ("plain".into(), "2".into()));
    let v = json_body(&mut r).await;
    assert_eq!(
        (v["object"].as_str(), v["choices"][0]["text"].as_str()),
        (Some("text_completion"), Some("Hello from mock"))
    );
    let seen: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(seen, ["/v1/completions", "/v1/chat/completions"]);
    // A combo whose first target cannot rerank: only the one that can is tried.
    let r = post(&app, "/v1/rerank", json!({"model": "ranker", "query": "q", "documents": ["a", "b"]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!((header(&r, "x-omnigate-provider"), header(&r, "x-omnigate-attempts")), ("full".into(), "1".into()));
    let rows = usage_rows(&app).await;
    assert_eq!(
        (rows[0].attempts, rows[0].provider.as_deref(), rows[0].model.as_str()),
        (2, Some("plain"), "plain/chat-1")
    );
    assert_eq!((rows[1].attempts, rows[1].path.as_str()), (1, "/v1/rerank"));
    app.stop().await;
}

#[actix_web::test]
async fn what_a_chat_upstream_cannot_do_and_bad_bodies_are_400s_naming_the_problem() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let cases = [
        ("/v1/completions", json!({"model": "plain/chat-1", "prompt": ["a", "b"]}), "2 prompts"),
        ("/v1/completions", json!({"model": "plain/chat-1", "prompt": "a", "echo": true}), "`echo`"),
        ("/v1/completions", json!({"model": "plain/chat-1"}), "`prompt` is required"),
        (
            "/v1/completions",
            json!({"model": "plain/tiny", "prompt": "word ".repeat(40)}),
            "larger than the context window",
        ),
        (
            "/v1/completions",
            json!({"model": "full/instruct-1", "prompt": "a", "max_tokens": "5"}),
            "`max_tokens` must be an integer",
        ),
        ("/v1/completions", json!({"prompt": "a"}), "`model` is required"),
        ("/v1/moderations", json!({"model": "full/omni-mod"}), "`input` is required"),
        (
            "/v1/moderations",
            json!({"model": "plain/chat-1", "input": "x"}),
            "provider `plain` cannot serve moderations",
        ),
        ("/v1/rerank", json!({"model": "full/rerank-1", "query": "q", "documents": []}), "at least one document"),
        (
            "/v1/rerank",
            json!({"model": "full/rerank-1", "query": "q", "documents": "d"}),
            "`documents` must be an array",
        ),
        ("/v1/rerank", json!({"model": "full/rerank-1", "documents": ["d"]}), "`query` is required"),
        (
            "/v1/rerank",
            json!({"model": "plain/chat-1", "query": "q", "documents": ["d"]}),
            "provider `plain` cannot serve rerank",
        ),
        ("/v1/embeddings", json!({"model": "gem/gemini-embedding-001", "input": [[1, 2]]}), "token ids"),
        ("/v1/images/generations", json!({"model": "full/image-1"}), "`prompt` is required"),
        (
            "/v1/images/generations",
            json!({"model": "full/image-1", "prompt": "otter", "stream": true}),
            "`stream: true`",
        ),
        (
            "/v1/images/generations",
            json!({"model": "plain/chat-1", "prompt": "otter"}),
            "provider `plain` cannot generate images",
        ),
    ];
    for (path, body, words) in &cases {
        let mut r = post(&app, path, body.clone()).await;
        assert_eq!(r.status(), 400, "{path} {body}");
        let v = json_body(&mut r).await;
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(words), "{path} {body}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "OpenAI's error shape: {v}");
    }
    // Refused bodies never reach an upstream; each request leaves a usage row.
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), cases.len());
    assert!(rows.iter().all(|u| u.status == 400 && u.error.is_some()));
    let want: Vec<&str> = cases.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(rows.iter().map(|u| u.path.as_str()).collect::<Vec<_>>(), want, "each row names its surface");
    app.stop().await;
}

#[actix_web::test]
async fn each_surfaces_body_is_bounded_by_the_configured_limit() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let mut cfg = env.config(&config(&mock));
    cfg.server.max_body_mib = 1;
    let app = env.start_with(cfg, env.bootstrap()).await;
    let big = "x".repeat(1024 * 1024 + 1);
    let cases = [
        ("/v1/completions", json!({"model": "full/instruct-1", "prompt": big})),
        ("/v1/moderations", json!({"model": "full/omni-mod", "input": big})),
        ("/v1/rerank", json!({"model": "full/rerank-1", "query": "q", "documents": [big]})),
        ("/v1/images/generations", json!({"model": "full/image-1", "prompt": big})),
    ];
    for (path, body) in &cases {
        let mut r = post(&app, path, body.clone()).await;
        assert_eq!(r.status(), 413, "{path}");
        let v = json_body(&mut r).await;
        assert!(v["error"]["message"].as_str().unwrap_or_default().contains("exceeds 1 MiB"), "{path}: {v}");
    }
    assert_eq!(mock.hits(), 0);
    let rows = usage_rows(&app).await;
    assert!(rows.iter().all(|u| u.status == 413), "{rows:?}");
    assert_eq!(rows.len(), cases.len());
    app.stop().await;
}

#[actix_web::test]
async fn moderations_and_rerank_pass_through_and_the_keys_patterns_hold() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r =
        post(&app, "/v1/moderations", json!({"model": "full/omni-mod", "input": ["I want to kill them."]})).await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!((v["model"].as_str(), v["results"][0]["flagged"].as_bool()), (Some("omni-mod"), Some(true)));
    assert_eq!(v["results"][0]["categories"]["harassment/threatening"], true);
    let sent = &mock.requests()[0];
    assert_eq!((sent.path.as_str(), sent.body["input"].clone()), ("/v1/moderations", json!(["I want to kill them."])));

    let docs = ["kitchenware", "organic skincare", "cleaning supplies"];
    let mut r = post(
        &app,
        "/v1/rerank",
        json!({"model": "full/rerank-1", "query": "skincare", "documents": docs, "top_n": 2, "return_documents": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (v["results"][0]["index"].as_u64(), v["results"][0]["document"]["text"].as_str()),
        (Some(2), Some("cleaning supplies"))
    );
    let sent = &mock.requests()[1];
    assert_eq!(sent.path, "/v1/rerank");
    assert_eq!((sent.body["model"].as_str(), sent.body["top_n"].as_u64()), (Some("rerank-1"), Some(2)));

    // The key `narrow` may use full/* only: other providers are refused before any upstream call.
    let narrow = |path: &'static str, body: Value| {
        let url = format!("{}{path}", base(&app));
        async move { client().post(url).bearer_auth("sk-og-narrow-0001").send_json(&body).await.expect("sent") }
    };
    let mut r = narrow("/v1/completions", json!({"model": "plain/chat-1", "prompt": "x"})).await;
    assert_eq!(r.status(), 403);
    let v = json_body(&mut r).await;
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("may not use model `plain/chat-1`"), "{v}");
    let r = narrow("/v1/rerank", json!({"model": "gem/gemini-embedding-001", "query": "q", "documents": ["d"]})).await;
    assert_eq!(r.status(), 403);
    let r = narrow("/v1/completions", json!({"model": "full/instruct-1", "prompt": "x"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.requests().len(), 3);

    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 5);
    assert_eq!((rows[0].status, rows[0].input_tokens, rows[0].model.as_str()), (200, 0, "full/omni-mod"));
    assert_eq!(rows[0].cost_source, "unpriced", "no price row for the moderation model: NULL, never $0");
    assert_eq!(rows[0].cost_usd, None);
    assert_eq!((rows[1].status, rows[1].input_tokens), (200, 21), "rerank tokens from usage.total_tokens");
    assert_eq!((rows[2].status, rows[2].key_name.as_deref()), (403, Some("narrow")));
    assert_eq!(
        paths(&app).await,
        ["/v1/moderations", "/v1/rerank", "/v1/completions", "/v1/rerank", "/v1/completions"]
    );
    app.stop().await;
}

#[actix_web::test]
async fn openai_embeddings_are_served_by_gemini_upstreams() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r = post(
        &app,
        "/v1/embeddings",
        json!({"model": "gem/gemini-embedding-001", "input": ["What is the meaning of life?", "How does the brain work?"], "dimensions": 4}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "gem/gemini-embedding-001");
    assert_eq!(v["data"][1], json!({"object": "embedding", "index": 1, "embedding": [0.5, -1.0, 1.0]}));
    assert_eq!(v["usage"], json!({"prompt_tokens": 13, "total_tokens": 13}), "estimated: characters / 4 per input");
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assert_eq!(sent.headers.get("x-goog-api-key").map(String::as_str), Some("k-gem"));
    let expected: Value = serde_json::from_str(&crate::mock::fixture("gemini", "embed_request.json")).unwrap();
    assert_eq!(sent.body, expected, "the request is the fixture's shape");

    // The OpenAI SDKs ask for base64 by default: little-endian f32s.
    let mut r = post(
        &app,
        "/v1/embeddings",
        json!({"model": "gem/gemini-embedding-001", "input": "hi", "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(v["data"][0]["embedding"].as_str().unwrap()).unwrap();
    assert_eq!(raw, [0.5f32.to_le_bytes(), (-1.0f32).to_le_bytes(), 0.0f32.to_le_bytes()].concat());

    let rows = usage_rows(&app).await;
    assert_eq!((rows[0].provider.as_deref(), rows[0].input_tokens, rows[0].total_tokens), (Some("gem"), 13, 13));
    assert_eq!((rows[0].cost_source.as_str(), rows[0].path.as_str()), ("unpriced", "/v1/embeddings"));
    app.stop().await;
}

#[actix_web::test]
async fn image_generation_passes_through_with_token_usage_and_cost() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r = post(
        &app,
        "/v1/images/generations",
        json!({"model": "full/image-1", "prompt": "A cute baby sea otter", "size": "1024x1024"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = json_body(&mut r).await;
    let expected: Value = serde_json::from_str(&crate::mock::fixture("images", "response.json")).unwrap();
    assert_eq!(v, expected, "the answer as the upstream gave it");
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/images/generations");
    assert_eq!((sent.body["model"].as_str(), sent.body["size"].as_str()), (Some("image-1"), Some("1024x1024")));
    let rows = usage_rows(&app).await;
    let u = &rows[0];
    assert_eq!((u.input_tokens, u.output_tokens, u.path.as_str()), (50, 50, "/v1/images/generations"));
    // 50 × $5 + 50 × $40 per million tokens.
    assert_eq!((u.cost_source.as_str(), u.cost_usd), ("priced", Some(0.00225)));
    app.stop().await;
}

#[actix_web::test]
#[ignore = "needs the Python SDKs (.venv from .ci/run): run through scripts/test"]
async fn openai_python_sdk_completions_moderations_and_gemini_embeddings_through_the_gateway() {
    let py = crate::clients::sdk_python();
    let mock = MockUpstream::start().await;
    mock.always("k-plain", Reply::Text("Hello from mock".into()));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let v = crate::clients::run_script(
        py,
        "openai_surfaces.py",
        vec![format!("{}/v1", base(&app)), "sk-og-ci-0001".into()],
    )
    .await;
    assert_eq!(v["passthrough_text"], "Hello from mock", "{v}");
    assert_eq!(v["passthrough_stream_text"], "Hello from mock", "{v}");
    assert_eq!(v["translated_text"], "Hello from mock", "{v}");
    assert_eq!(v["translated_stream_text"], "Hello from mock", "{v}");
    assert_eq!(v["translated_finish"], "stop", "{v}");
    assert_eq!(v["usage_total"], 9, "{v}");
    assert_eq!(v["moderation_flagged"], true, "{v}");
    assert_eq!(v["moderation_error_status"], 400, "{v}");
    assert_eq!(v["gemini_embedding"], json!([0.5, -1.0, 0.0]), "the SDK's default base64, decoded: {v}");
    app.stop().await;
}

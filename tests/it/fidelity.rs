//! Real-client fidelity (issue "Real-client fidelity"): what real clients and upstreams do that a
//! clean round trip does not show — clients that leave early, error events inside a 200 stream,
//! tool-call fragments out of order, upstream error codes, header forwarding.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::mock::{MockUpstream, Reply};
use crate::support::{
    TestEnv, admin_get, eventually, header, json_body, mock_config, post, sse_data, text_body, usage_rows,
};

#[actix_web::test]
async fn a_client_that_leaves_before_the_first_byte_frees_the_upstream_and_the_lease_within_two_seconds() {
    let mock = MockUpstream::start().await;
    mock.always("ka", Reply::Stall);
    let env = TestEnv::new().await;
    let app = env.start(&mock_config(&mock.base(), &[("a", "ka")], "")).await;
    let addr = app.addr;
    for stream in [true, false] {
        let body = json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": "think hard"}]})
            .to_string();
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-og-ci-0001\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let before = mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst);
        actix_web::rt::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(req.as_bytes()).expect("write");
            std::thread::sleep(Duration::from_millis(300));
            drop(s);
        })
        .await
        .expect("client");
        let t0 = std::time::Instant::now();
        let freed = eventually(10, || async {
            let accounts = admin_get(&app, &env, "/api/accounts").await;
            mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst) == before + 1
                && accounts["accounts"][0]["in_flight"] == 0
        })
        .await;
        let accounts = admin_get(&app, &env, "/api/accounts").await;
        assert!(
            freed,
            "stream={stream}: upstream call and lease still held after {:?}: cancelled {} in flight {}",
            t0.elapsed(),
            mock.state.cancelled.load(std::sync::atomic::Ordering::SeqCst),
            accounts["accounts"][0]["in_flight"]
        );
    }
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.status == 499), "{:?}", rows.iter().map(|r| r.status).collect::<Vec<_>>());
    app.stop().await;
}

fn sse(frames: Vec<String>) -> Reply {
    Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None }
}

fn named(name: &str, v: serde_json::Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

fn anthropic_start() -> Vec<String> {
    vec![named(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [], "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
    )]
}

fn overloaded() -> String {
    named("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
}

/// One OpenAI-dialect provider `mock` (accounts a/b) and one Anthropic-dialect provider `anth`
/// (accounts c/d), all on `mock`.
fn two_dialects(mock: &MockUpstream, extra: &str) -> String {
    let anth = "[[providers]]\nid = \"anth\"\ndialect = \"anthropic\"\nbase_url = \"BASE\"\nmodels = [\"m\"]\n\
                [[accounts]]\nprovider = \"anth\"\nname = \"c\"\napi_key = \"kc\"\n\
                [[accounts]]\nprovider = \"anth\"\nname = \"d\"\napi_key = \"kd\"\n"
        .replace("BASE", &mock.base());
    format!("{}\n{anth}", mock_config(&mock.base(), &[("a", "ka"), ("b", "kb")], extra))
}

#[actix_web::test]
async fn an_error_event_before_any_content_falls_over_to_the_next_account() {
    let mock = MockUpstream::start().await;
    let err_chunk =
        format!("data: {}\n\n", json!({"error": {"message": "upstream overloaded", "type": "server_error"}}));
    mock.always("ka", sse(vec![err_chunk]));
    let mut frames = anthropic_start();
    frames.push(overloaded());
    mock.always("kc", sse(frames));
    mock.always("kd", Reply::Fixture { kind: "text", delay: Duration::ZERO });
    let env = TestEnv::new().await;
    let app = env.start(&two_dialects(&mock, "")).await;

    let body = json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(header(&r, "x-omnigate-attempts"), "2");
    let text = text_body(&mut r).await;
    assert!(!text.contains("upstream overloaded") && text.contains("Hello"), "the second account answered: {text}");

    let body =
        json!({"model": "anth/m", "max_tokens": 20, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/messages", body).await;
    assert_eq!(header(&r, "x-omnigate-account"), "d");
    let text = text_body(&mut r).await;
    assert!(!text.contains("overloaded_error") && text.contains("message_stop"), "{text}");

    // A 200 whose body is an error object is a failure too.
    mock.always(
        "ka",
        Reply::Json {
            status: 200,
            body: json!({"error": {"message": "busy", "type": "server_error"}}),
            retry_after: None,
        },
    );
    let r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!((r.status().as_u16(), header(&r, "x-omnigate-account")), (200, "b".to_string()));
    let rows = usage_rows(&app).await;
    assert!(
        rows.iter().all(|r| r.status == 200 && r.attempts == 2),
        "{:?}",
        rows.iter().map(|r| (r.status, r.attempts)).collect::<Vec<_>>()
    );
    app.stop().await;
}

#[actix_web::test]
async fn an_error_event_after_content_ends_the_stream_with_the_upstreams_error_type() {
    let mock = MockUpstream::start().await;
    let mut frames = anthropic_start();
    frames.push(named(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    frames.push(named(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "partial answer"}}),
    ));
    frames.push(overloaded());
    mock.always("kc", sse(frames.clone()));
    mock.always("kd", sse(frames));
    let env = TestEnv::new().await;
    let app = env.start(&two_dialects(&mock, "[resilience]\nbreaker_threshold = 3\n")).await;

    // Same dialect: the upstream's own error event, once, and nothing claiming a normal end.
    let body =
        json!({"model": "anth/m", "max_tokens": 20, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let text = text_body(&mut post(&app, "/v1/messages", body).await).await;
    assert!(text.contains("partial answer"), "{text}");
    assert_eq!(text.matches("overloaded_error").count(), 1, "{text}");
    assert!(
        text.trim_end().ends_with("\"type\":\"error\"}")
            && !text.contains("end_turn")
            && !text.contains("message_stop"),
        "{text}"
    );

    // Translated: an OpenAI error chunk with the upstream's class and code, then [DONE]; no
    // finish_reason "stop".
    let body = json!({"model": "anth/m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let text = text_body(&mut post(&app, "/v1/chat/completions", body).await).await;
    let data = sse_data(&text);
    let err = data.iter().find(|d| d.get("error").is_some()).expect("an error chunk");
    assert_eq!(
        (err["error"]["type"].as_str(), err["error"]["code"].as_str()),
        (Some("server_error"), Some("overloaded_error"))
    );
    assert!(!text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert_eq!(data.last(), Some(&json!("[DONE]")));

    // Recorded as failures: usage rows say so, and the breaker counted both.
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.error.as_deref().is_some_and(|e| e.contains("Overloaded"))), "{rows:?}");
    let body =
        json!({"model": "anth/m", "max_tokens": 20, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    text_body(&mut post(&app, "/v1/messages", body).await).await;
    let accounts = admin_get(&app, &env, "/api/accounts").await;
    let anth = accounts["accounts"].as_array().expect("accounts").iter().find(|a| a["provider"] == "anth").cloned();
    assert_eq!(anth.map(|a| a["breaker"].clone()), Some(json!("open")), "three in-stream failures open the breaker");
    app.stop().await;
}

#[actix_web::test]
async fn upstream_error_codes_and_types_survive_into_the_clients_dialect() {
    let mock = MockUpstream::start().await;
    let too_long = json!({"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
                                    "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}});
    for k in ["ka", "kb"] {
        mock.always(k, Reply::Json { status: 400, body: too_long.clone(), retry_after: None });
    }
    let overloaded = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    for k in ["kc", "kd"] {
        mock.always(k, Reply::Json { status: 529, body: overloaded.clone(), retry_after: None });
    }
    let env = TestEnv::new().await;
    let app = env.start(&two_dialects(&mock, "")).await;
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert_eq!(
        (e["error"]["code"].as_str(), e["error"]["param"].as_str(), e["error"]["type"].as_str()),
        (Some("context_length_exceeded"), Some("messages"), Some("invalid_request_error")),
        "{e}"
    );
    let msgs = json!({"model": "mock/mock-model", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/messages", msgs).await;
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("maximum context length")), "{e}");
    let mut r = crate::support::client()
        .post(format!("{}/v1beta/models/mock/mock-model:generateContent", crate::support::base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .send_json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&mut r).await["error"]["status"], "INVALID_ARGUMENT");

    // Overloaded on every account: the Anthropic client sees overloaded_error, the OpenAI client
    // its code.
    let msgs = json!({"model": "anth/m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/messages", msgs).await;
    let e = json_body(&mut r).await;
    assert_eq!((r.status().as_u16(), e["error"]["type"].as_str()), (502, Some("overloaded_error")), "{e}");
    let chat = json!({"model": "anth/m", "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/chat/completions", chat).await;
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["code"], "overloaded_error", "{e}");
    app.stop().await;
}

#[actix_web::test]
async fn client_headers_that_change_upstream_behaviour_are_passed_on_by_family_and_nothing_else() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let extra = "[[providers]]\nid = \"gem\"\ndialect = \"gemini\"\nbase_url = \"GEM\"\nmodels = [\"m\"]\n\
                 [[accounts]]\nprovider = \"gem\"\nname = \"g\"\napi_key = \"kg\"\n\
                 [[accounts]]\nprovider = \"mock\"\nname = \"org\"\napi_key = \"korg\"\nforward_org_headers = true\npriority = 5\n"
        .replace("GEM", &format!("http://{}/v1beta", mock.addr));
    let app = env.start(&format!("{}\n{extra}", two_dialects(&mock, ""))).await;
    let b = crate::support::base(&app);
    let c = crate::support::client();

    // Claude Code: its betas, plus the one its context_management field needs, merged once.
    let body = json!({"model": "anth/m", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}],
                      "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}});
    let r = c
        .post(format!("{b}/v1/messages"))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .insert_header(("te", "trailers"))
        .insert_header(("x-app", "cli"))
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the strict mock accepted it");
    let sent = mock.requests().pop().expect("sent");
    assert_eq!(
        sent.headers["anthropic-beta"],
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"
    );
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert_eq!(sent.headers["x-api-key"], "kc", "the account's key, never the client's");
    assert!(!sent.headers.contains_key("te") && !sent.headers.contains_key("x-app"), "{:?}", sent.headers);
    // Without any beta header from the client, the body's field still gets its beta.
    let r = c
        .post(format!("{b}/v1/messages"))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(mock.requests().pop().expect("sent").headers["anthropic-beta"], "context-management-2025-06-27");

    // OpenAI clients: OpenAI-Beta always; the organization only to an account that allows it.
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]});
    let send = |chat: serde_json::Value| {
        c.post(format!("{b}/v1/chat/completions"))
            .bearer_auth("sk-og-ci-0001")
            .insert_header(("openai-beta", "assistants=v2"))
            .insert_header(("openai-organization", "org-client"))
            .insert_header(("anthropic-beta", "not-for-openai"))
            .send_json(&chat)
    };
    assert_eq!(send(chat.clone()).await.expect("send").status(), 200);
    let sent = mock.requests().pop().expect("sent");
    assert_eq!(
        (sent.headers.get("openai-beta").map(String::as_str), sent.headers.get("openai-organization")),
        (Some("assistants=v2"), None)
    );
    assert!(!sent.headers.contains_key("anthropic-beta"));
    mock.always("ka", Reply::status(500));
    mock.always("kb", Reply::status(500));
    let r = send(chat).await.expect("send");
    assert_eq!(header(&r, "x-omnigate-account"), "org");
    let sent = mock.requests().pop().expect("sent");
    assert_eq!(sent.headers.get("openai-organization").map(String::as_str), Some("org-client"));

    // Gemini: x-goog-user-project.
    let r = c
        .post(format!("{b}/v1beta/models/gem/m:generateContent"))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .insert_header(("x-goog-user-project", "my-project"))
        .send_json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let sent = mock.requests().pop().expect("sent");
    assert_eq!(sent.headers.get("x-goog-user-project").map(String::as_str), Some("my-project"));
    assert_eq!(sent.headers.get("x-goog-api-key").map(String::as_str), Some("kg"));

    // Translated: an Anthropic client's betas mean nothing to an OpenAI upstream.
    let msgs = json!({"model": "mock/mock-model", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
    mock.always("ka", Reply::Text("hi".into()));
    c.post(format!("{b}/v1/messages"))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-beta", "claude-code-20250219"))
        .send_json(&msgs)
        .await
        .expect("send");
    let sent = mock.requests().pop().expect("sent");
    assert!(!sent.headers.contains_key("anthropic-beta") && sent.path.ends_with("/chat/completions"));
    app.stop().await;
}

#[actix_web::test]
async fn each_model_familys_request_rules_make_bodies_the_real_api_accepts() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let v1 = mock.base();
    let gem = format!("http://{}/v1beta", mock.addr);
    let cfg = format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"
[[providers]]
id = "up"
dialect = "openai-chat"
base_url = "{v1}"
models = ["o3", "gpt-4o", "deepseek-chat"]
[[accounts]]
provider = "up"
name = "o"
api_key = "ko"
[[providers]]
id = "gem"
dialect = "gemini"
base_url = "{gem}"
models = ["gemini-3-pro-preview"]
[[accounts]]
provider = "gem"
name = "g"
api_key = "kg"
[[accounts]]
provider = "anthropic"
name = "a"
api_key = "ka"
base_url = "{v1}"
"#
    );
    let app = env.start(&cfg).await;
    let last = || mock.requests().pop().expect("a request reached the mock").body;

    // OpenAI reasoning model: max_tokens renamed, sampling dropped (passthrough).
    let body = json!({"model": "up/o3", "max_tokens": 100, "temperature": 0.2, "top_p": 0.5, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post(&app, "/v1/chat/completions", body).await.status(), 200);
    let sent = last();
    assert_eq!(
        (sent["max_completion_tokens"].as_u64(), sent.get("max_tokens"), sent.get("temperature")),
        (Some(100), None, None)
    );
    // ... and a non-reasoning model keeps them.
    let body = json!({"model": "up/gpt-4o", "max_tokens": 100, "temperature": 0.2, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post(&app, "/v1/chat/completions", body).await.status(), 200);
    assert_eq!((last()["max_tokens"].as_u64(), last()["temperature"].as_f64()), (Some(100), Some(0.2)));

    // Claude: temperature or top_p (passthrough and translated); no max_tokens → the model's own.
    let body = json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 50, "temperature": 0.3, "top_p": 0.9, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post(&app, "/v1/messages", body).await.status(), 200);
    assert!(last().get("top_p").is_none());
    let body = json!({"model": "anthropic/claude-sonnet-4-5", "temperature": 0.3, "top_p": 0.9, "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(post(&app, "/v1/chat/completions", body).await.status(), 200);
    let sent = last();
    assert_eq!((sent["max_tokens"].as_u64(), sent.get("top_p")), (Some(64000), None), "{sent}");

    // DeepSeek: reasoning_content on tool-call turns, even when the client dropped it.
    let history = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]);
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let body = json!({"model": "up/deepseek-chat", "messages": history, "tools": tools});
    assert_eq!(post(&app, "/v1/chat/completions", body).await.status(), 200);
    assert_eq!(last()["messages"][1]["reasoning_content"], "");

    // Gemini 3 from an OpenAI client's history: the function call gets the placeholder signature.
    let body = json!({"model": "gem/gemini-3-pro-preview", "messages": history, "tools": tools});
    let mut r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 200, "{}", json_body(&mut r).await);
    let sent = last();
    let call = sent["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .find(|p| p.get("functionCall").is_some())
        .expect("a function call");
    assert_eq!(call["thoughtSignature"], "skip_thought_signature_validator");

    // n > 1 where it cannot be honoured: a clear 400, nothing sent.
    let before = mock.hits();
    let body = json!({"model": "anthropic/claude-sonnet-4-5", "n": 2, "messages": [{"role": "user", "content": "x"}]});
    let mut r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&mut r).await["error"]["message"].as_str().is_some_and(|m| m.contains("2 answers")));
    assert_eq!(mock.hits(), before);
    assert_eq!(mock.state.refused.load(std::sync::atomic::Ordering::SeqCst), 0, "the strict mock refused nothing");
    app.stop().await;
}

#[actix_web::test]
async fn when_every_attempt_fails_the_error_names_each_account_and_its_cause_without_secrets() {
    let mock = MockUpstream::start().await;
    // The upstream quotes the refused key back, as some do.
    mock.always(
        "sk-live-a-77f2",
        Reply::Json {
            status: 401,
            body: json!({"error": {"message": "Incorrect API key provided: sk-live-a-77f2", "type": "invalid_request_error"}}),
            retry_after: None,
        },
    );
    // Port 1 on loopback: nothing listens, the connection is refused.
    let extra = "[routing]\nstrategy = \"fill-first\"\n\n[[accounts]]\nprovider = \"mock\"\nname = \"b\"\napi_key = \"kb\"\nbase_url = \"http://127.0.0.1:1/v1\"\npriority = 2\n";
    // Each dialect on a fresh daemon: a refused key cools its account down, and this is about the
    // error of a request that tried both.
    for (path, body) in [
        ("/v1/chat/completions", json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]})),
        (
            "/v1/messages",
            json!({"model": "mock/mock-model", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}),
        ),
    ] {
        let env = TestEnv::new().await;
        let app = env.start(&mock_config(&mock.base(), &[("a", "sk-live-a-77f2")], extra)).await;
        let mut r = post(&app, path, body).await;
        assert_eq!(r.status(), 502, "{path}");
        let e = json_body(&mut r).await;
        let msg = e["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("mock/a: the upstream refused the key (401)"), "{path}: {msg}");
        assert!(msg.contains("mock/b: connection refused at 127.0.0.1:1"), "{path}: {msg}");
        assert!(!e.to_string().contains("sk-live-a-77f2"), "{path}: the key leaked: {e}");
        if path == "/v1/messages" {
            assert_eq!(e["type"], "error", "Anthropic's envelope: {e}");
        }
        app.stop().await;
    }
}

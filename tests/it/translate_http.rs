//! Every client surface through the running daemon to upstreams of every dialect (our mock serving
//! the golden fixtures), with the official SDKs where they exist and REST for Gemini: streams,
//! tools, reasoning, usage, errors in each surface's own shape, and the Anthropic passthrough.

use std::time::Duration;

use serde_json::{Value, json};

use crate::clients::{run_script, sdk_python};
use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client, header, json_body, sse_data, text_body, usage_rows};

/// One custom provider per dialect, all on the same mock, each with its own credential.
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
            "\n[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{url}\"\nmodels = [\"m\"]\n\n[[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"{key}\"\n"
        ));
    }
    s
}

fn fx(kind: &'static str) -> Reply {
    Reply::Fixture { kind, delay: Duration::from_millis(2) }
}

#[actix_web::test]
#[ignore = "needs the Python SDKs: run through scripts/test"]
async fn anthropic_sdk_streams_tools_and_thinking_from_an_openai_upstream() {
    let py = sdk_python();
    let mock = MockUpstream::start().await;
    mock.script("k-chat", vec![fx("tools"), fx("reasoning"), fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let v = run_script(py, "anthropic_stream.py", vec![base(&app), "sk-og-ci-0001".into(), "up-chat/m".into()]).await;
    let tools = &v["tools"];
    assert_eq!(tools["stop_reason"], "tool_use", "{v}");
    assert_eq!(tools["tools"][0]["name"], "get_weather");
    assert_eq!(tools["tools"][0]["input"], json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(tools["tools"][1]["input"], json!({"timezone": "Asia/Tokyo"}));
    assert!(v["deltas"].as_u64().unwrap_or(0) > 3, "streamed in deltas: {v}");
    assert!(v["thinking"]["thinking"].as_str().unwrap_or_default().contains("s-t-r-a-w-b-e-r-r-y"), "{v}");
    assert!(v["thinking"]["text"].as_str().unwrap_or_default().contains("strawberry"));
    assert!(v["plain"]["text"].as_str().unwrap_or_default().starts_with("Paris has about 2.1 million"));
    assert!(v["plain"]["input_tokens"].as_u64().is_some_and(|n| n > 0));
    assert!(v["count"].as_u64().is_some_and(|n| n > 0), "count_tokens estimated for a non-Anthropic upstream");
    // What the OpenAI upstream was sent: translated tools, system/thinking mapped.
    let sent = mock.requests();
    let first = &sent[0].body;
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(first["model"], "m");
    assert_eq!(first["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(first["stream_options"]["include_usage"], true);
    assert!(sent[1].body["reasoning_effort"].is_string(), "thinking mapped to reasoning_effort: {}", sent[1].body);
    let rows = usage_rows(&app).await;
    assert!(rows.iter().all(|r| r.client_dialect == "anthropic" && r.status == 200), "{rows:?}");
    app.stop().await;
}

#[actix_web::test]
#[ignore = "needs the Python SDKs: run through scripts/test"]
async fn openai_sdk_responses_stream_from_an_anthropic_upstream() {
    let py = sdk_python();
    let mock = MockUpstream::start().await;
    mock.script("k-anth", vec![fx("text"), fx("tools"), fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let v = run_script(
        py,
        "openai_responses.py",
        vec![format!("{}/v1", base(&app)), "sk-og-ci-0001".into(), "up-anth/m".into()],
    )
    .await;
    let t = &v["text"];
    assert_eq!(
        (t["first"].as_str(), t["last"].as_str()),
        (Some("response.created"), Some("response.completed")),
        "{v}"
    );
    assert!(t["text"].as_str().unwrap_or_default().starts_with("Paris has about 2.1 million"));
    assert_eq!(t["output_text"], t["text"], "response.completed carries the accumulated output");
    assert_eq!(t["usage"]["input"], 1045, "cache reads and writes are inside input_tokens");
    assert_eq!(t["usage"]["total"], 1045 + 14);
    let tools = &v["tools"];
    assert_eq!(tools["function_args"]["get_weather"], json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(tools["function_args"]["get_time"], json!({"timezone": "Asia/Tokyo"}));
    assert!(
        tools["output_items"].as_array().is_some_and(|a| a.iter().filter(|i| *i == "function_call").count() == 2),
        "{v}"
    );
    assert!(v["whole"]["text"].as_str().unwrap_or_default().starts_with("Paris"));
    assert_eq!(v["previous_response_id"]["status"], 400);
    assert!(v["previous_response_id"]["message"].as_str().unwrap_or_default().contains("does not store responses"));
    let sent = mock.requests();
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].headers.get("anthropic-version").map(String::as_str), Some("2023-06-01"));
    assert_eq!(sent[0].headers.get("x-api-key").map(String::as_str), Some("k-anth"));
    assert_eq!(sent[0].body["system"], "Be brief.");
    assert!(sent[0].body["max_tokens"].is_u64());
    app.stop().await;
}

#[actix_web::test]
#[ignore = "needs the Python SDKs: run through scripts/test"]
async fn openai_sdk_chat_tools_from_a_gemini_upstream() {
    let py = sdk_python();
    let mock = MockUpstream::start().await;
    mock.script("k-gem", vec![fx("tools")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let v = run_script(
        py,
        "openai_tools.py",
        vec![format!("{}/v1", base(&app)), "sk-og-ci-0001".into(), "up-gem/m".into()],
    )
    .await;
    assert_eq!(v["calls"][0]["name"], "get_weather", "{v}");
    assert_eq!(v["calls"][0]["args"], json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(v["calls"][1]["args"], json!({"timezone": "Asia/Tokyo"}));
    assert_eq!((v["calls"][0]["has_id"].as_bool(), v["finish"].as_str()), (Some(true), Some("tool_calls")));
    assert_eq!(v["usage"], 248);
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/m:streamGenerateContent?alt=sse");
    assert_eq!(sent.headers.get("x-goog-api-key").map(String::as_str), Some("k-gem"));
    let params = sent.body["tools"][0]["functionDeclarations"][0]["parameters"].to_string();
    assert!(!params.contains("additionalProperties") && !params.contains("$schema"), "{params}");
    app.stop().await;
}

#[actix_web::test]
async fn gemini_rest_reaches_a_responses_upstream_in_sse_and_array_framing() {
    let mock = MockUpstream::start().await;
    mock.script("k-resp", vec![fx("text"), fx("text"), fx("tools")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Paris?"}]}], "systemInstruction": {"parts": [{"text": "Be brief."}]}});
    let c = client();
    // alt=sse, key in x-goog-api-key, model with its provider prefix.
    let mut r = c
        .post(format!("{}/v1beta/models/up-resp/m:streamGenerateContent?alt=sse", base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = text_body(&mut r).await;
    assert!(text.contains("\r\n\r\n"), "Gemini framing");
    let chunks = sse_data(&text.replace("\r\n", "\n"));
    let joined: String =
        chunks.iter().filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect();
    assert!(joined.starts_with("Paris has about 2.1 million"), "{text}");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 1128);
    // JSON-array framing (no alt=sse), key as ?key=, under /v1.
    let mut r = c
        .post(format!("{}/v1/models/up-resp/m:streamGenerateContent?key=sk-og-ci-0001", base(&app)))
        .send_json(&body)
        .await
        .expect("send");
    let arr: Value = serde_json::from_slice(&r.body().await.expect("body")).expect("a JSON array");
    assert!(arr.as_array().is_some_and(|a| a.len() >= 2), "{arr}");
    // Non-streamed with tools, key as Bearer.
    let mut r = c
        .post(format!("{}/v1beta/models/up-resp/m:generateContent", base(&app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&body)
        .await
        .expect("send");
    let v = json_body(&mut r).await;
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0]["functionCall"]["name"], "get_weather", "{v}");
    assert_eq!(parts[1]["functionCall"]["args"], json!({"timezone": "Asia/Tokyo"}));
    assert!(parts[0].get("thoughtSignature").is_none());
    let sent = mock.requests();
    assert_eq!(sent[0].path, "/v1/responses");
    assert_eq!(sent[0].body["instructions"], "Be brief.");
    assert_eq!(sent[0].body["store"], false);
    // Model listing in Gemini's shape.
    let mut r = c
        .get(format!("{}/v1beta/models", base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .send()
        .await
        .expect("send");
    let v = json_body(&mut r).await;
    assert!(v["models"].as_array().is_some_and(|m| m.iter().any(|x| x["name"] == "models/up-gem/m")), "{v}");
    app.stop().await;
}

#[actix_web::test]
async fn anthropic_to_anthropic_is_a_passthrough_keeping_cache_control_and_unknown_fields() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let body = json!({
        "model": "up-anth/m", "max_tokens": 100, "stream": true, "x_future_field": {"a": 1},
        "system": [{"type": "text", "text": "long prefix", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]
    });
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = text_body(&mut r).await;
    let fixture = crate::mock::fixture("anthropic", "stream_text.sse");
    assert_eq!(text, fixture, "the upstream's bytes reach the client unchanged");
    let sent = &mock.requests()[0].body;
    let mut expected = body.clone();
    expected["model"] = json!("m");
    assert_eq!(sent, &expected, "only the model was rewritten");
    let rows = usage_rows(&app).await;
    assert_eq!((rows[0].input_tokens, rows[0].output_tokens), (1045, 14));
    // count_tokens on an Anthropic account is the upstream's own count.
    let mut r = client()
        .post(format!("{}/v1/messages/count_tokens", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(&json!({"model": "up-anth/m", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    assert_eq!(json_body(&mut r).await["input_tokens"], 4242);
    assert!(mock.requests().last().is_some_and(|q| q.path == "/v1/messages/count_tokens"));
    app.stop().await;
}

#[actix_web::test]
async fn errors_come_back_in_each_surfaces_own_shape() {
    let mock = MockUpstream::start().await;
    mock.always(
        "k-chat",
        Reply::Json {
            status: 400,
            body: json!({"error": {"message": "bad tool schema", "type": "invalid_request_error"}}),
            retry_after: None,
        },
    );
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let c = client();
    // Anthropic: no key → authentication_error in Anthropic's envelope.
    let mut r = c
        .post(format!("{}/v1/messages", base(&app)))
        .send_json(&json!({"model": "up-chat/m", "max_tokens": 5, "messages": []}))
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let e = json_body(&mut r).await;
    assert_eq!((e["type"].as_str(), e["error"]["type"].as_str()), (Some("error"), Some("authentication_error")));
    // Anthropic: an upstream 400 is passed on with its message, Anthropic-shaped.
    let mut r = c
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(&json!({"model": "up-chat/m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("bad tool schema"));
    // Gemini: unknown model → NOT_FOUND in Gemini's envelope; bad JSON → INVALID_ARGUMENT.
    let mut r = c
        .post(format!("{}/v1beta/models/nope:generateContent?key=sk-og-ci-0001", base(&app)))
        .send_json(&json!({"contents": []}))
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let e = json_body(&mut r).await;
    assert_eq!((e["error"]["code"].as_u64(), e["error"]["status"].as_str()), (Some(404), Some("NOT_FOUND")));
    let mut r = c
        .post(format!("{}/v1beta/models/up-gem/m:generateContent", base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .insert_header(("content-type", "application/json"))
        .send_body("{oops")
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&mut r).await["error"]["status"], "INVALID_ARGUMENT");
    // Responses: a tool no other provider can stand in for → 400 OpenAI-shaped, nothing sent upstream.
    let before = mock.hits();
    let mut r = c
        .post(format!("{}/v1/responses", base(&app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&json!({"model": "up-anth/m", "input": "x", "tools": [{"type": "computer_use_preview"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let e = json_body(&mut r).await;
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("computer_use_preview"), "{e}");
    assert_eq!(mock.hits(), before);
    app.stop().await;
}

#[actix_web::test]
async fn a_broken_translated_stream_still_ends_with_the_clients_terminal_events() {
    let mock = MockUpstream::start().await;
    let frames = Reply::chat_frames(&["a", "b", "c", "d"], true);
    mock.always(
        "k-chat",
        Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(10), drop_after: Some(3) },
    );
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(&json!({"model": "up-chat/m", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    let text = text_body(&mut r).await;
    let events: Vec<&str> = text.split("\n\n").filter_map(|e| e.lines().next()?.strip_prefix("event: ")).collect();
    // As the Messages API does on a failure: the error event ends the stream, after the content
    // that came; no `message_delta` claims the answer ended normally.
    assert_eq!(events.last(), Some(&"error"), "{text}");
    assert!(events.contains(&"content_block_delta") && !events.contains(&"message_delta"), "{text}");
    assert!(text.contains("\"type\":\"api_error\""), "{text}");
    app.stop().await;
}

#[actix_web::test]
async fn json_schemas_reach_claude_as_structured_outputs_or_as_an_instruction_for_older_models() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let cfg = format!(
        "[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n\n[[providers]]\nid = \"my-claude\"\ndialect = \"anthropic\"\n\
         base_url = \"{}\"\nmodels = [\"claude-sonnet-4-5\", \"claude-3-5-haiku-20241022\"]\n\n[[accounts]]\n\
         provider = \"my-claude\"\nname = \"a\"\napi_key = \"k-anth\"\n\n[[providers]]\nid = \"my-gpt\"\ndialect = \"openai-chat\"\n\
         base_url = \"{}\"\nmodels = [\"gpt-4.1\"]\n\n[[accounts]]\nprovider = \"my-gpt\"\nname = \"a\"\napi_key = \"k-chat\"\n",
        mock.base(),
        mock.base()
    );
    let app = env.start(&cfg).await;
    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]});
    let ask = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": "Where?"}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema.clone()}}})
    };
    for model in ["my-claude/claude-sonnet-4-5", "my-claude/claude-3-5-haiku-20241022"] {
        let r = client()
            .post(format!("{}/v1/chat/completions", base(&app)))
            .bearer_auth("sk-og-ci-0001")
            .send_json(&ask(model))
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{model}");
    }
    let sent = mock.requests();
    // Claude 4.5: constrained decoding, the schema in the subset the API accepts.
    let native = &sent[0].body;
    assert_eq!(native["output_config"]["format"]["type"], "json_schema", "{native}");
    let s = &native["output_config"]["format"]["schema"];
    assert_eq!(s["additionalProperties"], false, "{s}");
    assert_eq!(s["properties"]["city"]["description"], "(maxLength: 40)");
    assert!(native.get("system").is_none());
    // Claude 3.5 Haiku has no structured outputs: the schema becomes an instruction.
    let old = &sent[1].body;
    assert!(old.get("output_config").is_none(), "{old}");
    let sys = old["system"].as_str().unwrap_or_default();
    assert!(sys.contains("JSON Schema") && sys.contains("\"city\""), "{sys}");
    // And the other way: a Claude client's output_config.format reaches an OpenAI upstream.
    let r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(
            &json!({"model": "my-gpt/gpt-4.1", "max_tokens": 50, "messages": [{"role": "user", "content": "Where?"}],
                           "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
        )
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let chat = &mock.requests()[2].body;
    assert_eq!(chat["response_format"]["type"], "json_schema", "{chat}");
    assert_eq!(chat["response_format"]["json_schema"]["schema"]["required"], json!(["city"]));
    app.stop().await;
}

#[actix_web::test]
async fn streamed_and_whole_answers_name_the_model_the_same_way_in_every_dialect() {
    // The rule: the model as the upstream reports it (a dated snapshot here), streamed or whole,
    // translated or passed through.
    let mock = MockUpstream::start().await;
    mock.always("k-chat", fx("text"));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let c = client();
    let served = "gpt-4.1-2025-04-14";
    for stream in [false, true] {
        let ask = json!({"model": "up-chat/m", "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "x"}]});
        let mut r = c
            .post(format!("{}/v1/messages", base(&app)))
            .insert_header(("x-api-key", "sk-og-ci-0001"))
            .send_json(&ask)
            .await
            .expect("send");
        let named = if stream {
            let text = text_body(&mut r).await;
            sse_data(&text).iter().find_map(|e| e["message"]["model"].as_str().map(str::to_string))
        } else {
            json_body(&mut r).await["model"].as_str().map(str::to_string)
        };
        assert_eq!(named.as_deref(), Some(served), "Anthropic client, stream={stream}");
        let mut r = c
            .post(format!("{}/v1/chat/completions", base(&app)))
            .bearer_auth("sk-og-ci-0001")
            .send_json(&ask)
            .await
            .expect("send");
        let named = if stream {
            let text = text_body(&mut r).await;
            let models: Vec<String> =
                sse_data(&text).iter().filter_map(|e| e["model"].as_str().map(str::to_string)).collect();
            assert!(models.iter().all(|m| m == served), "{models:?}");
            models.first().cloned()
        } else {
            json_body(&mut r).await["model"].as_str().map(str::to_string)
        };
        assert_eq!(named.as_deref(), Some(served), "Chat client (passthrough), stream={stream}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn message_start_carries_the_real_input_count_when_the_upstream_gives_it_before_content() {
    let mock = MockUpstream::start().await;
    mock.always("k-gem", fx("text"));
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .send_json(&json!({"model": "up-gem/m", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await
        .expect("send");
    let text = text_body(&mut r).await;
    let events = sse_data(&text);
    let start =
        events.iter().find(|e| e["type"] == "message_start").map(|e| e["message"]["usage"]["input_tokens"].clone());
    let end = events.iter().rev().find(|e| e["type"] == "message_delta").map(|e| e["usage"]["input_tokens"].clone());
    // The Gemini fixture's promptTokenCount, from its first chunk on.
    assert_eq!(start, Some(json!(51)), "{text}");
    assert_eq!(start, end, "message_start and the final usage agree");
    app.stop().await;
}

#[actix_web::test]
async fn codex_0171s_own_request_is_served_by_chat_and_anthropic_upstreams() {
    // Codex 0.171 sends a `namespace` of sub-agent tools and a hosted `web_search` beside its
    // function tools (fixture captured from the real CLI). Other providers get the functions.
    let mock = MockUpstream::start().await;
    mock.script("k-chat", vec![fx("text")]);
    mock.script("k-anth", vec![fx("text")]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let codex: Value =
        serde_json::from_str(&crate::mock::fixture("openai-responses", "request_codex_0171.json")).expect("fixture");
    for (model, key) in [("up-chat/m", "k-chat"), ("up-anth/m", "k-anth")] {
        let mut body = codex.clone();
        body["model"] = json!(model);
        let mut r = client()
            .post(format!("{}/v1/responses", base(&app)))
            .bearer_auth("sk-og-ci-0001")
            .send_json(&body)
            .await
            .expect("send");
        let text = text_body(&mut r).await;
        assert_eq!(r.status(), 200, "{model}: {text}");
        assert!(text.contains("response.completed"), "{model}: {text}");
        let sent =
            mock.requests().into_iter().rfind(|x| x.credential().as_deref() == Some(key)).expect("sent upstream");
        let names: Vec<String> = sent.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str().or_else(|| t["function"]["name"].as_str()).map(String::from))
            .collect();
        assert!(names.iter().any(|n| n == "exec_command"), "{model}: {names:?}");
        assert!(!names.iter().any(|n| n == "spawn_agent" || n == "multi_agent_v1"), "{model}: {names:?}");
    }
    app.stop().await;
}

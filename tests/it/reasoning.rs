//! Reasoning across dialects, through real HTTP and the strict mock: Gemini thought signatures and
//! other providers' opaque reasoning ride in the field each client replays unchanged, and go back
//! to — only — the provider that made them on the next turn.

use std::time::Duration;

use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply, fixture};
use crate::support::{TestEnv, json_body, post, sse_data, text_body};

const SIG: &str = "EpEgCo4gAb4+9vvWwdN+NkNiCCwrqvFI8uf9IiD2A47Bm4Sga0kUTm4e/QuEnsZnNuSXJaINVVvcoApg6YCzMYcXrBNlwWW71iY4l9+z60D5qPsZeG8VFWJoWwXFWLEUttS48hQHFUXYIqRvdnRl79EgQ4DxEQSS807Uvt2FRFp9tjuW2cIXeoKjqPHnKfHBDeJZ0VpapVOAqwX82BLCCmpB0Ppr=";

fn config(mock: &MockUpstream) -> String {
    let v1 = mock.base();
    let gem = format!("http://{}/v1beta", mock.addr);
    format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"
[[providers]]
id = "gem"
dialect = "gemini"
base_url = "{gem}"
models = ["gemini-3-pro-preview"]
[[accounts]]
provider = "gem"
name = "g"
api_key = "kg"
[[providers]]
id = "anth"
dialect = "anthropic"
base_url = "{v1}"
models = ["claude-sonnet-4-5"]
[[accounts]]
provider = "anth"
name = "a"
api_key = "ka"
[[providers]]
id = "dsk"
dialect = "openai-chat"
base_url = "{v1}"
models = ["deepseek-chat"]
[[accounts]]
provider = "dsk"
name = "d"
api_key = "kd"
"#
    )
}

fn gemini_tools() -> Reply {
    Reply::Json {
        status: 200,
        body: serde_json::from_str(&fixture("gemini", "response_tools.json")).unwrap(),
        retry_after: None,
    }
}

/// The signatures on the function calls of the last request the mock got.
fn sent_call_signatures(mock: &MockUpstream) -> Vec<Option<String>> {
    let body = mock.requests().pop().expect("a request").body;
    body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p.get("functionCall").is_some())
        .map(|p| p["thoughtSignature"].as_str().map(str::to_string))
        .collect()
}

const TOOLS_OAI: &str = r#"[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}},
                            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}}]"#;

#[actix_web::test]
async fn gemini_call_signatures_ride_through_openai_clients_and_come_back() {
    let mock = MockUpstream::start().await;
    mock.strict();
    mock.script("kg", vec![gemini_tools(), Reply::Fixture { kind: "text", delay: Duration::ZERO }]);
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let tools: Value = serde_json::from_str(TOOLS_OAI).unwrap();
    let ask = json!({"role": "user", "content": "weather in Paris and time in Tokyo?"});
    let mut r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "gem/gemini-3-pro-preview", "messages": [ask], "tools": tools}),
    )
    .await;
    let v = json_body(&mut r).await;
    let msg = v["choices"][0]["message"].clone();
    assert_eq!(msg["tool_calls"][0]["extra_content"]["google"]["thought_signature"], SIG, "{v}");
    assert!(msg["tool_calls"][1].get("extra_content").is_none());
    // The client replays the assistant message as it got it, plus the results.
    let results: Vec<Value> = msg["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"role": "tool", "tool_call_id": c["id"], "content": "ok"}))
        .collect();
    let mut messages = vec![ask, msg];
    messages.extend(results);
    let r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "gem/gemini-3-pro-preview", "messages": messages, "tools": tools}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sigs = sent_call_signatures(&mock);
    assert_eq!(sigs[0].as_deref(), Some(SIG), "the real signature went back");
    assert_eq!(sigs[1].as_deref(), Some("skip_thought_signature_validator"), "the unsigned one got the placeholder");
    app.stop().await;
}

#[actix_web::test]
async fn gemini_call_signatures_ride_through_anthropic_and_responses_clients_and_never_reach_anthropic() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}},
                       {"name": "get_time", "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}}}]);
    let ask = json!({"role": "user", "content": "weather in Paris and time in Tokyo?"});

    // Anthropic client, streamed: the signature rides in a thinking block's signature.
    mock.script("kg", vec![Reply::Fixture { kind: "tools", delay: Duration::ZERO }]);
    let body = json!({"model": "gem/gemini-3-pro-preview", "max_tokens": 500, "stream": true, "messages": [ask], "tools": tools});
    let text = text_body(&mut post(&app, "/v1/messages", body).await).await;
    let mut content: Vec<Value> = Vec::new();
    for d in sse_data(&text) {
        match d["type"].as_str() {
            Some("content_block_start") => content.push(d["content_block"].clone()),
            Some("content_block_delta") if d["delta"]["type"] == "signature_delta" => {
                if let Some(b) = content.last_mut() {
                    b["signature"] = d["delta"]["signature"].clone();
                }
            }
            Some("content_block_delta") if d["delta"]["type"] == "input_json_delta" => {
                if let Some(b) = content.last_mut() {
                    let so_far = b["partial"].as_str().unwrap_or_default().to_string();
                    b["partial"] =
                        json!(format!("{so_far}{}", d["delta"]["partial_json"].as_str().unwrap_or_default()));
                }
            }
            _ => {}
        }
    }
    let thinking: Vec<&Value> = content.iter().filter(|b| b["type"] == "thinking").collect();
    assert!(
        !thinking.is_empty() && thinking.iter().all(|b| b["signature"].as_str().is_some_and(|s| s.starts_with("og1:"))),
        "{text}"
    );
    // Replayed as Claude Code does (every block of the assistant turn), to Gemini: signature back.
    let assistant: Vec<Value> = content
        .iter()
        .map(|b| match b["type"].as_str() {
            Some("tool_use") => json!({"type": "tool_use", "id": b["id"], "name": b["name"],
                                        "input": serde_json::from_str::<Value>(b["partial"].as_str().unwrap_or("{}")).unwrap_or(json!({}))}),
            _ => json!({"type": "thinking", "thinking": "", "signature": b["signature"]}),
        })
        .collect();
    let results: Vec<Value> = content
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| json!({"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}))
        .collect();
    let history = json!([ask, {"role": "assistant", "content": assistant}, {"role": "user", "content": results}]);
    let body = json!({"model": "gem/gemini-3-pro-preview", "max_tokens": 500, "messages": history, "tools": tools});
    mock.script("kg", vec![Reply::Fixture { kind: "text", delay: Duration::ZERO }]);
    let mut r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status(), 200, "{}", json_body(&mut r).await);
    assert_eq!(sent_call_signatures(&mock)[0].as_deref(), Some(SIG));
    // The same history to Anthropic: the foreign thinking blocks are not sent (the strict mock
    // refuses any signature that is not Anthropic's).
    let body = json!({"model": "anth/claude-sonnet-4-5", "max_tokens": 500, "messages": history, "tools": tools});
    let mut r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status(), 200, "{}", json_body(&mut r).await);
    let sent = mock.requests().pop().unwrap().body;
    assert!(!sent.to_string().contains("og1:") && !sent.to_string().contains("\"thinking\""), "{sent}");

    // Responses client (Codex): a reasoning item with the marked signature before the call.
    mock.script("kg", vec![gemini_tools()]);
    let rtools = json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}},
                        {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}]);
    let mut r =
        post(&app, "/v1/responses", json!({"model": "gem/gemini-3-pro-preview", "input": "weather?", "tools": rtools}))
            .await;
    let v = json_body(&mut r).await;
    let output = v["output"].as_array().cloned().unwrap_or_default();
    assert_eq!(output[0]["type"], "reasoning", "{v}");
    assert!(output[0]["encrypted_content"].as_str().is_some_and(|s| s.starts_with("og1:gcall:")));
    // Codex replays items without their ids.
    let mut input = vec![json!({"role": "user", "content": "weather?"})];
    for it in &output {
        let mut it = it.clone();
        it.as_object_mut().map(|o| o.remove("id"));
        input.push(it);
    }
    for it in output.iter().filter(|i| i["type"] == "function_call") {
        input.push(json!({"type": "function_call_output", "call_id": it["call_id"], "output": "ok"}));
    }
    mock.script("kg", vec![Reply::Fixture { kind: "text", delay: Duration::ZERO }]);
    let r = post(&app, "/v1/responses", json!({"model": "gem/gemini-3-pro-preview", "input": input, "tools": rtools}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(sent_call_signatures(&mock)[0].as_deref(), Some(SIG));
    app.stop().await;
}

#[actix_web::test]
async fn anthropic_thinking_survives_a_responses_client_and_deepseek_reasoning_is_never_signed_empty() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let fx: Value = serde_json::from_str(&fixture("anthropic", "response_reasoning.json")).unwrap();
    let anth_sig =
        fx["content"].as_array().unwrap().iter().find(|b| b["type"] == "thinking").unwrap()["signature"].clone();
    mock.script("ka", vec![Reply::Json { status: 200, body: fx, retry_after: None }]);
    let mut r = post(&app, "/v1/responses", json!({"model": "anth/claude-sonnet-4-5", "input": "how many r?", "reasoning": {"effort": "medium", "summary": "auto"}})).await;
    let v = json_body(&mut r).await;
    let reasoning =
        v["output"].as_array().unwrap().iter().find(|i| i["type"] == "reasoning").cloned().expect("a reasoning item");
    assert!(reasoning["encrypted_content"].as_str().is_some_and(|s| s.starts_with("og1:anthropic:")), "{v}");
    let mut input = vec![json!({"role": "user", "content": "how many r?"})];
    input.extend(v["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"role": "user", "content": "and in raspberry?"}));
    let r = post(
        &app,
        "/v1/responses",
        json!({"model": "anth/claude-sonnet-4-5", "input": input, "reasoning": {"effort": "medium"}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = mock.requests().pop().unwrap().body;
    let back = sent["messages"].as_array().unwrap().iter().find(|m| m["role"] == "assistant").expect("assistant turn");
    assert_eq!(back["content"][0]["type"], "thinking");
    assert_eq!(back["content"][0]["signature"], anth_sig, "Anthropic's own signature, byte for byte");

    // Reasoning without any signature (DeepSeek's reasoning_content) reaches an Anthropic client
    // with a marked signature, never an empty one; replayed to Anthropic it is left out.
    mock.script("kd", vec![Reply::Fixture { kind: "reasoning", delay: Duration::ZERO }]);
    let mut r = post(
        &app,
        "/v1/messages",
        json!({"model": "dsk/deepseek-chat", "max_tokens": 200, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let v = json_body(&mut r).await;
    let thinking =
        v["content"].as_array().unwrap().iter().find(|b| b["type"] == "thinking").cloned().expect("thinking");
    assert_eq!(thinking["signature"], "og1:text:", "{v}");
    let history = json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": v["content"]}, {"role": "user", "content": "more"}]);
    let r = post(
        &app,
        "/v1/messages",
        json!({"model": "anth/claude-sonnet-4-5", "max_tokens": 2000, "messages": history,
                                              "thinking": {"type": "enabled", "budget_tokens": 1024}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = mock.requests().pop().unwrap().body;
    assert!(!sent.to_string().contains("og1:"), "{sent}");
    app.stop().await;
}

#[actix_web::test]
async fn thinking_stays_off_where_the_history_cannot_carry_it() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    // A tool loop whose assistant turn came from another provider (its reasoning is marked).
    let history = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "let me look", "signature": "og1:text:"},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]}
    ]);
    let body = json!({"model": "anth/claude-sonnet-4-5", "max_tokens": 4000, "messages": history, "tools": tools,
                      "thinking": {"type": "enabled", "budget_tokens": 2048}});
    let mut r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status(), 200, "{}", json_body(&mut r).await);
    let sent = mock.requests().pop().unwrap().body;
    assert!(sent.get("thinking").is_none() && !sent.to_string().contains("og1:"), "{sent}");

    // The same through translation (an OpenAI client asking for reasoning mid tool loop).
    let oai = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]);
    let otools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]);
    let r = post(
        &app,
        "/v1/chat/completions",
        json!({"model": "anth/claude-sonnet-4-5", "messages": oai, "tools": otools, "reasoning_effort": "high"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(mock.requests().pop().unwrap().body.get("thinking").is_none());
    // A fresh turn may think; an effort of minimal never does.
    let fresh = json!([{"role": "user", "content": "think"}]);
    post(
        &app,
        "/v1/chat/completions",
        json!({"model": "anth/claude-sonnet-4-5", "messages": fresh, "reasoning_effort": "high"}),
    )
    .await;
    assert_eq!(mock.requests().pop().unwrap().body["thinking"]["type"], "enabled");
    post(
        &app,
        "/v1/chat/completions",
        json!({"model": "anth/claude-sonnet-4-5", "messages": fresh, "reasoning_effort": "minimal"}),
    )
    .await;
    assert!(mock.requests().pop().unwrap().body.get("thinking").is_none());
    assert_eq!(mock.state.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}

#[actix_web::test]
async fn the_thinking_policy_of_a_model_and_the_request_header_decide_thinking() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let policy = "[[thinking]]\nmodels = [\"anth/*\"]\nmode = \"budget\"\nbudget = 3000\n\
                  [[thinking]]\nmodels = [\"gem/*\"]\nmode = \"off\"\n";
    let app = env.start(&format!("{}\n{policy}", config(&mock))).await;
    let ask = json!([{"role": "user", "content": "x"}]);
    // Configured budget, for a client that asked for none (translated and passed through).
    post(&app, "/v1/chat/completions", json!({"model": "anth/claude-sonnet-4-5", "messages": ask})).await;
    let sent = mock.requests().pop().unwrap().body;
    assert_eq!(
        (sent["thinking"]["budget_tokens"].as_u64(), sent["max_tokens"].as_u64().is_some_and(|m| m > 3000)),
        (Some(3000), true)
    );
    post(&app, "/v1/messages", json!({"model": "anth/claude-sonnet-4-5", "max_tokens": 100, "messages": ask})).await;
    let sent = mock.requests().pop().unwrap().body;
    assert_eq!((sent["thinking"]["budget_tokens"].as_u64(), sent["max_tokens"].as_u64()), (Some(3000), Some(7096)));
    // Configured off, for a client that asked for it.
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": 4000}}});
    crate::support::client()
        .post(format!("{}/v1beta/models/gem/gemini-3-pro-preview:generateContent", crate::support::base(&app)))
        .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
        .send_json(&body)
        .await
        .expect("send");
    assert!(mock.requests().pop().unwrap().body["generationConfig"].get("thinkingConfig").is_none());
    // The request header overrides the configuration.
    let r = crate::support::client()
        .post(format!("{}/v1/messages", crate::support::base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("x-omnigate-thinking", "off"))
        .send_json(&json!({"model": "anth/claude-sonnet-4-5", "max_tokens": 100, "messages": ask, "thinking": {"type": "enabled", "budget_tokens": 2000}}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let sent = mock.requests().pop().unwrap().body;
    assert!(sent.get("thinking").is_none(), "{sent}");
    assert_eq!(mock.state.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}

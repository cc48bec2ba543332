//! The client replay corpus (`tests/fixtures/clients/`): request sequences as Claude Code, Codex,
//! Cursor, Cline, gemini-cli, google-genai and DeepSeek/Kimi clients send them, each turn replayed
//! against every upstream dialect on the strict mock, which refuses what the real APIs refuse.

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::support::{TestEnv, base, client, text_body};

/// One target per upstream dialect, each a model with the strictest rules of its family.
const TARGETS: [(&str, &str); 4] = [
    ("to-chat", "deepseek-chat"),
    ("to-resp", "gpt-5"),
    ("to-anth", "claude-sonnet-4-5"),
    ("to-gem", "gemini-3-pro-preview"),
];

fn config(mock: &MockUpstream) -> String {
    let v1 = mock.base();
    let gem = format!("http://{}/v1beta", mock.addr);
    let mut s = String::from("[[keys]]\nname = \"ci\"\nkey = \"sk-og-ci-0001\"\n");
    for ((id, model), (dialect, url)) in
        TARGETS.iter().zip([("openai-chat", &v1), ("openai-responses", &v1), ("anthropic", &v1), ("gemini", &gem)])
    {
        s.push_str(&format!(
            "[[providers]]\nid = \"{id}\"\ndialect = \"{dialect}\"\nbase_url = \"{url}\"\nmodels = [\"{model}\"]\n\
             [[accounts]]\nprovider = \"{id}\"\nname = \"a\"\napi_key = \"k-{id}\"\n"
        ));
    }
    s
}

fn fixtures() -> Vec<(String, Value)> {
    let root = format!("{}/tests/fixtures/clients", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("corpus").flatten().filter(|d| d.path().is_dir()) {
        for f in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            let text = std::fs::read_to_string(f.path()).expect("read");
            let name = format!("{}/{}", dir.file_name().to_string_lossy(), f.file_name().to_string_lossy());
            out.push((name, serde_json::from_str(&text).expect("fixture JSON")));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The path the client posts to, aimed at `model` (Gemini names the model in the path).
fn path_for(fixture: &Value, model: &str) -> String {
    let path = fixture["path"].as_str().unwrap_or("/v1/chat/completions");
    if let Some((prefix, rest)) = path.split_once("/models/") {
        let method = rest.split_once(':').map(|(_, m)| m).unwrap_or("generateContent");
        return format!("{prefix}/models/{model}:{method}");
    }
    path.to_string()
}

#[actix_web::test]
async fn every_client_in_the_corpus_reaches_every_upstream_dialect_and_the_strict_mock_accepts_it() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let mut failures = Vec::new();
    let mut sent = 0usize;
    for (name, fx) in fixtures() {
        if fx["transport"] == "websocket" {
            continue; // Responses over WebSocket is its own surface.
        }
        for (provider, model) in TARGETS {
            let target = format!("{provider}/{model}");
            for (i, turn) in fx["turns"].as_array().into_iter().flatten().enumerate() {
                let mut body = turn.clone();
                if body.get("model").is_some() {
                    body["model"] = json!(target);
                }
                let mut req = client().post(format!("{}{}", base(&app), path_for(&fx, &target)));
                for (k, v) in fx["headers"].as_object().into_iter().flatten() {
                    if let Some(v) = v.as_str() {
                        req = req.insert_header((k.as_str(), v));
                    }
                }
                let refused_before = mock.state.refused.load(std::sync::atomic::Ordering::SeqCst);
                let mut r = req
                    .insert_header(("authorization", "Bearer sk-og-ci-0001"))
                    .insert_header(("x-goog-api-key", "sk-og-ci-0001"))
                    .send_json(&body)
                    .await
                    .expect("send");
                sent += 1;
                let status = r.status().as_u16();
                let text = text_body(&mut r).await;
                let refused = mock.state.refused.load(std::sync::atomic::Ordering::SeqCst) > refused_before;
                let broken = text.contains("\"type\":\"error\"") || text.contains("\"error\":{");
                if status != 200 || refused || broken {
                    let upstream = mock.requests().pop().map(|r| r.body.to_string()).unwrap_or_default();
                    let short: String = text.chars().take(400).collect();
                    let up: String = upstream.chars().take(600).collect();
                    failures.push(format!("{name} turn {i} -> {target}: {status} {short}\n    sent: {up}"));
                }
            }
        }
    }
    assert!(sent > 100, "the corpus was replayed ({sent} requests)");
    assert!(failures.is_empty(), "{} of {sent} replays failed:\n{}", failures.len(), failures.join("\n"));
    app.stop().await;
}

/// An Anthropic stream calling `local_shell`.
fn shell_stream() -> Vec<String> {
    let ev = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or_default());
    vec![
        ev(
            json!({"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant", "model": "m", "content": [], "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ),
        ev(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "local_shell", "input": {}}}),
        ),
        ev(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": [\"cargo\","}}),
        ),
        ev(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": " \"test\"], \"workdir\": \"/w\"}"}}),
        ),
        ev(json!({"type": "content_block_stop", "index": 0})),
        ev(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}})),
        ev(json!({"type": "message_stop"})),
    ]
}

#[actix_web::test]
async fn codex_custom_and_shell_tools_come_back_as_its_own_items_from_any_upstream() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let patch = "*** Begin Patch\n*** Update File: src/parser.rs\n@@\n-a\n+b\n*** End Patch\n";
    let tool_use = |name: &str, input: Value| {
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
               "content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": input}],
               "usage": {"input_tokens": 10, "output_tokens": 5}})
    };
    mock.script(
        "k-to-anth",
        vec![
            crate::mock::Reply::Json {
                status: 200,
                body: tool_use("apply_patch", json!({"input": patch})),
                retry_after: None,
            },
            crate::mock::Reply::Sse {
                frames: shell_stream(),
                first_delay: std::time::Duration::ZERO,
                delay: std::time::Duration::ZERO,
                drop_after: None,
            },
        ],
    );
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let tools = json!([
        {"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
        {"type": "local_shell"},
        {"type": "web_search"}
    ]);
    let ask = |text: &str| json!({"model": "to-anth/claude-sonnet-4-5", "input": text, "tools": tools, "store": false});
    let mut r = crate::support::post(&app, "/v1/responses", ask("fix it")).await;
    let v = crate::support::json_body(&mut r).await;
    let item = &v["output"][0];
    assert_eq!(
        (item["type"].as_str(), item["name"].as_str(), item["input"].as_str()),
        (Some("custom_tool_call"), Some("apply_patch"), Some(patch)),
        "{v}"
    );
    // What Anthropic was asked: functions standing for the tools, the grammar in the description,
    // no hosted web search.
    let sent = mock.requests().pop().unwrap().body;
    let names: Vec<&str> = sent["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, vec!["apply_patch", "local_shell"]);
    assert!(sent["tools"][0]["description"].as_str().is_some_and(|d| d.contains("begin_patch hunk+")));
    // Streamed: the shell call arrives whole as a local_shell_call item.
    let mut body = ask("run the tests");
    body["stream"] = json!(true);
    let text = text_body(&mut crate::support::post(&app, "/v1/responses", body).await).await;
    let done: Vec<Value> =
        crate::support::sse_data(&text).into_iter().filter(|d| d["type"] == "response.output_item.done").collect();
    let call = &done.last().expect("an item")["item"];
    assert_eq!(
        (call["type"].as_str(), call["action"]["command"].clone()),
        (Some("local_shell_call"), json!(["cargo", "test"])),
        "{text}"
    );
    // The next turn replays both as Codex does; Anthropic sees matching calls and results.
    let input = json!([
        {"role": "user", "content": "fix it"},
        v["output"][0],
        {"type": "custom_tool_call_output", "call_id": v["output"][0]["call_id"], "output": "Done!"},
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}
    ]);
    mock.always("k-to-anth", crate::mock::Reply::Fixture { kind: "text", delay: std::time::Duration::ZERO });
    let r = crate::support::post(
        &app,
        "/v1/responses",
        json!({"model": "to-anth/claude-sonnet-4-5", "input": input, "tools": tools}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = mock.requests().pop().unwrap().body;
    let uses = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_use")
        .count();
    assert_eq!(uses, 2, "{sent}");
    assert_eq!(mock.state.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}

#[actix_web::test]
async fn cursor_agent_mode_gets_a_chat_answer_to_a_responses_body() {
    let mock = MockUpstream::start().await;
    mock.strict();
    let env = TestEnv::new().await;
    let app = env.start(&config(&mock)).await;
    let fx: Value =
        serde_json::from_str(&crate::mock::fixture("clients/cursor", "agent_hybrid_responses_on_chat_path.json"))
            .unwrap();
    let mut body = fx["turns"][0].clone();
    body["model"] = json!("to-anth/claude-sonnet-4-5");
    body["stream"] = json!(false);
    let mut r = crate::support::post(&app, "/v1/chat/completions", body).await;
    let v = crate::support::json_body(&mut r).await;
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert!(v["choices"][0]["message"]["content"].as_str().is_some_and(|t| !t.is_empty()));
    let sent = mock.requests().pop().unwrap().body;
    assert!(sent["system"].as_str().is_some_and(|s| s.contains("coding agent running in Cursor")), "{sent}");
    app.stop().await;
}

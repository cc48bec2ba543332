//! Mid-stream failover (`resume = true`) through the real daemon and the mock: a stream that breaks
//! after text is continued by the combo's next target in the same client stream (OpenAI and
//! Anthropic clients, continuation asked with a "continue" turn or an assistant prefill), the
//! spliced text is complete and framed as one answer; a combo without `resume` ends the stream
//! with an error as before; a tool-call stream is not resumed; no target left ends it with an error.

use std::time::Duration;

use serde_json::{Value, json};

use crate::mock::{MockUpstream, Reply};
use crate::support::{TestEnv, base, client};

/// Two providers on one mock (`first` with account key `k1`, `second` with `k2`), and a combo
/// `coding` over them.
fn world(mock: &str, resume: bool, second_dialect: &str) -> String {
    format!(
        r#"
[[keys]]
name = "ci"
key = "sk-og-ci-0001"

[[providers]]
id = "first"
dialect = "openai-chat"
base_url = "{mock}"
models = ["m1"]

[[providers]]
id = "second"
dialect = "{second_dialect}"
base_url = "{mock}"
models = ["m2"]

[[accounts]]
provider = "first"
name = "one"
api_key = "k1"

[[accounts]]
provider = "second"
name = "two"
api_key = "k2"

[[combos]]
name = "coding"
strategy = "priority"
resume = {resume}
models = ["first/m1", "second/m2"]
"#
    )
}

/// The first upstream streams `words` and then drops the connection.
fn breaks_after(words: &[&str]) -> Reply {
    let frames = Reply::chat_frames(words, false);
    // The role chunk and the words; the connection drops before the finish chunk.
    let n = 1 + words.len();
    Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::from_millis(20), drop_after: Some(n) }
}

/// An OpenAI streaming request for the combo; the SSE text back.
async fn openai_stream(app: &omnigate::app::Running) -> (u16, String, String) {
    let body = json!({"model": "coding", "stream": true, "messages": [{"role": "user", "content": "Say hello"}]});
    let mut r = client()
        .post(format!("{}/v1/chat/completions", base(app)))
        .bearer_auth("sk-og-ci-0001")
        .send_json(&body)
        .await
        .expect("send");
    let account = crate::support::header(&r, "x-omnigate-account");
    let text = String::from_utf8_lossy(&r.body().limit(1 << 20).await.expect("body")).into_owned();
    (r.status().as_u16(), account, text)
}

/// The data payloads of an SSE text.
fn data(sse: &str) -> Vec<Value> {
    sse.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
}

/// The text of OpenAI chat chunks.
fn chat_text(sse: &str) -> String {
    data(sse).iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string)).collect()
}

#[actix_web::test]
async fn a_broken_stream_is_continued_by_the_next_target_in_the_same_client_stream() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    mock.script("k1", vec![breaks_after(&["Hello", " wor"])]);
    mock.script("k2", vec![Reply::Text("ld, and welcome.".into())]);
    let app = env.start(&world(&mock.base(), true, "openai-chat")).await;
    let (status, account, sse) = openai_stream(&app).await;
    assert_eq!((status, account.as_str()), (200, "one"));
    assert_eq!(chat_text(&sse), "Hello world, and welcome.", "the spliced answer is whole: {sse}");
    let chunks = data(&sse);
    assert!(chunks.iter().all(|c| c.get("error").is_none()), "no error reached the client: {sse}");
    let roles = chunks.iter().filter(|c| c["choices"][0]["delta"]["role"].is_string()).count();
    assert_eq!(roles, 1, "one answer, started once: {sse}");
    let finishes: Vec<&str> = chunks.iter().filter_map(|c| c["choices"][0]["finish_reason"].as_str()).collect();
    assert_eq!(finishes, vec!["stop"], "{sse}");
    assert_eq!(sse.matches("[DONE]").count(), 1);
    // The next target was asked to continue from the text the client already had.
    let asked = mock.requests().into_iter().find(|r| r.credential().as_deref() == Some("k2")).expect("k2 asked");
    let msgs = asked.body["messages"].as_array().cloned().unwrap_or_default();
    let n = msgs.len();
    assert!(n >= 3, "{msgs:?}");
    assert_eq!((msgs[n - 2]["role"].as_str(), msgs[n - 2]["content"].as_str()), (Some("assistant"), Some("Hello wor")));
    assert!(msgs[n - 1]["content"].as_str().unwrap_or_default().contains("Continue it exactly"), "{msgs:?}");
    // One usage row for the request, with both attempts in its trace.
    app.state.runtime.flush_usage().await;
    let detail = crate::support::admin_get(&app, &env, "/api/requests?limit=5").await;
    let row = detail["items"][0].clone();
    assert_eq!((row["status"].as_i64(), row["attempts"].as_i64()), (Some(200), Some(2)), "{detail}");
    app.stop().await;
}

#[actix_web::test]
async fn an_anthropic_client_gets_the_continuation_from_an_assistant_prefill() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    mock.script("k1", vec![breaks_after(&["The answer", " is 4"])]);
    let cont = [
        json!({"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant", "model": "m2", "content": [], "stop_reason": null, "usage": {"input_tokens": 20, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "2, of course."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ];
    let frames =
        cont.iter().map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or_default())).collect();
    mock.script(
        "k2",
        vec![Reply::Sse { frames, first_delay: Duration::ZERO, delay: Duration::ZERO, drop_after: None }],
    );
    let app = env.start(&world(&mock.base(), true, "anthropic")).await;
    let body = json!({"model": "coding", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "2+2?"}]});
    let mut r = client()
        .post(format!("{}/v1/messages", base(&app)))
        .insert_header(("x-api-key", "sk-og-ci-0001"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&body)
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let sse = String::from_utf8_lossy(&r.body().limit(1 << 20).await.expect("body")).into_owned();
    let events = data(&sse);
    let text: String = events.iter().filter_map(|e| e["delta"]["text"].as_str().map(str::to_string)).collect();
    assert_eq!(text, "The answer is 42, of course.", "{sse}");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "message_start").count(), 1, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"message_stop"), "{kinds:?}");
    assert!(!kinds.contains(&"error"), "{sse}");
    let stop = events.iter().find_map(|e| e["delta"]["stop_reason"].as_str());
    assert_eq!(stop, Some("end_turn"));
    // Anthropic continues its own turn: the partial answer is the last (assistant) message.
    let asked = mock.requests().into_iter().find(|r| r.credential().as_deref() == Some("k2")).expect("k2 asked");
    let last = asked.body["messages"].as_array().and_then(|m| m.last().cloned()).unwrap_or_default();
    assert_eq!(last["role"], "assistant", "{last}");
    assert!(last["content"].to_string().contains("The answer is 4\""), "the prefill, trailing space trimmed: {last}");
    app.stop().await;
}

#[actix_web::test]
async fn without_resume_or_with_nothing_to_continue_the_stream_ends_with_an_error() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    // Without `resume`, as before: the client gets what came and an error.
    mock.script("k1", vec![breaks_after(&["Hello", " wor"])]);
    let app = env.start(&world(&mock.base(), false, "openai-chat")).await;
    let (status, _, sse) = openai_stream(&app).await;
    assert_eq!((status, chat_text(&sse).as_str()), (200, "Hello wor"));
    assert!(data(&sse).iter().any(|c| c.get("error").is_some()), "{sse}");
    assert_eq!(mock.requests().iter().filter(|r| r.credential().as_deref() == Some("k2")).count(), 0);
    app.stop().await;

    // With `resume` but the next target failing too: the same clean error end, nothing lost.
    let mock = MockUpstream::start().await;
    mock.script("k1", vec![breaks_after(&["Hello", " wor"])]);
    let down = Reply::Json { status: 500, body: json!({"error": {"message": "down"}}), retry_after: None };
    mock.always("k2", down.clone());
    // The broken account is asked last, and fails as well.
    mock.always("k1", down);
    let app = env.start(&world(&mock.base(), true, "openai-chat")).await;
    let (status, _, sse) = openai_stream(&app).await;
    assert_eq!((status, chat_text(&sse).as_str()), (200, "Hello wor"), "{sse}");
    assert!(data(&sse).iter().any(|c| c.get("error").is_some()), "{sse}");
    assert_eq!(sse.matches("[DONE]").count(), 1, "{sse}");
    let asked = |k: &str| mock.requests().iter().filter(|r| r.credential().as_deref() == Some(k)).count();
    assert_eq!((asked("k1"), asked("k2")), (2, 1), "each target asked once to continue");
    app.stop().await;
}

#[actix_web::test]
async fn a_tool_call_stream_is_not_resumed() {
    let mock = MockUpstream::start().await;
    let env = TestEnv::new().await;
    let tool = |args: &str| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": args}}]}, "finish_reason": null}]})
        )
    };
    let frames = vec![tool("{\"a\":"), tool("1")];
    let delay = Duration::from_millis(20);
    mock.script("k1", vec![Reply::Sse { frames, first_delay: Duration::ZERO, delay, drop_after: Some(2) }]);
    let app = env.start(&world(&mock.base(), true, "openai-chat")).await;
    let (status, _, sse) = openai_stream(&app).await;
    assert_eq!(status, 200);
    assert!(data(&sse).iter().any(|c| c.get("error").is_some()), "{sse}");
    assert_eq!(mock.requests().iter().filter(|r| r.credential().as_deref() == Some("k2")).count(), 0, "not resumed");
    app.stop().await;
}

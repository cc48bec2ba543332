//! Stream shapes real upstreams send that a clean fixture does not: tool-call fragments without an
//! index or interleaved with text, Responses arguments that arrive only whole, tools without
//! arguments, `<think>` text cut by a bare `[DONE]`, a last event without its blank line, and
//! an event that never ends.

use actors::executor::{AdapterError, ResponseAdapter};
use omnigate::protocol::Dialect;
use omnigate::sse::SseParser;
use omnigate::translate::EncodeOptions;
use omnigate::translate::adapter::Translating;
use serde_json::{Value, json};

fn run(client: Dialect, upstream: Dialect, frames: &[String]) -> (String, Result<(), AdapterError>) {
    let opts = EncodeOptions {
        include_usage: false,
        gemini_sse: true,
        input_estimate: 3,
        upstream: None,
        after_tool_result: false,
    };
    let mut a = Translating::new(client, upstream, "m", opts);
    let mut out = Vec::new();
    let mut res = Ok(());
    for f in frames {
        res = a.push(f.as_bytes(), &mut out);
        if res.is_err() {
            break;
        }
    }
    if res.is_ok() {
        a.finish(None, &mut out);
    }
    (out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect(), res)
}

fn chunk(delta: Value) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    )
}

fn finish(reason: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    )
}

/// The tool calls of an Anthropic stream: (id, name, joined partial JSON).
fn anthropic_tools(text: &str) -> Vec<(String, String, String)> {
    let mut p = SseParser::new();
    let mut evs = Vec::new();
    p.push(text.as_bytes(), &mut evs);
    p.finish(&mut evs);
    let mut tools: Vec<(u64, String, String, String)> = Vec::new();
    for e in evs {
        let v: Value = serde_json::from_str(&e.data).unwrap_or_default();
        match v["type"].as_str() {
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => tools.push((
                v["index"].as_u64().unwrap_or(0),
                v["content_block"]["id"].as_str().unwrap_or_default().into(),
                v["content_block"]["name"].as_str().unwrap_or_default().into(),
                String::new(),
            )),
            Some("content_block_delta") if v["delta"]["type"] == "input_json_delta" => {
                if let Some(t) = tools.iter_mut().find(|t| Some(t.0) == v["index"].as_u64()) {
                    t.3.push_str(v["delta"]["partial_json"].as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    tools.into_iter().map(|(_, id, n, a)| (id, n, a)).collect()
}

#[test]
fn tool_fragments_are_routed_by_index_then_call_id_then_the_last_call() {
    // Interleaved by index, with text between; then a provider that sends no index at all (ids
    // on the first fragment only, continuation fragments bare).
    let frames = vec![
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]}),
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":"}}]})),
        chunk(json!({"content": "thinking aloud"})),
        chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"y\":2}"}}]})),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]})),
        finish("tool_calls"),
        "data: [DONE]\n\n".into(),
    ];
    let (text, _) = run(Dialect::Anthropic, Dialect::OpenaiChat, &frames);
    let tools = anthropic_tools(&text);
    let args: Vec<(&str, Value)> =
        tools.iter().map(|(_, n, a)| (n.as_str(), serde_json::from_str(a).unwrap_or(Value::Null))).collect();
    assert_eq!(args, vec![("f", json!({"x": 1})), ("g", json!({"y": 2}))], "{text}");

    let frames = vec![
        chunk(
            json!({"tool_calls": [{"id": "call_p", "type": "function", "function": {"name": "p", "arguments": "{\"a\""}}]}),
        ),
        chunk(json!({"tool_calls": [{"function": {"arguments": ":1}"}}]})),
        chunk(
            json!({"tool_calls": [{"id": "call_q", "type": "function", "function": {"name": "q", "arguments": "{\"b\":2"}}]}),
        ),
        chunk(json!({"tool_calls": [{"function": {"arguments": "}"}}]})),
        finish("tool_calls"),
    ];
    let (text, _) = run(Dialect::Anthropic, Dialect::OpenaiChat, &frames);
    let tools = anthropic_tools(&text);
    assert_eq!(tools.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), vec!["call_p", "call_q"]);
    assert_eq!(tools.iter().map(|t| t.2.as_str()).collect::<Vec<_>>(), vec!["{\"a\":1}", "{\"b\":2}"], "{text}");
}

#[test]
fn responses_arguments_sent_only_whole_still_arrive() {
    let ev = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or_default());
    let frames = vec![
        ev(json!({"type": "response.created", "response": {"id": "r", "model": "m", "output": []}})),
        ev(
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": ""}}),
        ),
        ev(
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 0, "arguments": "{\"q\":\"rust\"}"}),
        ),
        ev(
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"id": "fc_2", "type": "function_call", "call_id": "call_2", "name": "other", "arguments": ""}}),
        ),
        ev(
            json!({"type": "response.output_item.done", "output_index": 1, "item": {"id": "fc_2", "type": "function_call", "call_id": "call_2", "name": "other", "arguments": "{\"n\":5}"}}),
        ),
        ev(
            json!({"type": "response.completed", "response": {"id": "r", "status": "completed", "output": [], "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}}),
        ),
    ];
    let (text, _) = run(Dialect::OpenaiChat, Dialect::OpenaiResponses, &frames);
    let mut args = std::collections::BTreeMap::<u64, String>::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: Value = serde_json::from_str(line).unwrap_or_default();
        for c in v["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = c["index"].as_u64().unwrap_or(99);
            args.entry(i).or_default().push_str(c["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(args.get(&0).map(String::as_str), Some("{\"q\":\"rust\"}"), "{text}");
    assert_eq!(args.get(&1).map(String::as_str), Some("{\"n\":5}"), "{text}");
}

#[test]
fn a_tool_without_arguments_streams_an_empty_object_never_an_empty_string() {
    let frames = vec![
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_n", "type": "function", "function": {"name": "now", "arguments": ""}}]}),
        ),
        finish("tool_calls"),
        "data: [DONE]\n\n".into(),
    ];
    for client in [Dialect::OpenaiChat, Dialect::OpenaiResponses, Dialect::Anthropic] {
        let (text, _) = run(client, Dialect::OpenaiChat, &frames);
        let concatenated: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .or(v["delta"].as_str())
                    .or(v["delta"]["partial_json"].as_str())
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(concatenated, "{}", "{client:?}: {text}");
    }
}

#[test]
fn think_text_held_back_is_flushed_when_a_stream_ends_with_done_alone() {
    let frames = vec![chunk(json!({"content": "<think>plan</think>Answer is 4"})), "data: [DONE]\n\n".into()];
    let (text, _) = run(Dialect::Anthropic, Dialect::OpenaiChat, &frames);
    let joined: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(joined, "Answer is 4", "{text}");
    assert!(text.contains("\"thinking\":\"plan\""), "{text}");
}

#[test]
fn a_last_event_without_its_blank_line_is_delivered_whole() {
    let frames = vec![
        chunk(json!({"content": "first"})),
        format!(
            "data: {}",
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": " last"}, "finish_reason": "stop"}]})
        ),
    ];
    let (text, _) = run(Dialect::Anthropic, Dialect::OpenaiChat, &frames);
    assert!(text.contains("\"text\":\" last\"") && text.contains("end_turn"), "{text}");
}

#[test]
fn an_event_that_never_ends_is_a_broken_stream_not_memory_growth() {
    let mut frames = vec![chunk(json!({"content": "ok"})), "data: {\"choices\":[{\"delta\":{\"content\":\"".into()];
    frames.extend(std::iter::repeat_n("x".repeat(1024 * 1024), 17));
    let (_, res) = run(Dialect::Anthropic, Dialect::OpenaiChat, &frames);
    assert!(matches!(&res, Err(AdapterError::Malformed(m)) if m.contains("exceeds 16 MiB")), "{res:?}");
}

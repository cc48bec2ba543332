//! Translation against the golden fixtures (`tests/fixtures/<dialect>/`, recorded from the official
//! references): every dialect decodes its own fixtures to the values written in them, and every
//! pair of the 4 × 4 matrix carries text, tool calls, reasoning, stop reason and usage through a
//! stream and a whole body; requests carry system prompts, history, tools, results and images.

use actors::executor::{ResponseAdapter, StreamEnd};
use actors::outcome::OutcomeKind;
use omnigate::protocol::Dialect;
use omnigate::sse::{SseEvent, SseParser};
use omnigate::translate::adapter::{SsePassthrough, Translating};
use omnigate::translate::canonical::{Accumulator, Part, Request, Response, Role, Stop, ToolChoice};
use omnigate::translate::passthrough::ChatPassthrough;
use omnigate::translate::{EncodeOptions, decode_request, decode_response, decoder, encode_request};
use serde_json::{Value, json};

use crate::mock::{fixture, sse_events};

const ALL: [(&str, Dialect); 4] = [
    ("openai-chat", Dialect::OpenaiChat),
    ("openai-responses", Dialect::OpenaiResponses),
    ("anthropic", Dialect::Anthropic),
    ("gemini", Dialect::Gemini),
];

fn dir(d: Dialect) -> &'static str {
    ALL.iter().find(|(_, x)| *x == d).map(|(n, _)| *n).unwrap_or_default()
}

/// What must survive a translation.
#[derive(Debug, Clone, PartialEq)]
struct Essence {
    text: String,
    reasoning: bool,
    tools: Vec<(String, Value)>,
    stop: Stop,
    usage: Option<(u64, u64)>,
}

fn essence(parts: &[Part], stop: Stop, usage: Option<(u64, u64)>) -> Essence {
    let mut e = Essence { text: String::new(), reasoning: false, tools: vec![], stop, usage };
    for p in parts {
        match p {
            Part::Text(t) => e.text.push_str(t),
            Part::Reasoning { text, .. } => e.reasoning |= !text.is_empty(),
            Part::ToolCall { name, arguments, .. } => {
                e.tools.push((name.clone(), serde_json::from_str(arguments).unwrap_or(Value::Null)))
            }
            _ => {}
        }
    }
    if e.stop == Stop::StopSequence {
        e.stop = Stop::End;
    }
    e
}

fn of_response(r: &Response) -> Essence {
    let u = (!r.usage.is_empty()).then_some((r.usage.input, r.usage.output));
    essence(&r.parts, r.stop, u)
}

fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    p.push(text.as_bytes(), &mut out);
    p.finish(&mut out);
    out
}

/// Decodes a stream of `d` with our decoder; (essence, terminated).
fn of_stream(d: Dialect, text: &str) -> (Essence, bool) {
    let mut dec = decoder(d);
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    for ev in parse_sse(text) {
        dec.event(&ev, &mut events);
    }
    for e in &events {
        acc.apply(e);
    }
    let u = acc.usage.filter(|u| !u.is_empty()).map(|u| (u.input, u.output));
    (essence(&acc.parts, acc.stop.unwrap_or(Stop::End), u), dec.terminated())
}

/// The adapter the plan picks for a pair (same dialect: passthrough; else translation).
fn adapter(client: Dialect, upstream: Dialect) -> Box<dyn ResponseAdapter> {
    let opts = EncodeOptions {
        include_usage: true,
        gemini_sse: true,
        input_estimate: 7,
        upstream: None,
        after_tool_result: false,
    };
    match (client == upstream, client) {
        (true, Dialect::OpenaiChat) => Box::new(ChatPassthrough::new(false, 0)),
        (true, d) => Box::new(SsePassthrough::new(d, "client-model", opts)),
        (false, _) => Box::new(Translating::new(client, upstream, "client-model", opts)),
    }
}

fn run_stream(a: &mut dyn ResponseAdapter, frames: &[String], error: Option<&str>) -> String {
    let mut out = Vec::new();
    for f in frames {
        a.push(f.as_bytes(), &mut out).expect("push");
    }
    a.finish(error.map(|message| StreamEnd { kind: OutcomeKind::ProtocolError, message }), &mut out);
    out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
}

#[test]
fn each_dialect_decodes_its_own_fixtures_to_their_values() {
    for (name, d) in ALL {
        let text: Value = serde_json::from_str(&fixture(name, "response_text.json")).expect("json");
        let r = decode_response(d, &text).expect("decodes");
        let e = of_response(&r);
        assert!(e.text.starts_with("Paris has about 2.1 million inhabitants"), "{name}: {e:?}");
        assert_eq!(e.stop, Stop::End, "{name}");
        let (s, terminated) = of_stream(d, &fixture(name, "stream_text.sse"));
        assert!(terminated, "{name}: stream has its terminator");
        assert!(s.text.contains("Paris"), "{name}: {s:?}");

        let tools: Value = serde_json::from_str(&fixture(name, "response_tools.json")).expect("json");
        let e = of_response(&decode_response(d, &tools).expect("decodes"));
        let want = vec![
            ("get_weather".to_string(), json!({"location": "Paris", "unit": "celsius"})),
            ("get_time".to_string(), json!({"timezone": "Asia/Tokyo"})),
        ];
        assert_eq!(e.tools, want, "{name}");
        assert_eq!(e.stop, Stop::ToolUse, "{name}: tool use is reported (inferred for Gemini)");
        let (s, _) = of_stream(d, &fixture(name, "stream_tools.sse"));
        assert_eq!(s.tools, want, "{name}: streamed argument deltas reassembled by index");
        assert_eq!(s.stop, Stop::ToolUse, "{name}");

        let reasoning: Value = serde_json::from_str(&fixture(name, "response_reasoning.json")).expect("json");
        let e = of_response(&decode_response(d, &reasoning).expect("decodes"));
        assert!(e.reasoning && e.text.contains("strawberry"), "{name}: {e:?}");
        let (s, _) = of_stream(d, &fixture(name, "stream_reasoning.sse"));
        assert!(s.reasoning && s.text.contains("strawberry"), "{name}: {s:?}");
    }
}

#[test]
fn usage_is_canonical_with_cache_inside_input() {
    let cases = [
        // (dialect, file, input incl. cache, output, cache read, reasoning)
        ("openai-chat", "response_text.json", 1117, 14, 1024, 0),
        ("openai-responses", "response_text.json", 1117, 11, 1024, 0),
        ("anthropic", "response_text.json", 1045, 14, 1024, 0),
        ("anthropic", "response_tools.json", 587, 96, 0, 0),
        ("gemini", "response_text.json", 1117, 66, 1024, 56),
        ("gemini", "response_tools.json", 129, 119, 0, 88),
        ("openai-responses", "response_reasoning.json", 23, 346, 0, 320),
    ];
    for (name, file, input, output, read, reasoning) in cases {
        let d = ALL.iter().find(|(n, _)| *n == name).map(|(_, d)| *d).expect("dialect");
        let v: Value = serde_json::from_str(&fixture(name, file)).expect("json");
        let u = decode_response(d, &v).expect("decodes").usage;
        assert_eq!((u.input, u.output, u.cache_read, u.reasoning), (input, output, read, reasoning), "{name}/{file}");
        assert_eq!(u.total(), input + output);
    }
    let v: Value = serde_json::from_str(&fixture("anthropic", "response_tools.json")).expect("json");
    assert_eq!(decode_response(Dialect::Anthropic, &v).expect("d").usage.cache_write, 210);
}

#[test]
fn anthropic_thinking_signature_survives_byte_for_byte() {
    let v: Value = serde_json::from_str(&fixture("anthropic", "response_reasoning.json")).expect("json");
    let sig = v["content"][0]["signature"].as_str().expect("sig").to_string();
    let r = decode_response(Dialect::Anthropic, &v).expect("decodes");
    let out = omnigate::translate::encode_response(Dialect::Anthropic, &r);
    assert_eq!(out["content"][0]["signature"], json!(sig));
    // Streamed: the signature delta comes through unchanged to an Anthropic client.
    let frames = sse_events(&fixture("anthropic", "stream_reasoning.sse"));
    let mut a = adapter(Dialect::Anthropic, Dialect::Anthropic);
    let text = run_stream(a.as_mut(), &frames, None);
    let want = parse_sse(&fixture("anthropic", "stream_reasoning.sse"))
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find_map(|v| v["delta"]["signature"].as_str().map(str::to_string))
        .expect("signature in fixture");
    assert!(text.contains(&want), "signature kept");
}

#[test]
fn the_4x4_matrix_carries_text_tools_reasoning_and_usage() {
    for (up_name, upstream) in ALL {
        for (_, client) in ALL {
            for kind in ["text", "tools", "reasoning"] {
                // Whole bodies.
                let body = fixture(up_name, &format!("response_{kind}.json"));
                let want = of_response(
                    &decode_response(upstream, &serde_json::from_str(&body).expect("json")).expect("upstream decodes"),
                );
                let mut a = adapter(client, upstream);
                let out = a.complete(bytes::Bytes::from(body.clone())).expect("adapts");
                let got_v: Value = serde_json::from_slice(&out).expect("client body is JSON");
                let got = of_response(&decode_response(client, &got_v).expect("client decodes"));
                let ctx = format!("{up_name} -> {} ({kind}, whole)", dir(client));
                assert_eq!(got.text, want.text, "{ctx}");
                assert_eq!(got.tools, want.tools, "{ctx}");
                assert_eq!(got.reasoning, want.reasoning, "{ctx}: reasoning carried");
                assert_eq!(got.stop, want.stop, "{ctx}");
                if let (Some(g), Some(w)) = (got.usage, want.usage) {
                    assert_eq!(g, w, "{ctx}: usage");
                }

                // Streams, one upstream event per chunk.
                let frames = sse_events(&fixture(up_name, &format!("stream_{kind}.sse")));
                let (want, _) = of_stream(upstream, &fixture(up_name, &format!("stream_{kind}.sse")));
                let mut a = adapter(client, upstream);
                let text = run_stream(a.as_mut(), &frames, None);
                assert!(
                    a.has_content() && a.terminated(),
                    "{up_name} -> {client:?} ({kind}): content and terminator seen"
                );
                let (got, terminated) = of_stream(client, &text);
                let ctx = format!("{up_name} -> {} ({kind}, stream)", dir(client));
                assert!(terminated, "{ctx}: the client stream ends with its terminator:\n{text}");
                assert_eq!(got.text, want.text, "{ctx}");
                assert_eq!(got.tools, want.tools, "{ctx}");
                assert_eq!(got.reasoning, want.reasoning, "{ctx}");
                assert_eq!(got.stop, want.stop, "{ctx}");
                if let Some(w) = want.usage {
                    assert_eq!(got.usage, Some(w), "{ctx}: usage");
                }
                check_terminal(client, &text, &ctx);
            }
        }
    }
}

/// The dialect's own terminal events.
fn check_terminal(client: Dialect, text: &str, ctx: &str) {
    let events = parse_sse(text);
    let last = events.last().expect("events");
    match client {
        Dialect::OpenaiChat => assert_eq!(last.data, "[DONE]", "{ctx}"),
        Dialect::Anthropic => {
            assert_eq!(last.event.as_deref(), Some("message_stop"), "{ctx}");
            let delta =
                events.iter().rev().find(|e| e.event.as_deref() == Some("message_delta")).expect("message_delta");
            let v: Value = serde_json::from_str(&delta.data).expect("json");
            assert!(v["usage"]["output_tokens"].is_u64() && v["delta"]["stop_reason"].is_string(), "{ctx}: {v}");
        }
        Dialect::OpenaiResponses => {
            let v: Value = serde_json::from_str(&last.data).expect("json");
            assert!(
                matches!(v["type"].as_str(), Some("response.completed") | Some("response.incomplete")),
                "{ctx}: {v}"
            );
            let u = &v["response"]["usage"];
            for f in ["input_tokens", "output_tokens", "total_tokens"] {
                assert!(u[f].is_u64(), "{ctx}: usage.{f} in {u}");
            }
            assert!(!v["response"]["output"].as_array().is_none_or(Vec::is_empty), "{ctx}: accumulated output");
            let seqs: Vec<u64> = events
                .iter()
                .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok()?["sequence_number"].as_u64())
                .collect();
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{ctx}: sequence numbers count up");
        }
        Dialect::Gemini => {
            let v: Value = serde_json::from_str(&last.data).expect("json");
            assert!(v["candidates"][0]["finishReason"].is_string(), "{ctx}: {v}");
            assert!(v["usageMetadata"]["totalTokenCount"].is_u64(), "{ctx}");
        }
    }
}

#[test]
fn an_abrupt_upstream_end_gives_an_error_then_the_terminal_events() {
    for (up_name, upstream) in ALL {
        let frames = sse_events(&fixture(up_name, "stream_text.sse"));
        let cut = &frames[..frames.len() / 2];
        for (_, client) in ALL {
            let mut a = adapter(client, upstream);
            let text = run_stream(a.as_mut(), cut, Some("the upstream connection broke"));
            let ctx = format!("{up_name} -> {client:?} (cut)");
            let events = parse_sse(&text);
            let err_at = events
                .iter()
                .position(|e| e.data.contains("the upstream connection broke"))
                .unwrap_or_else(|| panic!("{ctx}: error event\n{text}"));
            // Each dialect ends a failed stream its own way, never with a normal stop reason.
            let stops = ["\"finish_reason\":\"stop\"", "end_turn", "\"STOP\"", "response.completed"];
            assert!(events[err_at..].iter().all(|e| stops.iter().all(|s| !e.data.contains(s))), "{ctx}: {text}");
            match client {
                Dialect::OpenaiChat => {
                    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"), "{ctx}");
                    let after: Vec<&str> = events[err_at + 1..].iter().map(|e| e.data.as_str()).collect();
                    assert!(
                        after.len() <= 2 && after[..after.len() - 1].iter().all(|d| d.contains("\"usage\"")),
                        "{ctx}: the error chunk, the usage chunk, [DONE]: {after:?}"
                    );
                }
                Dialect::Anthropic => {
                    assert_eq!(events.last().and_then(|e| e.event.as_deref()), Some("error"), "{ctx}")
                }
                Dialect::OpenaiResponses => {
                    let v: Value = serde_json::from_str(&events.last().expect("last").data).expect("json");
                    assert_eq!(v["type"], "response.failed", "{ctx}");
                    assert!(v["response"]["usage"]["total_tokens"].is_u64(), "{ctx}");
                }
                Dialect::Gemini => {
                    let v: Value = serde_json::from_str(&events.last().expect("last").data).expect("json");
                    assert_eq!(v["error"]["status"], "INTERNAL", "{ctx}: the error object ends the stream");
                }
            }
        }
    }
}

/// System, texts by role, tool names, tool calls, result count, tool choice.
type RequestEssence = (String, Vec<(Role, String)>, Vec<String>, Vec<(String, String)>, usize, Option<ToolChoice>);

fn request_essence(r: &Request) -> RequestEssence {
    let texts = r
        .messages
        .iter()
        .map(|m| (m.role, omnigate::translate::canonical::text_of(&m.parts)))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let calls = r
        .messages
        .iter()
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| match p {
            Part::ToolCall { name, arguments, .. } => {
                Some((name.clone(), serde_json::from_str::<Value>(arguments).unwrap_or_default().to_string()))
            }
            _ => None,
        })
        .collect();
    let results =
        r.messages.iter().flat_map(|m| m.parts.iter()).filter(|p| matches!(p, Part::ToolResult { .. })).count();
    (
        r.system.join("\n"),
        texts,
        r.tools.iter().map(|t| t.name.clone()).collect(),
        calls,
        results,
        r.tool_choice.clone(),
    )
}

#[test]
fn requests_carry_system_history_tools_results_and_images_across_dialects() {
    for (c_name, client) in ALL {
        for kind in ["text", "tools", "image", "reasoning"] {
            let body: Value = serde_json::from_str(&fixture(c_name, &format!("request_{kind}.json"))).expect("json");
            let req = decode_request(client, &body, false).unwrap_or_else(|e| panic!("{c_name}/{kind}: {e}"));
            let want = request_essence(&req);
            for (u_name, upstream) in ALL {
                let wire = encode_request(upstream, &req, "m", Some(8192));
                let back = decode_request(upstream, &wire, false)
                    .unwrap_or_else(|e| panic!("{c_name}/{kind} -> {u_name}: {e}\n{wire}"));
                let got = request_essence(&back);
                let ctx = format!("{c_name} -> {u_name} ({kind})");
                assert_eq!(got.0, want.0, "{ctx}: system prompt");
                assert_eq!(got.1, want.1, "{ctx}: message texts and roles");
                assert_eq!(got.2, want.2, "{ctx}: tools");
                assert_eq!(got.3, want.3, "{ctx}: tool calls");
                assert_eq!(got.4, want.4, "{ctx}: tool results");
                assert_eq!(got.5, want.5, "{ctx}: tool choice");
                let images = |r: &Request| {
                    r.messages.iter().flat_map(|m| m.parts.iter()).filter(|p| matches!(p, Part::Image { .. })).count()
                };
                assert_eq!(images(&back), images(&req), "{ctx}: images");
                if upstream == Dialect::Gemini {
                    let s = wire.to_string();
                    assert!(!s.contains("additionalProperties") && !s.contains("$schema"), "{ctx}: schema cleaned");
                    // Gemini's own call signatures go back with their calls (Gemini 3 refuses a
                    // replayed call without one); nobody else's history has any to give.
                    let signed = |v: &Value| {
                        v["contents"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
                            .filter(|p| p.get("functionCall").is_some() && p.get("thoughtSignature").is_some())
                            .count()
                    };
                    let expected = if client == Dialect::Gemini { signed(&body) } else { 0 };
                    assert_eq!(signed(&wire), expected, "{ctx}: signatures on function calls");
                }
            }
        }
    }
}

#[test]
fn error_tool_results_and_detail_survive_where_the_target_has_them() {
    let body: Value = serde_json::from_str(&fixture("anthropic", "request_tools.json")).expect("json");
    let req = decode_request(Dialect::Anthropic, &body, false).expect("decodes");
    let errored = |r: &Request| {
        r.messages
            .iter()
            .flat_map(|m| m.parts.iter())
            .filter(|p| matches!(p, Part::ToolResult { is_error: true, .. }))
            .count()
    };
    assert!(errored(&req) >= 1, "the fixture has an error result");
    for d in [Dialect::Anthropic, Dialect::Gemini] {
        let back = decode_request(d, &encode_request(d, &req, "m", None), false).expect("decodes");
        assert_eq!(errored(&back), errored(&req), "{d:?} keeps the error flag");
    }
    let openai = encode_request(Dialect::OpenaiChat, &req, "m", None);
    assert!(openai.to_string().contains("Error:"), "OpenAI has no flag: the text says so");

    let img: Value = serde_json::from_str(&fixture("openai-chat", "request_image.json")).expect("json");
    let req = decode_request(Dialect::OpenaiChat, &img, false).expect("decodes");
    let resp = encode_request(Dialect::OpenaiResponses, &req, "m", None);
    assert!(resp.to_string().contains("\"detail\""), "detail carried to Responses");
}

#[test]
fn images_and_documents_a_tool_returns_reach_every_upstream() {
    // A screenshot tool, as Claude Code's computer-use and browser tools answer.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let body = json!({"model": "x", "max_tokens": 100, "messages": [
        {"role": "user", "content": "look"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
            {"type": "text", "text": "captured"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
        ]}]}
    ]});
    let req = decode_request(Dialect::Anthropic, &body, false).expect("decodes");
    let media_in = |r: &Request| -> usize {
        r.messages
            .iter()
            .flat_map(|m| m.parts.iter())
            .map(|p| match p {
                Part::ToolResult { content, .. } => {
                    content.iter().filter(|c| matches!(c, Part::Image { .. } | Part::File { .. })).count()
                }
                Part::Image { .. } | Part::File { .. } => 1,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(media_in(&req), 2);
    for (_, d) in ALL {
        let wire = encode_request(d, &req, "m", None);
        let text = wire.to_string();
        assert!(text.contains(png), "{d:?}: the image reaches the upstream: {text}");
        assert!(text.contains("JVBERi0="), "{d:?}: the document reaches the upstream");
        assert!(text.contains("captured"), "{d:?}: the result's text too");
        let back = decode_request(d, &wire, false).expect("decodes");
        assert_eq!(media_in(&back), 2, "{d:?}: both survive a round trip");
    }
    // Chat tool messages are text only: the media follow in a user message, and the tool says so.
    let chat = encode_request(Dialect::OpenaiChat, &req, "m", None);
    let msgs = chat["messages"].as_array().expect("messages");
    let tool = msgs.iter().position(|m| m["role"] == "tool").expect("a tool message");
    assert!(msgs[tool]["content"].as_str().expect("text").contains("next user message"));
    assert_eq!(msgs[tool + 1]["role"], "user");
    assert_eq!(msgs[tool + 1]["content"][0]["type"], "image_url");
    // Responses carries them inside the function_call_output.
    let resp = encode_request(Dialect::OpenaiResponses, &req, "m", None);
    let out = resp["input"].as_array().expect("input").iter().find(|i| i["type"] == "function_call_output").cloned();
    let out = out.expect("an output");
    assert_eq!(out["output"][1]["type"], "input_image", "{out}");
    assert_eq!(out["output"][2]["type"], "input_file", "{out}");
}

#[test]
fn cache_control_markers_stay_on_anthropic_and_gemini_calls_carry_no_ids() {
    let body = json!({"model": "x", "max_tokens": 10,
    "system": [{"type": "text", "text": "long prefix", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "ok"}]}
    ]});
    let req = decode_request(Dialect::Anthropic, &body, false).expect("decodes");
    for d in [Dialect::OpenaiChat, Dialect::OpenaiResponses, Dialect::Gemini] {
        let wire = encode_request(d, &req, "m", None).to_string();
        assert!(!wire.contains("cache_control") && wire.contains("long prefix"), "{d:?}: {wire}");
    }
    let gem = encode_request(Dialect::Gemini, &req, "m", None);
    assert!(!gem.to_string().contains("toolu_9"), "Gemini matches results by name and order: {gem}");
    let back = decode_request(Dialect::Gemini, &gem, false).expect("decodes");
    let ids: Vec<&str> = back
        .messages
        .iter()
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| match p {
            Part::ToolCall { id, .. } => Some(id.as_str()),
            Part::ToolResult { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the call and its result are paired again");
}

#[test]
fn max_tokens_is_clamped_to_the_model_limit() {
    let body = json!({"model": "x", "max_tokens": 500_000, "messages": [{"role": "user", "content": "hi"}]});
    let req = decode_request(Dialect::OpenaiChat, &body, false).expect("decodes");
    assert_eq!(encode_request(Dialect::Anthropic, &req, "m", Some(64_000))["max_tokens"], 64_000);
    assert_eq!(encode_request(Dialect::Gemini, &req, "m", Some(65_536))["generationConfig"]["maxOutputTokens"], 65_536);
    assert_eq!(encode_request(Dialect::OpenaiResponses, &req, "m", Some(1000))["max_output_tokens"], 1000);
    // Anthropic requires max_tokens: one is supplied when the client gave none.
    let body = json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]});
    let req = decode_request(Dialect::OpenaiChat, &body, false).expect("decodes");
    assert!(encode_request(Dialect::Anthropic, &req, "m", None)["max_tokens"].is_u64());
}

#[test]
fn a_chunk_with_reasoning_and_content_becomes_two_events_and_think_tags_split() {
    let frame = "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\",\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
    let mut a = Translating::new(Dialect::OpenaiChat, Dialect::OpenaiChat, "m", EncodeOptions::default());
    let out = run_stream(&mut a, &[frame.to_string()], None);
    let chunks: Vec<Value> = parse_sse(&out).iter().filter_map(|e| serde_json::from_str(&e.data).ok()).collect();
    let with_both = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["reasoning_content"].is_string() && c["choices"][0]["delta"]["content"].is_string()
        })
        .count();
    assert_eq!(with_both, 0, "never both in one chunk: {out}");
    assert!(chunks.iter().any(|c| c["choices"][0]["delta"]["reasoning_content"] == "hmm"));

    let frames = [
        "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<thi\"}}]}\n\n".to_string(),
        "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"nk>plan</think>Answer\"}}]}\n\n".to_string(),
        "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".to_string(),
    ];
    let mut a = Translating::new(Dialect::Anthropic, Dialect::OpenaiChat, "m", EncodeOptions::default());
    let out = run_stream(&mut a, &frames, None);
    let (e, _) = of_stream(Dialect::Anthropic, &out);
    assert_eq!((e.text.as_str(), e.reasoning), ("Answer", true), "{out}");
}

#[test]
fn null_and_empty_parts_never_crash_and_never_reach_providers() {
    let body = json!({"model": "x", "messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}, null, {"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": null},
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "again"}]}
    ]});
    let req = decode_request(Dialect::OpenaiChat, &body, false).expect("decodes");
    for (name, d) in ALL {
        let wire = encode_request(d, &req, "m", Some(1000)).to_string();
        assert!(!wire.contains("\"text\":\"\"") && !wire.contains("null,"), "{name}: {wire}");
    }
    // A stream chunk with null content and an empty delta does not break decoding.
    let frame = "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"tool_calls\":null}}]}\n\n";
    let mut a = Translating::new(
        Dialect::Gemini,
        Dialect::OpenaiChat,
        "m",
        EncodeOptions { gemini_sse: true, ..Default::default() },
    );
    let out = run_stream(&mut a, &[frame.to_string()], None);
    assert!(out.contains("finishReason"), "{out}");
}

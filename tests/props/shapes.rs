//! Generators of arbitrary JSON and of valid-shaped wire values per dialect: stream events in a
//! plausible order (cut anywhere), request bodies and response bodies, with random text, ids,
//! numbers and optional fields. Shapes follow the official references named in
//! `tests/fixtures/README.md`.

use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, nested up to `depth`.
pub fn json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Finite numbers only (JSON has no NaN or infinity), generated so rather than filtered.
        (prop::num::f64::POSITIVE
            | prop::num::f64::NEGATIVE
            | prop::num::f64::NORMAL
            | prop::num::f64::SUBNORMAL
            | prop::num::f64::ZERO)
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Short text with the characters that break naive framing: quotes, newlines, `data:`, `[DONE]`.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        1 => Just("[DONE]".to_string()),
        1 => Just("data: x\n\nevent: y".to_string()),
        1 => Just("\"}]\\".to_string()),
        1 => Just("<think>a</think>b".to_string()),
        1 => Just(String::new()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("type".to_string()),
        Just("choices".to_string()),
        Just("delta".to_string()),
        Just("candidates".to_string()),
        Just("content".to_string()),
        Just("usage".to_string()),
        Just("index".to_string()),
        "[a-z_]{1,10}",
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_]{1,12}", Just("call:0|weird id".to_string()), Just(String::new())]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,10}", Just("get_weather".to_string())]
}

fn small() -> impl Strategy<Value = u64> {
    0u64..5000
}

/// A (name, data) SSE event whose data has no CR (the parser's line ends) and is not empty (an
/// event needs a data line). Built valid rather than filtered: a filter's rejects abort a long run.
pub fn sse_event() -> impl Strategy<Value = (Option<String>, String)> {
    (prop::option::of("[a-z_.]{1,20}"), "[^\r]{1,40}")
}

/// An arbitrary event: valid-shaped frames of any dialect, arbitrary JSON, or garbage text.
pub fn any_event() -> impl Strategy<Value = (Option<String>, String)> {
    prop_oneof![
        3 => stream_frames().prop_flat_map(|f| {
            let all: Vec<String> = f.into_iter().flatten().collect();
            let n = all.len().max(1);
            (Just(all), 0..n)
        }).prop_map(|(all, i)| {
            let frame = all.get(i).cloned().unwrap_or_default();
            let name = frame.lines().find_map(|l| l.strip_prefix("event: ")).map(str::to_string);
            let data = frame.lines().filter_map(|l| l.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
            (name, data)
        }),
        2 => (prop::option::of("[a-z_.]{1,24}"), json(3)).prop_map(|(n, v)| (n, v.to_string())),
        1 => (prop::option::of("[a-z_.]{1,24}"), "\\PC{0,30}"),
    ]
}

fn usage_openai() -> impl Strategy<Value = Value> {
    (small(), small(), prop::option::of(small())).prop_map(|(p, c, cached)| {
        let mut u = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
        if let Some(k) = cached {
            u["prompt_tokens_details"] = json!({"cached_tokens": k.min(p)});
        }
        u
    })
}

fn openai_frames() -> impl Strategy<Value = Vec<String>> {
    let delta = prop_oneof![
        text().prop_map(|t| json!({"content": t})),
        text().prop_map(|t| json!({"reasoning_content": t})),
        (0u64..3, prop::option::of(id()), prop::option::of(name()), prop::option::of(text())).prop_map(
            |(i, id, n, a)| {
                let mut f = json!({});
                if let Some(n) = n {
                    f["name"] = json!(n);
                }
                if let Some(a) = a {
                    f["arguments"] = json!(a);
                }
                let mut call = json!({"index": i, "type": "function", "function": f});
                if let Some(id) = id {
                    call["id"] = json!(id);
                }
                json!({"tool_calls": [call]})
            }
        ),
        Just(json!({"role": "assistant"})),
    ];
    let finish = prop_oneof![Just("stop"), Just("length"), Just("tool_calls"), Just("content_filter")];
    (prop::collection::vec(delta, 0..8), finish, prop::option::of(usage_openai()), any::<bool>()).prop_map(
        |(deltas, fr, usage, error)| {
            let chunk = |delta: Value, fr: Option<&str>| {
                json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": fr}]})
            };
            let mut f: Vec<String> = deltas.into_iter().map(|d| format!("data: {}\n\n", chunk(d, None))).collect();
            if error {
                f.push(format!("data: {}\n\n", json!({"error": {"message": "overloaded", "type": "server_error"}})));
            }
            f.push(format!("data: {}\n\n", chunk(json!({}), Some(fr))));
            if let Some(u) = usage {
                f.push(format!(
                    "data: {}\n\n",
                    json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": u})
                ));
            }
            f.push("data: [DONE]\n\n".into());
            f
        },
    )
}

fn named(name: &str, v: Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

fn anthropic_frames() -> impl Strategy<Value = Vec<String>> {
    let block = prop_oneof![
        prop::collection::vec(text(), 0..4).prop_map(|ts| (
            json!({"type": "text", "text": ""}),
            ts.into_iter().map(|t| json!({"type": "text_delta", "text": t})).collect::<Vec<_>>()
        )),
        (id(), name(), prop::collection::vec(text(), 0..4)).prop_map(|(id, n, parts)| (
            json!({"type": "tool_use", "id": id, "name": n, "input": {}}),
            parts.into_iter().map(|p| json!({"type": "input_json_delta", "partial_json": p})).collect()
        )),
        (prop::collection::vec(text(), 0..3), "[A-Za-z0-9+/]{0,16}").prop_map(|(ts, sig)| {
            let mut d: Vec<Value> = ts.into_iter().map(|t| json!({"type": "thinking_delta", "thinking": t})).collect();
            d.push(json!({"type": "signature_delta", "signature": sig}));
            (json!({"type": "thinking", "thinking": "", "signature": ""}), d)
        }),
    ];
    let stop = prop_oneof![Just("end_turn"), Just("max_tokens"), Just("tool_use"), Just("stop_sequence")];
    (prop::collection::vec(block, 0..4), stop, small(), small(), any::<bool>(), any::<bool>()).prop_map(
        |(blocks, stop, input, output, ping, error)| {
            let mut f = vec![named(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                       "model": "m", "content": [], "stop_reason": null, "stop_sequence": null,
                       "usage": {"input_tokens": input, "output_tokens": 1, "cache_read_input_tokens": input / 2}}}),
            )];
            if ping {
                f.push(named("ping", json!({"type": "ping"})));
            }
            for (i, (start, deltas)) in blocks.into_iter().enumerate() {
                f.push(named("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": start})));
                for d in deltas {
                    f.push(named("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": d})));
                }
                f.push(named("content_block_stop", json!({"type": "content_block_stop", "index": i})));
            }
            if error {
                f.push(named("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})));
            }
            f.push(named(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}}),
            ));
            f.push(named("message_stop", json!({"type": "message_stop"})));
            f
        },
    )
}

fn responses_frames() -> impl Strategy<Value = Vec<String>> {
    let item = prop_oneof![
        prop::collection::vec(text(), 0..4).prop_map(|ts| (0u8, String::new(), String::new(), ts)),
        (id(), name(), prop::collection::vec(text(), 0..4)).prop_map(|(id, n, a)| (1u8, id, n, a)),
        prop::collection::vec(text(), 0..3).prop_map(|ts| (2u8, String::new(), String::new(), ts)),
    ];
    let status = prop_oneof![Just("completed"), Just("incomplete"), Just("failed")];
    (prop::collection::vec(item, 0..4), status, small(), small()).prop_map(|(items, status, input, output)| {
        let ev = |v: Value| {
            let name = v["type"].as_str().unwrap_or("x").to_string();
            named(&name, v)
        };
        let mut f = vec![ev(json!({"type": "response.created", "response": {"id": "resp_1", "model": "m", "status": "in_progress", "output": []}}))];
        for (oi, (kind, call_id, n, deltas)) in items.into_iter().enumerate() {
            let item_id = format!("it_{oi}");
            match kind {
                0 => {
                    f.push(ev(json!({"type": "response.output_item.added", "output_index": oi, "item": {"id": item_id, "type": "message", "role": "assistant", "content": []}})));
                    for d in deltas {
                        f.push(ev(json!({"type": "response.output_text.delta", "item_id": item_id, "output_index": oi, "content_index": 0, "delta": d})));
                    }
                }
                1 => {
                    f.push(ev(json!({"type": "response.output_item.added", "output_index": oi, "item": {"id": item_id, "type": "function_call", "call_id": call_id, "name": n, "arguments": ""}})));
                    for d in &deltas {
                        f.push(ev(json!({"type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": oi, "delta": d})));
                    }
                    f.push(ev(json!({"type": "response.function_call_arguments.done", "item_id": item_id, "output_index": oi, "arguments": deltas.concat()})));
                }
                _ => {
                    f.push(ev(json!({"type": "response.output_item.added", "output_index": oi, "item": {"id": item_id, "type": "reasoning", "summary": []}})));
                    for d in deltas {
                        f.push(ev(json!({"type": "response.reasoning_summary_text.delta", "item_id": item_id, "output_index": oi, "summary_index": 0, "delta": d})));
                    }
                    f.push(ev(json!({"type": "response.output_item.done", "output_index": oi, "item": {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": "gAAA"}})));
                }
            }
        }
        let kind = format!("response.{status}");
        f.push(ev(json!({"type": kind, "response": {"id": "resp_1", "model": "m", "status": status, "output": [],
            "usage": {"input_tokens": input, "output_tokens": output, "total_tokens": input + output}}})));
        f
    })
}

fn gemini_frames() -> impl Strategy<Value = Vec<String>> {
    let part = prop_oneof![
        text().prop_map(|t| json!({"text": t})),
        text().prop_map(|t| json!({"text": t, "thought": true})),
        (name(), json(2), prop::option::of("[A-Za-z0-9+/=]{4,16}")).prop_map(|(n, a, sig)| {
            let args = if a.is_object() { a } else { json!({"value": a}) };
            let mut p = json!({"functionCall": {"name": n, "args": args}});
            if let Some(s) = sig {
                p["thoughtSignature"] = json!(s);
            }
            p
        }),
    ];
    let finish = prop_oneof![Just("STOP"), Just("MAX_TOKENS"), Just("SAFETY"), Just("MALFORMED_FUNCTION_CALL")];
    (prop::collection::vec(prop::collection::vec(part, 1..3), 0..5), finish, small(), small()).prop_map(
        |(chunks, fr, input, output)| {
            let mut f: Vec<String> = chunks
                .into_iter()
                .map(|parts| {
                    format!("data: {}\n\n", json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}], "modelVersion": "m"}))
                })
                .collect();
            f.push(format!(
                "data: {}\n\n",
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": fr, "index": 0}],
                       "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input + output}})
            ));
            f
        },
    )
}

/// One valid-shaped stream per dialect (indexed like `DIALECTS`), each possibly cut short.
pub fn stream_frames() -> impl Strategy<Value = [Vec<String>; 4]> {
    (openai_frames(), responses_frames(), anthropic_frames(), gemini_frames(), any::<u8>()).prop_map(
        |(mut a, mut b, mut c, mut d, cut)| {
            if cut < 64 {
                // An abrupt end: the stream stops after any frame.
                for f in [&mut a, &mut b, &mut c, &mut d] {
                    let keep = usize::from(cut) % (f.len() + 1);
                    f.truncate(keep);
                }
            }
            [a, b, c, d]
        },
    )
}

fn schema() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})),
        Just(json!({"type": "object", "properties": {"n": {"type": ["integer", "null"]}, "tags": {"type": "array"}}})),
        Just(json!({"type": "OBJECT", "properties": {"q": {"type": "STRING", "nullable": true}}})),
        Just(
            json!({"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "additionalProperties": false})
        ),
        Just(json!({})),
    ]
}

/// One valid-shaped request per dialect (indexed like `DIALECTS`).
pub fn requests() -> impl Strategy<Value = [Value; 4]> {
    (
        prop::collection::vec(text(), 1..4),
        (id(), name(), text(), schema()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (prop::option::of(1u32..100_000), prop::option::of(0.0f64..2.0)),
    )
        .prop_map(|(texts, (call_id, tool, args, schema), (with_tools, with_image, with_reasoning), (max, temp))| {
            let user = texts[0].clone();
            let later = texts.last().cloned().unwrap_or_default();
            let img = "iVBORw0KGgo=";
            let mut chat_user = json!([{"type": "text", "text": user}]);
            if with_image && let Some(a) = chat_user.as_array_mut() {
                a.push(json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{img}")}}));
            }
            let mut chat = json!({"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": chat_user}]});
            let mut anthropic = json!({"model": "m", "max_tokens": max.unwrap_or(1024), "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}]});
            let mut responses = json!({"model": "m", "instructions": "be brief", "input": [{"role": "user", "content": [{"type": "input_text", "text": user}]}]});
            let mut gemini = json!({"systemInstruction": {"parts": [{"text": "be brief"}]}, "contents": [{"role": "user", "parts": [{"text": user}]}]});
            if with_image {
                if let Some(a) = anthropic["messages"][0]["content"].as_array_mut() { a.push(json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": img}})); }
                if let Some(a) = responses["input"][0]["content"].as_array_mut() { a.push(json!({"type": "input_image", "image_url": format!("data:image/png;base64,{img}")})); }
                if let Some(a) = gemini["contents"][0]["parts"].as_array_mut() { a.push(json!({"inlineData": {"mimeType": "image/png", "data": img}})); }
            }
            if with_tools {
                chat["tools"] = json!([{"type": "function", "function": {"name": tool, "parameters": schema}}]);
                if let Some(m) = chat["messages"].as_array_mut() {
                    m.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": args}}]}));
                    m.push(json!({"role": "tool", "tool_call_id": call_id, "content": later}));
                }
                anthropic["tools"] = json!([{"name": tool, "input_schema": schema}]);
                if let Some(m) = anthropic["messages"].as_array_mut() {
                    let mut blocks = vec![];
                    if with_reasoning {
                        blocks.push(json!({"type": "thinking", "thinking": "hmm", "signature": "c2ln"}));
                    }
                    blocks.push(json!({"type": "tool_use", "id": call_id, "name": tool, "input": {"a": args}}));
                    m.push(json!({"role": "assistant", "content": blocks}));
                    m.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": later, "is_error": with_image}]}));
                }
                responses["tools"] = json!([{"type": "function", "name": tool, "parameters": schema}]);
                if let Some(m) = responses["input"].as_array_mut() {
                    if with_reasoning {
                        m.push(json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}], "encrypted_content": "gAAA"}));
                    }
                    m.push(json!({"type": "function_call", "call_id": call_id, "name": tool, "arguments": args}));
                    m.push(json!({"type": "function_call_output", "call_id": call_id, "output": later}));
                }
                gemini["tools"] = json!([{"functionDeclarations": [{"name": tool, "parameters": schema}]}]);
                if let Some(m) = gemini["contents"].as_array_mut() {
                    m.push(json!({"role": "model", "parts": [{"functionCall": {"name": tool, "args": {"a": args}}, "thoughtSignature": "c2ln"}]}));
                    m.push(json!({"role": "user", "parts": [{"functionResponse": {"name": tool, "response": {"result": later}}}]}));
                }
            }
            if let Some(n) = max {
                chat["max_tokens"] = json!(n);
                responses["max_output_tokens"] = json!(n);
                gemini["generationConfig"] = json!({"maxOutputTokens": n});
            }
            if let Some(t) = temp {
                chat["temperature"] = json!(t);
                anthropic["temperature"] = json!(t);
            }
            if with_reasoning {
                chat["reasoning_effort"] = json!("high");
                responses["reasoning"] = json!({"effort": "medium", "summary": "auto"});
                gemini["generationConfig"]["thinkingConfig"] = json!({"thinkingBudget": 2048, "includeThoughts": true});
            }
            [chat, responses, anthropic, gemini]
        })
}

/// One valid-shaped non-streamed response per dialect (indexed like `DIALECTS`).
pub fn responses() -> impl Strategy<Value = [Value; 4]> {
    (text(), prop::option::of((id(), name(), text())), prop::option::of(text()), small(), small()).prop_map(
        |(t, call, reasoning, input, output)| {
            let mut chat_msg = json!({"role": "assistant", "content": t});
            let mut anth = vec![];
            let mut resp = vec![];
            let mut gem = vec![];
            if let Some(r) = &reasoning {
                chat_msg["reasoning_content"] = json!(r);
                anth.push(json!({"type": "thinking", "thinking": r, "signature": "c2ln"}));
                resp.push(json!({"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": r}]}));
                gem.push(json!({"text": r, "thought": true}));
            }
            anth.push(json!({"type": "text", "text": t}));
            resp.push(json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": t, "annotations": []}]}));
            gem.push(json!({"text": t}));
            if let Some((cid, n, args)) = &call {
                chat_msg["tool_calls"] = json!([{"id": cid, "type": "function", "function": {"name": n, "arguments": args}}]);
                anth.push(json!({"type": "tool_use", "id": cid, "name": n, "input": {"a": args}}));
                resp.push(json!({"type": "function_call", "id": "fc_1", "call_id": cid, "name": n, "arguments": args}));
                gem.push(json!({"functionCall": {"name": n, "args": {"a": args}}}));
            }
            let chat = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": chat_msg, "finish_reason": if call.is_some() { "tool_calls" } else { "stop" }}],
                "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}});
            let anthropic = json!({"id": "msg", "type": "message", "role": "assistant", "model": "m", "content": anth,
                "stop_reason": if call.is_some() { "tool_use" } else { "end_turn" }, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": output}});
            let responses = json!({"id": "resp", "object": "response", "status": "completed", "model": "m", "output": resp,
                "usage": {"input_tokens": input, "output_tokens": output, "total_tokens": input + output}});
            let gemini = json!({"candidates": [{"content": {"role": "model", "parts": gem}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input + output}, "modelVersion": "m"});
            [chat, responses, anthropic, gemini]
        },
    )
}

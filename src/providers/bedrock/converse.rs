//! OpenAI Chat ↔ Bedrock Converse, as plain JSON: the request the hub encoded for an openai-chat
//! upstream becomes a Converse request; a Converse answer, whole or one stream event at a time,
//! becomes the Chat body or chunks the dialect's own adapter reads. No I/O, no framing (that is
//! `eventstream`), no signing.
//!
//! Shapes from the Bedrock Runtime API reference (`Converse`, `ConverseStream`, `Message`,
//! `ContentBlock`, `ToolConfiguration`, `ContentBlockDeltaEvent`, `ConverseStreamMetadataEvent`,
//! `TokenUsage`); recorded in tests/fixtures/bedrock with their sources.

use actors::usage::TokenUsage;
use serde_json::{Map, Value, json};

use crate::translate::canonical::new_id;

/// The thinking budget a `reasoning_effort` asks of a Claude model on Bedrock.
fn budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

/// Whether `model` is an Anthropic Claude model (a base id or a cross-region inference profile
/// such as `us.anthropic.claude-…`, or an ARN naming one).
pub fn is_claude(model: &str) -> bool {
    model.contains("anthropic.claude")
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// A `data:` image URL → a Converse image block. Converse takes no remote URLs.
fn image_block(url: &str) -> Result<Value, String> {
    let rest = url
        .strip_prefix("data:")
        .ok_or_else(|| "Bedrock takes images inline only: send them as data: URLs (base64), not links".to_string())?;
    let (meta, data) = rest.split_once(',').ok_or("a data: URL without data")?;
    let mime = meta.split(';').next().unwrap_or_default();
    let format = match mime {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => return Err(format!("Bedrock does not take `{other}` images (png, jpeg, gif, webp)")),
    };
    if !meta.ends_with(";base64") {
        return Err("a data: URL image must be base64".into());
    }
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

fn user_blocks(content: &Value) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    match content {
        Value::String(s) if !s.is_empty() => out.push(json!({"text": s})),
        Value::Array(parts) => {
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = p.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push(json!({"text": t}));
                        }
                    }
                    Some("image_url") => {
                        let url = p.pointer("/image_url/url").or_else(|| p.get("image_url")).and_then(Value::as_str);
                        out.push(image_block(url.unwrap_or_default())?);
                    }
                    Some(other) => return Err(format!("Bedrock Converse cannot take `{other}` content here")),
                    None => {}
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Appends blocks as `role`, merged into the previous message when it has the same role
/// (Converse wants user and assistant turns to alternate).
fn append(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut()
        && last["role"] == role
        && let Some(content) = last["content"].as_array_mut()
    {
        content.extend(blocks);
        return;
    }
    messages.push(json!({"role": role, "content": blocks}));
}

/// An OpenAI Chat request body → a Converse request body for `model`.
pub fn request(chat: &Value, model: &str) -> Result<Value, String> {
    if chat.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("Bedrock Converse gives one answer per request; ask for one (`n`)".into());
    }
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in chat.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        match m.get("role").and_then(Value::as_str).unwrap_or_default() {
            "system" | "developer" => {
                let t = text_of(&m["content"]);
                if !t.is_empty() {
                    system.push(json!({"text": t}));
                }
            }
            "assistant" => {
                let mut blocks = Vec::new();
                let t = text_of(&m["content"]);
                if !t.trim().is_empty() {
                    blocks.push(json!({"text": t}));
                }
                for c in m.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
                    let f = &c["function"];
                    let input = match &f["arguments"] {
                        Value::String(s) if s.trim().is_empty() => json!({}),
                        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
                        Value::Null => json!({}),
                        v => v.clone(),
                    };
                    blocks.push(json!({"toolUse": {
                        "toolUseId": c["id"].as_str().unwrap_or_default(),
                        "name": f["name"].as_str().unwrap_or_default(),
                        "input": input,
                    }}));
                }
                append(&mut messages, "assistant", blocks);
            }
            "tool" => {
                let t = text_of(&m["content"]);
                let block = json!({"toolResult": {
                    "toolUseId": m["tool_call_id"].as_str().unwrap_or_default(),
                    "content": [{"text": if t.is_empty() { "(empty)".to_string() } else { t }}],
                }});
                append(&mut messages, "user", vec![block]);
            }
            _ => append(&mut messages, "user", user_blocks(&m["content"])?),
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(n) = chat.get("max_completion_tokens").or_else(|| chat.get("max_tokens")).and_then(Value::as_u64) {
        inference.insert("maxTokens".into(), json!(n));
    }
    let thinking = chat.get("reasoning_effort").and_then(Value::as_str).and_then(budget).filter(|_| is_claude(model));
    if thinking.is_none() {
        for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
            if let Some(v) = chat.get(from).and_then(Value::as_f64) {
                // OpenAI's temperature goes to 2; Claude's and Nova's stop at 1 (refused above).
                let capped = model.contains("anthropic.") || model.contains("amazon.nova");
                inference.insert(to.into(), json!(if capped { v.min(1.0) } else { v }));
            }
        }
    }
    match chat.get("stop") {
        Some(Value::String(s)) => {
            inference.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            inference.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(b) = thinking {
        // Claude's extended thinking: the budget must stay below the answer's token limit.
        let max = inference.get("maxTokens").and_then(Value::as_u64).unwrap_or(0);
        if max <= b {
            inference.insert("maxTokens".into(), json!(b + 4096));
        }
        out.insert("additionalModelRequestFields".into(), json!({"thinking": {"type": "enabled", "budget_tokens": b}}));
    }
    if !inference.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut tools: Vec<Value> = chat
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str).unwrap_or("function") == "function")
        .map(|t| {
            let f = &t["function"];
            let mut spec = Map::new();
            spec.insert("name".into(), f["name"].clone());
            if let Some(d) = f.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                spec.insert("description".into(), json!(d));
            }
            let schema = f
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or(json!({"type": "object", "properties": {}}));
            spec.insert("inputSchema".into(), json!({"json": schema}));
            json!({"toolSpec": spec})
        })
        .collect();
    if tools.is_empty() {
        // Converse refuses toolUse / toolResult blocks without a toolConfig ("The toolConfig field
        // must be defined ..."), and clients often send tool turns without the tools: each tool
        // named in the history is declared again, taking any object.
        let mut names: Vec<&str> = Vec::new();
        for m in out["messages"].as_array().map(Vec::as_slice).unwrap_or_default() {
            for b in m["content"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(n) = b.pointer("/toolUse/name").and_then(Value::as_str).filter(|n| !names.contains(n)) {
                    names.push(n);
                }
            }
        }
        tools = names
            .iter()
            .map(|n| json!({"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}}))
            .collect();
    }
    if !tools.is_empty() {
        let mut config = Map::new();
        config.insert("tools".into(), Value::Array(tools));
        // `none` has no Converse spelling: the tools stay (earlier tool turns need them), unforced.
        let choice = match chat.get("tool_choice") {
            Some(Value::String(s)) if s == "required" => Some(json!({"any": {}})),
            Some(Value::String(s)) if s == "auto" => Some(json!({"auto": {}})),
            Some(Value::Object(o)) => {
                o.get("function").and_then(|f| f.get("name")).map(|n| json!({"tool": {"name": n}}))
            }
            _ => None,
        };
        if let Some(c) = choice {
            config.insert("toolChoice".into(), c);
        }
        out.insert("toolConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

/// Converse `stopReason` → Chat `finish_reason`.
pub fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "tool_use" => "tool_calls",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "content_filtered" | "guardrail_intervened" => "content_filter",
        _ => "stop",
    }
}

/// Converse `usage` → canonical counts (Converse counts cached input apart; canonical input
/// includes it).
pub fn usage(u: &Value) -> TokenUsage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (read, write) = (n("cacheReadInputTokens"), n("cacheWriteInputTokens"));
    TokenUsage {
        input: n("inputTokens") + read + write,
        output: n("outputTokens"),
        cache_read: read,
        cache_write: write,
        ..TokenUsage::default()
    }
}

/// Canonical counts → a Chat `usage` object.
pub fn chat_usage(u: &TokenUsage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cache_read},
    })
}

/// A whole Converse answer → a `chat.completion` body (and its exact usage).
pub fn response(v: &Value, model: &str) -> (Value, TokenUsage) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in v.pointer("/output/message/content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(t) = block.pointer("/reasoningContent/reasoningText/text").and_then(Value::as_str) {
            reasoning.push_str(t);
        } else if let Some(t) = block.get("toolUse") {
            calls.push(json!({
                "id": t["toolUseId"],
                "type": "function",
                "function": {"name": t["name"], "arguments": t.get("input").cloned().unwrap_or(json!({})).to_string()},
            }));
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let used = v.get("usage").map(usage).unwrap_or_default();
    let body = json!({
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(v["stopReason"].as_str().unwrap_or_default())}],
        "usage": chat_usage(&used),
    });
    (body, used)
}

/// An error Bedrock reported (in a stream or as an answer) in the OpenAI error shape, by its
/// exception type: what the Chat adapters classify for failover (rate limit, overload, ...).
pub fn chat_error(exception: &str, message: &str) -> Value {
    let kind = match exception.trim_end_matches("Exception").to_ascii_lowercase().as_str() {
        "throttling" | "toomanyrequests" => "rate_limit_error",
        "validation" | "resourcenotfound" | "modelerror" => "invalid_request_error",
        "accessdenied" | "unrecognizedclient" => "authentication_error",
        "serviceunavailable" | "modelnotready" => "overloaded_error",
        _ => "server_error",
    };
    json!({"error": {"message": message, "type": kind, "code": exception}})
}

/// One ConverseStream event → Chat chunks, keeping what the stream has said so far.
#[derive(Debug)]
pub struct StreamState {
    id: String,
    model: String,
    created: i64,
    /// Converse content block index → Chat tool call index.
    tools: Vec<(u64, usize)>,
    /// The usage of the `metadata` event.
    pub usage: Option<TokenUsage>,
    /// A `messageStop` was seen.
    pub stopped: bool,
}

impl StreamState {
    /// The state at the start of a stream answering with `model`.
    pub fn new(model: &str) -> Self {
        Self {
            id: new_id("chatcmpl-"),
            model: model.to_string(),
            created: chrono::Utc::now().timestamp(),
            tools: Vec::new(),
            usage: None,
            stopped: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    fn tool_index(&mut self, block: u64) -> (usize, bool) {
        match self.tools.iter().find(|(b, _)| *b == block) {
            Some((_, i)) => (*i, false),
            None => {
                let i = self.tools.len();
                self.tools.push((block, i));
                (i, true)
            }
        }
    }

    /// The Chat chunks of one event (`event_type` is its `:event-type`).
    pub fn event(&mut self, event_type: &str, v: &Value) -> Vec<Value> {
        let block = v.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
        match event_type {
            "messageStart" => vec![self.chunk(json!({"role": "assistant"}), None)],
            "contentBlockStart" => match v.pointer("/start/toolUse") {
                Some(t) => {
                    let (index, _) = self.tool_index(block);
                    vec![self.chunk(
                        json!({"tool_calls": [{"index": index, "id": t["toolUseId"], "type": "function",
                            "function": {"name": t["name"], "arguments": ""}}]}),
                        None,
                    )]
                }
                None => Vec::new(),
            },
            "contentBlockDelta" => {
                let d = &v["delta"];
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    vec![self.chunk(json!({"content": t}), None)]
                } else if let Some(input) = d.pointer("/toolUse/input").and_then(Value::as_str) {
                    let (index, new) = self.tool_index(block);
                    let call = if new {
                        // A delta without its start: the call still gets an id.
                        json!({"index": index, "id": new_id("call_"), "type": "function", "function": {"name": "", "arguments": input}})
                    } else {
                        json!({"index": index, "function": {"arguments": input}})
                    };
                    vec![self.chunk(json!({"tool_calls": [call]}), None)]
                } else if let Some(t) = d.pointer("/reasoningContent/text").and_then(Value::as_str) {
                    vec![self.chunk(json!({"reasoning_content": t}), None)]
                } else {
                    Vec::new()
                }
            }
            "messageStop" => {
                self.stopped = true;
                let reason = finish_reason(v["stopReason"].as_str().unwrap_or_default());
                vec![self.chunk(json!({}), Some(reason))]
            }
            "metadata" => match v.get("usage") {
                Some(u) => {
                    let used = usage(u);
                    self.usage = Some(used);
                    vec![json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                        "choices": [], "usage": chat_usage(&used),
                    })]
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_becomes_a_converse_request() {
        let chat = json!({
            "model": "x", "max_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": "END", "stream": true,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "18C"},
                {"role": "user", "content": "And tomorrow?"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required"
        });
        let c = request(&chat, "amazon.nova-pro-v1:0").expect("converts");
        assert_eq!(c["system"], json!([{"text": "Be brief."}]));
        assert_eq!(
            c["inferenceConfig"],
            json!({"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
        );
        let m = c["messages"].as_array().expect("messages");
        assert_eq!(m.len(), 3, "the tool result and the next question are one user turn: {m:?}");
        assert_eq!(m[0]["content"][1]["image"], json!({"format": "png", "source": {"bytes": "iVBORw0KGgo="}}));
        assert_eq!(
            m[1]["content"][0]["toolUse"],
            json!({"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}})
        );
        assert_eq!(m[2]["content"][0]["toolResult"]["content"], json!([{"text": "18C"}]));
        assert_eq!(m[2]["content"][1], json!({"text": "And tomorrow?"}));
        assert_eq!(
            c["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(c["toolConfig"]["toolChoice"], json!({"any": {}}));
        assert!(c.get("stream").is_none() && c.get("model").is_none());
        let later = json!({"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "18C"}]});
        let c = request(&later, "m").expect("converts");
        assert_eq!(
            c["toolConfig"]["tools"],
            json!([{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]),
            "declared again for the tool turns"
        );
        let err = request(
            &json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
            "m",
        );
        assert!(err.is_err_and(|e| e.contains("data: URLs")));
    }

    #[test]
    fn reasoning_effort_is_claude_thinking() {
        let chat = json!({"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium", "max_tokens": 1000, "temperature": 0.5});
        let c = request(&chat, "us.anthropic.claude-sonnet-4-5-20250929-v1:0").expect("converts");
        assert_eq!(c["additionalModelRequestFields"]["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
        assert_eq!(
            c["inferenceConfig"],
            json!({"maxTokens": 8192}),
            "no temperature with thinking; room above the budget"
        );
        let c = request(&chat, "amazon.nova-pro-v1:0").expect("converts");
        assert!(c.get("additionalModelRequestFields").is_none());
        let hot = json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 1.7});
        assert_eq!(request(&hot, "amazon.nova-lite-v1:0").expect("converts")["inferenceConfig"]["temperature"], 1.0);
        assert_eq!(
            request(&hot, "mistral.mistral-large-2407-v1:0").expect("converts")["inferenceConfig"]["temperature"],
            1.7
        );
        assert!(request(&json!({"messages": [], "n": 2}), "m").is_err());
    }

    #[test]
    fn a_converse_answer_becomes_a_chat_completion() {
        let v: Value = serde_json::from_str(include_str!("../../../tests/fixtures/bedrock/converse_tool_use.json"))
            .expect("fixture");
        let (body, used) = response(&v, "m");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
        assert_eq!(
            serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap_or("")).ok(),
            Some(json!({"sign": "WZPZ"}))
        );
        assert_eq!(
            (used.input, used.output, used.cache_read),
            (v["usage"]["inputTokens"].as_u64().unwrap_or(0), v["usage"]["outputTokens"].as_u64().unwrap_or(0), 0)
        );
        assert_eq!(chat_error("throttlingException", "slow down")["error"]["type"], "rate_limit_error");
        assert_eq!(chat_error("ValidationException", "bad")["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn stream_events_become_chat_chunks() {
        let mut s = StreamState::new("m");
        assert_eq!(
            s.event("messageStart", &json!({"role": "assistant"}))[0]["choices"][0]["delta"]["role"],
            "assistant"
        );
        let c = s.event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}));
        assert_eq!(c[0]["choices"][0]["delta"]["content"], "Hi");
        let c = s.event(
            "contentBlockStart",
            &json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t9", "name": "f"}}}),
        );
        assert_eq!(c[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "t9");
        let c =
            s.event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\":"}}}));
        assert_eq!(
            c[0]["choices"][0]["delta"]["tool_calls"][0],
            json!({"index": 0, "function": {"arguments": "{\"a\":"}})
        );
        let c = s.event("messageStop", &json!({"stopReason": "tool_use"}));
        assert_eq!(c[0]["choices"][0]["finish_reason"], "tool_calls");
        let c = s.event("metadata", &json!({"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 19, "cacheReadInputTokens": 4}, "metrics": {"latencyMs": 9}}));
        assert_eq!(c[0]["usage"]["prompt_tokens"], 14);
        assert_eq!(s.usage.map(|u| u.cache_read), Some(4));
    }
}

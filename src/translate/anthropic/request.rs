//! Anthropic Messages requests ↔ canonical.

use serde_json::{Map, Value, json};

use crate::protocol::Dialect;
use crate::translate::canonical::{
    MediaSource, Message, Part, Reasoning, Request, Role, Tool, ToolChoice, ToolKind, safe_id,
};

/// The longest tool-use id we send (Anthropic's pattern is `^[a-zA-Z0-9_-]+$`).
const ID_MAX: usize = 64;
use crate::translate::envelope::{self, Sealed};
use crate::translate::json::{args_object, arr, f64_of, str_of, strings, u32_of};
use crate::translate::openai_chat::request::push;

fn source_of(s: &Value) -> Result<MediaSource, String> {
    match str_of(s, "type") {
        Some("base64") => Ok(MediaSource::Base64 {
            media_type: str_of(s, "media_type").unwrap_or("application/octet-stream").to_string(),
            data: str_of(s, "data").unwrap_or_default().to_string(),
        }),
        Some("url") => Ok(MediaSource::Url(str_of(s, "url").unwrap_or_default().to_string())),
        Some(other) => Err(format!("media source type `{other}` cannot be translated")),
        None => Err("a media block needs a `source`".into()),
    }
}

fn blocks(content: Option<&Value>) -> Result<Vec<Part>, String> {
    let items = match content {
        Some(Value::String(s)) => return Ok(if s.is_empty() { vec![] } else { vec![Part::Text(s.clone())] }),
        Some(Value::Array(a)) => a,
        _ => return Ok(vec![]),
    };
    let mut out = Vec::new();
    let mut sigs: Vec<(String, String)> = Vec::new();
    for b in items {
        match str_of(b, "type") {
            Some("text") => {
                if let Some(t) = str_of(b, "text").filter(|t| !t.is_empty()) {
                    out.push(Part::Text(t.to_string()));
                }
            }
            Some("image") => out.push(Part::Image { source: source_of(&b["source"])?, detail: None }),
            Some("document") => {
                if str_of(&b["source"], "type") == Some("text") {
                    out.push(Part::Text(str_of(&b["source"], "data").unwrap_or_default().to_string()));
                } else {
                    out.push(Part::File {
                        source: source_of(&b["source"])?,
                        filename: str_of(b, "title").map(str::to_string),
                    });
                }
            }
            Some("tool_use") => out.push(Part::ToolCall {
                id: str_of(b, "id").unwrap_or_default().to_string(),
                name: str_of(b, "name").unwrap_or_default().to_string(),
                arguments: b.get("input").map(|i| i.to_string()).unwrap_or_else(|| "{}".into()),
                signature: None,
            }),
            Some("tool_result") => out.push(Part::ToolResult {
                call_id: str_of(b, "tool_use_id").unwrap_or_default().to_string(),
                name: None,
                content: blocks(b.get("content"))?,
                is_error: b["is_error"].as_bool().unwrap_or(false),
            }),
            Some("thinking") => {
                let text = str_of(b, "thinking").unwrap_or_default();
                let signature = str_of(b, "signature").unwrap_or_default();
                match envelope::open(signature) {
                    // Someone else's reasoning, carried in the signature: only its maker reads it.
                    Some(Sealed::Reasoning { origin, payload, redacted }) => {
                        out.push(envelope::part(text, origin, payload, redacted))
                    }
                    Some(Sealed::ToolSignature { call_id, signature }) => sigs.push((call_id, signature)),
                    // An empty signature proves nothing: the block is not Anthropic's.
                    None if signature.is_empty() => out.push(envelope::part(text, None, String::new(), false)),
                    None => out.push(Part::Reasoning {
                        text: text.to_string(),
                        signature: Some(signature.to_string()),
                        opaque: None,
                        origin: Some(Dialect::Anthropic),
                    }),
                }
            }
            Some("redacted_thinking") => out.push(Part::Reasoning {
                text: String::new(),
                signature: None,
                opaque: str_of(b, "data").map(str::to_string),
                origin: Some(Dialect::Anthropic),
            }),
            None => {}
            Some(other) => return Err(format!("content block type `{other}` cannot be translated")),
        }
    }
    envelope::attach_tool_signatures(&mut out, &sigs);
    Ok(out)
}

/// Decodes a Messages request body.
pub fn decode(body: &Value) -> Result<Request, String> {
    let mut req = Request { stream: body["stream"].as_bool().unwrap_or(false), ..Default::default() };
    match body.get("system") {
        Some(Value::String(s)) if !s.is_empty() => req.system.push(s.clone()),
        Some(Value::Array(items)) => {
            let t: Vec<&str> = items.iter().filter_map(|b| str_of(b, "text")).collect();
            if !t.is_empty() {
                req.system.push(t.join("\n"));
            }
        }
        _ => {}
    }
    for m in arr(body, "messages") {
        let role = match str_of(m, "role") {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some(other) => return Err(format!("unsupported message role `{other}`")),
            None => return Err("every message needs a `role`".into()),
        };
        let parts = blocks(m.get("content"))?;
        if !parts.is_empty() {
            push(&mut req.messages, role, parts);
        }
    }
    for t in arr(body, "tools") {
        if let Some(kind) = str_of(t, "type").filter(|k| *k != "custom") {
            return Err(format!("server tool `{kind}` cannot be translated; only custom tools can"));
        }
        req.tools.push(Tool {
            name: str_of(t, "name").ok_or("a tool needs a `name`")?.to_string(),
            description: str_of(t, "description").map(str::to_string),
            parameters: t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            kind: ToolKind::Function,
        });
    }
    if let Some(tc) = body.get("tool_choice") {
        req.tool_choice = match str_of(tc, "type") {
            Some("any") => Some(ToolChoice::Required),
            Some("none") => Some(ToolChoice::None),
            Some("tool") => str_of(tc, "name").map(|n| ToolChoice::Named(n.to_string())),
            _ => Some(ToolChoice::Auto),
        };
        if tc["disable_parallel_tool_use"].as_bool() == Some(true) {
            req.parallel_tool_calls = Some(false);
        }
    }
    req.max_tokens = u32_of(body, "max_tokens");
    req.temperature = f64_of(body, "temperature");
    req.top_p = f64_of(body, "top_p");
    req.stop = strings(body.get("stop_sequences"));
    if let Some(t) = body.get("thinking") {
        match str_of(t, "type") {
            Some("enabled") => {
                req.reasoning =
                    Some(Reasoning { effort: None, budget_tokens: u32_of(t, "budget_tokens"), include: true })
            }
            Some("adaptive") => {
                // Adaptive thinking's depth is `output_config.effort` (high when absent).
                let effort = body.get("output_config").and_then(|c| str_of(c, "effort")).unwrap_or("high");
                let effort = if effort == "max" || effort == "xhigh" { "high" } else { effort };
                req.reasoning = Some(Reasoning { effort: Some(effort.into()), budget_tokens: None, include: true })
            }
            _ => {}
        }
    }
    req.response_format = super::structured::decode(body);
    if req.messages.is_empty() {
        return Err("`messages` must not be empty".into());
    }
    Ok(req)
}

fn media_block(kind: &str, source: &MediaSource) -> Value {
    let src = match source {
        MediaSource::Base64 { media_type, data } => json!({"type": "base64", "media_type": media_type, "data": data}),
        MediaSource::Url(u) => json!({"type": "url", "url": u}),
    };
    json!({"type": kind, "source": src})
}

fn result_content(parts: &[Part]) -> Value {
    let blocks: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) if !t.is_empty() => Some(json!({"type": "text", "text": t})),
            Part::Image { source, .. } => Some(media_block("image", source)),
            Part::File { source, .. } => Some(media_block("document", source)),
            _ => None,
        })
        .collect();
    if blocks.iter().all(|b| b["type"] == "text") {
        let t: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
        return json!(t.join("\n"));
    }
    Value::Array(blocks)
}

fn block(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) if !t.is_empty() => Some(json!({"type": "text", "text": t})),
        Part::Text(_) => None,
        Part::Image { source, .. } => Some(media_block("image", source)),
        Part::File { source, .. } => Some(media_block("document", source)),
        // Ids from other providers (`functions.get:0`) are mended to the pattern Anthropic requires.
        Part::ToolCall { id, name, arguments, .. } => {
            Some(json!({"type": "tool_use", "id": safe_id(id, ID_MAX), "name": name, "input": args_object(arguments)}))
        }
        Part::ToolResult { call_id, content, is_error, .. } => {
            let mut b = json!({"type": "tool_result", "tool_use_id": safe_id(call_id, ID_MAX), "content": result_content(content)});
            if *is_error {
                b["is_error"] = json!(true);
            }
            Some(b)
        }
        // Only Anthropic's own thinking can go back: its signature proves it.
        Part::Reasoning { text, signature: Some(sig), origin: Some(Dialect::Anthropic), .. } => {
            Some(json!({"type": "thinking", "thinking": text, "signature": sig}))
        }
        Part::Reasoning { opaque: Some(data), origin: Some(Dialect::Anthropic), .. } => {
            Some(json!({"type": "redacted_thinking", "data": data}))
        }
        Part::Reasoning { .. } => None,
    }
}

/// Whether thinking may be on for these messages: not when the last assistant turn calls tools
/// without opening with a thinking block (Anthropic refuses such a turn once thinking is on).
pub fn thinking_allowed(messages: &[Value]) -> bool {
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "assistant") else { return true };
    let blocks = last["content"].as_array().map_or(&[][..], Vec::as_slice);
    !blocks.iter().any(|b| b["type"] == "tool_use")
        || matches!(blocks.first().and_then(|b| b["type"].as_str()), Some("thinking" | "redacted_thinking"))
}

/// A client's own Messages body for an Anthropic upstream: thinking is switched off when its
/// history cannot carry it (after `envelope::strip_foreign`).
pub fn fit_thinking(body: &mut crate::protocol::raw::RawObject) {
    let on = body.parse::<Value>("thinking").is_some_and(|t| t["type"] == "enabled" || t["type"] == "adaptive");
    if !on || body.get("messages").is_none_or(|m| !m.get().contains("tool_use")) {
        return;
    }
    if let Some(messages) = body.parse::<Vec<Value>>("messages")
        && !thinking_allowed(&messages)
    {
        body.remove("thinking");
    }
}

/// Encodes a canonical request for a Messages upstream. `max_output` is the model's known limit.
pub fn encode(req: &Request, model: &str, max_output: Option<u32>) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    let mut canon: Vec<Message> = Vec::new();
    for m in &req.messages {
        let mut parts = m.parts.clone();
        // Tool results must open the user message that follows the tool calls.
        parts.sort_by_key(|p| !matches!(p, Part::ToolResult { .. }));
        push(&mut canon, m.role, parts);
    }
    for m in &canon {
        let content: Vec<Value> = m.parts.iter().filter_map(block).collect();
        if content.is_empty() {
            continue;
        }
        let role = if m.role == Role::User { "user" } else { "assistant" };
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(a) = last["content"].as_array_mut() {
                    a.extend(content);
                }
            }
            _ => messages.push(json!({"role": role, "content": content})),
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    if !req.system.is_empty() {
        out.insert("system".into(), json!(req.system.join("\n\n")));
    }
    // The model's own limit when the client gave none (the field is required); 8192 for a model
    // the catalog does not know.
    let limit = max_output.unwrap_or(64_000);
    let mut max_tokens = req.max_tokens.unwrap_or(max_output.unwrap_or(8_192)).min(limit);
    let named = matches!(req.tool_choice, Some(ToolChoice::Required) | Some(ToolChoice::Named(_)));
    // Thinking is incompatible with a forced tool (the forced tool wins), with an effort of none
    // or minimal, and with a tool loop whose last assistant turn has no signed thinking block to
    // open it (the API refuses that turn).
    let off = |r: &Reasoning| matches!(r.effort.as_deref(), Some("none" | "minimal"));
    let carried = thinking_allowed(out.get("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice));
    if let Some(r) = req.reasoning.as_ref().filter(|r| !named && !off(r) && carried) {
        let budget = r.budget().max(1_024);
        if max_tokens <= budget {
            max_tokens = (budget + 4_096).min(limit.max(budget + 1));
        }
        let budget = budget.min(max_tokens.saturating_sub(1)).max(1_024);
        out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    } else {
        if let Some(t) = req.temperature {
            out.insert("temperature".into(), json!(t.min(1.0)));
        }
        if let Some(t) = req.top_p {
            out.insert("top_p".into(), json!(t));
        }
    }
    out.insert("max_tokens".into(), json!(max_tokens));
    if !req.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(req.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut schema = t.parameters.clone();
                if schema.get("type").is_none() {
                    schema["type"] = json!("object");
                }
                let mut v = json!({"name": t.name, "input_schema": schema});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match &req.tool_choice {
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::Named(n)) => Some(json!({"type": "tool", "name": n})),
        None => None,
    };
    if req.parallel_tool_calls == Some(false) && !req.tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        c["disable_parallel_tool_use"] = json!(true);
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
    if let Some(f) = &req.response_format {
        super::structured::encode(f, &mut out);
    }
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    Value::Object(out)
}

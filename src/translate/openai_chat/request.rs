//! OpenAI Chat Completions requests ↔ canonical.

use serde_json::{Map, Value, json};

use crate::translate::canonical::{
    MediaSource, Message, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice, ToolKind, safe_id,
};

/// The longest tool-call id OpenAI accepts ("Expected a string with maximum length 40").
const ID_MAX: usize = 40;
use crate::translate::json::{arr, f64_of, str_of, strings, text_content, u32_of};

fn user_parts(content: Option<&Value>) -> Result<Vec<Part>, String> {
    match content {
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![Part::Text(s.clone())]),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for p in items {
                match str_of(p, "type") {
                    Some("text") | Some("input_text") => {
                        if let Some(t) = str_of(p, "text").filter(|t| !t.is_empty()) {
                            out.push(Part::Text(t.to_string()));
                        }
                    }
                    Some("image_url") => {
                        let iu = &p["image_url"];
                        let url = iu.as_str().or_else(|| str_of(iu, "url")).ok_or("image_url part without a url")?;
                        out.push(Part::Image {
                            source: MediaSource::from_url(url),
                            detail: str_of(iu, "detail").map(str::to_string),
                        });
                    }
                    Some("file") => {
                        let f = &p["file"];
                        if let Some(data) = str_of(f, "file_data") {
                            out.push(Part::File {
                                source: MediaSource::from_url(data),
                                filename: str_of(f, "filename").map(str::to_string),
                            });
                        } else {
                            return Err("file parts must carry `file_data` (file ids cannot be translated)".into());
                        }
                    }
                    Some("input_audio") => return Err("audio input cannot be translated to this provider".into()),
                    // Null or empty parts are dropped, never forwarded.
                    None => {}
                    Some(other) => return Err(format!("unsupported content part type `{other}`")),
                }
            }
            Ok(out)
        }
        _ => Ok(vec![]),
    }
}

/// Decodes a Chat Completions request body.
pub fn decode(body: &Value) -> Result<Request, String> {
    let mut req = Request { stream: body["stream"].as_bool().unwrap_or(false), ..Default::default() };
    let mut legacy_calls = 0usize;
    for m in arr(body, "messages") {
        match str_of(m, "role") {
            Some("system") | Some("developer") => {
                let t = text_content(m.get("content"));
                if !t.is_empty() {
                    req.system.push(t);
                }
            }
            Some("user") => {
                let parts = user_parts(m.get("content"))?;
                if !parts.is_empty() {
                    push(&mut req.messages, Role::User, parts);
                }
            }
            Some("assistant") => {
                let mut parts = Vec::new();
                let reasoning =
                    str_of(m, "reasoning_content").or_else(|| str_of(m, "reasoning")).filter(|r| !r.is_empty());
                if let Some(r) = reasoning {
                    parts.push(Part::Reasoning { text: r.to_string(), signature: None, opaque: None, origin: None });
                }
                let text = text_content(m.get("content"));
                if !text.is_empty() {
                    parts.push(Part::Text(text));
                }
                for c in arr(m, "tool_calls") {
                    let f = &c["function"];
                    parts.push(Part::ToolCall {
                        id: str_of(c, "id").unwrap_or_default().to_string(),
                        name: str_of(f, "name").unwrap_or_default().to_string(),
                        arguments: arguments_text(f.get("arguments")),
                        signature: super::response::google_signature(c),
                    });
                }
                if let Some(f) = m.get("function_call").filter(|f| f.is_object()) {
                    legacy_calls += 1;
                    parts.push(Part::ToolCall {
                        id: format!("call_fn_{legacy_calls}"),
                        name: str_of(f, "name").unwrap_or_default().to_string(),
                        arguments: arguments_text(f.get("arguments")),
                        signature: None,
                    });
                }
                if !parts.is_empty() {
                    push(&mut req.messages, Role::Assistant, parts);
                }
            }
            Some("tool") | Some("function") => {
                let call_id = match str_of(m, "tool_call_id") {
                    Some(id) => id.to_string(),
                    None => format!("call_fn_{legacy_calls}"),
                };
                let content = match m.get("content") {
                    Some(Value::Array(_)) => user_parts(m.get("content"))?,
                    other => vec![Part::Text(text_content(other))],
                };
                let part =
                    Part::ToolResult { call_id, name: str_of(m, "name").map(str::to_string), content, is_error: false };
                push(&mut req.messages, Role::User, vec![part]);
            }
            Some(other) => return Err(format!("unsupported message role `{other}`")),
            None => return Err("every message needs a `role`".into()),
        }
    }
    for t in arr(body, "tools") {
        match str_of(t, "type") {
            Some("function") | None => {
                let f = &t["function"];
                req.tools.push(Tool {
                    name: str_of(f, "name").ok_or("a tool needs a function name")?.to_string(),
                    description: str_of(f, "description").map(str::to_string),
                    parameters: f
                        .get("parameters")
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                    kind: ToolKind::Function,
                });
            }
            Some(other) => return Err(format!("tool type `{other}` cannot be translated; only function tools can")),
        }
    }
    for f in arr(body, "functions") {
        req.tools.push(Tool {
            name: str_of(f, "name").unwrap_or_default().to_string(),
            description: str_of(f, "description").map(str::to_string),
            parameters: f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            kind: ToolKind::Function,
        });
    }
    req.tool_choice = match body.get("tool_choice").or_else(|| body.get("function_call")) {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(v @ Value::Object(_)) => {
            let name = v.get("function").and_then(|f| str_of(f, "name")).or_else(|| str_of(v, "name"));
            name.map(|n| ToolChoice::Named(n.to_string()))
        }
        _ => None,
    };
    req.parallel_tool_calls = body["parallel_tool_calls"].as_bool();
    req.max_tokens = u32_of(body, "max_completion_tokens").or_else(|| u32_of(body, "max_tokens"));
    req.temperature = f64_of(body, "temperature");
    req.top_p = f64_of(body, "top_p");
    req.stop = strings(body.get("stop"));
    if let Some(effort) = str_of(body, "reasoning_effort") {
        req.reasoning = Some(Reasoning { effort: Some(effort.to_string()), budget_tokens: None, include: true });
    }
    req.response_format = match body.get("response_format").and_then(|f| str_of(f, "type")) {
        Some("json_object") => Some(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let js = &body["response_format"]["json_schema"];
            Some(ResponseFormat::JsonSchema {
                name: str_of(js, "name").unwrap_or("response").to_string(),
                schema: js.get("schema").cloned().unwrap_or_else(|| json!({})),
            })
        }
        _ => None,
    };
    if req.messages.is_empty() {
        return Err("`messages` must contain at least one user or assistant message".into());
    }
    Ok(req)
}

fn arguments_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Appends parts, merging consecutive messages of one role.
pub fn push(messages: &mut Vec<Message>, role: Role, parts: Vec<Part>) {
    match messages.last_mut() {
        Some(m) if m.role == role => m.parts.extend(parts),
        _ => messages.push(Message { role, parts }),
    }
}

fn part_json(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) if !t.is_empty() => Some(json!({"type": "text", "text": t})),
        Part::Image { source, detail } => {
            let mut iu = json!({"url": source.to_url()});
            if let Some(d) = detail {
                iu["detail"] = json!(d);
            }
            Some(json!({"type": "image_url", "image_url": iu}))
        }
        Part::File { source, filename } => {
            let mut f = json!({"file_data": source.to_url()});
            if let Some(n) = filename {
                f["filename"] = json!(n);
            }
            Some(json!({"type": "file", "file": f}))
        }
        Part::Text(_) | Part::ToolCall { .. } | Part::ToolResult { .. } | Part::Reasoning { .. } => None,
    }
}

fn content_value(parts: &[Part]) -> Value {
    let items: Vec<Value> = parts.iter().filter_map(part_json).collect();
    if items.iter().all(|i| i["type"] == "text") {
        let joined: Vec<&str> = items.iter().filter_map(|i| i["text"].as_str()).collect();
        return json!(joined.join("\n"));
    }
    Value::Array(items)
}

/// Encodes a canonical request for a Chat Completions upstream.
pub fn encode(req: &Request, model: &str) -> Value {
    let mut messages = Vec::new();
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    for m in &req.messages {
        match m.role {
            Role::User => {
                // Chat tool messages carry text only: a result's images and files follow in a user message.
                let mut media = Vec::new();
                for p in &m.parts {
                    if let Part::ToolResult { call_id, content, is_error, .. } = p {
                        let mut text = crate::translate::canonical::result_text(content, *is_error);
                        let found = crate::translate::canonical::media_of(content);
                        if !found.is_empty() {
                            let note = crate::translate::canonical::media_note(call_id, found.len());
                            text = if text.is_empty() { note } else { format!("{text}\n{note}") };
                            media.extend(found);
                        }
                        messages
                            .push(json!({"role": "tool", "tool_call_id": safe_id(call_id, ID_MAX), "content": text}));
                    }
                }
                let rest: Vec<Part> = media
                    .into_iter()
                    .chain(m.parts.iter().filter(|p| !matches!(p, Part::ToolResult { .. })).cloned())
                    .collect();
                if rest.iter().any(|p| part_json(p).is_some()) {
                    messages.push(json!({"role": "user", "content": content_value(&rest)}));
                }
            }
            Role::Assistant => {
                let text = crate::translate::canonical::text_of(&m.parts);
                let calls: Vec<Value> = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall { id, name, arguments, .. } => Some(json!({
                            "id": safe_id(id, ID_MAX), "type": "function",
                            "function": {"name": name, "arguments": if arguments.is_empty() { "{}" } else { arguments }}
                        })),
                        _ => None,
                    })
                    .collect();
                if text.is_empty() && calls.is_empty() {
                    continue;
                }
                let mut msg =
                    json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                // Kept for models that need it back (`translate::rules` strips it elsewhere).
                let reasoning: String = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Reasoning { text, .. } if !text.is_empty() => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                if !reasoning.is_empty() {
                    msg["reasoning_content"] = json!(reasoning);
                }
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
        if let Some(p) = req.parallel_tool_calls {
            out.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(tc) = &req.tool_choice {
        let v = match tc {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
        };
        out.insert("tool_choice".into(), v);
    }
    if let Some(r) = &req.reasoning {
        out.insert("reasoning_effort".into(), json!(r.effort()));
        if let Some(n) = req.max_tokens {
            out.insert("max_completion_tokens".into(), json!(n));
        }
    } else {
        if let Some(n) = req.max_tokens {
            out.insert("max_tokens".into(), json!(n));
        }
        if let Some(t) = req.temperature {
            out.insert("temperature".into(), json!(t));
        }
        if let Some(t) = req.top_p {
            out.insert("top_p".into(), json!(t));
        }
    }
    if !req.stop.is_empty() {
        out.insert("stop".into(), json!(req.stop));
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            out.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { name, schema }) => {
            out.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema}}),
            );
        }
        None => {}
    }
    if req.stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(out)
}

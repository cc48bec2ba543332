//! OpenAI Responses requests ↔ canonical.

use serde_json::{Map, Value, json};

use crate::protocol::Dialect;
use crate::translate::canonical::{
    MediaSource, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice, ToolKind, new_id,
};
use crate::translate::envelope::{self, Sealed};
use crate::translate::json::{arr, f64_of, str_of, u32_of};
use crate::translate::openai_chat::request::push;

fn parts_of(content: Option<&Value>) -> Result<Vec<Part>, String> {
    match content {
        Some(Value::String(s)) => Ok(if s.is_empty() { vec![] } else { vec![Part::Text(s.clone())] }),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for p in items {
                match str_of(p, "type") {
                    Some("input_text") | Some("output_text") | Some("text") => {
                        if let Some(t) = str_of(p, "text").filter(|t| !t.is_empty()) {
                            out.push(Part::Text(t.to_string()));
                        }
                    }
                    Some("refusal") => out.push(Part::Text(str_of(p, "refusal").unwrap_or_default().to_string())),
                    Some("input_image") => {
                        let url = str_of(p, "image_url")
                            .ok_or("input_image needs `image_url` (file ids cannot be translated)")?;
                        out.push(Part::Image {
                            source: MediaSource::from_url(url),
                            detail: str_of(p, "detail").map(str::to_string),
                        });
                    }
                    Some("input_file") => {
                        let data = str_of(p, "file_data")
                            .or_else(|| str_of(p, "file_url"))
                            .ok_or("input_file needs `file_data`")?;
                        out.push(Part::File {
                            source: MediaSource::from_url(data),
                            filename: str_of(p, "filename").map(str::to_string),
                        });
                    }
                    None => {}
                    Some(other) => return Err(format!("content part type `{other}` cannot be translated")),
                }
            }
            Ok(out)
        }
        _ => Ok(vec![]),
    }
}

/// Decodes a Responses request body (for translation to another dialect).
pub fn decode(body: &Value) -> Result<Request, String> {
    if body.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err("`previous_response_id` cannot be served: Omnigate does not store responses for this provider \
                    (`store` is not persisted); send the whole conversation in `input`"
            .into());
    }
    let mut req = Request { stream: body["stream"].as_bool().unwrap_or(false), ..Default::default() };
    if let Some(i) = str_of(body, "instructions").filter(|i| !i.is_empty()) {
        req.system.push(i.to_string());
    }
    let mut sigs: Vec<(String, String)> = Vec::new();
    match body.get("input") {
        Some(Value::String(s)) => push(&mut req.messages, Role::User, vec![Part::Text(s.clone())]),
        Some(Value::Array(items)) => {
            for it in items {
                match str_of(it, "type") {
                    Some("message") | None => match str_of(it, "role") {
                        Some("system") | Some("developer") => {
                            let t = crate::translate::canonical::text_of(&parts_of(it.get("content"))?);
                            if !t.is_empty() {
                                req.system.push(t);
                            }
                        }
                        Some("user") => {
                            let p = parts_of(it.get("content"))?;
                            if !p.is_empty() {
                                push(&mut req.messages, Role::User, p);
                            }
                        }
                        Some("assistant") => {
                            let p = parts_of(it.get("content"))?;
                            if !p.is_empty() {
                                push(&mut req.messages, Role::Assistant, p);
                            }
                        }
                        _ => {
                            return Err(
                                "an input message needs a `role` of user, assistant, system or developer".into()
                            );
                        }
                    },
                    Some("function_call") => push(
                        &mut req.messages,
                        Role::Assistant,
                        vec![Part::ToolCall {
                            id: str_of(it, "call_id").map(str::to_string).unwrap_or_else(|| new_id("call_")),
                            name: str_of(it, "name").unwrap_or_default().to_string(),
                            arguments: match it.get("arguments") {
                                Some(Value::String(s)) => s.clone(),
                                Some(v) => v.to_string(),
                                None => String::new(),
                            },
                            signature: None,
                        }],
                    ),
                    Some("function_call_output") => {
                        let content = match it.get("output") {
                            Some(Value::Array(_)) => parts_of(it.get("output"))?,
                            Some(Value::String(s)) => vec![Part::Text(s.clone())],
                            Some(v) => vec![Part::Text(v.to_string())],
                            None => vec![],
                        };
                        let part = Part::ToolResult {
                            call_id: str_of(it, "call_id").unwrap_or_default().to_string(),
                            name: None,
                            content,
                            is_error: false,
                        };
                        push(&mut req.messages, Role::User, vec![part]);
                    }
                    Some("reasoning") => {
                        let text: Vec<&str> = arr(it, "summary").iter().filter_map(|s| str_of(s, "text")).collect();
                        let text = text.join("\n");
                        let part = match str_of(it, "encrypted_content").and_then(envelope::open) {
                            // Another provider's reasoning, carried in the item: only its maker reads it.
                            Some(Sealed::Reasoning { origin, payload, redacted }) => {
                                envelope::part(&text, origin, payload, redacted)
                            }
                            Some(Sealed::ToolSignature { call_id, signature }) => {
                                sigs.push((call_id, signature));
                                continue;
                            }
                            None => Part::Reasoning {
                                text,
                                signature: None,
                                opaque: super::opaque_of(it),
                                origin: Some(Dialect::OpenaiResponses),
                            },
                        };
                        push(&mut req.messages, Role::Assistant, vec![part]);
                    }
                    Some("custom_tool_call") | Some("local_shell_call") => {
                        push(&mut req.messages, Role::Assistant, vec![super::tools::call_part(it)]);
                    }
                    Some("custom_tool_call_output") => {
                        let part = Part::ToolResult {
                            call_id: str_of(it, "call_id").unwrap_or_default().to_string(),
                            name: None,
                            content: vec![Part::Text(crate::translate::json::text_content(it.get("output")))],
                            is_error: false,
                        };
                        push(&mut req.messages, Role::User, vec![part]);
                    }
                    // A hosted search that already ran: its results are in the text that follows.
                    Some("web_search_call") | Some("file_search_call") | Some("image_generation_call") => {}
                    Some(other) => return Err(format!("input item type `{other}` cannot be translated")),
                }
            }
        }
        _ => return Err("`input` is required".into()),
    }
    for t in arr(body, "tools") {
        match str_of(t, "type") {
            Some("function") => req.tools.push(Tool {
                name: str_of(t, "name").ok_or("a function tool needs a `name`")?.to_string(),
                description: str_of(t, "description").map(str::to_string),
                parameters: t.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                kind: ToolKind::Function,
            }),
            Some("custom") => req.tools.push(super::tools::custom(t)?),
            Some("local_shell") => req.tools.push(super::tools::local_shell()),
            // Hosted tools run on OpenAI's side: another provider cannot run them; the model
            // answers without them.
            Some("web_search" | "web_search_preview" | "file_search" | "code_interpreter" | "image_generation") => {}
            // A group of function tools under one name (Codex 0.171 sends its sub-agent tools as
            // `namespace` `multi_agent_v1`); how a call of one comes back is OpenAI's own item
            // shape, so other providers go without the group and the model answers with the rest.
            Some("namespace") => {}
            Some(other) => return Err(format!("tool type `{other}` cannot be translated; only function tools can")),
            None => return Err("every tool needs a `type`".into()),
        }
    }
    req.tool_choice = match body.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(v @ Value::Object(_)) => str_of(v, "name").map(|n| ToolChoice::Named(n.to_string())),
        _ => None,
    };
    req.parallel_tool_calls = body["parallel_tool_calls"].as_bool();
    req.max_tokens = u32_of(body, "max_output_tokens");
    req.temperature = f64_of(body, "temperature");
    req.top_p = f64_of(body, "top_p");
    if let Some(r) = body.get("reasoning").filter(|r| r.is_object()) {
        req.reasoning = Some(Reasoning {
            effort: str_of(r, "effort").map(str::to_string),
            budget_tokens: None,
            include: r.get("summary").is_some_and(|s| !s.is_null()),
        });
        if req.reasoning.as_ref().is_some_and(|r| r.effort.is_none() && !r.include) {
            req.reasoning = None;
        }
    }
    let format = &body["text"]["format"];
    req.response_format = match str_of(format, "type") {
        Some("json_object") => Some(ResponseFormat::JsonObject),
        Some("json_schema") => Some(ResponseFormat::JsonSchema {
            name: str_of(format, "name").unwrap_or("response").to_string(),
            schema: format.get("schema").cloned().unwrap_or_else(|| json!({})),
        }),
        _ => None,
    };
    for m in &mut req.messages {
        envelope::attach_tool_signatures(&mut m.parts, &sigs);
    }
    if req.messages.is_empty() {
        return Err("`input` must contain at least one message".into());
    }
    Ok(req)
}

fn input_part(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) if !t.is_empty() => Some(json!({"type": "input_text", "text": t})),
        Part::Image { source, detail } => {
            let mut v = json!({"type": "input_image", "image_url": source.to_url()});
            v["detail"] = json!(detail.clone().unwrap_or_else(|| "auto".into()));
            Some(v)
        }
        Part::File { source, filename } => {
            let mut v = json!({"type": "input_file", "file_data": source.to_url()});
            if let Some(n) = filename {
                v["filename"] = json!(n);
            }
            Some(v)
        }
        Part::Text(_) | Part::ToolCall { .. } | Part::ToolResult { .. } | Part::Reasoning { .. } => None,
    }
}

/// Encodes a canonical request for a Responses upstream (stateless: `store` is false).
pub fn encode(req: &Request, model: &str) -> Value {
    let mut input = Vec::new();
    for m in &req.messages {
        match m.role {
            Role::User => {
                for p in &m.parts {
                    if let Part::ToolResult { call_id, content, is_error, .. } = p {
                        let text = crate::translate::canonical::result_text(content, *is_error);
                        let media = crate::translate::canonical::media_of(content);
                        // Images and files ride in the output itself, as input content parts.
                        let output = if media.is_empty() {
                            json!(text)
                        } else {
                            let text = (!text.is_empty()).then(|| json!({"type": "input_text", "text": text}));
                            Value::Array(text.into_iter().chain(media.iter().filter_map(input_part)).collect())
                        };
                        input.push(json!({"type": "function_call_output", "call_id": call_id, "output": output}));
                    }
                }
                let parts: Vec<Value> = m.parts.iter().filter_map(input_part).collect();
                if !parts.is_empty() {
                    input.push(json!({"type": "message", "role": "user", "content": parts}));
                }
            }
            Role::Assistant => {
                for p in &m.parts {
                    match p {
                        Part::Text(t) if !t.is_empty() => input.push(json!({
                            "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": t}]
                        })),
                        Part::ToolCall { id, name, arguments, .. } => input.push(json!({
                            "type": "function_call", "call_id": id, "name": name, "arguments": if arguments.is_empty() { "{}" } else { arguments }
                        })),
                        Part::Reasoning { opaque: Some(o), origin: Some(Dialect::OpenaiResponses), text, .. } => {
                            if let Ok(v) = serde_json::from_str::<Value>(o) {
                                let summary: Vec<Value> =
                                    if text.is_empty() { vec![] } else { vec![json!({"type": "summary_text", "text": text})] };
                                input.push(json!({"type": "reasoning", "id": v["id"], "summary": summary, "encrypted_content": v["encrypted_content"]}));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("input".into(), Value::Array(input));
    out.insert("store".into(), json!(false));
    if !req.system.is_empty() {
        out.insert("instructions".into(), json!(req.system.join("\n\n")));
    }
    if let Some(n) = req.max_tokens {
        out.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(r) = &req.reasoning {
        out.insert("reasoning".into(), json!({"effort": r.effort(), "summary": "auto"}));
        out.insert("include".into(), json!(["reasoning.encrypted_content"]));
    } else {
        if let Some(t) = req.temperature {
            out.insert("temperature".into(), json!(t));
        }
        if let Some(t) = req.top_p {
            out.insert("top_p".into(), json!(t));
        }
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut v = json!({"type": "function", "name": t.name, "parameters": t.parameters, "strict": false});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
        if let Some(p) = req.parallel_tool_calls {
            out.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(tc) = &req.tool_choice {
        out.insert(
            "tool_choice".into(),
            match tc {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Named(n) => json!({"type": "function", "name": n}),
            },
        );
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            out.insert("text".into(), json!({"format": {"type": "json_object"}}));
        }
        Some(ResponseFormat::JsonSchema { name, schema }) => {
            out.insert("text".into(), json!({"format": {"type": "json_schema", "name": name, "schema": schema}}));
        }
        None => {}
    }
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    Value::Object(out)
}

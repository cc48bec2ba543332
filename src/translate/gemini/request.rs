//! Gemini generateContent requests ↔ canonical. The model and the stream flag come from the URL.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value, json};

use super::schema::{clean, to_json_schema};
use crate::protocol::Dialect;
use crate::translate::canonical::{
    MediaSource, Part, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice, ToolKind, text_of,
};
use crate::translate::json::{args_object, arr, f64_of, str_of, strings, u32_of};
use crate::translate::openai_chat::request::push;

fn media(mime: &str, source: MediaSource) -> Part {
    if mime.starts_with("image/") {
        Part::Image { source, detail: None }
    } else {
        Part::File { source, filename: None }
    }
}

/// Decodes a generateContent body. Gemini has no call ids: ids are made up in order and results
/// are matched to calls by name.
pub fn decode(body: &Value, stream: bool) -> Result<Request, String> {
    // snake_case field names (accepted by the REST API) read like camelCase ones.
    let body = &super::keys::camel(body);
    let mut req = Request { stream, ..Default::default() };
    let sys: Vec<&str> = arr(&body["systemInstruction"], "parts").iter().filter_map(|p| str_of(p, "text")).collect();
    if !sys.is_empty() {
        req.system.push(sys.join("\n"));
    }
    let mut pending: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut calls = 0usize;
    for c in arr(body, "contents") {
        let role = match str_of(c, "role") {
            Some("model") => Role::Assistant,
            _ => Role::User,
        };
        let mut parts = Vec::new();
        for p in arr(c, "parts") {
            if let Some(t) = str_of(p, "text") {
                if p["thought"].as_bool() == Some(true) {
                    parts.push(Part::Reasoning {
                        text: t.to_string(),
                        signature: str_of(p, "thoughtSignature").map(str::to_string),
                        opaque: None,
                        origin: Some(Dialect::Gemini),
                    });
                } else if !t.is_empty() {
                    parts.push(Part::Text(t.to_string()));
                }
            } else if let Some(d) = p.get("inlineData") {
                let mime = str_of(d, "mimeType").unwrap_or("application/octet-stream");
                parts.push(media(
                    mime,
                    MediaSource::Base64 { media_type: mime.into(), data: str_of(d, "data").unwrap_or_default().into() },
                ));
            } else if let Some(d) = p.get("fileData") {
                let mime = str_of(d, "mimeType").unwrap_or("application/octet-stream");
                parts.push(media(mime, MediaSource::Url(str_of(d, "fileUri").unwrap_or_default().into())));
            } else if let Some(f) = p.get("functionCall") {
                calls += 1;
                let name = str_of(f, "name").unwrap_or_default().to_string();
                let id = str_of(f, "id").map(str::to_string).unwrap_or_else(|| format!("call_{calls}"));
                pending.entry(name.clone()).or_default().push_back(id.clone());
                parts.push(Part::ToolCall {
                    id,
                    name,
                    arguments: f.get("args").map(|a| a.to_string()).unwrap_or_else(|| "{}".into()),
                    signature: str_of(p, "thoughtSignature").map(str::to_string),
                });
            } else if let Some(f) = p.get("functionResponse") {
                let name = str_of(f, "name").unwrap_or_default().to_string();
                let id = str_of(f, "id")
                    .map(str::to_string)
                    .or_else(|| pending.get_mut(&name).and_then(VecDeque::pop_front))
                    .unwrap_or_else(|| format!("call_{name}"));
                let resp = &f["response"];
                let (content, is_error) = match (resp.get("output"), resp.get("error")) {
                    (_, Some(e)) => (e, true),
                    (Some(o), None) => (o, false),
                    (None, None) => (resp, false),
                };
                let text = match content {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                // Gemini 3 multimodal function responses: media nested in the response's own parts.
                let mut content = vec![Part::Text(text)];
                for d in arr(f, "parts").iter().filter_map(|fp| fp.get("inlineData")) {
                    let mime = str_of(d, "mimeType").unwrap_or("application/octet-stream");
                    content.push(media(
                        mime,
                        MediaSource::Base64 {
                            media_type: mime.into(),
                            data: str_of(d, "data").unwrap_or_default().into(),
                        },
                    ));
                }
                parts.push(Part::ToolResult { call_id: id, name: Some(name), content, is_error });
            }
        }
        if !parts.is_empty() {
            push(&mut req.messages, role, parts);
        }
    }
    for t in arr(body, "tools") {
        let decls = arr(t, "functionDeclarations");
        if decls.is_empty() && t.as_object().is_some_and(|o| !o.is_empty()) {
            let kind = t.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default();
            return Err(format!("tool `{kind}` cannot be translated; only functionDeclarations can"));
        }
        for d in decls {
            req.tools.push(Tool {
                name: str_of(d, "name").ok_or("a function declaration needs a `name`")?.to_string(),
                description: str_of(d, "description").map(str::to_string),
                // `parametersJsonSchema` is JSON Schema already; `parameters` is Gemini's
                // OpenAPI style (upper-case types, `nullable`), turned into JSON Schema.
                parameters: d
                    .get("parametersJsonSchema")
                    .cloned()
                    .or_else(|| d.get("parameters").map(to_json_schema))
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                kind: ToolKind::Function,
            });
        }
    }
    let fc = &body["toolConfig"]["functionCallingConfig"];
    req.tool_choice = match str_of(fc, "mode") {
        Some("NONE") => Some(ToolChoice::None),
        Some("ANY") | Some("VALIDATED") => match arr(fc, "allowedFunctionNames") {
            [one] => one.as_str().map(|n| ToolChoice::Named(n.to_string())),
            _ => Some(ToolChoice::Required),
        },
        Some("AUTO") => Some(ToolChoice::Auto),
        _ => None,
    };
    let g = &body["generationConfig"];
    req.max_tokens = u32_of(g, "maxOutputTokens");
    req.temperature = f64_of(g, "temperature");
    req.top_p = f64_of(g, "topP");
    req.stop = strings(g.get("stopSequences"));
    if let Some(t) = g.get("thinkingConfig").filter(|t| t.is_object()) {
        let budget = t.get("thinkingBudget").and_then(Value::as_i64);
        if budget != Some(0) {
            req.reasoning = Some(Reasoning {
                effort: str_of(t, "thinkingLevel").map(str::to_ascii_lowercase),
                budget_tokens: budget.and_then(|b| u32::try_from(b).ok()),
                include: t["includeThoughts"].as_bool().unwrap_or(false),
            });
        }
    }
    if str_of(g, "responseMimeType") == Some("application/json") {
        req.response_format = Some(match g.get("responseSchema").or_else(|| g.get("responseJsonSchema")) {
            Some(s) => ResponseFormat::JsonSchema { name: "response".into(), schema: to_json_schema(s) },
            None => ResponseFormat::JsonObject,
        });
    }
    if req.messages.is_empty() {
        return Err("`contents` must not be empty".into());
    }
    Ok(req)
}

fn guess_mime(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        _ => "image/jpeg",
    }
}

fn media_part(source: &MediaSource) -> Value {
    match source {
        MediaSource::Base64 { media_type, data } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
        MediaSource::Url(u) => json!({"fileData": {"mimeType": guess_mime(u), "fileUri": u}}),
    }
}

/// Encodes a canonical request as a generateContent body.
pub fn encode(req: &Request, max_output: Option<u32>) -> Value {
    // Call id → tool name, to name function responses.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        for p in &m.parts {
            if let Part::ToolCall { id, name, .. } = p {
                names.insert(id, name);
            }
        }
    }
    let mut contents: Vec<Value> = Vec::new();
    for m in &req.messages {
        let mut parts = Vec::new();
        for p in &m.parts {
            match p {
                Part::Text(t) if !t.is_empty() => parts.push(json!({"text": t})),
                Part::Image { source, .. } | Part::File { source, .. } => parts.push(media_part(source)),
                Part::ToolCall { name, arguments, signature, .. } => {
                    let mut v = json!({"functionCall": {"name": name, "args": args_object(arguments)}});
                    if let Some(s) = signature {
                        v["thoughtSignature"] = json!(s);
                    }
                    parts.push(v)
                }
                Part::ToolResult { call_id, name, content, is_error } => {
                    let name = name.as_deref().or_else(|| names.get(call_id.as_str()).copied()).unwrap_or("tool");
                    let text = text_of(content);
                    let value = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                    let response = if *is_error { json!({"error": value}) } else { json!({"output": value}) };
                    parts.push(json!({"functionResponse": {"name": name, "response": response}}));
                    // Media a tool returned rides beside its response, which every Gemini model reads.
                    for m in crate::translate::canonical::media_of(content) {
                        if let Part::Image { source, .. } | Part::File { source, .. } = &m {
                            parts.push(media_part(source));
                        }
                    }
                }
                // Thought signatures go back only on thought parts, and only Gemini's own.
                Part::Reasoning { text, signature, origin: Some(Dialect::Gemini), .. }
                    if !text.is_empty() || signature.is_some() =>
                {
                    let mut v = json!({"text": text, "thought": true});
                    if let Some(s) = signature {
                        v["thoughtSignature"] = json!(s);
                    }
                    parts.push(v);
                }
                Part::Text(_) | Part::Reasoning { .. } => {}
            }
        }
        if parts.is_empty() {
            continue;
        }
        let role = if m.role == Role::Assistant { "model" } else { "user" };
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(a) = last["parts"].as_array_mut() {
                    a.extend(parts);
                }
            }
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !req.system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": [{"text": req.system.join("\n\n")}]}));
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name, "parameters": clean(&t.parameters)});
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                d
            })
            .collect();
        out.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(tc) = &req.tool_choice {
        let cfg = match tc {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
        };
        out.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
    }
    let mut g = Map::new();
    if let Some(n) = req.max_tokens {
        g.insert("maxOutputTokens".into(), json!(max_output.map_or(n, |m| n.min(m))));
    }
    if let Some(t) = req.temperature {
        g.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        g.insert("topP".into(), json!(t));
    }
    if !req.stop.is_empty() {
        g.insert("stopSequences".into(), json!(req.stop));
    }
    // An effort of none or minimal never turns thinking on.
    if let Some(r) = req.reasoning.as_ref().filter(|r| !matches!(r.effort.as_deref(), Some("none" | "minimal"))) {
        g.insert("thinkingConfig".into(), json!({"thinkingBudget": r.budget(), "includeThoughts": true}));
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            g.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            g.insert("responseMimeType".into(), json!("application/json"));
            g.insert("responseSchema".into(), clean(schema));
        }
        None => {}
    }
    if !g.is_empty() {
        out.insert("generationConfig".into(), Value::Object(g));
    }
    Value::Object(out)
}

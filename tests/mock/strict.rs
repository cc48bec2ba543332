//! The strict mode of the mock upstream: it refuses, with the real APIs' status and error shape,
//! what the real APIs refuse, so a regression in what the gateway sends shows up as the 400 a
//! user would see. Each rule names its source in `/tests/fixtures/clients/README.md` and the
//! gateway's translation notes.

use serde_json::{Value, json};

use super::dialect_of;

fn openai_error(message: &str, param: Option<&str>, code: Option<&str>) -> (u16, Value) {
    (400, json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}))
}

fn anthropic_error(message: &str) -> (u16, Value) {
    (400, json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}))
}

fn gemini_error(message: &str) -> (u16, Value) {
    (400, json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}))
}

fn is_reasoning_openai(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| model.starts_with(p))
}

fn valid_tool_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Schema keywords the Gemini API does not accept in `parameters` / `responseSchema`.
const GEMINI_UNKNOWN: [&str; 6] = ["additionalProperties", "$schema", "const", "exclusiveMinimum", "$ref", "$defs"];

fn gemini_schema_problem(s: &Value, at: &str) -> Option<String> {
    let obj = s.as_object()?;
    for k in GEMINI_UNKNOWN {
        if obj.contains_key(k) {
            return Some(format!("Invalid JSON payload received. Unknown name \"{k}\" at '{at}': Cannot find field."));
        }
    }
    let t = obj.get("type").and_then(Value::as_str).map(str::to_ascii_uppercase);
    if t.as_deref() == Some("ARRAY") && !obj.contains_key("items") {
        return Some(format!("* GenerateContentRequest.{at}.items: missing field."));
    }
    if let Some(Value::Array(types)) = obj.get("type") {
        return Some(format!(
            "Invalid value at '{at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), {types:?}"
        ));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            if let Some(e) = gemini_schema_problem(p, &format!("{at}.properties[{name}]")) {
                return Some(e);
            }
        }
    }
    if let Some(items) = obj.get("items") {
        return gemini_schema_problem(items, &format!("{at}.items"));
    }
    None
}

fn check_anthropic(req: &Value, headers: &std::collections::HashMap<String, String>) -> Option<(u16, Value)> {
    let betas = headers.get("anthropic-beta").cloned().unwrap_or_default();
    if req.get("context_management").is_some() && !betas.split(',').any(|b| b.trim() == "context-management-2025-06-27")
    {
        return Some(anthropic_error("context_management: Extra inputs are not permitted"));
    }
    if req.get("max_tokens").and_then(Value::as_u64).is_none() {
        return Some(anthropic_error("max_tokens: Field required"));
    }
    let model = req["model"].as_str().unwrap_or_default();
    if model.starts_with("claude") && req.get("temperature").is_some() && req.get("top_p").is_some() {
        return Some(anthropic_error(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ));
    }
    let thinking = req["thinking"]["type"].as_str().is_some_and(|t| t == "enabled" || t == "adaptive");
    if req["thinking"]["type"] == "enabled" {
        let budget = req["thinking"]["budget_tokens"].as_u64().unwrap_or(0);
        if budget < 1024 {
            return Some(anthropic_error(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            ));
        }
        if budget >= req["max_tokens"].as_u64().unwrap_or(0) {
            return Some(anthropic_error("`max_tokens` must be greater than `thinking.budget_tokens`"));
        }
    }
    if thinking && req["temperature"].as_f64().is_some_and(|t| (t - 1.0).abs() > f64::EPSILON) {
        return Some(anthropic_error("`temperature` may only be set to 1 when thinking is enabled"));
    }
    if thinking && matches!(req["tool_choice"]["type"].as_str(), Some("any" | "tool")) {
        return Some(anthropic_error("Thinking may not be enabled when tool_choice forces tool use."));
    }
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    for (i, m) in messages.iter().enumerate() {
        for (j, b) in m["content"].as_array().into_iter().flatten().enumerate() {
            match b["type"].as_str() {
                Some("thinking") => {
                    let sig = b["signature"].as_str().unwrap_or_default();
                    if sig.is_empty() || sig.contains(':') {
                        return Some(anthropic_error(&format!(
                            "messages.{i}.content.{j}: Invalid signature in thinking block"
                        )));
                    }
                }
                Some("tool_use") if !valid_tool_id(b["id"].as_str().unwrap_or_default()) => {
                    return Some(anthropic_error(&format!(
                        "messages.{i}.content.{j}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
                    )));
                }
                Some("tool_result") if !valid_tool_id(b["tool_use_id"].as_str().unwrap_or_default()) => {
                    return Some(anthropic_error(&format!(
                        "messages.{i}.content.{j}.tool_result.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'"
                    )));
                }
                _ => {}
            }
        }
    }
    // With thinking on, the last assistant turn of a tool loop must start with a thinking block.
    if thinking
        && let Some(last) = messages.iter().rev().find(|m| m["role"] == "assistant")
        && last["content"].as_array().is_some_and(|c| c.iter().any(|b| b["type"] == "tool_use"))
        && !matches!(last["content"][0]["type"].as_str(), Some("thinking" | "redacted_thinking"))
    {
        return Some(anthropic_error(
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block",
        ));
    }
    None
}

fn check_openai_chat(req: &Value) -> Option<(u16, Value)> {
    let model = req["model"].as_str().unwrap_or_default();
    if is_reasoning_openai(model) {
        if req.get("max_tokens").is_some() {
            return Some(openai_error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                Some("max_tokens"),
                Some("unsupported_parameter"),
            ));
        }
        if req["temperature"].as_f64().is_some_and(|t| (t - 1.0).abs() > f64::EPSILON) {
            return Some(openai_error(
                "Unsupported value: 'temperature' does not support this value with this model. Only the default (1) value is supported.",
                Some("temperature"),
                Some("unsupported_value"),
            ));
        }
        if req.get("top_p").is_some() {
            return Some(openai_error(
                "Unsupported parameter: 'top_p' is not supported with this model.",
                Some("top_p"),
                None,
            ));
        }
    }
    let replay = model.contains("deepseek") || model.contains("kimi");
    for (i, m) in req["messages"].as_array().into_iter().flatten().enumerate() {
        if m["role"] == "assistant" && m["content"].as_array().is_some_and(Vec::is_empty) {
            return Some(openai_error(
                &format!("Invalid 'messages[{i}].content': empty array. Expected an array with minimum length 1"),
                Some("messages"),
                None,
            ));
        }
        let calls = m["tool_calls"].as_array().is_some_and(|c| !c.is_empty());
        if replay && m["role"] == "assistant" && calls && m.get("reasoning_content").is_none() {
            return Some(openai_error(
                "The `reasoning_content` in the thinking mode must be passed back to the API.",
                None,
                Some("invalid_request_error"),
            ));
        }
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            if c["id"].as_str().is_some_and(|id| id.len() > 40) {
                return Some(openai_error(
                    &format!(
                        "Invalid 'messages[{i}].tool_calls[0].id': string too long. Expected a string with maximum length 40"
                    ),
                    Some("messages"),
                    Some("string_above_max_length"),
                ));
            }
        }
    }
    None
}

fn check_gemini(req: &Value, path: &str) -> Option<(u16, Value)> {
    let model = path.split("/models/").nth(1).and_then(|m| m.split(':').next()).unwrap_or_default();
    if req["generationConfig"]["candidateCount"].as_u64().is_some_and(|n| n > 1) && model.starts_with("gemini-3") {
        return Some(gemini_error("Multiple candidates is not enabled for this model"));
    }
    for (ti, t) in req["tools"].as_array().into_iter().flatten().enumerate() {
        for (fi, f) in t["functionDeclarations"].as_array().into_iter().flatten().enumerate() {
            let at = format!("tools[{ti}].function_declarations[{fi}].parameters");
            if let Some(e) = f.get("parameters").and_then(|p| gemini_schema_problem(p, &at)) {
                return Some(gemini_error(&e));
            }
        }
    }
    if let Some(e) = req["generationConfig"]
        .get("responseSchema")
        .and_then(|s| gemini_schema_problem(s, "generation_config.response_schema"))
    {
        return Some(gemini_error(&e));
    }
    for (ci, c) in req["contents"].as_array().into_iter().flatten().enumerate() {
        for p in c["parts"].as_array().into_iter().flatten() {
            if let Some(sig) = p.get("thoughtSignature").and_then(Value::as_str) {
                let b64 = sig.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '/' | '=' | '-' | '_'));
                if !b64 {
                    return Some(gemini_error(
                        "Invalid value at 'thought_signature' (TYPE_BYTES), Base64 decoding failed",
                    ));
                }
            }
            if model.starts_with("gemini-3")
                && c["role"] == "model"
                && p.get("functionCall").is_some()
                && p.get("thoughtSignature").is_none()
            {
                let name = p["functionCall"]["name"].as_str().unwrap_or_default();
                return Some(gemini_error(&format!(
                    "Function call `{name}` in the `{ci}.` content block is missing a `thought_signature`."
                )));
            }
        }
    }
    None
}

/// What the real API would refuse in this request, as (status, body).
pub fn check(path: &str, req: &Value, headers: &std::collections::HashMap<String, String>) -> Option<(u16, Value)> {
    match dialect_of(path) {
        "anthropic" if !path.ends_with("/count_tokens") => check_anthropic(req, headers),
        "openai-chat" if path.ends_with("/chat/completions") => check_openai_chat(req),
        "gemini" => check_gemini(req, path),
        _ => None,
    }
}

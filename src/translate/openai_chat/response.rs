//! OpenAI Chat Completions responses ↔ canonical.

use actors::usage::TokenUsage;
use serde_json::{Value, json};

use super::{stop_from, stop_to};
use crate::protocol::openai::OpenAiUsage;
use crate::translate::canonical::{Part, Response, Stop, new_id};
use crate::translate::json::{arr, str_of, text_content};
use crate::translate::think::split_whole;

/// Usage of a Chat body (`usage` object), canonical.
pub fn usage_of(v: &Value) -> Option<TokenUsage> {
    v.get("usage")
        .filter(|u| u.is_object())
        .and_then(|u| serde_json::from_value::<OpenAiUsage>(u.clone()).ok())
        .map(|u| u.canonical())
}

/// Decodes a non-streamed Chat Completions body.
pub fn decode(body: &Value) -> Result<Response, String> {
    let choice = arr(body, "choices").first().ok_or("the upstream returned no choices")?;
    let msg = &choice["message"];
    let mut parts = Vec::new();
    if let Some(r) = str_of(msg, "reasoning_content").or_else(|| str_of(msg, "reasoning")).filter(|r| !r.is_empty()) {
        parts.push(Part::Reasoning { text: r.to_string(), signature: None, opaque: None, origin: None });
    }
    let (think, content) = split_whole(&text_content(msg.get("content")));
    if let Some(r) = think {
        parts.push(Part::Reasoning { text: r, signature: None, opaque: None, origin: None });
    }
    if !content.is_empty() {
        parts.push(Part::Text(content));
    }
    if let Some(refusal) = str_of(msg, "refusal").filter(|r| !r.is_empty()) {
        parts.push(Part::Text(refusal.to_string()));
    }
    for c in arr(msg, "tool_calls") {
        let f = &c["function"];
        parts.push(Part::ToolCall {
            id: str_of(c, "id").map(str::to_string).unwrap_or_else(|| new_id("call_")),
            name: str_of(f, "name").unwrap_or_default().to_string(),
            arguments: match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            },
            signature: google_signature(c),
        });
    }
    let mut stop = str_of(choice, "finish_reason").map(stop_from).unwrap_or(Stop::End);
    if stop == Stop::End && parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        stop = Stop::ToolUse;
    }
    Ok(Response {
        id: str_of(body, "id").map(str::to_string).unwrap_or_else(|| new_id("chatcmpl-")),
        model: str_of(body, "model").unwrap_or_default().to_string(),
        parts,
        stop,
        usage: usage_of(body).unwrap_or_default(),
    })
}

/// A Gemini thought signature as the Gemini API's own OpenAI-compatible endpoint carries it on a
/// tool call (`extra_content.google.thought_signature`), which clients echo back unchanged.
pub fn google_extra(signature: &str) -> Value {
    json!({"google": {"thought_signature": signature}})
}

/// The Gemini thought signature of an OpenAI tool call, if it carries one.
pub fn google_signature(call: &Value) -> Option<String> {
    str_of(&call["extra_content"]["google"], "thought_signature").map(str::to_string)
}

/// Encodes a canonical response as a Chat Completions body.
pub fn encode(r: &Response) -> Value {
    let text = crate::translate::canonical::text_of(&r.parts);
    let reasoning: String = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Reasoning { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall { id, name, arguments, signature } => {
                let mut call = json!({
                    "id": id, "type": "function", "function": {"name": name, "arguments": if arguments.is_empty() { "{}" } else { arguments }}
                });
                if let Some(s) = signature {
                    call["extra_content"] = google_extra(s);
                }
                Some(call)
            }
            _ => None,
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
        "annotations": [],
    });
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": if r.id.starts_with("chatcmpl") { r.id.clone() } else { format!("chatcmpl-{}", r.id) },
        "object": "chat.completion",
        "created": actors::clock::now_ms() / 1000,
        "model": r.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": stop_to(r.stop)}],
        "usage": OpenAiUsage::from_canonical(&r.usage),
    })
}

//! OpenAI Responses bodies ↔ canonical.

use serde_json::{Value, json};

use super::{opaque_of, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::translate::canonical::{Part, Response, Stop, ToolKind, new_id};
use crate::translate::envelope;
use crate::translate::json::{arr, str_of};

/// Decodes a non-streamed Responses body (or the `response` of a terminal event).
pub fn decode(body: &Value) -> Result<Response, String> {
    if str_of(body, "status") == Some("failed") {
        let msg = body["error"]["message"].as_str().unwrap_or("the upstream response failed");
        return Err(msg.to_string());
    }
    let mut parts = Vec::new();
    for it in arr(body, "output") {
        match str_of(it, "type") {
            Some("message") => {
                for c in arr(it, "content") {
                    match str_of(c, "type") {
                        Some("output_text") => {
                            parts.push(Part::Text(str_of(c, "text").unwrap_or_default().to_string()))
                        }
                        Some("refusal") => parts.push(Part::Text(str_of(c, "refusal").unwrap_or_default().to_string())),
                        _ => {}
                    }
                }
            }
            Some("function_call") => parts.push(Part::ToolCall {
                id: str_of(it, "call_id").map(str::to_string).unwrap_or_else(|| new_id("call_")),
                name: str_of(it, "name").unwrap_or_default().to_string(),
                arguments: str_of(it, "arguments").unwrap_or_default().to_string(),
                signature: None,
            }),
            Some("reasoning") => {
                let text: Vec<&str> =
                    arr(it, "summary").iter().chain(arr(it, "content")).filter_map(|s| str_of(s, "text")).collect();
                parts.push(Part::Reasoning {
                    text: text.join("\n"),
                    signature: None,
                    opaque: opaque_of(it),
                    origin: Some(Dialect::OpenaiResponses),
                });
            }
            _ => {}
        }
    }
    parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
    let stop = match (str_of(body, "status"), str_of(&body["incomplete_details"], "reason")) {
        (Some("incomplete"), Some("content_filter")) => Stop::ContentFilter,
        (Some("incomplete"), _) => Stop::MaxTokens,
        _ if parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) => Stop::ToolUse,
        _ => Stop::End,
    };
    Ok(Response {
        id: str_of(body, "id").map(str::to_string).unwrap_or_else(|| new_id("resp_")),
        model: str_of(body, "model").unwrap_or_default().to_string(),
        parts,
        stop,
        usage: body.get("usage").filter(|u| u.is_object()).map(usage_from).unwrap_or_default(),
    })
}

/// The `encrypted_content` a client keeps for a reasoning part: the Responses API's own, or
/// another provider's signature or opaque data, marked (`envelope`).
pub fn encrypted_content(p: &Part) -> Option<Value> {
    let Part::Reasoning { signature, opaque, origin, .. } = p else { return None };
    match origin {
        Some(Dialect::OpenaiResponses) => opaque
            .as_deref()
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
            .and_then(|o| o.get("encrypted_content").cloned()),
        _ if signature.is_some() || opaque.is_some() => envelope::seal(p).map(Value::String),
        _ => None,
    }
}

/// The output items of a canonical part (none for parts that are not output; a Gemini call's
/// signature rides in a reasoning item just before it).
pub fn items(p: &Part) -> Vec<Value> {
    items_with(p, &[])
}

/// `items`, with calls of tools the client declared as `custom` or `local_shell` given back as
/// those items.
pub fn items_with(p: &Part, kinds: &[(String, ToolKind)]) -> Vec<Value> {
    match p {
        Part::Text(t) => vec![message_item(&new_id("msg_"), t, "completed")],
        Part::ToolCall { id, name, arguments, signature } => {
            let mut out = Vec::new();
            if let Some(s) = signature {
                out.push(json!({"id": new_id("rs_"), "type": "reasoning", "summary": [],
                                "encrypted_content": envelope::tool_signature(id, s)}));
            }
            out.push(super::tools::item(super::tools::kind_of(kinds, name), id, name, arguments));
            out
        }
        Part::Reasoning { text, .. } => {
            let summary: Vec<Value> =
                if text.is_empty() { vec![] } else { vec![json!({"type": "summary_text", "text": text})] };
            let mut v = json!({"id": new_id("rs_"), "type": "reasoning", "summary": summary});
            if let Some(enc) = encrypted_content(p) {
                v["encrypted_content"] = enc;
            }
            vec![v]
        }
        Part::Image { .. } | Part::File { .. } | Part::ToolResult { .. } => vec![],
    }
}

/// A message output item.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant",
           "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]})
}

/// A full Response object.
pub fn envelope(
    id: &str,
    model: &str,
    created: i64,
    status: &str,
    stop: Option<Stop>,
    output: Vec<Value>,
    usage: Option<Value>,
) -> Value {
    let incomplete = match (status, stop) {
        ("incomplete", Some(Stop::ContentFilter)) => json!({"reason": "content_filter"}),
        ("incomplete", _) => json!({"reason": "max_output_tokens"}),
        _ => Value::Null,
    };
    json!({
        "id": id, "object": "response", "created_at": created, "status": status,
        "background": false, "error": null, "incomplete_details": incomplete,
        "instructions": null, "max_output_tokens": null, "model": model, "output": output,
        "parallel_tool_calls": true, "previous_response_id": null, "reasoning": {"effort": null, "summary": null},
        "service_tier": "default", "store": false, "temperature": null, "text": {"format": {"type": "text"}},
        "tool_choice": "auto", "tools": [], "top_p": null, "truncation": "disabled",
        "usage": usage.unwrap_or(Value::Null), "user": null, "metadata": {},
    })
}

/// The status of a finished response.
pub fn status_of(stop: Stop) -> &'static str {
    match stop {
        Stop::MaxTokens | Stop::ContentFilter => "incomplete",
        Stop::End | Stop::StopSequence | Stop::ToolUse => "completed",
    }
}

/// Encodes a canonical response as a Responses body.
pub fn encode(r: &Response) -> Value {
    encode_with(r, &[])
}

/// `encode`, giving calls of the client's `custom` / `local_shell` tools back as their items.
pub fn encode_with(r: &Response, kinds: &[(String, ToolKind)]) -> Value {
    let output: Vec<Value> = r.parts.iter().flat_map(|p| items_with(p, kinds)).collect();
    let id = if r.id.starts_with("resp_") { r.id.clone() } else { new_id("resp_") };
    envelope(
        &id,
        &r.model,
        actors::clock::now_ms() / 1000,
        status_of(r.stop),
        Some(r.stop),
        output,
        Some(usage_to(&r.usage)),
    )
}

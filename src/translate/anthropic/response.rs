//! Anthropic Messages responses ↔ canonical.

use serde_json::{Value, json};

use super::{stop_from, stop_to, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::translate::canonical::{Part, Response, Stop, new_id};
use crate::translate::envelope;
use crate::translate::json::{args_object, arr, str_of};

/// Decodes a non-streamed Messages body.
pub fn decode(body: &Value) -> Result<Response, String> {
    if str_of(body, "type") == Some("error") {
        return Err("the upstream returned an error body".into());
    }
    let mut parts = Vec::new();
    for b in arr(body, "content") {
        match str_of(b, "type") {
            Some("text") => parts.push(Part::Text(str_of(b, "text").unwrap_or_default().to_string())),
            Some("thinking") => parts.push(Part::Reasoning {
                text: str_of(b, "thinking").unwrap_or_default().to_string(),
                signature: str_of(b, "signature").map(str::to_string),
                opaque: None,
                origin: Some(Dialect::Anthropic),
            }),
            Some("redacted_thinking") => parts.push(Part::Reasoning {
                text: String::new(),
                signature: None,
                opaque: str_of(b, "data").map(str::to_string),
                origin: Some(Dialect::Anthropic),
            }),
            Some("tool_use") => parts.push(Part::ToolCall {
                id: str_of(b, "id").unwrap_or_default().to_string(),
                name: str_of(b, "name").unwrap_or_default().to_string(),
                arguments: b.get("input").map(|i| i.to_string()).unwrap_or_else(|| "{}".into()),
                signature: None,
            }),
            _ => {}
        }
    }
    parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
    Ok(Response {
        id: str_of(body, "id").map(str::to_string).unwrap_or_else(|| new_id("msg_")),
        model: str_of(body, "model").unwrap_or_default().to_string(),
        parts,
        stop: str_of(body, "stop_reason").map(stop_from).unwrap_or(Stop::End),
        usage: body.get("usage").map(usage_from).unwrap_or_default(),
    })
}

/// Reasoning as a client's thinking block: Anthropic's own as it came; anyone else's with its
/// opaque data marked (`envelope`) in the signature, so it can only ever go back to its maker and
/// the client never sees an empty signature.
pub fn thinking_block(p: &Part) -> Option<Value> {
    let Part::Reasoning { text, signature, opaque, origin } = p else { return None };
    Some(match (origin, signature, opaque) {
        (Some(Dialect::Anthropic), Some(sig), _) => json!({"type": "thinking", "thinking": text, "signature": sig}),
        (Some(Dialect::Anthropic), None, Some(data)) => json!({"type": "redacted_thinking", "data": data}),
        _ => json!({"type": "thinking", "thinking": text, "signature": envelope::seal(p).unwrap_or_default()}),
    })
}

/// Encodes a canonical response as a Messages body.
pub fn encode(r: &Response) -> Value {
    let mut content: Vec<Value> = Vec::new();
    for p in &r.parts {
        match p {
            Part::Text(t) => content.push(json!({"type": "text", "text": t})),
            Part::Reasoning { .. } => content.extend(thinking_block(p)),
            Part::ToolCall { id, name, arguments, signature } => {
                content.push(json!({"type": "tool_use", "id": id, "name": name, "input": args_object(arguments)}));
                if let Some(s) = signature {
                    let sealed = envelope::tool_signature(id, s);
                    content.push(json!({"type": "thinking", "thinking": "", "signature": sealed}));
                }
            }
            Part::Image { .. } | Part::File { .. } | Part::ToolResult { .. } => {}
        }
    }
    if content.is_empty() {
        content.push(json!({"type": "text", "text": ""}));
    }
    json!({
        "id": if r.id.starts_with("msg_") { r.id.clone() } else { format!("msg_{}", r.id) },
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": content,
        "stop_reason": stop_to(r.stop),
        "stop_sequence": null,
        "usage": usage_to(&r.usage),
    })
}

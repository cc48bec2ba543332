//! Gemini generateContent responses ↔ canonical.

use serde_json::{Value, json};

use super::{stop_from, stop_to, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::translate::canonical::{Part, Response, Stop, new_id};
use crate::translate::json::{args_object, arr, str_of};

/// The parts of one response (or stream chunk), canonical; tool calls get fresh ids.
pub fn parts_of(candidate: &Value) -> Vec<Part> {
    let mut out = Vec::new();
    for p in arr(&candidate["content"], "parts") {
        let signature = str_of(p, "thoughtSignature").or_else(|| str_of(p, "thought_signature")).map(str::to_string);
        if let Some(t) = str_of(p, "text") {
            if p["thought"].as_bool() == Some(true) {
                out.push(Part::Reasoning {
                    text: t.to_string(),
                    signature,
                    opaque: None,
                    origin: Some(Dialect::Gemini),
                });
            } else if !t.is_empty() {
                out.push(Part::Text(t.to_string()));
            } else if let Some(s) = signature {
                // A signature on an empty trailing part: kept as signed reasoning without text.
                out.push(Part::Reasoning {
                    text: String::new(),
                    signature: Some(s),
                    opaque: None,
                    origin: Some(Dialect::Gemini),
                });
            }
        } else if let Some(f) = p.get("functionCall").or_else(|| p.get("function_call")) {
            out.push(Part::ToolCall {
                id: str_of(f, "id").map(str::to_string).unwrap_or_else(|| new_id("call_")),
                name: str_of(f, "name").unwrap_or_default().to_string(),
                arguments: f.get("args").map(|a| a.to_string()).unwrap_or_else(|| "{}".into()),
                signature,
            });
        }
    }
    out
}

/// Decodes a non-streamed generateContent body.
pub fn decode(body: &Value) -> Result<Response, String> {
    let candidate = arr(body, "candidates").first().cloned().unwrap_or(Value::Null);
    let parts = parts_of(&candidate);
    let blocked = body["promptFeedback"].get("blockReason").is_some();
    let mut stop = str_of(&candidate, "finishReason").map(stop_from).unwrap_or(if blocked {
        Stop::ContentFilter
    } else {
        Stop::End
    });
    if stop == Stop::End && parts.iter().any(|p| matches!(p, Part::ToolCall { .. })) {
        stop = Stop::ToolUse;
    }
    Ok(Response {
        id: str_of(body, "responseId").map(str::to_string).unwrap_or_else(|| new_id("gen-")),
        model: str_of(body, "modelVersion").unwrap_or_default().to_string(),
        parts,
        stop,
        usage: body.get("usageMetadata").map(usage_from).unwrap_or_default(),
    })
}

/// A canonical part as a Gemini part (`None` for parts that are not model output).
pub fn part(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) => Some(json!({"text": t})),
        Part::Reasoning { text, signature, origin, .. } if !text.is_empty() || signature.is_some() => {
            let mut v = json!({"text": text, "thought": true});
            if let (Some(s), Some(Dialect::Gemini)) = (signature, origin) {
                v["thoughtSignature"] = json!(s);
            }
            Some(v)
        }
        Part::ToolCall { name, arguments, signature, .. } => {
            let mut v = json!({"functionCall": {"name": name, "args": args_object(arguments)}});
            if let Some(s) = signature {
                v["thoughtSignature"] = json!(s);
            }
            Some(v)
        }
        Part::Reasoning { .. } | Part::Image { .. } | Part::File { .. } | Part::ToolResult { .. } => None,
    }
}

/// Encodes a canonical response as a generateContent body.
pub fn encode(r: &Response) -> Value {
    let parts: Vec<Value> = r.parts.iter().filter_map(part).collect();
    json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": stop_to(r.stop), "index": 0}],
        "usageMetadata": usage_to(&r.usage),
        "modelVersion": r.model,
        "responseId": r.id,
    })
}

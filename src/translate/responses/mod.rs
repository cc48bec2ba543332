//! OpenAI Responses ↔ canonical: request, response and stream, both directions.

pub mod request;
pub mod response;
pub mod stream;
pub mod tools;

use actors::usage::TokenUsage;
use serde_json::{Value, json};

use crate::translate::json::u64_of;

/// A Responses `usage` object → canonical.
pub fn usage_from(u: &Value) -> TokenUsage {
    TokenUsage {
        input: u64_of(u, "input_tokens").unwrap_or(0),
        output: u64_of(u, "output_tokens").unwrap_or(0),
        cache_read: u.get("input_tokens_details").and_then(|d| u64_of(d, "cached_tokens")).unwrap_or(0),
        cache_write: u.get("input_tokens_details").and_then(|d| u64_of(d, "cache_write_tokens")).unwrap_or(0),
        reasoning: u.get("output_tokens_details").and_then(|d| u64_of(d, "reasoning_tokens")).unwrap_or(0),
        estimated: false,
        units: None,
    }
}

/// Canonical → a Responses `usage` object (`total_tokens` always present).
pub fn usage_to(u: &TokenUsage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cache_read},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total(),
    })
}

/// Opaque reasoning of a Responses reasoning item: its id and encrypted content, as one string.
pub fn opaque_of(item: &Value) -> Option<String> {
    let enc = item.get("encrypted_content").and_then(Value::as_str)?;
    Some(json!({"id": item.get("id"), "encrypted_content": enc}).to_string())
}

//! Anthropic Messages ↔ canonical: request, response and stream, both directions.

pub mod request;
pub mod response;
pub mod stream;
pub mod structured;

use actors::usage::TokenUsage;
use serde_json::{Value, json};

use crate::translate::canonical::Stop;
use crate::translate::json::u64_of;

/// `stop_reason` → canonical.
pub fn stop_from(reason: &str) -> Stop {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => Stop::MaxTokens,
        "stop_sequence" => Stop::StopSequence,
        "tool_use" => Stop::ToolUse,
        "refusal" => Stop::ContentFilter,
        _ => Stop::End,
    }
}

/// Canonical → `stop_reason`.
pub fn stop_to(stop: Stop) -> &'static str {
    match stop {
        Stop::End => "end_turn",
        Stop::MaxTokens => "max_tokens",
        Stop::StopSequence => "stop_sequence",
        Stop::ToolUse => "tool_use",
        Stop::ContentFilter => "refusal",
    }
}

/// An Anthropic `usage` object → canonical (input includes cache reads and writes).
pub fn usage_from(u: &Value) -> TokenUsage {
    let read = u64_of(u, "cache_read_input_tokens").unwrap_or(0);
    let write = u64_of(u, "cache_creation_input_tokens").unwrap_or(0);
    TokenUsage {
        input: u64_of(u, "input_tokens").unwrap_or(0) + read + write,
        output: u64_of(u, "output_tokens").unwrap_or(0),
        cache_read: read,
        cache_write: write,
        reasoning: u.get("output_tokens_details").and_then(|d| u64_of(d, "thinking_tokens")).unwrap_or(0),
        estimated: false,
        units: None,
    }
}

/// Canonical → an Anthropic `usage` object.
pub fn usage_to(u: &TokenUsage) -> Value {
    json!({
        "input_tokens": u.input.saturating_sub(u.cache_read + u.cache_write),
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cache_read,
        "output_tokens": u.output,
    })
}

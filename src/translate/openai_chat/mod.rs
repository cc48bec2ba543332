//! OpenAI Chat Completions ↔ canonical: request, response and stream, both directions.

pub mod request;
pub mod response;
pub mod stream;

use crate::translate::canonical::Stop;

/// `finish_reason` → canonical.
pub fn stop_from(reason: &str) -> Stop {
    match reason {
        "length" => Stop::MaxTokens,
        "tool_calls" | "function_call" => Stop::ToolUse,
        "content_filter" => Stop::ContentFilter,
        _ => Stop::End,
    }
}

/// Canonical → `finish_reason`.
pub fn stop_to(stop: Stop) -> &'static str {
    match stop {
        Stop::End | Stop::StopSequence => "stop",
        Stop::MaxTokens => "length",
        Stop::ToolUse => "tool_calls",
        Stop::ContentFilter => "content_filter",
    }
}

//! Google Gemini (generateContent) ↔ canonical: request, response and stream, both directions,
//! plus the tool-schema cleaning Gemini needs.

pub mod keys;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

use actors::usage::TokenUsage;
use serde_json::{Value, json};

use crate::translate::canonical::Stop;
use crate::translate::json::u64_of;

/// `finishReason` → canonical (tool use is inferred from function-call parts by the caller).
pub fn stop_from(reason: &str) -> Stop {
    match reason {
        "MAX_TOKENS" => Stop::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => Stop::ContentFilter,
        _ => Stop::End,
    }
}

/// Canonical → `finishReason` (Gemini has no tool-use reason: a tool turn ends with `STOP`).
pub fn stop_to(stop: Stop) -> &'static str {
    match stop {
        Stop::End | Stop::StopSequence | Stop::ToolUse => "STOP",
        Stop::MaxTokens => "MAX_TOKENS",
        Stop::ContentFilter => "SAFETY",
    }
}

/// `usageMetadata` → canonical (candidates exclude thoughts; output includes them).
pub fn usage_from(u: &Value) -> TokenUsage {
    let thoughts = u64_of(u, "thoughtsTokenCount").unwrap_or(0);
    TokenUsage {
        input: u64_of(u, "promptTokenCount").unwrap_or(0) + u64_of(u, "toolUsePromptTokenCount").unwrap_or(0),
        output: u64_of(u, "candidatesTokenCount").unwrap_or(0) + thoughts,
        cache_read: u64_of(u, "cachedContentTokenCount").unwrap_or(0),
        cache_write: 0,
        reasoning: thoughts,
        estimated: false,
        units: None,
    }
}

/// Canonical → `usageMetadata`.
pub fn usage_to(u: &TokenUsage) -> Value {
    let mut v = json!({
        "promptTokenCount": u.input,
        "candidatesTokenCount": u.output.saturating_sub(u.reasoning),
        "totalTokenCount": u.total(),
    });
    if u.reasoning > 0 {
        v["thoughtsTokenCount"] = json!(u.reasoning);
    }
    if u.cache_read > 0 {
        v["cachedContentTokenCount"] = json!(u.cache_read);
    }
    v
}

//! The mock upstream's subscription endpoints, by path prefix (`/cc`, `/cx`, `/gc`, `/gh`,
//! `/qw`): each refuses a request that lacks what the real endpoint requires (headers, body
//! rules), in that endpoint's words, and Code Assist answers in its `{"response": ...}`
//! envelope and serves project discovery (`loadCodeAssist`, `onboardUser`, operations).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::{MockState, fixture, sse_events};

/// Claude Code's identity text (the subscription endpoint's system prompt rule).
pub const IDENTITY: &str = "You are Claude Code, Anthropic's official CLI for Claude.";

/// The provider prefix of a path (`/cc/v1/messages` → `cc`).
pub fn prefix(path: &str) -> Option<&'static str> {
    ["cc", "cx", "gc", "gh", "qw"]
        .into_iter()
        .find(|p| path.starts_with(&format!("/{p}/")) || path.starts_with(&format!("/{p}:")))
}

fn bearer(headers: &HashMap<String, String>) -> Option<&str> {
    headers.get("authorization").and_then(|a| a.strip_prefix("Bearer ")).filter(|t| !t.is_empty())
}

fn anthropic_refusal(message: &str) -> (u16, Value) {
    (400, json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}))
}

/// What the real endpoint would refuse in this request, if anything: (status, body).
pub fn check(path: &str, headers: &HashMap<String, String>, body: &Value) -> Option<(u16, Value)> {
    let p = prefix(path)?;
    if bearer(headers).is_none() {
        return Some((401, json!({"error": {"message": "missing bearer token"}})));
    }
    let h = |k: &str| headers.get(k).map(String::as_str).unwrap_or_default();
    match p {
        "cc" => {
            if headers.contains_key("x-api-key") {
                return Some(anthropic_refusal("an OAuth request carries no x-api-key"));
            }
            if !h("anthropic-beta").split(',').any(|b| b.trim() == "oauth-2025-04-20") {
                return Some((
                    401,
                    json!({"type": "error", "error": {"type": "authentication_error", "message": "OAuth authentication is currently not supported."}}),
                ));
            }
            if !path.contains("beta=true") || h("x-app") != "cli" || !h("user-agent").starts_with("claude-cli/") {
                return Some(anthropic_refusal("not a Claude Code request (beta=true, x-app, user agent)"));
            }
            if path.split('?').next().is_some_and(|p| p.ends_with("/messages")) {
                let blocks = body["system"].as_array().cloned().unwrap_or_default();
                let ok = blocks.iter().take(2).any(|b| b["text"].as_str().is_some_and(|t| t.starts_with(IDENTITY)));
                if !ok {
                    return Some(anthropic_refusal(
                        "This credential is only authorized for use with Claude Code and cannot be used for other API requests.",
                    ));
                }
            }
        }
        "cx" => {
            let refuse = |m: &str| Some((400, json!({"detail": m})));
            if h("chatgpt-account-id").is_empty() || h("originator").is_empty() {
                return refuse("missing ChatGPT-Account-ID or originator");
            }
            if body["store"] != json!(false) {
                return refuse("Store must be set to false");
            }
            if body["stream"] != json!(true) {
                return refuse("Stream must be set to true");
            }
            if !body["instructions"].is_string() {
                return refuse("Instructions are required");
            }
            for k in ["max_output_tokens", "temperature", "top_p", "metadata", "user", "previous_response_id"] {
                if body.get(k).is_some() {
                    return refuse(&format!("Unsupported parameter: {k}"));
                }
            }
            let input = body["input"].as_array();
            if input.is_none() || input.is_some_and(|i| i.iter().any(|it| it["role"] == "system")) {
                return refuse("input must be a list without system items");
            }
        }
        "gc" if path.contains(":generateContent") || path.contains(":streamGenerateContent") => {
            if body["project"].as_str().is_none_or(str::is_empty)
                || !body["request"].is_object()
                || !body["model"].is_string()
            {
                return Some((
                    400,
                    json!({"error": {"code": 400, "message": "Invalid project or request", "status": "INVALID_ARGUMENT"}}),
                ));
            }
            if !h("user-agent").starts_with("GeminiCLI/") {
                return Some((
                    403,
                    json!({"error": {"code": 403, "message": "unknown client", "status": "PERMISSION_DENIED"}}),
                ));
            }
        }
        "gh" => {
            for k in
                ["copilot-integration-id", "editor-version", "editor-plugin-version", "x-initiator", "openai-intent"]
            {
                if h(k).is_empty() {
                    return Some((400, json!({"error": {"message": format!("missing {k}"), "code": "bad_request"}})));
                }
            }
            if !bearer(headers).is_some_and(|t| t.starts_with("tid=")) {
                return Some((401, json!({"error": {"message": "unauthorized: not a Copilot token"}})));
            }
        }
        "qw" if h("x-dashscope-authtype") != "qwen-oauth" || !h("user-agent").starts_with("QwenCode/") => {
            return Some((
                401,
                json!({"error": {"message": "invalid access token or token expired", "code": "invalid_api_key"}}),
            ));
        }
        _ => {}
    }
    None
}

/// Code Assist's own answers (project discovery, and generation in its envelope), for requests
/// nothing was scripted for.
pub fn default_reply(path: &str, body: &Value, state: std::sync::Arc<MockState>) -> Option<HttpResponse> {
    if prefix(path) != Some("gc") {
        return None;
    }
    if path.ends_with(":loadCodeAssist") {
        // A user on no tier yet: the default tier is the free one (GCLI setup.ts).
        return Some(HttpResponse::Ok().json(json!({"allowedTiers": [{"id": "free-tier", "isDefault": true}]})));
    }
    if path.ends_with(":onboardUser") {
        return Some(HttpResponse::Ok().json(json!({"name": "operations/onboard-1", "done": false})));
    }
    if path.contains("/operations/") {
        return Some(HttpResponse::Ok().json(json!({"name": "operations/onboard-1", "done": true,
            "response": {"cloudaicompanionProject": {"id": "proj-onboarded", "name": "Gemini"}}})));
    }
    if path.contains(":streamGenerateContent") {
        let frames: Vec<String> = sse_events(&fixture("gemini", "stream_text.sse"))
            .into_iter()
            .filter_map(|ev| {
                let data = ev.lines().find_map(|l| l.strip_prefix("data: "))?.trim().to_string();
                let inner: Value = serde_json::from_str(&data).ok()?;
                Some(format!("data: {}\r\n\r\n", json!({"response": inner, "traceId": "trace-1"})))
            })
            .collect();
        return Some(super::sse(frames, Duration::ZERO, Duration::ZERO, None, state));
    }
    if path.ends_with(":generateContent") {
        let inner: Value = serde_json::from_str(&fixture("gemini", "response_text.json")).unwrap_or_default();
        let _ = body;
        return Some(HttpResponse::Ok().json(json!({"response": inner, "traceId": "trace-1"})));
    }
    None
}

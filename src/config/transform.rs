//! `[[transforms]]`: request edits declared as code, per provider, model pattern or combo. Only
//! the shape and its checks live here; `pipeline::transform` applies them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an injected system prompt meets the client's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SystemMode {
    /// Before the client's system prompt.
    #[default]
    Prepend,
    /// Instead of it.
    Replace,
}

/// One transform: what it matches and what it does to a matching request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformEntry {
    /// Shown in `x-omnigate-transforms` on the answers it touched.
    pub name: String,
    /// Only requests sent to this provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only upstream model ids matching this pattern (`*`, `?`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only requests that asked for this combo (or alias, or model) by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combo: Option<String>,
    /// Top-level body fields set (JSON values), after translation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, Value>,
    /// Top-level body fields removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Headers set on the upstream request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Client headers not passed on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_headers: Vec<String>,
    /// A system prompt injected in the upstream dialect's own place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Whether `system` goes before the client's system prompt or replaces it.
    #[serde(default)]
    pub system_mode: SystemMode,
    /// Cap on the output tokens asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl TransformEntry {
    /// Whether the transform covers a request for `requested` sent to `provider`/`model`.
    pub fn covers(&self, provider: &str, model: &str, requested: &str) -> bool {
        self.provider.as_deref().is_none_or(|p| p == provider)
            && self.model.as_deref().is_none_or(|m| crate::keys::wildcard_match(m, model))
            && self.combo.as_deref().is_none_or(|c| c == requested)
    }

    /// What is wrong with it, as (field, message).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        if self.name.trim().is_empty() {
            return Some(("name", "must be non-empty"));
        }
        if self.max_tokens == Some(0) {
            return Some(("max_tokens", "must be at least 1"));
        }
        if self.headers.keys().chain(&self.remove_headers).any(|h| h.is_empty() || !h.bytes().all(is_token)) {
            return Some(("headers", "header names are HTTP tokens"));
        }
        if self.headers.values().any(|v| v.bytes().any(|b| b.is_ascii_control())) {
            return Some(("headers", "header values may not hold control characters"));
        }
        if self.set.keys().chain(&self.remove).any(|k| k == "model" || k == "stream") {
            return Some(("set", "`model` and `stream` are the gateway's to set"));
        }
        None
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

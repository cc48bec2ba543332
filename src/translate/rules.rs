//! Request rules per model family: what the real APIs refuse or require of a body for a given
//! model, declared in the catalog (`[[rule]]` in `config/providers.toml`), never as scattered
//! conditions. Applied in one place, to the body about to be sent — passed through or translated:
//! renamed and dropped fields, one-of groups, fields a thinking request may not carry,
//! `reasoning_content` replay, Gemini 3 thought signatures, and the output-token clamp.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::keys::wildcard_match;
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;

/// The documented placeholder that tells Gemini 3 not to validate a function call's thought
/// signature (for calls whose history came from another model).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// What a model family needs of `reasoning_content` on assistant messages (OpenAI Chat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replay {
    /// Every assistant message with tool calls carries it (DeepSeek V4, Kimi thinking models
    /// refuse the turn otherwise; an empty string is accepted).
    Required,
    /// Never sent (models that refuse it).
    Forbidden,
}

/// One rule: the models it covers and what it does.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRule {
    /// Upstream model ids (globs).
    pub models: Vec<String>,
    /// Model ids the globs would match but the rule does not cover.
    #[serde(default)]
    pub except: Vec<String>,
    /// Dialects of the upstream the rule applies to (empty: all).
    #[serde(default)]
    pub dialects: Vec<Dialect>,
    /// Top-level fields renamed (when the new name is absent).
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Top-level fields removed.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Groups of fields of which only the first present one is kept.
    #[serde(default)]
    pub one_of: Vec<Vec<String>>,
    /// Fields removed when the body turns thinking on.
    #[serde(default)]
    pub thinking_drops: Vec<String>,
    /// `reasoning_content` on assistant messages.
    #[serde(default)]
    pub reasoning_replay: Option<Replay>,
    /// Gemini: function calls in the history need a thought signature.
    #[serde(default)]
    pub thought_signatures: bool,
    /// Most answers per request (`n`, `candidateCount`).
    #[serde(default)]
    pub max_candidates: Option<u32>,
    /// Anthropic: the model has no constrained decoding; a JSON schema goes into the system prompt.
    #[serde(default)]
    pub json_by_prompt: bool,
}

impl ModelRule {
    /// Whether the rule covers `model` on an upstream of `dialect`.
    pub fn covers(&self, dialect: Dialect, model: &str) -> bool {
        (self.dialects.is_empty() || self.dialects.contains(&dialect))
            && self.models.iter().any(|g| wildcard_match(g, model))
            && !self.except.iter().any(|g| wildcard_match(g, model))
    }
}

/// The rules of one model, merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    rename: BTreeMap<String, String>,
    drop: Vec<String>,
    one_of: Vec<Vec<String>>,
    thinking_drops: Vec<String>,
    /// `reasoning_content` replay.
    pub replay: Option<Replay>,
    /// Gemini thought signatures required.
    pub thought_signatures: bool,
    /// Most answers per request.
    pub max_candidates: Option<u32>,
    /// A JSON schema goes into the system prompt.
    pub json_by_prompt: bool,
}

impl Rules {
    /// The merged rules of `model` on an upstream of `dialect` (later rules win where they
    /// conflict).
    pub fn of(all: &[ModelRule], dialect: Dialect, model: &str) -> Self {
        let mut r = Self::default();
        for rule in all.iter().filter(|x| x.covers(dialect, model)) {
            r.rename.extend(rule.rename.clone());
            r.drop.extend(rule.drop.iter().cloned());
            r.one_of.extend(rule.one_of.iter().cloned());
            r.thinking_drops.extend(rule.thinking_drops.iter().cloned());
            r.replay = rule.reasoning_replay.or(r.replay);
            r.thought_signatures |= rule.thought_signatures;
            r.max_candidates = rule.max_candidates.or(r.max_candidates);
            r.json_by_prompt |= rule.json_by_prompt;
        }
        r
    }
}

/// A request body whose top-level fields the rules edit: a passed-through body (raw values) or a
/// translated one.
pub trait Fields {
    /// Whether the field is present.
    fn has(&self, k: &str) -> bool;
    /// Removes the field, returning its value.
    fn take(&mut self, k: &str) -> Option<Value>;
    /// Sets the field.
    fn put(&mut self, k: &str, v: Value);
}

impl Fields for RawObject {
    fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
    fn take(&mut self, k: &str) -> Option<Value> {
        let v = self.parse::<Value>(k);
        self.remove(k);
        v
    }
    fn put(&mut self, k: &str, v: Value) {
        self.set(k, &v);
    }
}

impl Fields for Map<String, Value> {
    fn has(&self, k: &str) -> bool {
        self.contains_key(k)
    }
    fn take(&mut self, k: &str) -> Option<Value> {
        self.remove(k)
    }
    fn put(&mut self, k: &str, v: Value) {
        self.insert(k.to_string(), v);
    }
}

fn thinking_on(dialect: Dialect, body: &mut impl Fields) -> bool {
    match dialect {
        Dialect::Anthropic => {
            let Some(t) = body.take("thinking") else { return false };
            let on = matches!(t["type"].as_str(), Some("enabled" | "adaptive"));
            body.put("thinking", t);
            on
        }
        Dialect::OpenaiChat | Dialect::OpenaiResponses | Dialect::Gemini => false,
    }
}

/// The output-limit field of a dialect's body.
fn limit_field(dialect: Dialect, body: &impl Fields) -> Option<&'static str> {
    match dialect {
        Dialect::OpenaiChat => {
            ["max_completion_tokens", "max_tokens"].into_iter().find(|k| body.has(k)).or(Some("max_tokens"))
        }
        Dialect::OpenaiResponses => Some("max_output_tokens"),
        Dialect::Anthropic => Some("max_tokens"),
        Dialect::Gemini => None,
    }
}

/// Applies `rules` and the model's output limit to a body for an upstream of `dialect`.
/// `translated` bodies carry `reasoning_content` only where a rule wants it.
pub fn apply(dialect: Dialect, rules: &Rules, max_output: Option<u32>, translated: bool, body: &mut impl Fields) {
    for (from, to) in &rules.rename {
        if !body.has(to)
            && let Some(v) = body.take(from)
        {
            body.put(to, v);
        }
    }
    for k in &rules.drop {
        body.take(k);
    }
    for group in &rules.one_of {
        let mut seen = false;
        for k in group {
            if body.has(k) {
                if seen {
                    body.take(k);
                }
                seen = true;
            }
        }
    }
    if !rules.thinking_drops.is_empty() && thinking_on(dialect, body) {
        for k in &rules.thinking_drops {
            body.take(k);
        }
    }
    if let (Some(limit), Some(field)) = (max_output, limit_field(dialect, body))
        && let Some(v) = body.take(field)
    {
        let n = v.as_u64().map_or(v.clone(), |n| json!(n.min(u64::from(limit))));
        body.put(field, n);
    }
    if let (Some(limit), Dialect::Gemini) = (max_output, dialect)
        && let Some(mut g) = body.take("generationConfig")
    {
        if let Some(n) = g["maxOutputTokens"].as_u64() {
            g["maxOutputTokens"] = json!(n.min(u64::from(limit)));
        }
        body.put("generationConfig", g);
    }
    if dialect == Dialect::OpenaiChat && (translated || rules.replay.is_some()) {
        replay_reasoning(rules.replay, body);
    }
    if dialect == Dialect::Gemini && rules.thought_signatures {
        sign_function_calls(body);
    }
    if dialect == Dialect::Anthropic && rules.json_by_prompt {
        json_by_prompt(body);
    }
}

/// Anthropic models without constrained decoding: `output_config.format` becomes an instruction.
fn json_by_prompt(body: &mut impl Fields) {
    let Some(config) = body.take("output_config") else { return };
    let mut m = Map::new();
    m.insert("output_config".into(), config);
    if let Some(s) = body.take("system") {
        m.insert("system".into(), s);
    }
    crate::translate::anthropic::structured::to_prompt(&mut m);
    for (k, v) in m {
        body.put(&k, v);
    }
}

/// `reasoning_content` on assistant messages: added (empty when unknown) to tool-call turns when
/// required, removed when forbidden or not asked for.
fn replay_reasoning(replay: Option<Replay>, body: &mut impl Fields) {
    let Some(mut messages) = body.take("messages") else { return };
    for m in messages.as_array_mut().into_iter().flatten() {
        if m["role"] != "assistant" {
            continue;
        }
        let Some(obj) = m.as_object_mut() else { continue };
        match replay {
            Some(Replay::Required) => {
                let calls = obj.get("tool_calls").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
                if calls && !obj.contains_key("reasoning_content") {
                    obj.insert("reasoning_content".into(), json!(""));
                }
            }
            Some(Replay::Forbidden) | None => {
                obj.remove("reasoning_content");
            }
        }
    }
    body.put("messages", messages);
}

/// Gemini 3: every function call of a model turn carries a thought signature; one whose history
/// came from elsewhere gets the documented placeholder.
fn sign_function_calls(body: &mut impl Fields) {
    let Some(mut contents) = body.take("contents") else { return };
    for c in contents.as_array_mut().into_iter().flatten() {
        if c["role"] != "model" {
            continue;
        }
        for p in c["parts"].as_array_mut().into_iter().flatten() {
            if p.get("functionCall").is_some() && p.get("thoughtSignature").is_none() {
                p["thoughtSignature"] = json!(SKIP_SIGNATURE);
            }
        }
    }
    body.put("contents", contents);
}

/// How many answers a client body asks for (`n`, or Gemini's `generationConfig.candidateCount`).
pub fn candidates(body: &RawObject) -> u64 {
    body.parse::<u64>("n")
        .or_else(|| body.parse::<Value>("generationConfig").and_then(|g| g["candidateCount"].as_u64()))
        .or_else(|| body.parse::<Value>("generation_config").and_then(|g| g["candidate_count"].as_u64()))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<ModelRule> {
        toml::from_str::<BTreeMap<String, Vec<ModelRule>>>(
            r#"
            [[rule]]
            models = ["o3*", "gpt-5*"]
            except = ["gpt-5*-chat*"]
            dialects = ["openai-chat"]
            rename = { max_tokens = "max_completion_tokens" }
            drop = ["temperature", "top_p"]
            [[rule]]
            models = ["claude-*"]
            one_of = [["temperature", "top_p"]]
            thinking_drops = ["temperature", "top_k", "top_p"]
            [[rule]]
            models = ["deepseek-*", "kimi-k2-thinking*"]
            reasoning_replay = "required"
            [[rule]]
            models = ["deepseek-reasoner"]
            reasoning_replay = "forbidden"
            [[rule]]
            models = ["gemini-3*"]
            thought_signatures = true
            max_candidates = 1
            "#,
        )
        .ok()
        .and_then(|mut m| m.remove("rule"))
        .unwrap_or_default()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn families_get_their_rules_and_others_none() {
        let all = rules();
        let mut b = map(json!({"max_tokens": 500000, "temperature": 0.2, "top_p": 0.9, "messages": []}));
        apply(Dialect::OpenaiChat, &Rules::of(&all, Dialect::OpenaiChat, "gpt-5-mini"), Some(128000), false, &mut b);
        assert_eq!(Value::Object(b), json!({"max_completion_tokens": 128000, "messages": []}));
        let mut b = map(json!({"max_tokens": 10, "temperature": 0.2}));
        apply(Dialect::OpenaiChat, &Rules::of(&all, Dialect::OpenaiChat, "gpt-5-chat-latest"), None, false, &mut b);
        assert_eq!(Value::Object(b), json!({"max_tokens": 10, "temperature": 0.2}), "excepted");

        let anth = Rules::of(&all, Dialect::Anthropic, "claude-sonnet-4-5");
        let mut b = map(json!({"max_tokens": 100, "temperature": 0.5, "top_p": 0.9}));
        apply(Dialect::Anthropic, &anth, Some(64000), false, &mut b);
        assert_eq!(Value::Object(b), json!({"max_tokens": 100, "temperature": 0.5}));
        let mut b = map(
            json!({"max_tokens": 100, "temperature": 0.5, "top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 50}}),
        );
        apply(Dialect::Anthropic, &anth, None, false, &mut b);
        assert_eq!(Value::Object(b), json!({"max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": 50}}));
    }

    #[test]
    fn reasoning_content_is_replayed_or_stripped_by_family() {
        let all = rules();
        let body = json!({"messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "assistant", "content": "done", "reasoning_content": "thought"}
        ]});
        let mut b = map(body.clone());
        apply(Dialect::OpenaiChat, &Rules::of(&all, Dialect::OpenaiChat, "deepseek-chat"), None, true, &mut b);
        assert_eq!(b["messages"][1]["reasoning_content"], "");
        assert_eq!(b["messages"][2]["reasoning_content"], "thought");
        let mut b = map(body.clone());
        apply(Dialect::OpenaiChat, &Rules::of(&all, Dialect::OpenaiChat, "deepseek-reasoner"), None, false, &mut b);
        assert!(b["messages"][2].get("reasoning_content").is_none());
        let mut b = map(body.clone());
        apply(Dialect::OpenaiChat, &Rules::default(), None, true, &mut b);
        assert!(b["messages"][2].get("reasoning_content").is_none(), "translated, no rule: stripped");
        let mut b = map(body);
        apply(Dialect::OpenaiChat, &Rules::default(), None, false, &mut b);
        assert_eq!(b["messages"][2]["reasoning_content"], "thought", "the client's own body is left alone");
    }

    #[test]
    fn gemini_3_function_calls_get_a_signature_placeholder() {
        let all = rules();
        let mut b = map(json!({"contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {}}, "thoughtSignature": "c2ln"}]}
        ], "generationConfig": {"maxOutputTokens": 99999}}));
        let r = Rules::of(&all, Dialect::Gemini, "gemini-3-pro-preview");
        assert_eq!(r.max_candidates, Some(1));
        apply(Dialect::Gemini, &r, Some(65536), true, &mut b);
        assert_eq!(b["contents"][0]["parts"][0]["thoughtSignature"], SKIP_SIGNATURE);
        assert_eq!(b["contents"][0]["parts"][1]["thoughtSignature"], "c2ln");
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 65536);
        let mut b = map(json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}]}]}));
        apply(Dialect::Gemini, &Rules::of(&all, Dialect::Gemini, "gemini-2.5-pro"), None, true, &mut b);
        assert!(b["contents"][0]["parts"][0].get("thoughtSignature").is_none());
    }
}

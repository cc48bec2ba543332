//! Request transforms (`[[transforms]]` and `/api/transforms`, held by the live registry) applied
//! in one place: to the body about to be sent, after translation and the catalog's rules, and to
//! the headers passed on. Field edits, a cap on output tokens, and a system prompt put where the
//! upstream dialect keeps it. It never touches `model` or `stream` (refused when the config is
//! loaded or a transform is posted).

use serde_json::{Value, json};

use crate::config::transform::{SystemMode, TransformEntry};
use crate::protocol::Dialect;
use crate::translate::rules::{self, Fields, Rules};

/// The transforms of the live registry (config file and admin API) covering a request for
/// `requested` sent to `provider`/`model`: every match, in position order.
pub fn covering<'a>(
    reg: &'a crate::providers::registry::Registry,
    provider: &str,
    model: &str,
    requested: &str,
) -> Vec<&'a TransformEntry> {
    reg.transforms.iter().filter(|x| x.covers(provider, model, requested)).collect()
}

/// Applies `t` to a body for an upstream of `dialect`.
pub fn apply_body(dialect: Dialect, t: &TransformEntry, body: &mut impl Fields) {
    for k in &t.remove {
        body.take(k);
    }
    for (k, v) in &t.set {
        body.put(k, v.clone());
    }
    if let Some(text) = &t.system {
        system(dialect, text, t.system_mode, body);
    }
    if let Some(cap) = t.max_tokens {
        // The catalog's output clamp, with the transform's cap as the limit.
        rules::apply(dialect, &Rules::default(), Some(cap), false, body);
    }
}

/// Applies `t` to the headers passed on upstream.
pub fn apply_headers(t: &TransformEntry, extra: &mut Vec<(String, String)>) {
    extra.retain(|(k, _)| !t.remove_headers.iter().any(|h| h.eq_ignore_ascii_case(k)));
    for (k, v) in &t.headers {
        extra.retain(|(e, _)| !e.eq_ignore_ascii_case(k));
        extra.push((k.clone(), v.clone()));
    }
}

fn joined(text: &str, old: Option<&str>) -> String {
    match old {
        Some(o) if !o.is_empty() => format!("{text}\n\n{o}"),
        Some(_) | None => text.to_string(),
    }
}

fn system(dialect: Dialect, text: &str, mode: SystemMode, body: &mut impl Fields) {
    let replace = mode == SystemMode::Replace;
    match dialect {
        Dialect::OpenaiChat => {
            let mut messages = body.take("messages").unwrap_or_else(|| json!([]));
            if let Some(list) = messages.as_array_mut() {
                if replace {
                    list.retain(|m| !matches!(m["role"].as_str(), Some("system" | "developer")));
                }
                list.insert(0, json!({"role": "system", "content": text}));
            }
            body.put("messages", messages);
        }
        Dialect::Anthropic => {
            let old = body.take("system");
            let new = match old {
                Some(Value::Array(mut blocks)) if !replace => {
                    blocks.insert(0, json!({"type": "text", "text": text}));
                    Value::Array(blocks)
                }
                Some(Value::String(s)) if !replace => json!(joined(text, Some(&s))),
                Some(_) | None => json!(text),
            };
            body.put("system", new);
        }
        Dialect::OpenaiResponses => {
            let old = body.take("instructions");
            let old = old.as_ref().and_then(Value::as_str).filter(|_| !replace);
            body.put("instructions", json!(joined(text, old)));
        }
        Dialect::Gemini => {
            let mut si = body.take("systemInstruction").filter(|_| !replace).unwrap_or_else(|| json!({"parts": []}));
            match si.get_mut("parts").and_then(Value::as_array_mut) {
                Some(parts) => parts.insert(0, json!({"text": text})),
                None => si = json!({"parts": [{"text": text}]}),
            }
            body.put("systemInstruction", si);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn t(system: Option<&str>, mode: SystemMode) -> TransformEntry {
        TransformEntry { name: "t".into(), system: system.map(str::to_string), system_mode: mode, ..Default::default() }
    }

    #[test]
    fn fields_are_set_and_removed_and_output_is_capped() {
        let mut tr = t(None, SystemMode::Prepend);
        tr.set.insert("temperature".into(), json!(0.1));
        tr.remove.push("top_p".into());
        tr.max_tokens = Some(100);
        let mut b = body(json!({"max_tokens": 5000, "top_p": 0.9, "temperature": 1.0}));
        apply_body(Dialect::Anthropic, &tr, &mut b);
        assert_eq!(Value::Object(b), json!({"max_tokens": 100, "temperature": 0.1}));
        let mut g = body(json!({"generationConfig": {"maxOutputTokens": 9000}}));
        apply_body(Dialect::Gemini, &tr, &mut g);
        assert_eq!(g["generationConfig"]["maxOutputTokens"], 100);
    }

    #[test]
    fn the_system_prompt_goes_where_each_dialect_keeps_it() {
        let pre = t(Some("Be brief."), SystemMode::Prepend);
        let rep = t(Some("Be brief."), SystemMode::Replace);
        let mut chat =
            body(json!({"messages": [{"role": "system", "content": "old"}, {"role": "user", "content": "hi"}]}));
        apply_body(Dialect::OpenaiChat, &rep, &mut chat);
        assert_eq!(
            chat["messages"],
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        );
        let mut a = body(json!({"system": "old"}));
        apply_body(Dialect::Anthropic, &pre, &mut a);
        assert_eq!(a["system"], "Be brief.\n\nold");
        let mut blocks =
            body(json!({"system": [{"type": "text", "text": "old", "cache_control": {"type": "ephemeral"}}]}));
        apply_body(Dialect::Anthropic, &pre, &mut blocks);
        assert_eq!(blocks["system"][0]["text"], "Be brief.");
        assert_eq!(blocks["system"][1]["cache_control"]["type"], "ephemeral", "cache markers survive");
        let mut r = body(json!({}));
        apply_body(Dialect::OpenaiResponses, &pre, &mut r);
        assert_eq!(r["instructions"], "Be brief.");
        let mut g = body(json!({"systemInstruction": {"parts": [{"text": "old"}]}}));
        apply_body(Dialect::Gemini, &pre, &mut g);
        assert_eq!(g["systemInstruction"]["parts"], json!([{"text": "Be brief."}, {"text": "old"}]));
    }

    #[test]
    fn headers_are_set_and_removed_case_blind() {
        let mut tr = t(None, SystemMode::Prepend);
        tr.headers.insert("X-Team".into(), "blue".into());
        tr.remove_headers.push("openai-organization".into());
        let mut extra = vec![("OpenAI-Organization".into(), "org".into()), ("x-team".into(), "red".into())];
        apply_headers(&tr, &mut extra);
        assert_eq!(extra, vec![("X-Team".to_string(), "blue".to_string())]);
    }
}

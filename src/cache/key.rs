//! Which requests the response cache may answer (deterministic ones) and the key it files them
//! under: a SHA-256 of the normalised request. Pure functions over the plan; nothing here sends,
//! stores or allocates for a request that does not use the cache (the caller checks first).
//!
//! Normalisation: the body's top-level fields are sorted by name and every nested object's keys
//! too (canonical JSON), and the fields that do not change the answer are left out: `stream`
//! (the answer's form is in the key apart, as `stream`), `stream_options` other than
//! `include_usage` (which adds a chunk: kept apart), `user`, `metadata`, `safety_identifier`,
//! `prompt_cache_key` and `store` (attribution, routing hints and retention, never the text).
//! The key then adds what the body does not say but the answer depends on: the caller's scope
//! (its gateway key), the client dialect and path (a provider-pinned path, Gemini's model in the
//! path, `alt=sse`), the resolved targets in order, the thinking header and the client headers an
//! upstream sees (`anthropic-beta`, ...).

use sha2::{Digest, Sha256};

use crate::pipeline::{Op, Plan};
use crate::protocol::Dialect;

/// A cache or idempotency key: SHA-256 of the normalised request.
pub type Fingerprint = [u8; 32];

/// Top-level fields that never change the answer.
const IGNORED: &[&str] =
    &["stream", "stream_options", "user", "metadata", "safety_identifier", "prompt_cache_key", "store"];

/// Whether the answer to `plan` is determined by the request: temperature 0, or a seed set where
/// the dialect has one (OpenAI Chat and completions, Gemini's `generationConfig.seed`). Only
/// generation is cached (chat, messages, responses, generateContent, legacy completions).
pub fn deterministic(plan: &Plan) -> bool {
    if !matches!(plan.op, Op::Generate | Op::Completions) {
        return false;
    }
    let zero = |v: Option<f64>| v == Some(0.0);
    let set = |v: Option<&serde_json::Value>| v.is_some_and(|s| !s.is_null());
    match plan.request_dialect {
        Dialect::OpenaiChat | Dialect::OpenaiResponses | Dialect::Anthropic => {
            zero(plan.body.parse::<f64>("temperature")) || set(plan.body.parse::<serde_json::Value>("seed").as_ref())
        }
        Dialect::Gemini => {
            let gc = plan.body.parse::<serde_json::Value>("generationConfig").unwrap_or_default();
            zero(gc.get("temperature").and_then(serde_json::Value::as_f64)) || set(gc.get("seed"))
        }
    }
}

/// What besides the body the key covers.
pub struct Scope<'a> {
    /// The gateway key's name (`""` without keys): entries are never shared across keys.
    pub key: &'a str,
    /// The request path.
    pub path: &'a str,
    /// Whether the answer is a stream.
    pub stream: bool,
    /// The resolved targets (`provider/model`, in order); empty for an idempotency fingerprint.
    pub targets: &'a [String],
}

/// The key of `plan` under `scope`.
pub fn fingerprint(plan: &Plan, scope: &Scope<'_>) -> Fingerprint {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("scope", scope.key.as_bytes());
    field("path", scope.path.as_bytes());
    field("client", plan.client.as_str().as_bytes());
    field("request", plan.request_dialect.as_str().as_bytes());
    field("stream", &[u8::from(scope.stream), u8::from(plan.gemini_sse), u8::from(plan.client_wants_usage)]);
    for t in scope.targets {
        field("target", t.as_bytes());
    }
    field("thinking", plan.thinking_header.as_deref().unwrap_or_default().as_bytes());
    for (k, v) in &plan.client_headers {
        field(k, v.as_bytes());
    }
    let mut fields: Vec<&(String, Box<serde_json::value::RawValue>)> =
        plan.body.0.iter().filter(|(k, _)| !IGNORED.contains(&k.as_str())).collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (k, raw) in fields {
        out.clear();
        match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(v) => canonical(&v, &mut out),
            Err(_) => out.extend_from_slice(raw.get().as_bytes()),
        }
        field(k, &out);
    }
    h.finalize().into()
}

/// `v` as canonical JSON: object keys sorted, no whitespace.
fn canonical(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(serde_json::Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                if let Some(x) = m.get(k) {
                    canonical(x, out);
                }
            }
            out.push(b'}');
        }
        serde_json::Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        // `0` and `0.0` ask the same: a whole float is written as the integer.
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.extend_from_slice((f as i64).to_string().as_bytes());
            }
            _ => out.extend_from_slice(n.to_string().as_bytes()),
        },
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: &str) -> Plan {
        let obj = crate::routes::common::parse_object(body.as_bytes()).unwrap();
        Plan::new(Dialect::OpenaiChat, Op::Generate, obj)
    }

    fn key(p: &Plan, who: &str) -> Fingerprint {
        fingerprint(p, &Scope { key: who, path: "/v1/chat/completions", stream: false, targets: &["m/x".into()] })
    }

    #[test]
    fn only_temperature_zero_or_a_seed_is_deterministic() {
        assert!(deterministic(&plan(r#"{"model":"m","temperature":0}"#)));
        assert!(deterministic(&plan(r#"{"model":"m","temperature":0.0}"#)));
        assert!(deterministic(&plan(r#"{"model":"m","seed":7,"temperature":1}"#)));
        assert!(!deterministic(&plan(r#"{"model":"m"}"#)));
        assert!(!deterministic(&plan(r#"{"model":"m","temperature":0.2,"seed":null}"#)));
        let obj = crate::routes::common::parse_object(br#"{"generationConfig":{"temperature":0}}"#).unwrap();
        assert!(deterministic(&Plan::new(Dialect::Gemini, Op::Generate, obj)));
        let obj = crate::routes::common::parse_object(br#"{"model":"m","temperature":0}"#).unwrap();
        assert!(!deterministic(&Plan::new(Dialect::OpenaiChat, Op::Embeddings, obj)));
    }

    #[test]
    fn order_and_ignored_fields_do_not_change_the_key() {
        let a = plan(r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#);
        let b = plan(
            r#"{"messages":[{"content":"hi","role":"user"}],"user":"u1","temperature":0,"model":"m","stream":false}"#,
        );
        assert_eq!(key(&a, "k"), key(&b, "k"));
        assert_ne!(key(&a, "k"), key(&a, "other"), "keys never share entries");
        let c = plan(r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi!"}]}"#);
        assert_ne!(key(&a, "k"), key(&c, "k"));
    }
}

//! OpenAI embeddings requests served by Gemini upstreams: the request as one
//! `models/{model}:batchEmbedContents` call (`to_gemini`) and its answer back in OpenAI's
//! shape (`GeminiEmbeddings`). Pure translation; the endpoint is `providers::call`'s.
//!
//! Wire shapes (ai.google.dev/api/embeddings, `models.batchEmbedContents`; fixtures in
//! `tests/fixtures/gemini/embed_*.json`): request `{"requests":[{"model":"models/{model}",
//! "content":{"parts":[{"text"}]}, "taskType"?, "outputDimensionality"?}]}`, answer
//! `{"embeddings":[{"values":[...]}]}` in request order. The Gemini API reports no token counts
//! for embeddings, so the usage row carries an estimate (characters / 4, marked estimated).

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd};
use actors::usage::TokenUsage;
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::protocol::raw::RawObject;

/// The Gemini batch request for an OpenAI embeddings body, and the estimated input tokens.
/// `input` must be a string or an array of strings (token-id inputs cannot be sent to Gemini);
/// `dimensions` becomes `outputDimensionality`; a `task_type` extension becomes `taskType`.
pub fn to_gemini(body: &RawObject, model: &str) -> Result<(Value, u64), String> {
    let texts: Vec<String> = match body.parse::<Value>("input") {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        Some(Value::Array(items)) if items.is_empty() => return Err("`input` must not be an empty array".into()),
        Some(Value::Array(_)) => {
            return Err("`input` as token ids cannot be sent to a Gemini upstream; send text".into());
        }
        _ => return Err("`input` must be a string or an array of strings".into()),
    };
    if let Some(f) = body.parse::<String>("encoding_format")
        && f != "float"
        && f != "base64"
    {
        return Err(format!(
            "`encoding_format` must be `float` or `base64`, not `{}`",
            crate::routes::common::echo(&f, 16)
        ));
    }
    let dims = body.parse::<u64>("dimensions");
    let task = body.parse::<String>("task_type");
    let estimate = texts.iter().map(|t| crate::translate::canonical::estimate_tokens(t)).sum();
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut r = json!({"model": format!("models/{model}"), "content": {"parts": [{"text": t}]}});
            if let Some(d) = dims {
                r["outputDimensionality"] = json!(d);
            }
            if let Some(t) = &task {
                r["taskType"] = json!(t);
            }
            r
        })
        .collect();
    Ok((json!({ "requests": requests }), estimate))
}

/// Gemini's batch answer as an OpenAI embeddings list.
#[derive(Debug)]
pub struct GeminiEmbeddings {
    model: String,
    base64: bool,
    input_estimate: u64,
}

impl GeminiEmbeddings {
    /// An adapter answering for `model` (the name the client used), in base64 when asked.
    pub fn new(model: &str, base64: bool, input_estimate: u64) -> Self {
        Self { model: model.to_string(), base64, input_estimate }
    }
}

/// Little-endian f32 bytes, base64: what OpenAI's `encoding_format: "base64"` returns (and what
/// the OpenAI SDKs ask for by default and decode).
fn base64_floats(values: &[Value]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| (v.as_f64().unwrap_or(0.0) as f32).to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl ResponseAdapter for GeminiEmbeddings {
    fn push(&mut self, _: &[u8], _: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        Err(AdapterError::Malformed("embeddings are not streamed".into()))
    }

    fn finish(&mut self, _: Option<StreamEnd<'_>>, _: &mut Vec<Bytes>) {}

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let v: Value = super::adapter::whole_json(&body)?;
        let Some(list) = v.get("embeddings").and_then(Value::as_array) else {
            return Err(AdapterError::Malformed("the upstream answer has no `embeddings`".into()));
        };
        if list.is_empty() {
            return Err(AdapterError::Empty);
        }
        let mut data = Vec::with_capacity(list.len());
        for (i, e) in list.iter().enumerate() {
            let Some(values) = e.get("values").and_then(Value::as_array) else {
                return Err(AdapterError::Malformed("an embedding has no `values`".into()));
            };
            let embedding = if self.base64 { json!(base64_floats(values)) } else { Value::Array(values.clone()) };
            data.push(json!({"object": "embedding", "index": i, "embedding": embedding}));
        }
        let n = self.input_estimate;
        let out = json!({"object": "list", "data": data, "model": self.model,
                         "usage": {"prompt_tokens": n, "total_tokens": n}});
        Ok(Bytes::from(out.to_string()))
    }

    fn has_content(&self) -> bool {
        true
    }

    fn terminated(&self) -> bool {
        true
    }

    fn usage(&self) -> TokenUsage {
        TokenUsage { input: self.input_estimate, estimated: true, ..TokenUsage::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawObject {
        serde_json::from_str(s).unwrap_or_default()
    }

    #[test]
    fn inputs_become_one_request_each_in_order() {
        let (v, est) =
            to_gemini(&raw(r#"{"input":["ab","cdefg"],"dimensions":8}"#), "gemini-embedding-001").unwrap_or_default();
        assert_eq!(v["requests"][1]["content"]["parts"][0]["text"], "cdefg");
        assert_eq!(v["requests"][0]["model"], "models/gemini-embedding-001");
        assert_eq!(v["requests"][0]["outputDimensionality"], 8);
        assert_eq!(est, 1 + 2);
        assert!(to_gemini(&raw(r#"{"input":[[1,2]]}"#), "m").is_err());
        assert!(to_gemini(&raw(r#"{"input":"x","encoding_format":"int8"}"#), "m").is_err());
    }

    #[test]
    fn the_answer_is_openais_shape_in_floats_or_base64() {
        let body = Bytes::from_static(br#"{"embeddings":[{"values":[0.5,-1.0]},{"values":[2.0]}]}"#);
        let mut a = GeminiEmbeddings::new("gemini/e", false, 3);
        let v: Value = serde_json::from_slice(&a.complete(body.clone()).unwrap_or_default()).unwrap_or_default();
        assert_eq!(v["data"][1], json!({"object": "embedding", "index": 1, "embedding": [2.0]}));
        assert_eq!((v["model"].as_str(), v["usage"]["prompt_tokens"].as_u64()), (Some("gemini/e"), Some(3)));
        let mut b = GeminiEmbeddings::new("m", true, 3);
        let v: Value = serde_json::from_slice(&b.complete(body).unwrap_or_default()).unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["data"][0]["embedding"].as_str().unwrap_or(""))
            .unwrap_or_default();
        assert_eq!(raw, [0.5f32.to_le_bytes(), (-1.0f32).to_le_bytes()].concat());
        assert!(a.usage().estimated);
    }
}

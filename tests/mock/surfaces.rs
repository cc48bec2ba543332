//! The mock's answers for the surfaces beyond chat: OpenAI legacy `/completions` (whole and
//! streamed, `text_completion` chunks, the usage chunk when asked), `/moderations` and `/rerank`
//! (shaped like the fixtures in `tests/fixtures/{moderations,rerank}`), `/images/generations`
//! (`tests/fixtures/images/response.json`), and Gemini's
//! `:batchEmbedContents` / `:embedContent` (`tests/fixtures/gemini/embed_*.json`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::{MockState, fixture, sse};

/// The answer to a request on one of these surfaces (`None`: another surface). `text` is the
/// completion text of a `Reply::Text`.
pub fn reply(path: &str, req: &Value, stream: bool, text: &str, state: Arc<MockState>) -> Option<HttpResponse> {
    let path = path.split('?').next().unwrap_or(path);
    if let Some(r) = super::media::reply(path, req, text, Arc::clone(&state)) {
        return Some(r);
    }
    if path.ends_with(":batchEmbedContents") {
        let n = req["requests"].as_array().map_or(0, Vec::len);
        let embeddings: Vec<Value> = (0..n).map(|i| json!({"values": [0.5, -1.0, i as f64]})).collect();
        return Some(HttpResponse::Ok().json(json!({ "embeddings": embeddings })));
    }
    if path.ends_with(":embedContent") {
        return Some(HttpResponse::Ok().json(json!({"embedding": {"values": [0.5, -1.0]}})));
    }
    if path.ends_with("/images/generations") {
        return Some(HttpResponse::Ok().body(fixture("images", "response.json")));
    }
    if path.ends_with("/moderations") {
        let mut v: Value = serde_json::from_str(&fixture("moderations", "response.json")).unwrap();
        v["model"] = req["model"].clone();
        return Some(HttpResponse::Ok().json(v));
    }
    if path.ends_with("/rerank") {
        let docs = req["documents"].as_array().cloned().unwrap_or_default();
        let top = req["top_n"].as_u64().map_or(docs.len(), |n| n as usize).min(docs.len());
        // The last document ranks first: a test can tell the mock's order from the input's.
        let results: Vec<Value> = (0..docs.len())
            .rev()
            .take(top)
            .enumerate()
            .map(|(rank, i)| {
                let mut r = json!({"index": i, "relevance_score": 0.9 - rank as f64 * 0.1});
                if req["return_documents"].as_bool() == Some(true) {
                    r["document"] = json!({"text": docs[i]});
                }
                r
            })
            .collect();
        return Some(
            HttpResponse::Ok().json(json!({"model": req["model"], "usage": {"total_tokens": 21}, "results": results})),
        );
    }
    if !path.ends_with("/completions") || path.ends_with("/chat/completions") {
        return None;
    }
    let base = json!({"id": "cmpl-mock", "object": "text_completion", "created": 1, "model": req["model"], "x_mock_field": "kept"});
    let choice = |t: &str, finish: Value| json!([{"text": t, "index": 0, "logprobs": null, "finish_reason": finish}]);
    let usage = json!({"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9});
    if !stream {
        let mut v = base;
        v["choices"] = choice(text, json!("stop"));
        v["usage"] = usage;
        return Some(HttpResponse::Ok().json(v));
    }
    let mut frames = Vec::new();
    for (i, w) in text.split(' ').enumerate() {
        let mut v = base.clone();
        v["choices"] = choice(&if i == 0 { w.to_string() } else { format!(" {w}") }, Value::Null);
        frames.push(format!("data: {v}\n\n"));
    }
    let mut last = base.clone();
    last["choices"] = choice("", json!("stop"));
    frames.push(format!("data: {last}\n\n"));
    if req["stream_options"]["include_usage"].as_bool() == Some(true) {
        let mut u = base;
        u["choices"] = json!([]);
        u["usage"] = usage;
        frames.push(format!("data: {u}\n\n"));
    }
    frames.push("data: [DONE]\n\n".into());
    Some(sse(frames, Duration::ZERO, Duration::ZERO, None, state))
}

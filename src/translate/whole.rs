//! Adapters for whole JSON answers of single-dialect surfaces passed through as they came:
//! OpenAI moderations, Cohere/Jina-style rerank and OpenAI image generation and edits (JSON). They only check that the answer is the
//! surface's (a `results` array) and read its token counts; they never rewrite a byte.
//!
//! Token counts (fixtures in `tests/fixtures/moderations/` and `tests/fixtures/rerank/`): a
//! moderation answer has none (OpenAI does not bill moderations); a rerank answer has
//! `usage.total_tokens` (Jina), `usage.prompt_tokens` (Together, vLLM), Cohere's
//! `meta.tokens.input_tokens` or `meta.billed_units.total_tokens` when present, or only
//! `meta.billed_units.search_units` (search units, not tokens: nothing is counted).

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd};
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

/// Which surface's answer is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `{id, model, results:[{flagged, categories, category_scores, ...}]}`.
    Moderations,
    /// `{results:[{index, relevance_score, document?}], usage?|meta?}`.
    Rerank,
    /// `{created, data:[{url | b64_json, revised_prompt?}], usage?}` (openai-python
    /// `types/images_response.py`; `usage` only from the GPT image models).
    Images,
    /// An image edit: the same answer as `Images`, billed per image made (or by its tokens).
    ImageEdits,
}

/// A whole-answer passthrough (never streamed).
#[derive(Debug)]
pub struct WholeJson {
    answer: Answer,
    usage: TokenUsage,
}

impl WholeJson {
    /// An adapter expecting `answer`.
    pub fn new(answer: Answer) -> Self {
        Self { answer, usage: TokenUsage::default() }
    }
}

/// Token counts of a rerank answer, when it gives any.
pub fn rerank_usage(v: &Value) -> TokenUsage {
    let u = &v["usage"];
    let meta = &v["meta"];
    let input = u["prompt_tokens"]
        .as_u64()
        .or_else(|| u["total_tokens"].as_u64())
        .or_else(|| meta["tokens"]["input_tokens"].as_u64())
        .or_else(|| meta["billed_units"]["total_tokens"].as_u64())
        .unwrap_or(0);
    TokenUsage { input, ..TokenUsage::default() }
}

impl ResponseAdapter for WholeJson {
    fn push(&mut self, _: &[u8], _: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        Err(AdapterError::Malformed("this surface is not streamed".into()))
    }

    fn finish(&mut self, _: Option<StreamEnd<'_>>, _: &mut Vec<Bytes>) {}

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let v: Value = super::adapter::whole_json(&body)?;
        let key = if matches!(self.answer, Answer::Images | Answer::ImageEdits) { "data" } else { "results" };
        let Some(results) = v.get(key).and_then(Value::as_array) else {
            return Err(AdapterError::Malformed(format!("the upstream answer has no `{key}` array")));
        };
        match self.answer {
            Answer::Moderations | Answer::Images | Answer::ImageEdits if results.is_empty() => {
                return Err(AdapterError::Empty);
            }
            Answer::Moderations => {}
            Answer::Images | Answer::ImageEdits => {
                let u = &v["usage"];
                let n = |k: &str| u[k].as_u64().unwrap_or(0);
                let units = (self.answer == Answer::ImageEdits)
                    .then(|| actors::usage::Units::whole(actors::usage::Unit::Image, results.len() as u64));
                self.usage =
                    TokenUsage { input: n("input_tokens"), output: n("output_tokens"), units, ..TokenUsage::default() };
            }
            Answer::Rerank => {
                if results.iter().any(|r| r.get("index").and_then(Value::as_u64).is_none()) {
                    return Err(AdapterError::Malformed("a rerank result has no `index`".into()));
                }
                self.usage = rerank_usage(&v);
            }
        }
        Ok(body)
    }

    fn has_content(&self) -> bool {
        true
    }

    fn terminated(&self) -> bool {
        true
    }

    fn usage(&self) -> TokenUsage {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_and_rerank_tokens_read() {
        let mut m = WholeJson::new(Answer::Moderations);
        assert!(
            m.complete(Bytes::from_static(br#"{"id":"modr-1","model":"x","results":[{"flagged":false}]}"#)).is_ok()
        );
        assert_eq!(m.complete(Bytes::from_static(br#"{"results":[]}"#)), Err(AdapterError::Empty));
        assert!(matches!(m.complete(Bytes::from_static(br#"{"data":[]}"#)), Err(AdapterError::Malformed(_))));
        let mut r = WholeJson::new(Answer::Rerank);
        let body = br#"{"results":[{"index":1,"relevance_score":0.9}],"usage":{"total_tokens":12}}"#;
        assert!(r.complete(Bytes::from_static(body)).is_ok());
        assert_eq!(r.usage().input, 12);
        let cohere = br#"{"results":[{"index":0,"relevance_score":0.5}],"meta":{"billed_units":{"search_units":1}}}"#;
        assert!(r.complete(Bytes::from_static(cohere)).is_ok());
        assert_eq!(r.usage().input, 0);
        let with_tokens = br#"{"results":[{"index":0,"relevance_score":0.5}],"meta":{"tokens":{"input_tokens":7}}}"#;
        assert!(r.complete(Bytes::from_static(with_tokens)).is_ok());
        assert_eq!(r.usage().input, 7);
        let mut i = WholeJson::new(Answer::Images);
        let img = br#"{"created":1,"data":[{"b64_json":"aGk="}],"usage":{"input_tokens":50,"output_tokens":4160,"total_tokens":4210}}"#;
        assert!(i.complete(Bytes::from_static(img)).is_ok());
        assert_eq!((i.usage().input, i.usage().output), (50, 4160));
        assert_eq!(i.complete(Bytes::from_static(br#"{"created":1,"data":[]}"#)), Err(AdapterError::Empty));
    }
}

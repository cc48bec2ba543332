//! Adapters for whole JSON answers of single-dialect surfaces passed through as they came:
//! OpenAI moderations and Cohere/Jina-style rerank. They only check that the answer is the
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
        let v: Value = serde_json::from_slice(&body)
            .map_err(|_| AdapterError::Malformed("the upstream returned invalid JSON".into()))?;
        let Some(results) = v.get("results").and_then(Value::as_array) else {
            return Err(AdapterError::Malformed("the upstream answer has no `results` array".into()));
        };
        match self.answer {
            Answer::Moderations if results.is_empty() => return Err(AdapterError::Empty),
            Answer::Moderations => {}
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
    }
}

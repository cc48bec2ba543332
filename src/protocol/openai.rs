//! OpenAI Chat Completions wire pieces needed outside full translation: usage and probes.

use actors::usage::TokenUsage;
use serde::{Deserialize, Serialize};

/// `prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptDetails {
    /// Input tokens served from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

/// `completion_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionDetails {
    /// Output tokens spent reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// The `usage` object of Chat Completions (with DeepSeek's cache fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiUsage {
    /// Input tokens (cache included).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens (reasoning included).
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u64,
    /// Cache detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptDetails>,
    /// Reasoning detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek: input tokens that hit its cache.
    #[serde(default, skip_serializing)]
    pub prompt_cache_hit_tokens: Option<u64>,
}

impl OpenAiUsage {
    /// To the canonical counts.
    pub fn canonical(&self) -> TokenUsage {
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens)
            .unwrap_or(0);
        TokenUsage {
            input: self.prompt_tokens,
            output: self.completion_tokens,
            cache_read: cached,
            cache_write: 0,
            reasoning: self.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0),
            estimated: false,
            units: None,
        }
    }

    /// From the canonical counts (`total_tokens` always set).
    pub fn from_canonical(u: &TokenUsage) -> Self {
        Self {
            prompt_tokens: u.input,
            completion_tokens: u.output,
            total_tokens: u.total(),
            prompt_tokens_details: Some(PromptDetails { cached_tokens: Some(u.cache_read) }),
            completion_tokens_details: Some(CompletionDetails { reasoning_tokens: Some(u.reasoning) }),
            prompt_cache_hit_tokens: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reads_openai_and_deepseek_cache_fields() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":60},"completion_tokens_details":{"reasoning_tokens":5}}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            u.canonical(),
            TokenUsage {
                input: 100,
                output: 20,
                cache_read: 60,
                cache_write: 0,
                reasoning: 5,
                estimated: false,
                units: None
            }
        );
        let d: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_cache_hit_tokens":4}"#,
        )
        .unwrap_or_default();
        assert_eq!(d.canonical().cache_read, 4);
    }
}

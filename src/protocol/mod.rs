//! Wire dialects and their serde types; no logic beyond (de)serialisation.

use serde::{Deserialize, Serialize};

/// One of the four API dialects Omnigate speaks on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// OpenAI Chat Completions (`/chat/completions`).
    OpenaiChat,
    /// OpenAI Responses (`/responses`).
    OpenaiResponses,
    /// Anthropic Messages (`/messages`).
    Anthropic,
    /// Google Gemini (`:generateContent`).
    Gemini,
}

impl Dialect {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenaiChat => "openai-chat",
            Self::OpenaiResponses => "openai-responses",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::OpenaiChat, Self::OpenaiResponses, Self::Anthropic, Self::Gemini].into_iter().find(|d| d.as_str() == s)
    }
}

pub mod openai;
pub mod raw;
pub mod shape;

//! How an upstream expects its credential (`auth` of a provider).

use serde::{Deserialize, Serialize};

/// How an upstream expects its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>` (Anthropic).
    XApiKey,
    /// `x-goog-api-key: <key>` (Gemini).
    XGoogApiKey,
    /// `?key=<key>` in the query string.
    Query,
    /// No credential (local servers).
    None,
    /// Azure OpenAI: `api-key: <key>`, and a resource base URL (`https://R.openai.azure.com/openai`)
    /// is called per deployment: `/deployments/<model>/chat/completions?api-version=...`
    /// (a base URL ending in `/v1` is the v1 API: plain OpenAI paths).
    #[serde(rename = "api-key")]
    AzureApiKey,
    /// A Google service account JSON key, from which access tokens are minted (`providers::vertex`).
    GoogleServiceAccount,
    /// AWS Signature Version 4 over the whole request (Bedrock: `providers::bedrock` signs it).
    AwsSigv4,
}

impl AuthStyle {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::XApiKey => "x-api-key",
            Self::XGoogApiKey => "x-goog-api-key",
            Self::Query => "query",
            Self::None => "none",
            Self::AzureApiKey => "api-key",
            Self::GoogleServiceAccount => "google-service-account",
            Self::AwsSigv4 => "aws-sigv4",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Bearer,
            Self::XApiKey,
            Self::XGoogApiKey,
            Self::Query,
            Self::None,
            Self::AzureApiKey,
            Self::GoogleServiceAccount,
            Self::AwsSigv4,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

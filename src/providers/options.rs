//! Per-account options kept as one JSON object (`accounts.options`): settings that are read with
//! the account, never queried. Unknown keys are kept out by the config's own validation.

use serde::{Deserialize, Serialize};

/// What an account allows beyond its credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountOptions {
    /// Pass the client's `OpenAI-Organization` / `OpenAI-Project` headers to this account's
    /// upstream (off by default: they name the client's organization, which the gateway's
    /// account usually does not belong to).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forward_org_headers: bool,
    /// Most requests in any 60 seconds (sliding window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Most tokens in any 60 seconds, as estimated before sending (sliding window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Least time between two requests, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
}

/// What a custom provider keeps beyond its columns (`providers.options`, JSON): the pacing
/// defaults of its accounts (an account's own value wins).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderOptions {
    /// Default `rpm` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Default `tpm` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Default `min_gap_ms` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_gap_ms: Option<u64>,
    /// Default `max_concurrent` of its accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
}

impl ProviderOptions {
    /// Reads the stored JSON (an unreadable value is the defaults).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

impl AccountOptions {
    /// Reads the stored JSON (an unreadable value is the defaults).
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

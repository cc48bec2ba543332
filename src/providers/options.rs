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

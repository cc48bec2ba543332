//! `[[keys]]` and `[[teams]]`: gateway keys declared as code, and the teams whose limits and
//! budget their keys share (`limits::Limiter` enforces both).

use serde::{Deserialize, Serialize};

use crate::keys::KeyLimits;
use crate::limits::Budget;

fn all_models() -> Vec<String> {
    vec!["*".into()]
}

/// The limits of an entry with `rpm`, `tpm`, `max_concurrent` and `budget` fields (the file keeps
/// them flat: serde's `flatten` does not go with `deny_unknown_fields`).
macro_rules! limits_of {
    ($e:expr) => {
        KeyLimits { rpm: $e.rpm, tpm: $e.tpm, max_concurrent: $e.max_concurrent, budget: $e.budget }
    };
}

/// `[[keys]]`: a gateway key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Unique name, shown in usage.
    pub name: String,
    /// The key itself (kept only as a digest in the database).
    pub key: String,
    /// Allowed model patterns (`*`, `?`); combos and aliases match by their own name.
    #[serde(default = "all_models")]
    pub models: Vec<String>,
    /// A disabled key is refused.
    #[serde(default = "super::yes")]
    pub enabled: bool,
    /// Requests per minute (sliding 60 s); none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per minute (the input estimate plus the output asked for); none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Requests in flight at once; none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// USD per calendar period (`{ usd = 10.0, period = "month" }`; day, week or month, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The `[[teams]]` entry it belongs to (its limits apply too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Serve its repeated deterministic requests (temperature 0 or a seed) from the response cache.
    #[serde(default)]
    pub cache: bool,
}

/// `[[teams]]`: keys that share limits and a budget (each key's own apply as well).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamEntry {
    /// Unique name.
    pub name: String,
    /// Requests per minute, all its keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per minute, all its keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Requests in flight, all its keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// USD per calendar period, all its keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

impl TeamEntry {
    /// Its limits.
    pub fn limits(&self) -> KeyLimits {
        limits_of!(self)
    }
}

impl KeyEntry {
    /// Its limits.
    pub fn limits(&self) -> KeyLimits {
        limits_of!(self)
    }
}

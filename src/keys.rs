//! Gateway keys in memory: the digest → key snapshot checked on every request, key generation,
//! and model-pattern matching (`*`, `?`).

use std::sync::Arc;

use dashmap::DashMap;
use entities::api_key;

use crate::secrets::{Sealer, random_token};

/// What the gateway knows about a presented key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    /// Key name, recorded in usage.
    pub name: String,
    /// Allowed model patterns.
    pub models: Vec<String>,
    /// Its rate and concurrency limits and budget (`limits::Limiter` enforces them).
    pub limits: KeyLimits,
    /// Its team, whose limits apply too.
    pub team: Option<String>,
    /// Its repeated deterministic requests are answered from the response cache (`cache`).
    pub cache: bool,
}

/// A key's limits: requests and tokens per minute (a sliding 60-second window; tokens as
/// upstream limiters count them before sending: the input estimate plus the output asked for),
/// and requests in flight. `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// USD per calendar period (`limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::limits::Budget>,
}

impl KeyLimits {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.max_concurrent.is_some() || self.budget.is_some()
    }

    /// The stored form (NULL when none is set).
    pub fn to_column(&self) -> Option<String> {
        self.is_set().then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// From the stored form (a damaged value is no limit, and is logged).
    pub fn from_column(v: Option<&str>) -> Self {
        match v.map(serde_json::from_str::<Self>) {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "a key's stored limits are unreadable; the key runs without them");
                Self::default()
            }
            None => Self::default(),
        }
    }

    /// What is wrong with them, as (field, message).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        for (field, v) in [("rpm", self.rpm), ("tpm", self.tpm), ("max_concurrent", self.max_concurrent)] {
            if v == Some(0) {
                return Some((field, "must be at least 1 (leave it out for no limit)"));
            }
        }
        if self.budget.is_some_and(|b| !b.usd.is_finite() || b.usd <= 0.0) {
            return Some(("budget.usd", "must be a positive amount of USD"));
        }
        None
    }
}

impl KeyInfo {
    /// Whether this key may use `model` (a `provider/model`, a combo or an alias name).
    pub fn allows(&self, model: &str) -> bool {
        self.models.iter().any(|p| wildcard_match(p, model))
    }
}

/// The in-memory snapshot of active keys by digest; never the database on the hot path.
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    by_digest: Arc<DashMap<String, KeyInfo>>,
}

impl KeyTable {
    /// Replaces the snapshot with the active rows.
    pub fn reload(&self, rows: &[api_key::Model]) {
        let active: Vec<_> = rows.iter().filter(|r| r.enabled && r.revoked_at.is_none()).collect();
        self.by_digest.retain(|d, _| active.iter().any(|r| &r.digest == d));
        for r in active {
            let info = KeyInfo {
                name: r.name.clone(),
                models: serde_json::from_str(&r.models).unwrap_or_default(),
                limits: KeyLimits::from_column(r.limits.as_deref()),
                team: r.team.clone(),
                cache: r.cache,
            };
            self.by_digest.insert(r.digest.clone(), info);
        }
    }

    /// The key presented, if active.
    pub fn check(&self, sealer: &Sealer, presented: &str) -> Option<KeyInfo> {
        self.by_digest.get(&sealer.digest(presented)).map(|e| e.value().clone())
    }

    /// Number of active keys.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether no key is active.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

/// A new random gateway key: `sk-og-` and 32 URL-safe characters (192 bits).
pub fn generate_key() -> String {
    format!("sk-og-{}", random_token(24))
}

/// Glob match with `*` (any run) and `?` (one character), case-sensitive.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "mock/mock-model"));
        assert!(wildcard_match("mock/*", "mock/mock-model"));
        assert!(!wildcard_match("mock/*", "openai/gpt-4o"));
        assert!(wildcard_match("gpt-4?", "gpt-4o"));
        assert!(!wildcard_match("gpt-4?", "gpt-4o-mini"));
        assert!(wildcard_match("*mini*", "gpt-4o-mini-2024"));
        assert!(wildcard_match("claude-*-4*", "claude-sonnet-4-5"));
        assert!(!wildcard_match("", "x"));
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let (a, b) = (generate_key(), generate_key());
        assert!(a.starts_with("sk-og-") && a.len() == 38);
        assert_ne!(a, b);
    }
}

//! `[cache]`: the exact response cache's bounds and the idempotency window (`cache` enforces
//! them; nothing here is read on a request that neither asks for the cache nor is idempotent).

use serde::{Deserialize, Serialize};

/// `[cache]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Most answers kept (the least recently used goes first).
    pub max_entries: usize,
    /// Most bytes of answers kept (bodies and stream events together).
    pub max_bytes: usize,
    /// Seconds an answer stays fresh.
    pub ttl_secs: u64,
    /// Seconds an `Idempotency-Key` is remembered after its first request finished.
    pub idempotency_window_secs: u64,
    /// Treat a client's `x-request-id` as an `Idempotency-Key` when no such header is sent.
    pub idempotency_from_request_id: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 256 * 1024 * 1024,
            ttl_secs: 3_600,
            idempotency_window_secs: 300,
            idempotency_from_request_id: false,
        }
    }
}

//! Usage accounting: canonical token counts, the per-request usage event, and the batching writer.

pub mod actor;
pub mod cost;
pub mod inbox;
pub mod metrics;
pub mod rollup;

use serde::Serialize;

/// Token counts of one request, in one canonical shape every dialect renders from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    /// Input tokens, including cache reads and cache writes.
    pub input: u64,
    /// Output tokens, including reasoning.
    pub output: u64,
    /// Input tokens read from a prompt cache.
    pub cache_read: u64,
    /// Input tokens written to a prompt cache.
    pub cache_write: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
    /// Some count is the gateway's estimate: the upstream reported none.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// What a surface priced per unit (images, audio seconds, characters) measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Units>,
}

/// What a surface priced per unit rather than per token is billed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Images made or edited (`/v1/images/edits`).
    Image,
    /// Seconds of audio heard (`/v1/audio/transcriptions`, `/v1/audio/translations`).
    Second,
    /// Characters of input spoken (`/v1/audio/speech`).
    Character,
}

impl Unit {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Second => "second",
            Self::Character => "character",
        }
    }
}

/// A count of units: thousandths, so fractional audio seconds stay exact enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Units {
    /// The unit.
    pub unit: Unit,
    /// How many thousandths of it (`None`: the surface is billed by it, but the answer did not
    /// say how many; the row is unpriced unless token counts price it).
    pub milli: Option<u64>,
}

impl Units {
    /// `n` whole units.
    pub fn whole(unit: Unit, n: u64) -> Self {
        Self { unit, milli: Some(n.saturating_mul(1000)) }
    }

    /// The count, when known.
    pub fn count(&self) -> Option<f64> {
        self.milli.map(|m| m as f64 / 1000.0)
    }
}

impl TokenUsage {
    /// Input plus output.
    pub fn total(&self) -> u64 {
        self.input + self.output
    }

    /// Whether any count is known.
    pub fn is_empty(&self) -> bool {
        Self { estimated: false, ..*self } == Self::default()
    }
}

/// One upstream attempt of a request, for the request log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttemptTrace {
    /// Provider id.
    pub provider: String,
    /// Account name.
    pub account: String,
    /// Outcome label.
    pub outcome: &'static str,
    /// Upstream status, if one came.
    pub status: Option<u16>,
    /// Time spent, ms.
    pub ms: i64,
    /// Why it failed, in words safe to show (no upstream secrets); `None` for a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything recorded about one client request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageEvent {
    /// Request start (ms since the epoch).
    pub ts: i64,
    /// Request id (also sent as `x-request-id`).
    pub request_id: String,
    /// Gateway key name.
    pub key_name: Option<String>,
    /// Dialect the client spoke.
    pub client_dialect: String,
    /// HTTP method and path.
    pub method: String,
    /// Path.
    pub path: String,
    /// Provider that served (or last failed).
    pub provider: Option<String>,
    /// Account that served (or last failed).
    pub account: Option<String>,
    /// Model as served (`provider/model`) or as requested.
    pub model: String,
    /// Status returned to the client (499: the client went away).
    pub status: u16,
    /// Error text shown to the client, if any.
    pub error: Option<String>,
    /// Token counts.
    pub tokens: TokenUsage,
    /// What it cost, and where the figure comes from.
    pub cost: cost::Cost,
    /// Total time, ms.
    pub latency_ms: i64,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<i64>,
    /// Whether the response was streamed.
    pub streamed: bool,
    /// Upstream attempts.
    pub attempts: Vec<AttemptTrace>,
    /// Names of the request transforms applied to the attempt that served (or last failed).
    pub transforms: Vec<String>,
}

/// Shortens `s` to at most `max` bytes on a character boundary.
fn bound(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl UsageEvent {
    /// Caps every text field, so no client input makes a usage or request-log row large.
    pub fn bound_fields(&mut self) {
        bound(&mut self.request_id, 128);
        bound(&mut self.client_dialect, 32);
        bound(&mut self.method, 16);
        bound(&mut self.path, 512);
        bound(&mut self.model, 256);
        for s in [&mut self.key_name, &mut self.provider, &mut self.account].into_iter().flatten() {
            bound(s, 128);
        }
        if let Some(e) = &mut self.error {
            bound(e, 1024);
        }
        self.attempts.truncate(32);
        for e in self.attempts.iter_mut().filter_map(|a| a.error.as_mut()) {
            bound(e, 300);
        }
        self.transforms.truncate(32);
        for t in &mut self.transforms {
            bound(t, 128);
        }
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    #[test]
    fn long_fields_are_capped_on_char_boundaries() {
        let mut e = UsageEvent {
            model: "é".repeat(300),
            path: "/x".repeat(1000),
            error: Some("e".repeat(5000)),
            key_name: Some("k".repeat(500)),
            ..UsageEvent::default()
        };
        e.bound_fields();
        assert_eq!((e.model.len(), e.path.len()), (256, 512));
        assert_eq!(e.error.as_deref().map(str::len), Some(1024));
        assert_eq!(e.key_name.as_deref().map(str::len), Some(128));
    }
}

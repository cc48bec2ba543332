//! Prometheus counters and histograms built from the usage events the writer already receives
//! (one per request, whether rows are recorded or not): no work on the request path. Label
//! cardinality is bounded: keys by name, models past `MAX_MODELS` distinct folded to `other`,
//! and at most `MAX_SERIES` request series.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::UsageEvent;

/// Distinct model labels kept before new ones become `other`.
pub const MAX_MODELS: usize = 200;
/// Request series (provider, model, key, status) kept before new ones become all-`other`.
pub const MAX_SERIES: usize = 5_000;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// One histogram's counts.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (b, le) in self.buckets.iter_mut().zip(BUCKETS) {
            if secs <= le {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// Token kinds, in the `kind` label's words.
const TOKEN_KINDS: [&str; 5] = ["input", "output", "cache_read", "cache_write", "reasoning"];

/// The aggregates.
#[derive(Debug, Default)]
pub struct Metrics {
    models: HashSet<String>,
    requests: BTreeMap<(String, String, String, u16), u64>,
    tokens: BTreeMap<(String, String), [u64; 5]>,
    cost: BTreeMap<(String, String, &'static str), f64>,
    latency: BTreeMap<String, Histogram>,
    ttfb: BTreeMap<String, Histogram>,
    overhead: BTreeMap<String, Histogram>,
}

impl Metrics {
    /// Counts one finished request.
    pub fn observe(&mut self, e: &UsageEvent) {
        let provider = e.provider.clone().unwrap_or_else(|| "none".into());
        let model = self.model_label(&e.model);
        let key = e.key_name.clone().unwrap_or_else(|| "none".into());
        let mut series = (provider.clone(), model.clone(), key, e.status);
        if !self.requests.contains_key(&series) && self.requests.len() >= MAX_SERIES {
            series = ("other".into(), "other".into(), "other".into(), e.status);
        }
        *self.requests.entry(series).or_default() += 1;
        let t = &e.tokens;
        if !t.is_empty() {
            let counts = self.tokens.entry((provider.clone(), model.clone())).or_default();
            for (c, n) in counts.iter_mut().zip([t.input, t.output, t.cache_read, t.cache_write, t.reasoning]) {
                *c += n;
            }
        }
        // Only what was charged: an unpriced request has no figure and a subscription's is $0.
        if let Some(usd) = e.cost.usd.filter(|u| *u > 0.0) {
            *self.cost.entry((provider.clone(), model, e.cost.source.as_str())).or_default() += usd;
        }
        let secs = |ms: i64| ms.max(0) as f64 / 1000.0;
        self.latency.entry(provider.clone()).or_default().observe(secs(e.latency_ms));
        if let Some(t) = e.ttfb_ms {
            self.ttfb.entry(provider.clone()).or_default().observe(secs(t));
        }
        let upstream: i64 = e.attempts.iter().map(|a| a.ms).sum();
        self.overhead.entry(provider).or_default().observe(secs(e.latency_ms - upstream));
    }

    fn model_label(&mut self, model: &str) -> String {
        if self.models.contains(model) {
            return model.to_string();
        }
        if self.models.len() < MAX_MODELS {
            self.models.insert(model.to_string());
            return model.to_string();
        }
        "other".into()
    }

    /// Appends the text exposition of everything counted.
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "omnigate_requests_total",
            "counter",
            "Requests answered, by provider, model, key name and status.",
        );
        for ((p, m, k, s), n) in &self.requests {
            let _ = writeln!(
                out,
                "omnigate_requests_total{{provider=\"{}\",model=\"{}\",key=\"{}\",status=\"{s}\"}} {n}",
                esc(p),
                esc(m),
                esc(k)
            );
        }
        family(out, "omnigate_tokens_total", "counter", "Tokens by provider, model and kind.");
        for ((p, m), counts) in &self.tokens {
            for (kind, n) in TOKEN_KINDS.iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "omnigate_tokens_total{{provider=\"{}\",model=\"{}\",kind=\"{kind}\"}} {n}",
                    esc(p),
                    esc(m)
                );
            }
        }
        family(
            out,
            "omnigate_cost_usd_total",
            "counter",
            "Cost in USD at the pricing table's prices, by provider, model and source (priced or estimated).",
        );
        for ((p, m, source), usd) in &self.cost {
            let _ = writeln!(
                out,
                "omnigate_cost_usd_total{{provider=\"{}\",model=\"{}\",source=\"{source}\"}} {usd}",
                esc(p),
                esc(m)
            );
        }
        histograms(out, "omnigate_request_duration_seconds", "Whole request time, by provider.", &self.latency);
        histograms(out, "omnigate_time_to_first_byte_seconds", "Time to the first byte sent, by provider.", &self.ttfb);
        histograms(
            out,
            "omnigate_gateway_overhead_seconds",
            "Request time not spent waiting on upstreams, by provider.",
            &self.overhead,
        );
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histograms(out: &mut String, name: &str, help: &str, by: &BTreeMap<String, Histogram>) {
    family(out, name, "histogram", help);
    for (p, h) in by {
        let p = esc(p);
        for (le, n) in BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{provider=\"{p}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{provider=\"{p}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{provider=\"{p}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{provider=\"{p}\"}} {}", h.count);
    }
}

/// A label value escaped for the text format (backslash, quote, newline).
pub fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{AttemptTrace, TokenUsage};

    fn event(model: &str, status: u16) -> UsageEvent {
        UsageEvent {
            provider: Some("p".into()),
            key_name: Some("ci".into()),
            model: model.into(),
            status,
            tokens: TokenUsage { input: 10, output: 5, cache_read: 2, ..TokenUsage::default() },
            cost: crate::usage::cost::Cost {
                usd: Some(0.5),
                list_usd: None,
                source: crate::usage::cost::CostSource::Priced,
            },
            latency_ms: 120,
            ttfb_ms: Some(30),
            attempts: vec![AttemptTrace { ms: 100, ..AttemptTrace::default() }],
            ..UsageEvent::default()
        }
    }

    #[test]
    fn counts_and_buckets_and_folds_models() {
        let mut m = Metrics::default();
        m.observe(&event("p/a", 200));
        m.observe(&event("p/a", 200));
        m.observe(&event("p/a\"x", 502));
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("omnigate_requests_total{provider=\"p\",model=\"p/a\",key=\"ci\",status=\"200\"} 2"),
            "{out}"
        );
        assert!(out.contains("model=\"p/a\\\"x\""), "quotes escaped: {out}");
        assert!(out.contains("omnigate_tokens_total{provider=\"p\",model=\"p/a\",kind=\"input\"} 20"), "{out}");
        assert!(out.contains("omnigate_cost_usd_total{provider=\"p\",model=\"p/a\",source=\"priced\"} 1"), "{out}");
        let mut unpriced = event("p/u", 200);
        unpriced.cost = crate::usage::cost::Cost::default();
        m.observe(&unpriced);
        assert!(out.contains("omnigate_request_duration_seconds_bucket{provider=\"p\",le=\"0.1\"} 0"), "{out}");
        assert!(out.contains("omnigate_request_duration_seconds_bucket{provider=\"p\",le=\"0.25\"} 3"), "{out}");
        assert!(out.contains("omnigate_gateway_overhead_seconds_bucket{provider=\"p\",le=\"0.025\"} 3"), "{out}");
        for i in 0..MAX_MODELS + 5 {
            m.observe(&event(&format!("m{i}"), 200));
        }
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("model=\"other\""), "models past the limit fold to other");
        assert!(!out.contains("omnigate_cost_usd_total{provider=\"p\",model=\"p/u\""), "unpriced is no $0: {out}");
    }
}

//! What combo strategies learn from served requests, per `provider/model` target: when it last
//! served, how many it served, and an EWMA of its time to first byte. Written once per served
//! request with relaxed atomics (no lock, no message); read when a combo orders its targets. It
//! must not decide anything itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;

/// Weight of the newest sample in the time-to-first-byte average (1/5).
const EWMA_SHIFT_NUM: u64 = 1;
const EWMA_SHIFT_DEN: u64 = 5;

/// One target's record.
#[derive(Debug, Default)]
pub struct TargetStat {
    /// EWMA of the time to first byte, µs (0: never measured).
    ttfb_us: AtomicU64,
    /// When it last served a request (ms since the epoch; 0: never).
    last_served: AtomicI64,
    /// Requests served.
    served: AtomicU64,
}

impl TargetStat {
    /// The averaged time to first byte, µs (`None` before the first sample).
    pub fn ttfb_us(&self) -> Option<u64> {
        Some(self.ttfb_us.load(Ordering::Relaxed)).filter(|v| *v > 0)
    }

    /// When it last served (ms; 0: never).
    pub fn last_served(&self) -> i64 {
        self.last_served.load(Ordering::Relaxed)
    }

    /// Requests served.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn sample(&self, ttfb_us: u64, now: i64) {
        let sample = ttfb_us.max(1);
        let old = self.ttfb_us.load(Ordering::Relaxed);
        // A lost update between two racing samples only drops one sample of an average.
        let new = if old == 0 {
            sample
        } else {
            (old * (EWMA_SHIFT_DEN - EWMA_SHIFT_NUM) + sample * EWMA_SHIFT_NUM) / EWMA_SHIFT_DEN
        };
        self.ttfb_us.store(new.max(1), Ordering::Relaxed);
        self.last_served.fetch_max(now, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every target's record, by `provider/model`; kept for the daemon's life (registry reloads
/// keep what was learnt).
#[derive(Debug, Default)]
pub struct TargetBook {
    stats: DashMap<String, Arc<TargetStat>>,
}

impl TargetBook {
    /// A target served a request at `now` (ms), its first byte after `ttfb_ms`.
    pub fn served(&self, label: &str, ttfb_ms: f64, now: i64) {
        let us = (ttfb_ms.max(0.0) * 1000.0) as u64;
        if let Some(s) = self.stats.get(label) {
            s.sample(us, now);
            return;
        }
        self.stats.entry(label.to_string()).or_default().sample(us, now);
    }

    /// A target's record, if it ever served.
    pub fn get(&self, label: &str) -> Option<Arc<TargetStat>> {
        self.stats.get(label).map(|s| Arc::clone(s.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_follows_samples_and_the_last_use_is_kept() {
        let b = TargetBook::default();
        assert!(b.get("p/m").is_none());
        b.served("p/m", 100.0, 10);
        let s = b.get("p/m").unwrap_or_default();
        assert_eq!((s.ttfb_us(), s.last_served(), s.served()), (Some(100_000), 10, 1));
        b.served("p/m", 600.0, 5);
        // 4/5 of 100 ms + 1/5 of 600 ms; an older timestamp does not move the last use back.
        assert_eq!((s.ttfb_us(), s.last_served(), s.served()), (Some(200_000), 10, 2));
    }
}

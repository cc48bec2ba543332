//! Pacing of one account as a plain struct: requests and tokens per minute over a sliding
//! 60-second window (a burst up to a limit is allowed) and a minimum gap between requests. It
//! counts leases (with the tokens each is expected to use) as the router grants them and says when
//! the next one may go; it does not wait or queue.

use std::collections::VecDeque;

use serde::Serialize;

/// The sliding window of `rpm` and `tpm`.
pub const WINDOW_MS: i64 = 60_000;

/// An account's pacing rules (none set: unpaced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pacing {
    /// Most requests in any 60 seconds.
    pub rpm: Option<u32>,
    /// Most tokens (as estimated before sending) in any 60 seconds.
    pub tpm: Option<u32>,
    /// Least time between two requests, ms.
    pub min_gap_ms: Option<u64>,
}

impl Pacing {
    /// Whether any rule is set.
    pub fn is_set(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.min_gap_ms.is_some_and(|g| g > 0)
    }
}

/// The leases an account's pacing counts.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Lease times and their tokens within the last window, oldest first.
    recent: VecDeque<(i64, u64)>,
}

impl Pacer {
    /// When the next request, expected to use `tokens`, may go under `rules` (at or before `now`:
    /// at once). A request larger than `tpm` alone goes once the window is empty.
    pub fn free_at(&self, rules: Pacing, tokens: u64, now: i64) -> i64 {
        let mut at = now;
        if let (Some(gap), Some((last, _))) = (rules.min_gap_ms, self.recent.back()) {
            at = at.max(last + i64::try_from(gap).unwrap_or(i64::MAX / 2));
        }
        let live: Vec<(i64, u64)> = self.recent.iter().copied().filter(|(t, _)| *t > now - WINDOW_MS).collect();
        if let Some(rpm) = rules.rpm {
            let rpm = rpm as usize;
            if rpm == 0 {
                return i64::MAX;
            }
            if live.len() >= rpm {
                // The request that must leave the window first for one more to fit.
                at = at.max(live[live.len() - rpm].0 + WINDOW_MS);
            }
        }
        if let Some(tpm) = rules.tpm {
            let tpm = u64::from(tpm);
            let mut used: u64 = live.iter().map(|(_, n)| n).sum();
            // Requests leave the window oldest first until this one fits (or none is left).
            for (t, n) in &live {
                if used + tokens <= tpm || used == 0 {
                    break;
                }
                used -= n;
                at = at.max(t + WINDOW_MS);
            }
        }
        at
    }

    /// A request expected to use `tokens` went at `now`; what `rules` no longer look at is dropped.
    pub fn record(&mut self, rules: Pacing, tokens: u64, now: i64) {
        self.recent.push_back((now, tokens));
        // tpm looks at the whole window; rpm at its last `rpm` requests; the gap at the last one.
        let keep = if rules.tpm.is_some() { usize::MAX } else { rules.rpm.map_or(1, |r| (r as usize).max(1)) };
        while self.recent.len() > keep || self.recent.front().is_some_and(|(t, _)| *t <= now - WINDOW_MS) {
            if self.recent.len() == 1 {
                break;
            }
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_allows_a_burst_then_frees_one_slot_as_each_request_leaves_the_window() {
        let rules = Pacing { rpm: Some(3), ..Pacing::default() };
        let mut p = Pacer::default();
        for t in [0, 10, 20] {
            assert_eq!(p.free_at(rules, 0, t), t, "a burst up to the limit");
            p.record(rules, 0, t);
        }
        assert_eq!(p.free_at(rules, 0, 30), 60_000, "the fourth waits for the first to leave the window");
        assert_eq!(p.free_at(rules, 0, 60_000), 60_000);
        p.record(rules, 0, 60_000);
        assert_eq!(p.free_at(rules, 0, 60_001), 60_010);
        // Over any 60 s, never more than 3.
        let mut q = Pacer::default();
        let mut sent = Vec::new();
        let mut now = 0;
        loop {
            now = q.free_at(rules, 0, now);
            if now >= 300_000 {
                break;
            }
            q.record(rules, 0, now);
            sent.push(now);
            now += 1;
        }
        for (i, t) in sent.iter().enumerate() {
            assert!(sent[i..].iter().take_while(|s| **s < t + WINDOW_MS).count() <= 3);
        }
        assert_eq!(sent.len(), 15, "3 per minute for 5 minutes");
    }

    #[test]
    fn tpm_counts_the_tokens_in_the_window_and_lets_an_oversized_request_through_alone() {
        let rules = Pacing { tpm: Some(1_000), ..Pacing::default() };
        let mut p = Pacer::default();
        assert_eq!(p.free_at(rules, 600, 0), 0);
        p.record(rules, 600, 0);
        assert_eq!(p.free_at(rules, 300, 10), 10, "900 of 1,000");
        p.record(rules, 300, 10);
        assert_eq!(p.free_at(rules, 200, 20), 60_000, "the first must leave the window");
        assert_eq!(p.free_at(rules, 100, 20), 20, "exactly 1,000 fits");
        // A request larger than the limit waits for an empty window, then goes alone.
        assert_eq!(p.free_at(rules, 5_000, 20), 60_010);
        assert_eq!(p.free_at(rules, 5_000, 60_010), 60_010);
    }

    #[test]
    fn min_gap_spaces_requests_and_unset_rules_never_wait() {
        let gap = Pacing { min_gap_ms: Some(500), ..Pacing::default() };
        let mut p = Pacer::default();
        assert_eq!(p.free_at(gap, 0, 100), 100);
        p.record(gap, 0, 100);
        assert_eq!(p.free_at(gap, 0, 200), 600);
        assert_eq!(p.free_at(gap, 0, 700), 700);
        let none = Pacing::default();
        assert!(!none.is_set());
        let mut q = Pacer::default();
        for t in 0..100 {
            q.record(none, 0, t);
            assert_eq!(q.free_at(none, 0, t), t);
        }
        assert_eq!(q.recent.len(), 1, "nothing kept beyond the last request");
        assert_eq!(Pacer::default().free_at(Pacing { rpm: Some(0), ..Pacing::default() }, 0, 5), i64::MAX);
    }
}

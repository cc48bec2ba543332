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

    /// This instance's part when `instances` share the account (several instances on one
    /// database): an equal part of the minute's requests and tokens (at least 1), so all of
    /// them together never exceed the limits, and the gap times the instances.
    pub fn shared(self, instances: u32) -> Self {
        if instances <= 1 {
            return self;
        }
        Self {
            rpm: self.rpm.map(|r| shared_cap(r, instances)),
            tpm: self.tpm.map(|t| shared_cap(t, instances)),
            min_gap_ms: self.min_gap_ms.map(|g| g.saturating_mul(u64::from(instances))),
        }
    }
}

/// An equal part of `limit` for one of `instances` (at least 1).
pub fn shared_cap(limit: u32, instances: u32) -> u32 {
    (limit / instances.max(1)).max(1)
}

/// The leases an account's (or a gateway key's) pacing counts. Leases of one millisecond share
/// an entry and the sums of the window are kept beside it, so a check costs a binary search plus
/// the entries that expired since the last lease, however many requests the window holds, and
/// memory stays bounded by the window's milliseconds (60,000 entries) at any rate.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Per millisecond with leases in the last window, oldest first: (time, requests, tokens).
    recent: VecDeque<(i64, u32, u64)>,
    /// Requests and tokens of all of `recent`.
    requests: u64,
    tokens: u64,
}

impl Pacer {
    /// When the next request, expected to use `tokens`, may go under `rules` (at or before `now`:
    /// at once). A request larger than `tpm` alone goes once the window is empty.
    pub fn free_at(&self, rules: Pacing, tokens: u64, now: i64) -> i64 {
        let mut at = now;
        if let (Some(gap), Some((last, _, _))) = (rules.min_gap_ms, self.recent.back()) {
            at = at.max(last + i64::try_from(gap).unwrap_or(i64::MAX / 2));
        }
        if rules.rpm.is_none() && rules.tpm.is_none() {
            return at;
        }
        let dead = self.recent.partition_point(|(t, _, _)| *t <= now - WINDOW_MS);
        let (dead_requests, dead_tokens) =
            self.recent.range(..dead).fold((0u64, 0u64), |(r, n), (_, er, en)| (r + u64::from(*er), n + en));
        let live = self.recent.range(dead..);
        if let Some(rpm) = rules.rpm {
            if rpm == 0 {
                return i64::MAX;
            }
            let live_requests = self.requests - dead_requests;
            if live_requests >= u64::from(rpm) {
                // The request that must leave the window first for one more to fit: the
                // (live - rpm + 1)-th oldest.
                let mut leaving = live_requests - u64::from(rpm) + 1;
                for (t, n, _) in live.clone() {
                    if u64::from(*n) >= leaving {
                        at = at.max(t + WINDOW_MS);
                        break;
                    }
                    leaving -= u64::from(*n);
                }
            }
        }
        if let Some(tpm) = rules.tpm {
            let tpm = u64::from(tpm);
            let mut used = self.tokens - dead_tokens;
            // Requests leave the window oldest first until this one fits (or none is left).
            for (t, _, n) in live {
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
        match self.recent.back_mut() {
            Some((t, n, k)) if *t == now => {
                *n = n.saturating_add(1);
                *k += tokens;
            }
            _ => self.recent.push_back((now, 1, tokens)),
        }
        self.requests += 1;
        self.tokens += tokens;
        // tpm looks at the whole window; rpm at its last `rpm` requests; the gap at the last one.
        let keep = if rules.tpm.is_some() { u64::MAX } else { rules.rpm.map_or(1, |r| u64::from(r).max(1)) };
        while self.recent.len() > 1 {
            let Some(&(t, n, k)) = self.recent.front() else { break };
            let expired = t <= now - WINDOW_MS;
            let surplus = self.requests - u64::from(n) >= keep;
            if !expired && !surplus {
                break;
            }
            self.recent.pop_front();
            self.requests -= u64::from(n);
            self.tokens -= k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_sharing_an_account_each_take_an_equal_part() {
        let p = Pacing { rpm: Some(5), tpm: Some(1000), min_gap_ms: Some(100) };
        assert_eq!(p.shared(1), p);
        assert_eq!(p.shared(2), Pacing { rpm: Some(2), tpm: Some(500), min_gap_ms: Some(200) });
        assert_eq!(p.shared(10).rpm, Some(1), "never nothing");
        assert_eq!((shared_cap(4, 2), shared_cap(3, 2), shared_cap(1, 3)), (2, 1, 1));
    }

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

    /// The window as a list of single requests, computed the plain way.
    fn naive(all: &[(i64, u64)], rules: Pacing, tokens: u64, now: i64) -> i64 {
        let mut at = now;
        if let (Some(gap), Some((last, _))) = (rules.min_gap_ms, all.last()) {
            at = at.max(last + gap as i64);
        }
        let live: Vec<(i64, u64)> = all.iter().copied().filter(|(t, _)| *t > now - WINDOW_MS).collect();
        if let Some(rpm) = rules.rpm
            && live.len() >= rpm as usize
        {
            at = at.max(live[live.len() - rpm as usize].0 + WINDOW_MS);
        }
        if let Some(tpm) = rules.tpm {
            let mut used: u64 = live.iter().map(|(_, n)| n).sum();
            for (t, n) in &live {
                if used + tokens <= u64::from(tpm) || used == 0 {
                    break;
                }
                used -= n;
                at = at.max(t + WINDOW_MS);
            }
        }
        at
    }

    #[test]
    fn many_requests_in_one_millisecond_share_an_entry_and_answer_as_the_plain_window_does() {
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        for rules in [
            Pacing { rpm: Some(50), tpm: None, min_gap_ms: None },
            Pacing { rpm: Some(200), tpm: Some(5_000), min_gap_ms: None },
            Pacing { rpm: None, tpm: Some(900), min_gap_ms: Some(3) },
        ] {
            let (mut p, mut all, mut now) = (Pacer::default(), Vec::new(), 0i64);
            for _ in 0..5_000 {
                now += next(40) as i64; // often several in one millisecond
                let tokens = next(60);
                assert_eq!(p.free_at(rules, tokens, now), naive(&all, rules, tokens, now), "{rules:?} at {now}");
                p.record(rules, tokens, now);
                all.push((now, tokens));
            }
            assert!(p.recent.len() <= 60_000);
        }
        // A huge rpm at a high rate: one entry per millisecond, not per request.
        let (mut p, rules) =
            (Pacer::default(), Pacing { rpm: Some(100_000_000), tpm: Some(u32::MAX), min_gap_ms: None });
        for i in 0..200_000i64 {
            p.record(rules, 10, i / 20);
        }
        assert_eq!(p.recent.len(), 10_000);
        assert_eq!(p.free_at(rules, 10, 10_000), 10_000);
    }
}

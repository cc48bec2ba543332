//! Account selection strategies: pure functions over the eligible accounts of one provider.

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// How the router picks among the healthy accounts of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Lowest priority value first; the next one only when it is unavailable.
    #[default]
    FillFirst,
    /// Rotate, staying on one account for `sticky_limit` consecutive calls.
    RoundRobin,
    /// Power of two choices: sample two, take the one with fewer requests in flight.
    P2c,
    /// Weighted random.
    Random,
    /// The account leased least recently.
    LeastUsed,
    /// Lowest priority value (the cheapest plan), spreading load among equals.
    CostOptimized,
}

impl Strategy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FillFirst => "fill-first",
            Self::RoundRobin => "round-robin",
            Self::P2c => "p2c",
            Self::Random => "random",
            Self::LeastUsed => "least-used",
            Self::CostOptimized => "cost-optimized",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::FillFirst, Self::RoundRobin, Self::P2c, Self::Random, Self::LeastUsed, Self::CostOptimized]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What a strategy may look at for one eligible account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Account id (stable order).
    pub id: i64,
    /// Lower is preferred.
    pub priority: i32,
    /// Relative share for random choice.
    pub weight: u32,
    /// Requests in flight now.
    pub in_flight: u32,
    /// Consecutive cooling failures (a recently recovered account has a higher level).
    pub backoff_level: u32,
    /// Last lease (ms).
    pub last_leased: i64,
}

/// Round-robin position of one provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The account used last.
    pub last: Option<i64>,
    /// Consecutive leases on it.
    pub count: u32,
}

/// Picks one of `c` (non-empty, in account-id order); returns its index.
pub fn choose(
    strategy: Strategy,
    c: &[Candidate],
    cursor: &mut Cursor,
    sticky_limit: u32,
    rng: &mut impl rand::Rng,
) -> Option<usize> {
    if c.is_empty() {
        return None;
    }
    let idx = match strategy {
        Strategy::FillFirst => min_by_key(c, |x| (x.priority, x.id)),
        Strategy::CostOptimized => min_by_key(c, |x| (x.priority, x.in_flight, x.last_leased, x.id)),
        Strategy::LeastUsed => min_by_key(c, |x| (x.last_leased, x.backoff_level, x.id)),
        Strategy::Random => weighted(c, rng),
        Strategy::P2c => {
            if c.len() == 1 {
                0
            } else {
                let a = rng.random_range(0..c.len());
                let mut b = rng.random_range(0..c.len() - 1);
                if b >= a {
                    b += 1;
                }
                let key = |x: &Candidate| (x.in_flight, x.backoff_level, x.priority);
                if key(&c[b]) < key(&c[a]) { b } else { a }
            }
        }
        Strategy::RoundRobin => round_robin(c, cursor, sticky_limit),
    };
    if strategy != Strategy::RoundRobin {
        cursor.last = Some(c[idx].id);
    }
    Some(idx)
}

fn min_by_key<K: Ord>(c: &[Candidate], key: impl Fn(&Candidate) -> K) -> usize {
    c.iter().enumerate().min_by_key(|(_, x)| key(x)).map(|(i, _)| i).unwrap_or(0)
}

fn weighted(c: &[Candidate], rng: &mut impl rand::Rng) -> usize {
    let total: u64 = c.iter().map(|x| u64::from(x.weight.max(1))).sum();
    let mut pick = rng.random_range(0..total);
    for (i, x) in c.iter().enumerate() {
        let w = u64::from(x.weight.max(1));
        if pick < w {
            return i;
        }
        pick -= w;
    }
    c.len() - 1
}

fn round_robin(c: &[Candidate], cursor: &mut Cursor, sticky_limit: u32) -> usize {
    if let Some(last) = cursor.last
        && cursor.count < sticky_limit.max(1)
        && let Some(i) = c.iter().position(|x| x.id == last)
    {
        cursor.count += 1;
        return i;
    }
    // Healthiest first: an account that just came out of a cooldown waits for a clean rotation.
    let best = c.iter().map(|x| x.backoff_level).min().unwrap_or(0);
    let pool: Vec<usize> = (0..c.len()).filter(|&i| c[i].backoff_level == best).collect();
    let next = match cursor.last {
        Some(last) => pool.iter().copied().find(|&i| c[i].id > last).unwrap_or(pool[0]),
        None => pool[0],
    };
    cursor.last = Some(c[next].id);
    cursor.count = 1;
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, priority: i32) -> Candidate {
        Candidate { id, priority, weight: 1, in_flight: 0, backoff_level: 0, last_leased: 0 }
    }

    fn pick_ids(s: Strategy, c: &[Candidate], n: usize) -> Vec<i64> {
        let mut cur = Cursor::default();
        let mut rng = rand::rng();
        (0..n).map(|_| c[choose(s, c, &mut cur, 3, &mut rng).unwrap_or(0)].id).collect()
    }

    #[test]
    fn fill_first_takes_the_lowest_priority() {
        let c = [cand(1, 5), cand(2, 1), cand(3, 1)];
        assert_eq!(pick_ids(Strategy::FillFirst, &c, 3), vec![2, 2, 2]);
    }

    #[test]
    fn round_robin_is_sticky_for_the_limit_then_rotates() {
        let c = [cand(1, 1), cand(2, 1), cand(3, 1)];
        assert_eq!(pick_ids(Strategy::RoundRobin, &c, 9), vec![1, 1, 1, 2, 2, 2, 3, 3, 3]);
        let mut cur = Cursor::default();
        let mut rng = rand::rng();
        let ids: Vec<i64> =
            (0..4).map(|_| c[choose(Strategy::RoundRobin, &c, &mut cur, 1, &mut rng).unwrap_or(0)].id).collect();
        assert_eq!(ids, vec![1, 2, 3, 1]);
    }

    #[test]
    fn round_robin_prefers_accounts_without_recent_backoff() {
        let mut c = [cand(1, 1), cand(2, 1)];
        c[0].backoff_level = 2;
        assert_eq!(pick_ids(Strategy::RoundRobin, &c, 4), vec![2, 2, 2, 2]);
    }

    #[test]
    fn p2c_prefers_fewer_in_flight() {
        let mut c = [cand(1, 1), cand(2, 1)];
        c[0].in_flight = 10;
        assert!(pick_ids(Strategy::P2c, &c, 50).iter().all(|&id| id == 2));
    }

    #[test]
    fn least_used_takes_the_oldest_lease() {
        let mut c = [cand(1, 1), cand(2, 1), cand(3, 1)];
        c[0].last_leased = 30;
        c[1].last_leased = 10;
        c[2].last_leased = 20;
        assert_eq!(pick_ids(Strategy::LeastUsed, &c, 1), vec![2]);
    }

    #[test]
    fn cost_optimized_spreads_among_the_cheapest() {
        let mut c = [cand(1, 2), cand(2, 1), cand(3, 1)];
        c[1].in_flight = 3;
        assert_eq!(pick_ids(Strategy::CostOptimized, &c, 1), vec![3]);
    }

    #[test]
    fn random_follows_weights() {
        let mut c = [cand(1, 1), cand(2, 1)];
        c[1].weight = 9;
        let ids = pick_ids(Strategy::Random, &c, 2000);
        let twos = ids.iter().filter(|&&i| i == 2).count();
        assert!((1600..=1990).contains(&twos), "{twos}");
    }
}

//! Sticky sessions as a plain struct: which account serves a client session on a provider (and,
//! in the root crate, which target of a combo), so a long conversation keeps its upstream prompt
//! cache warm. Bindings end after an idle TTL and are bounded in number (the least recently used
//! goes first). It decides nothing about health: its users ask it for a binding and use it only
//! when that account or target can serve.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A binding unused this long ends, ms (0: sessions are off).
    pub ttl_ms: i64,
    /// Most bindings kept; beyond it the least recently used ends.
    pub max: usize,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { ttl_ms: 3_600_000, max: 50_000 }
    }
}

/// One binding.
#[derive(Debug, Clone)]
struct Binding<V> {
    account: V,
    seen: i64,
    /// Position in the use order.
    seq: u64,
    /// When the instances sharing the database were last told of it (`bind`'s answer).
    told: i64,
}

/// A binding to tell the instances sharing the database (`omnigate::cluster`): made, moved, or
/// still in use half a TTL after they last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// `p:<provider>` for the router's account bindings, `c:<combo>` for combo targets.
    pub scope: String,
    /// The client's session key.
    pub session: String,
    /// The account id or the target's label.
    pub value: String,
    /// When it was used, ms.
    pub seen: i64,
}

/// Session bindings by (scope, session key): the scope is a provider for the router's account
/// bindings (`V` an account id), a combo for the pipeline's target bindings.
#[derive(Debug)]
pub struct SessionBook<V = i64> {
    policy: SessionPolicy,
    map: HashMap<Arc<str>, Binding<V>>,
    /// Use order: the oldest first.
    order: BTreeMap<u64, Arc<str>>,
    next_seq: u64,
}

fn key(provider: &str, session: &str) -> String {
    let mut k = String::with_capacity(provider.len() + session.len() + 1);
    k.push_str(provider);
    k.push('\u{0}');
    k.push_str(session);
    k
}

impl<V> Default for SessionBook<V> {
    fn default() -> Self {
        Self { policy: SessionPolicy::default(), map: HashMap::new(), order: BTreeMap::new(), next_seq: 0 }
    }
}

impl<V: Clone> SessionBook<V> {
    /// An empty book kept by `policy`.
    pub fn new(policy: SessionPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    /// Replaces the policy; bindings beyond a smaller bound end at once.
    pub fn set_policy(&mut self, policy: SessionPolicy, now: i64) {
        self.policy = policy;
        if policy.ttl_ms <= 0 {
            self.map.clear();
            self.order.clear();
        }
        self.evict(now);
    }

    /// Whether sessions are kept at all.
    pub fn enabled(&self) -> bool {
        self.policy.ttl_ms > 0 && self.policy.max > 0
    }

    /// Live bindings.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no binding is live.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The account `session` is bound to on `provider`, unless its binding has expired.
    pub fn bound(&self, provider: &str, session: &str, now: i64) -> Option<V> {
        let b = self.map.get(key(provider, session).as_str())?;
        (now - b.seen < self.policy.ttl_ms).then(|| b.account.clone())
    }

    /// Binds `session` on `provider` to `account` (new, renewed or moved), as used at `now`.
    /// True when the other instances should hear of it: a new or moved binding, or one they last
    /// heard of half a TTL ago (so theirs does not expire while it is in use here).
    pub fn bind(&mut self, provider: &str, session: &str, account: V, now: i64) -> bool
    where
        V: PartialEq,
    {
        self.put(provider, session, account, now, false)
    }

    /// Takes a binding another instance made (used at `seen`): nobody needs telling.
    pub fn adopt(&mut self, provider: &str, session: &str, account: V, seen: i64)
    where
        V: PartialEq,
    {
        self.put(provider, session, account, seen, true);
    }

    fn put(&mut self, provider: &str, session: &str, account: V, now: i64, heard: bool) -> bool
    where
        V: PartialEq,
    {
        if !self.enabled() {
            return false;
        }
        let k = key(provider, session);
        let seq = self.next_seq;
        self.next_seq += 1;
        let half = self.policy.ttl_ms / 2;
        let tell = match self.map.get_mut(k.as_str()) {
            Some(b) => {
                if let Some(name) = self.order.remove(&b.seq) {
                    self.order.insert(seq, name);
                }
                let tell = !heard && (b.account != account || now - b.told >= half);
                let told = if tell || heard { now } else { b.told };
                *b = Binding { account, seen: now.max(b.seen), seq, told };
                tell
            }
            None => {
                let k: Arc<str> = k.into();
                self.order.insert(seq, Arc::clone(&k));
                self.map.insert(k, Binding { account, seen: now, seq, told: now });
                !heard
            }
        };
        self.evict(now);
        tell
    }

    /// Ends expired bindings and those beyond the bound, oldest first (the use order is also
    /// the order of last use, so the first live one ends the sweep).
    fn evict(&mut self, now: i64) {
        while let Some(entry) = self.order.first_entry() {
            let expired = self.map.get(entry.get()).is_none_or(|b| now - b.seen >= self.policy.ttl_ms);
            if !expired && self.map.len() <= self.policy.max {
                break;
            }
            let name = entry.remove();
            self.map.remove(&name);
        }
    }

    /// Forgets bindings to accounts that `keep` refuses (deleted accounts).
    pub fn retain_accounts(&mut self, keep: impl Fn(&V) -> bool) {
        let map = &mut self.map;
        self.order.retain(|_, name| {
            let live = map.get(name).is_some_and(|b| keep(&b.account));
            if !live {
                map.remove(name);
            }
            live
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_holds_until_idle_for_the_ttl_and_use_renews_it() {
        let mut s: SessionBook = SessionBook::new(SessionPolicy { ttl_ms: 1_000, max: 10 });
        assert_eq!(s.bound("p", "s1", 0), None);
        s.bind("p", "s1", 7, 0);
        assert_eq!(s.bound("p", "s1", 999), Some(7));
        assert_eq!(s.bound("q", "s1", 10), None, "bindings are per provider");
        s.bind("p", "s1", 7, 900);
        assert_eq!(s.bound("p", "s1", 1_800), Some(7), "renewed by use");
        assert_eq!(s.bound("p", "s1", 1_900), None, "idle for the TTL: gone");
        // A move re-binds.
        s.bind("p", "s1", 8, 2_000);
        assert_eq!(s.bound("p", "s1", 2_001), Some(8));
        // Expired bindings are swept when others are made.
        s.bind("p", "s2", 1, 5_000);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_least_recently_used_binding_goes_beyond_the_bound() {
        let mut s: SessionBook = SessionBook::new(SessionPolicy { ttl_ms: 1_000_000, max: 3 });
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            s.bind("p", name, i as i64, i as i64);
        }
        s.bind("p", "a", 0, 10); // a is now the most recent
        s.bind("p", "d", 3, 11);
        assert_eq!(s.len(), 3);
        assert_eq!(s.bound("p", "b", 12), None, "b was the least recently used");
        assert_eq!((s.bound("p", "a", 12), s.bound("p", "c", 12), s.bound("p", "d", 12)), (Some(0), Some(2), Some(3)));
        for i in 0..1_000 {
            s.bind("p", &format!("x{i}"), i, 100 + i);
        }
        assert_eq!(s.len(), 3, "never more than the bound");
        s.set_policy(SessionPolicy { ttl_ms: 1_000_000, max: 1 }, 2_000);
        assert_eq!(s.len(), 1);
        assert_eq!(s.bound("p", "x999", 2_000), Some(999));
    }

    #[test]
    fn off_keeps_nothing_and_deleted_accounts_lose_their_sessions() {
        let mut s: SessionBook = SessionBook::new(SessionPolicy { ttl_ms: 0, max: 10 });
        s.bind("p", "a", 1, 0);
        assert!(s.is_empty());
        s.set_policy(SessionPolicy::default(), 0);
        s.bind("p", "a", 1, 0);
        s.bind("p", "b", 2, 0);
        s.retain_accounts(|id| *id != 1);
        assert_eq!((s.bound("p", "a", 1), s.bound("p", "b", 1)), (None, Some(2)));
        s.set_policy(SessionPolicy { ttl_ms: 0, max: 10 }, 1);
        assert!(s.is_empty());
    }
}

//! A bounded map of answers: at most `max_entries` entries and `max_bytes` bytes, each fresh for
//! `ttl`, the least recently used evicted first. One mutex; every operation is O(log n) and
//! never awaits, so it is never held across a request's work.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::key::Fingerprint;

struct Slot<V> {
    value: Arc<V>,
    bytes: usize,
    stored: Instant,
    tick: u64,
}

struct Inner<V> {
    map: HashMap<Fingerprint, Slot<V>>,
    /// Use order: tick → key (the smallest tick is the least recently used).
    order: BTreeMap<u64, Fingerprint>,
    tick: u64,
    bytes: usize,
}

/// The bounded, expiring, least-recently-used map.
pub struct Store<V> {
    inner: Mutex<Inner<V>>,
    max_entries: usize,
    max_bytes: usize,
    ttl: Duration,
}

impl<V> Store<V> {
    /// An empty store with these bounds.
    pub fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> Self {
        let inner = Inner { map: HashMap::new(), order: BTreeMap::new(), tick: 0, bytes: 0 };
        Self { inner: Mutex::new(inner), max_entries, max_bytes, ttl }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The largest value it keeps, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The fresh value under `key` (marked as just used); an expired one is removed.
    pub fn get(&self, key: &Fingerprint, now: Instant) -> Option<Arc<V>> {
        let mut g = self.lock();
        let inner = &mut *g;
        let slot = inner.map.get_mut(key)?;
        if now.saturating_duration_since(slot.stored) >= self.ttl {
            let (tick, bytes) = (slot.tick, slot.bytes);
            inner.map.remove(key);
            inner.order.remove(&tick);
            inner.bytes -= bytes;
            return None;
        }
        inner.order.remove(&slot.tick);
        inner.tick += 1;
        slot.tick = inner.tick;
        inner.order.insert(inner.tick, *key);
        Some(Arc::clone(&slot.value))
    }

    /// Stores `value` (`bytes` long) under `key`, evicting the least recently used entries until
    /// both bounds hold; a value larger than the whole byte bound is not kept.
    pub fn put(&self, key: Fingerprint, value: Arc<V>, bytes: usize, now: Instant) {
        if self.max_entries == 0 || bytes > self.max_bytes {
            return;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        if let Some(old) = inner.map.remove(&key) {
            inner.order.remove(&old.tick);
            inner.bytes -= old.bytes;
        }
        while inner.map.len() >= self.max_entries || inner.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = inner.order.pop_first() else { break };
            if let Some(s) = inner.map.remove(&oldest) {
                inner.bytes -= s.bytes;
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.order.insert(tick, key);
        inner.bytes += bytes;
        inner.map.insert(key, Slot { value, bytes, stored: now, tick });
    }

    /// Entries and bytes held (expired ones count until they are met or evicted).
    pub fn size(&self) -> (usize, usize) {
        let g = self.lock();
        (g.map.len(), g.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u8) -> Fingerprint {
        [n; 32]
    }

    #[test]
    fn bounds_evict_the_least_recently_used() {
        let s = Store::new(3, 100, Duration::from_secs(60));
        let t = Instant::now();
        for n in 1..=3 {
            s.put(k(n), Arc::new(n), 10, t);
        }
        assert!(s.get(&k(1), t).is_some(), "1 is now the most recently used");
        s.put(k(4), Arc::new(4), 10, t);
        assert!(s.get(&k(2), t).is_none(), "2 was the least recently used");
        assert_eq!(s.size(), (3, 30));
        s.put(k(5), Arc::new(5), 85, t);
        assert_eq!(s.size(), (2, 95), "bytes evict as many as needed, oldest first");
        s.put(k(6), Arc::new(6), 101, t);
        assert!(s.get(&k(6), t).is_none(), "larger than the whole bound: not kept");
    }

    #[test]
    fn entries_expire() {
        let s = Store::new(3, 100, Duration::from_secs(60));
        let t = Instant::now();
        s.put(k(1), Arc::new(1), 10, t);
        assert!(s.get(&k(1), t + Duration::from_secs(59)).is_some());
        assert!(s.get(&k(1), t + Duration::from_secs(60)).is_none());
        assert_eq!(s.size(), (0, 0));
    }
}

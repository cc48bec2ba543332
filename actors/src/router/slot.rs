//! In-flight accounting shared between the router and the leases it hands out: a lease releases
//! its slot when dropped, so a client disconnect or a panic never leaks one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// A run of consecutive provider faults, shared by the router (which hands it out with each
/// lease) and the executors (which bump or end it). A success on a healthy provider only reads
/// it: no write to a shared cache line, no message.
#[derive(Debug, Default)]
pub struct Streak(AtomicU32);

impl Streak {
    /// One more fault; returns the streak it makes.
    pub fn fail(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// A success ends the streak; returns whether there was one to end.
    pub fn succeed(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0 && self.0.swap(0, Ordering::Relaxed) != 0
    }

    /// The current streak.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one account, shared by the router and its leases.
#[derive(Debug, Default)]
pub struct Slot {
    in_flight: AtomicU32,
    last_leased: AtomicI64,
    leases: AtomicU64,
    /// Consecutive provider faults on this account.
    pub faults: Streak,
}

impl Slot {
    /// Requests currently holding a lease.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// When the last lease was granted (ms).
    pub fn last_leased(&self) -> i64 {
        self.last_leased.load(Ordering::Relaxed)
    }

    /// Leases granted since start.
    pub fn leases(&self) -> u64 {
        self.leases.load(Ordering::Relaxed)
    }

    /// Seeds the last-use time from persisted state.
    pub fn set_last_leased(&self, at: i64) {
        self.last_leased.store(at, Ordering::Relaxed);
    }
}

/// Holds one in-flight slot; dropping it frees the slot.
#[derive(Debug)]
pub struct SlotGuard(Arc<Slot>);

impl SlotGuard {
    /// Takes a slot at `now`.
    pub fn take(slot: &Arc<Slot>, now: i64) -> Self {
        slot.in_flight.fetch_add(1, Ordering::Relaxed);
        slot.leases.fetch_add(1, Ordering::Relaxed);
        slot.last_leased.store(now, Ordering::Relaxed);
        Self(Arc::clone(slot))
    }
}

impl SlotGuard {
    /// The account's counters.
    pub fn slot(&self) -> &Slot {
        &self.0
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_releases_on_drop_even_when_unwinding() {
        let slot = Arc::new(Slot::default());
        let g = SlotGuard::take(&slot, 5);
        assert_eq!((slot.in_flight(), slot.last_leased(), slot.leases()), (1, 5, 1));
        let s2 = Arc::clone(&slot);
        let r = std::panic::catch_unwind(move || {
            let _g = SlotGuard::take(&s2, 6);
            panic!("boom");
        });
        assert!(r.is_err());
        assert_eq!(slot.in_flight(), 1);
        drop(g);
        assert_eq!(slot.in_flight(), 0);
    }

    #[test]
    fn a_streak_counts_faults_and_any_success_ends_it() {
        let s = Streak::default();
        assert!(!s.succeed(), "nothing to end");
        assert_eq!((s.fail(), s.fail()), (1, 2));
        assert!(s.succeed());
        assert_eq!((s.get(), s.fail()), (0, 1));
    }
}

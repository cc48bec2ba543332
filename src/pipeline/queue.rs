//! The wait queue: requests whose every candidate account is paced or cooling for a little
//! while wait for it instead of failing, within two bounds (`routing.max_wait_ms` per request,
//! `routing.max_queue` requests at once). Requests for the same model wait in one FIFO lane: only
//! the head of a lane sleeps and leases; the next one gets its turn when the head got an account
//! or left; a newcomer while a lane has members queues behind them rather than take the account
//! they wait for. The queue only orders and bounds; the pipeline sleeps and leases. A request
//! that leaves (its handler dropped) leaves the queue with its ticket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// One model's line of waiting requests.
#[derive(Debug, Default)]
struct Lane {
    /// Held by the head of the lane; tokio's mutex hands it on in FIFO order.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Requests in the lane.
    members: AtomicUsize,
}

type Lanes = Arc<Mutex<HashMap<String, Arc<Lane>>>>;

fn locked(lanes: &Lanes) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Lane>>> {
    match lanes.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The live bounds, the lanes and the count of waiting requests.
#[derive(Debug, Default)]
pub struct WaitQueue {
    max_wait_ms: AtomicU64,
    max_queue: AtomicU32,
    waiting: Arc<AtomicUsize>,
    lanes: Lanes,
}

/// A place in the queue; dropping it leaves (and hands the turn on).
#[derive(Debug)]
pub struct Ticket {
    waiting: Arc<AtomicUsize>,
    lanes: Lanes,
    name: String,
    lane: Arc<Lane>,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Ticket {
    /// Whether this request is the head of its lane.
    pub fn has_turn(&self) -> bool {
        self.turn.is_some()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.turn = None;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let mut lanes = locked(&self.lanes);
        if self.lane.members.fetch_sub(1, Ordering::Relaxed) == 1 {
            lanes.remove(&self.name);
        }
    }
}

/// Whether a request may wait `wait_ms` more, having waited `waited_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Wait, then lease again.
    Wait,
    /// The wait would pass `routing.max_wait_ms`.
    TooLong,
    /// `routing.max_queue` requests are waiting already.
    Full,
}

impl WaitQueue {
    /// A queue with these bounds.
    pub fn new(max_wait_ms: u64, max_queue: u32) -> Self {
        let q = Self::default();
        q.configure(max_wait_ms, max_queue);
        q
    }

    /// New bounds (live settings); requests waiting already keep their place.
    pub fn configure(&self, max_wait_ms: u64, max_queue: u32) {
        self.max_wait_ms.store(max_wait_ms, Ordering::Relaxed);
        self.max_queue.store(max_queue, Ordering::Relaxed);
    }

    /// The longest wait, ms.
    pub fn max_wait_ms(&self) -> u64 {
        self.max_wait_ms.load(Ordering::Relaxed)
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether requests for `lane` are waiting (a newcomer then queues behind them).
    pub fn busy(&self, lane: &str) -> bool {
        locked(&self.lanes).contains_key(lane)
    }

    /// Decides whether a request that waited `waited_ms` so far may wait `wait_ms` more; a
    /// request not in the queue yet (`ticket` empty) takes a place at the end of `lane`.
    pub fn admit(&self, ticket: &mut Option<Ticket>, lane: &str, waited_ms: u64, wait_ms: u64) -> Admission {
        if waited_ms.saturating_add(wait_ms) > self.max_wait_ms() {
            return Admission::TooLong;
        }
        if ticket.is_none() {
            let max = self.max_queue.load(Ordering::Relaxed) as usize;
            let took = self.waiting.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1));
            if took.is_err() {
                return Admission::Full;
            }
            let l = Arc::clone(locked(&self.lanes).entry(lane.to_string()).or_default());
            l.members.fetch_add(1, Ordering::Relaxed);
            *ticket = Some(Ticket {
                waiting: Arc::clone(&self.waiting),
                lanes: Arc::clone(&self.lanes),
                name: lane.to_string(),
                lane: l,
                turn: None,
            });
        }
        Admission::Wait
    }

    /// Waits (at most `limit`) until `ticket` is the head of its lane; false when the limit
    /// passed first.
    pub async fn turn(ticket: &mut Ticket, limit: Duration) -> bool {
        if ticket.turn.is_some() {
            return true;
        }
        let lock = Arc::clone(&ticket.lane.turn).lock_owned();
        match tokio::time::timeout(limit, lock).await {
            Ok(g) => {
                ticket.turn = Some(g);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_on_the_wait_and_on_the_queue_and_leaving_frees_a_place() {
        let q = WaitQueue::new(1_000, 2);
        let (mut a, mut b, mut c) = (None, None, None);
        assert!(!q.busy("m"));
        assert_eq!(q.admit(&mut a, "m", 0, 400), Admission::Wait);
        assert!(q.busy("m") && !q.busy("other"));
        assert_eq!(q.admit(&mut a, "m", 400, 600), Admission::Wait, "a waiting request keeps its place");
        assert_eq!(q.admit(&mut a, "m", 1_000, 1), Admission::TooLong);
        assert_eq!(q.admit(&mut b, "other", 0, 10), Admission::Wait);
        assert_eq!(q.admit(&mut c, "m", 0, 10), Admission::Full);
        assert_eq!(q.waiting(), 2);
        drop(a.take());
        assert!(!q.busy("m"), "an empty lane is gone");
        assert_eq!(q.admit(&mut c, "m", 0, 10), Admission::Wait, "a request that left freed its place");
        q.configure(0, 2);
        assert_eq!(q.admit(&mut None, "m", 0, 1), Admission::TooLong, "0: never wait");
    }

    #[actix_rt::test]
    async fn a_lane_hands_its_turn_on_in_arrival_order() {
        let q = WaitQueue::new(10_000, 10);
        let mut tickets: Vec<Option<Ticket>> = (0..3).map(|_| None).collect();
        for t in &mut tickets {
            assert_eq!(q.admit(t, "m", 0, 10), Admission::Wait);
        }
        let mut it = tickets.into_iter().flatten();
        let (Some(mut first), Some(mut second), Some(mut third)) = (it.next(), it.next(), it.next()) else {
            panic!("three tickets");
        };
        assert!(WaitQueue::turn(&mut first, Duration::from_millis(10)).await);
        assert!(first.has_turn());
        // The second cannot have the turn while the first holds it.
        assert!(!WaitQueue::turn(&mut second, Duration::from_millis(20)).await);
        let order = Arc::new(Mutex::new(Vec::new()));
        let (o2, o3) = (Arc::clone(&order), Arc::clone(&order));
        let h2 = actix_rt::spawn(async move {
            if WaitQueue::turn(&mut second, Duration::from_secs(5)).await {
                o2.lock().map(|mut v| v.push(2)).ok();
            }
        });
        tokio::task::yield_now().await;
        let h3 = actix_rt::spawn(async move {
            if WaitQueue::turn(&mut third, Duration::from_secs(5)).await {
                o3.lock().map(|mut v| v.push(3)).ok();
            }
        });
        tokio::task::yield_now().await;
        drop(first);
        let _ = h2.await;
        let _ = h3.await;
        assert_eq!(order.lock().map(|v| v.clone()).unwrap_or_default(), vec![2, 3]);
        assert_eq!(q.waiting(), 0, "every ticket left");
        assert!(!q.busy("m"));
    }
}

//! `Idempotency-Key`: one upstream call per key (scoped by gateway key) within the window.
//! The first request with a key leads; a repeat while it runs waits for its whole answer (a
//! stream is replayed in full once the first has ended, not fed live) and gets it, failure or
//! not; a repeat after it finished gets the stored answer, if it succeeded (a failure is kept
//! only until the first call ends: a later retry runs anew). A repeat with another body gets a
//! 422 (`GatewayError::IdempotencyMismatch`). A leader that ends without an answer (its client
//! left, or the answer outgrew `[cache] max_bytes`) lets go, and one of its waiters leads next.

use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::key::Fingerprint;
use super::store::Store;
use super::tap::Answer;

/// What a waiter is told when the leader's answer is complete.
type Published = Option<Arc<Answer>>;

struct Running {
    body: Fingerprint,
    rx: watch::Receiver<Published>,
}

/// The idempotency keys in use and the answers of those that finished well.
pub struct Idempotency {
    running: DashMap<Fingerprint, Running>,
    done: Store<(Fingerprint, Arc<Answer>)>,
}

/// What to do with a request that carries a key.
pub enum Begin {
    /// Run it; the leader publishes the answer.
    Lead(Leader),
    /// The same request is running: wait for its answer.
    Wait(watch::Receiver<Published>),
    /// The same request finished: its answer.
    Replay(Arc<Answer>),
    /// The key was used for another request.
    Mismatch,
}

/// The right (and duty) to answer for a key; dropped without `finish`, it lets go.
pub struct Leader {
    idem: Arc<Idempotency>,
    id: Fingerprint,
    body: Fingerprint,
    tx: Option<watch::Sender<Published>>,
}

impl Idempotency {
    /// Remembers finished answers within `done`'s bounds (its ttl is the window).
    pub fn new(done: Store<(Fingerprint, Arc<Answer>)>) -> Self {
        Self { running: DashMap::new(), done }
    }

    /// The id of `key` in `scope`.
    pub fn id(scope: &str, key: &str) -> Fingerprint {
        let mut h = Sha256::new();
        h.update((scope.len() as u64).to_le_bytes());
        h.update(scope.as_bytes());
        h.update(key.as_bytes());
        h.finalize().into()
    }

    /// Where a request with `id` and body fingerprint `body` stands.
    pub fn begin(self: &Arc<Self>, id: Fingerprint, body: Fingerprint) -> Begin {
        if let Some(done) = self.done.get(&id, Instant::now()) {
            return if done.0 == body { Begin::Replay(Arc::clone(&done.1)) } else { Begin::Mismatch };
        }
        match self.running.entry(id) {
            Entry::Occupied(e) if e.get().body == body => Begin::Wait(e.get().rx.clone()),
            Entry::Occupied(_) => Begin::Mismatch,
            Entry::Vacant(v) => {
                let (tx, rx) = watch::channel(None);
                v.insert(Running { body, rx });
                Begin::Lead(Leader { idem: Arc::clone(self), id, body, tx: Some(tx) })
            }
        }
    }

    /// Keys whose first request is still running.
    pub fn running(&self) -> usize {
        self.running.len()
    }
}

impl Leader {
    /// Publishes the answer: kept for later repeats when it succeeded and ended cleanly, given
    /// to the waiters in any case; `None` lets go (the waiters run it themselves).
    pub fn finish(mut self, answer: Option<(Arc<Answer>, bool)>) {
        let Some(tx) = self.tx.take() else { return };
        if let Some((a, clean)) = &answer
            && *clean
            && a.success()
        {
            let bytes = a.bytes;
            self.idem.done.put(self.id, Arc::new((self.body, Arc::clone(a))), bytes, Instant::now());
        }
        self.idem.running.remove(&self.id);
        if let Some((a, _)) = answer {
            let _ = tx.send(Some(a));
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if self.tx.take().is_some() {
            self.idem.running.remove(&self.id);
        }
    }
}

/// Waits for the leader's answer: `None` when it let go.
pub async fn wait(mut rx: watch::Receiver<Published>) -> Option<Arc<Answer>> {
    match rx.wait_for(Option::is_some).await {
        Ok(v) => v.clone(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Arc<Answer> {
        Arc::new(Answer {
            status,
            headers: Vec::new(),
            chunks: vec![Bytes::from_static(b"x")],
            streamed: false,
            bytes: 1,
        })
    }

    use bytes::Bytes;

    fn idem() -> Arc<Idempotency> {
        Arc::new(Idempotency::new(Store::new(10, 1000, std::time::Duration::from_secs(60))))
    }

    #[tokio::test]
    async fn one_leads_the_others_wait_and_later_ones_replay() {
        let i = idem();
        let (id, body) = (Idempotency::id("k", "a"), [1; 32]);
        let Begin::Lead(lead) = i.begin(id, body) else { panic!("first leads") };
        let Begin::Wait(rx) = i.begin(id, body) else { panic!("second waits") };
        assert!(matches!(i.begin(id, [2; 32]), Begin::Mismatch));
        lead.finish(Some((answer(200), true)));
        assert_eq!(wait(rx).await.map(|a| a.status), Some(200));
        assert!(matches!(i.begin(id, body), Begin::Replay(_)));
        assert!(matches!(i.begin(Idempotency::id("other", "a"), body), Begin::Lead(_)), "scoped per key");
    }

    #[tokio::test]
    async fn a_failure_reaches_the_waiters_but_is_not_kept() {
        let i = idem();
        let (id, body) = (Idempotency::id("k", "a"), [1; 32]);
        let Begin::Lead(lead) = i.begin(id, body) else { panic!() };
        let Begin::Wait(rx) = i.begin(id, body) else { panic!() };
        lead.finish(Some((answer(502), true)));
        assert_eq!(wait(rx).await.map(|a| a.status), Some(502));
        assert!(matches!(i.begin(id, body), Begin::Lead(_)));
    }

    #[tokio::test]
    async fn a_leader_that_leaves_lets_a_waiter_lead() {
        let i = idem();
        let (id, body) = (Idempotency::id("k", "a"), [1; 32]);
        let Begin::Lead(lead) = i.begin(id, body) else { panic!() };
        let Begin::Wait(rx) = i.begin(id, body) else { panic!() };
        drop(lead);
        assert!(wait(rx).await.is_none());
        let next = i.begin(id, body);
        assert!(matches!(next, Begin::Lead(_)));
        assert_eq!(i.running(), 1);
        drop(next);
        assert_eq!(i.running(), 0, "a leader that leaves frees its key");
    }
}

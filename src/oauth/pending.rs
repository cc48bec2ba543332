//! Sign-ins started from the dashboard and not finished yet: a PKCE flow waits for its code
//! (pasted, or the browser's redirect to `/api/oauth/{provider}/callback`); a device flow is
//! polled in the background and its outcome kept for the dashboard to read. In memory only: a
//! restart simply ends them. Finished and expired entries are pruned on every access.

use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use serde::Serialize;

use super::Kind;
use super::cli::Target;
use super::flow::PkceFlow;

/// How long a started PKCE sign-in waits for its code.
pub const PKCE_TTL_MS: i64 = 15 * 60_000;
/// How long a finished flow's outcome stays readable.
const KEEP_DONE_MS: i64 = 10 * 60_000;

/// Where a flow stands, as the dashboard reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FlowState {
    /// Waiting for the user.
    #[default]
    Pending,
    /// Signed in.
    Done {
        /// The account.
        account_id: i64,
        /// Its name.
        name: String,
    },
    /// It failed (the provider's words, never a token).
    Failed {
        /// Why.
        error: String,
    },
}

/// One unfinished sign-in.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The provider.
    pub kind: Kind,
    /// The account it will become.
    pub target: Target,
    /// The PKCE secrets (PKCE flows).
    pub pkce: Option<PkceFlow>,
    /// When it stops waiting (ms).
    pub expires_at: i64,
    /// Its state.
    pub state: Arc<Mutex<(FlowState, i64)>>,
}

impl Pending {
    /// Its state.
    pub fn state(&self) -> FlowState {
        match self.state.lock() {
            Ok(g) => g.0.clone(),
            Err(p) => p.into_inner().0.clone(),
        }
    }

    /// Records how it ended.
    pub fn finish(&self, state: FlowState, now: i64) {
        match self.state.lock() {
            Ok(mut g) => *g = (state, now),
            Err(p) => *p.into_inner() = (state, now),
        }
    }

    fn done_at(&self) -> Option<i64> {
        let (state, at) = match self.state.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        (state != FlowState::Pending).then_some(at)
    }
}

/// Unfinished sign-ins by flow id (a PKCE flow's `state`, or a random id for a device flow).
#[derive(Debug, Default)]
pub struct Flows {
    map: DashMap<String, Pending>,
}

impl Flows {
    /// Keeps a new flow.
    pub fn insert(&self, id: String, p: Pending, now: i64) {
        self.prune(now);
        self.map.insert(id, p);
    }

    /// A flow by id (expired pending ones are gone).
    pub fn get(&self, id: &str, now: i64) -> Option<Pending> {
        self.prune(now);
        self.map.get(id).map(|p| p.value().clone())
    }

    /// Forgets a flow.
    pub fn remove(&self, id: &str) {
        self.map.remove(id);
    }

    fn prune(&self, now: i64) {
        self.map.retain(|_, p| match p.done_at() {
            Some(at) => now - at < KEEP_DONE_MS,
            None => now < p.expires_at,
        });
    }
}

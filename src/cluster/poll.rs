//! The change feed on MariaDB, which has no `LISTEN`/`NOTIFY`: every `POLL_EVERY` the instance
//! compares the revision (a newer one reloads the runtime) and reads the `cluster_events` rows
//! newer than the last it handled (written health, dashboard logins and logouts, sticky bindings),
//! each handled as the PostgreSQL feed handles the notification it stands for. A change so
//! reaches the other instances within `POLL_EVERY` plus the reload. A failed poll is followed by
//! the catch-up of a reconnecting PostgreSQL feed (revision, sessions, bindings, health). Events
//! older than `KEEP_EVENTS` are deleted. It must not do more than two small reads per poll.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Cluster;
use crate::runtime::Runtime;
use crate::store::cluster::{self as rows, HEALTH, SESSIONS, STICKY};
use crate::store::now_ms;

/// How often an instance on MariaDB reads the revision and the new events: the longest a change
/// waits before another instance sees it (README, "Several instances").
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Events are kept this long (an instance that cannot read them for longer catches up by
/// re-reading everything instead).
const KEEP_EVENTS: Duration = Duration::from_secs(60);
/// How often an instance deletes the events past `KEEP_EVENTS`.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// An event's id is taken when its row is inserted but seen once it commits, so a row can appear
/// just after a higher id was read: each poll reads this many ids back again (skipping the ones
/// handled).
const LOOKBACK: i64 = 64;
/// Events read per query (more are read at once, before the next wait).
const BATCH: u64 = 500;

/// Which events were handled: everything up to `floor`, and the ids in `done` above it.
#[derive(Debug, Default)]
struct Cursor {
    floor: i64,
    top: i64,
    done: BTreeSet<i64>,
}

impl Cursor {
    /// Starts after `last` (what came before is covered by a full re-read).
    fn after(last: i64) -> Self {
        Self { floor: last, top: last, done: BTreeSet::new() }
    }

    /// The id to read above.
    fn from(&self) -> i64 {
        (self.top - LOOKBACK).max(self.floor)
    }

    /// Whether `id` is new; it counts as handled from now on.
    fn take(&mut self, id: i64) -> bool {
        if id <= self.floor || !self.done.insert(id) {
            return false;
        }
        self.top = self.top.max(id);
        true
    }

    /// Forgets ids no read reaches any more.
    fn trim(&mut self) {
        let from = self.from();
        self.floor = self.floor.max(from);
        self.done = self.done.split_off(&(from + 1));
    }
}

/// The feed, until the daemon stops.
pub(super) async fn run(cluster: Arc<Cluster>, runtime: Arc<Runtime>) {
    let mut stop = cluster.stopped();
    let mut tick = actix_rt::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor: Option<Cursor> = None;
    let mut failed = false;
    let mut pruned = Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let Some(c) = cursor.as_mut() else {
            // First, or after a failed poll: everything as the database has it, as a
            // (re)connecting PostgreSQL feed does. Events written from here on are read next.
            match rows::last_event(&cluster.db).await {
                Ok(last) => cursor = Some(Cursor::after(last)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read other instances' changes");
                    continue;
                }
            }
            cluster.sync(&runtime).await;
            cluster.sync_sessions().await;
            super::sticky::load(&cluster, &runtime).await;
            super::feed::resync_health(&cluster, &runtime).await;
            if failed {
                tracing::info!("reading other instances' changes again");
            }
            failed = false;
            cluster.listening.send_replace(true);
            continue;
        };
        cluster.sync(&runtime).await;
        loop {
            let events = match rows::events(&cluster.db, c.from(), BATCH).await {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(error = %e, "reading other instances' changes failed: catching up when it works again");
                    failed = true;
                    break;
                }
            };
            let full = events.len() as u64 >= BATCH;
            for e in events {
                if !c.take(e.id) {
                    continue;
                }
                match e.channel.as_str() {
                    SESSIONS => cluster.session_note(&e.payload),
                    STICKY => super::sticky::note(&cluster, &runtime, &e.payload),
                    HEALTH => super::feed::adopt(&cluster, &runtime, &e.payload).await,
                    other => tracing::debug!(channel = other, "ignoring an event of an unknown kind"),
                }
            }
            c.trim();
            if !full {
                break;
            }
        }
        if failed {
            cursor = None;
            continue;
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            let before = now_ms() - KEEP_EVENTS.as_millis() as i64;
            if let Err(e) = rows::prune_events(&cluster.db, before).await {
                tracing::debug!(error = %e, "deleting old cluster events failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_committed_ids_are_read_once_and_nothing_before_the_start() {
        let mut c = Cursor::after(100);
        assert!(!c.take(100), "covered by the full re-read");
        assert!(c.take(102));
        assert!(!c.take(102), "never twice");
        c.trim();
        // 101 committed after 102 was read: still within the look-back.
        assert_eq!(c.from(), 100);
        assert!(c.take(101));
        for id in 103..400 {
            assert!(c.take(id));
        }
        c.trim();
        assert_eq!(c.from(), 399 - LOOKBACK);
        assert!(!c.take(399 - LOOKBACK), "below the window: handled long ago");
        assert!(!c.take(350), "handled, within the window");
    }
}

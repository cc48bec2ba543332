//! Several instances on one PostgreSQL or MariaDB acting as one gateway: admin changes bump a
//! revision and (PostgreSQL) `NOTIFY omnigate` (every instance reloads within a second); written
//! account and breaker health is announced on `omnigate_health` (every instance's router hears
//! it). MariaDB has no `NOTIFY`: its instances poll the revision and a table of announcements
//! every `poll::POLL_EVERY` instead (`poll`). Each instance heartbeats
//! a row `/api/health` lists; every `limits::TICK` the key limits shared through the database are
//! settled and what is unused given back (`limits::SharedLimits`). Never built on SQLite (one
//! instance by construction), so SQLite does no extra work. Nothing here runs on the request path.

mod feed;
mod poll;
mod sticky;

pub use poll::POLL_EVERY;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::persist::{Announce, Written};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, watch};

use crate::auth::{Role, Session};
use crate::runtime::Runtime;
use crate::store::cluster::{self as rows, Instance};
use crate::store::now_ms;

/// How often an instance writes its heartbeat row.
pub const HEARTBEAT: Duration = Duration::from_secs(3);
/// An instance whose last heartbeat is older than this is no longer listed.
pub const ALIVE: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());
/// Rows of instances gone this long are deleted.
const FORGET: Duration = Duration::from_secs(24 * 3600);
/// How often the revision is compared with the database anyway (a notification lost while the
/// listening connection was down, or never sent by a writer that died between commit and bump).
pub const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Notifications arriving together cause one reload.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// This instance's place among those sharing the database.
pub struct Cluster {
    db: DatabaseConnection,
    url: String,
    id: String,
    started_at: i64,
    /// The newest revision this instance's runtime has reloaded at (or made itself).
    seen: AtomicI64,
    announce: mpsc::UnboundedSender<Written>,
    /// The dashboard sessions this instance accepts (shared with `AppState`).
    sessions: crate::auth::Sessions,
    /// Taken by `start`.
    announced: Mutex<Option<mpsc::UnboundedReceiver<Written>>>,
    stop: watch::Sender<bool>,
    /// True once the feed listens (and has caught up with what was written before it did).
    listening: watch::Sender<bool>,
    /// The feed task, awaited on stop (its connection closes on the runtime).
    feed: Mutex<Option<actix_rt::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("Cluster").field("id", &self.id).field("seen", &self.seen).finish_non_exhaustive()
    }
}

impl Cluster {
    /// This instance on the PostgreSQL or MariaDB behind `db` (PostgreSQL is reached again at
    /// `url` for listening), keeping `sessions` in line with the other instances'.
    pub fn new(db: DatabaseConnection, url: String, sessions: crate::auth::Sessions) -> Arc<Self> {
        let (announce, announced) = mpsc::unbounded_channel();
        Arc::new(Self {
            db,
            url,
            id: uuid::Uuid::new_v4().to_string(),
            started_at: now_ms(),
            seen: AtomicI64::new(0),
            announce,
            sessions,
            announced: Mutex::new(Some(announced)),
            stop: watch::Sender::new(false),
            listening: watch::Sender::new(false),
            feed: Mutex::new(None),
        })
    }

    /// This instance's id (its heartbeat row, the `application_name` of its listening connection).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the account and breaker actors announce what they wrote.
    pub fn announce(&self) -> Announce {
        Some(self.announce.clone())
    }

    /// Reads the revision the runtime is about to load (before `Runtime::start`'s first reload).
    pub async fn init(&self) -> Result<(), DbErr> {
        self.seen.fetch_max(rows::revision(&self.db).await?, Ordering::SeqCst);
        Ok(())
    }

    /// An admin change was committed: bump the revision and tell the other instances. A failure
    /// is logged; the others then pick the change up at the next one.
    pub async fn changed(&self) {
        match rows::bump(&self.db).await {
            Ok(rev) => {
                self.seen.fetch_max(rev, Ordering::SeqCst);
            }
            Err(e) => tracing::warn!(error = %e, "announcing an admin change to the other instances failed"),
        }
    }

    /// A dashboard login here: stored (with its user and role) and told to the other instances
    /// before the login answers, so the browser's next request finds it wherever the load
    /// balancer sends it.
    pub async fn session_opened(&self, token: &str) {
        let digest = crate::auth::token_digest(token);
        let Some(s) = self.sessions.by_digest(&digest) else { return };
        // User names carry no spaces (`routes::admin::users` checks), so the note splits cleanly.
        let note = format!("{} + {digest} {} {} {}", self.id, s.expires_at, s.role.as_str(), s.user);
        if let Err(e) = rows::session_open(&self.db, &digest, &s, &note).await {
            tracing::warn!(error = %e, "sharing a dashboard login with the other instances failed");
        }
    }

    /// A dashboard logout here: removed for every instance.
    pub async fn session_closed(&self, token: &str) {
        self.session_closed_digest(&crate::auth::token_digest(token)).await;
    }

    /// A session ended here by its digest (a logout, or its user deleted or given another role):
    /// removed for every instance.
    pub async fn session_closed_digest(&self, digest: &str) {
        let note = format!("{} - {digest}", self.id);
        if let Err(e) = rows::session_close(&self.db, digest, &note).await {
            tracing::warn!(error = %e, "sharing a dashboard logout with the other instances failed");
        }
    }

    /// Another instance's login or logout (`omnigate_sessions` payload).
    fn session_note(&self, payload: &str) {
        let mut parts = payload.splitn(6, ' ');
        let (Some(writer), Some(kind), Some(digest)) = (parts.next(), parts.next(), parts.next()) else { return };
        if writer == self.id {
            return;
        }
        let exp = parts.next().and_then(|e| e.parse::<i64>().ok());
        // A note without a role comes from an instance that predates roles: its sessions were
        // the admin's.
        let role = parts.next().map_or(Some(Role::Admin), Role::parse);
        let user = parts.next().unwrap_or(crate::auth::BOOTSTRAP_ADMIN).to_string();
        match (kind, exp, role) {
            ("+", Some(expires_at), Some(role)) => {
                self.sessions.adopt(digest.to_string(), Session { expires_at, user, role })
            }
            ("-", _, _) => self.sessions.forget(digest),
            _ => tracing::debug!("ignoring a malformed session announcement"),
        }
    }

    /// Every open session as the database has it (on each (re)connection of the feed).
    async fn sync_sessions(&self) {
        match rows::sessions(&self.db, now_ms()).await {
            Ok(open) => self.sessions.replace_all(open),
            Err(e) => tracing::warn!(error = %e, "reading the shared dashboard sessions failed"),
        }
    }

    /// Reloads when the database's revision is ahead of this instance's.
    async fn sync(&self, runtime: &Runtime) {
        let rev = match rows::revision(&self.db).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading the cluster revision failed");
                return;
            }
        };
        if rev <= self.seen.load(Ordering::SeqCst) {
            return;
        }
        match runtime.reload().await {
            Ok(_) => {
                self.seen.fetch_max(rev, Ordering::SeqCst);
                tracing::debug!(revision = rev, "reloaded after a change made by another instance");
            }
            Err(e) => tracing::warn!(error = %e, "reloading after another instance's change failed"),
        }
    }

    /// Starts listening, announcing and heartbeating (after the server is bound to `address`).
    pub fn start(self: &Arc<Self>, runtime: Arc<Runtime>, address: SocketAddr) {
        let taken = match self.announced.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let feed = match actors::sql::Dialect::of(self.db.get_database_backend()) {
            actors::sql::Dialect::Postgres => actix_rt::spawn(feed::run(Arc::clone(self), Arc::clone(&runtime))),
            actors::sql::Dialect::MySql => actix_rt::spawn(poll::run(Arc::clone(self), Arc::clone(&runtime))),
            actors::sql::Dialect::Sqlite => {
                tracing::error!("several instances need PostgreSQL or MariaDB: not sharing anything on SQLite");
                return;
            }
        };
        match self.feed.lock() {
            Ok(mut g) => *g = Some(feed),
            Err(p) => *p.into_inner() = Some(feed),
        }
        if let Some(rx) = taken {
            actix_rt::spawn(announcer(Arc::clone(self), rx));
        }
        sticky::start(self, &runtime);
        actix_rt::spawn(heartbeat(Arc::clone(self), address, runtime.router.clone()));
        actix_rt::spawn(limits(Arc::clone(self), runtime));
    }

    /// Waits (at most `limit`) until this instance hears the others: a daemon that reports
    /// started has caught up with every change written before it listened. False on timeout
    /// (PostgreSQL refusing the listening connection); the feed keeps trying in the background.
    pub async fn listening(&self, limit: Duration) -> bool {
        let mut rx = self.listening.subscribe();
        actix_rt::time::timeout(limit, rx.wait_for(|l| *l)).await.is_ok_and(|r| r.is_ok())
    }

    /// The instances alive now (heartbeat within `ALIVE`), oldest first.
    pub async fn instances(&self) -> Result<Vec<Instance>, DbErr> {
        let now = now_ms();
        rows::instances(&self.db, now - ALIVE.as_millis() as i64, now - FORGET.as_millis() as i64).await
    }

    /// Stops the tasks and removes this instance's row (the daemon stops).
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let feed = match self.feed.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(feed) = feed {
            // It ends at once unless a reload is running; never wait long for it.
            let _ = actix_rt::time::timeout(Duration::from_secs(5), feed).await;
        }
        if let Err(e) = rows::leave(&self.db, &self.id).await {
            tracing::warn!(error = %e, "removing this instance's heartbeat row failed");
        }
    }

    fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

/// `omnigate_health` payload: `<instance> a <account id>` or `<instance> b <provider>`.
fn encode(instance: &str, w: &Written) -> String {
    match w {
        Written::Account(id) => format!("{instance} a {id}"),
        Written::Breaker(p) => format!("{instance} b {p}"),
        Written::Quota(id) => format!("{instance} q {id}"),
    }
}

/// The writer and what it wrote, from an `omnigate_health` payload.
fn decode(payload: &str) -> Option<(&str, Written)> {
    let mut parts = payload.splitn(3, ' ');
    let (instance, kind, what) = (parts.next()?, parts.next()?, parts.next()?);
    match kind {
        "a" => what.parse().ok().map(|id| (instance, Written::Account(id))),
        "b" => Some((instance, Written::Breaker(what.to_string()))),
        "q" => what.parse().ok().map(|id| (instance, Written::Quota(id))),
        _ => None,
    }
}

/// Tells the other instances about each health row this one wrote.
async fn announcer(cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<Written>) {
    let mut stop = cluster.stopped();
    loop {
        let w = tokio::select! {
            _ = stop.changed() => return,
            w = rx.recv() => match w {
                Some(w) => w,
                None => return,
            },
        };
        if let Err(e) = rows::announce_health(&cluster.db, &encode(&cluster.id, &w)).await {
            tracing::warn!(error = %e, "announcing a health change to the other instances failed");
        }
    }
}

/// Settles the spend of shared key and team limits and gives back what is held unused, every
/// `limits::TICK` (which also renews what requests in flight hold).
async fn limits(cluster: Arc<Cluster>, runtime: Arc<Runtime>) {
    let mut stop = cluster.stopped();
    let mut tick = actix_rt::time::interval(crate::limits::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        runtime.limiter.sync_shared(false).await;
    }
}

/// Writes this instance's heartbeat row every `HEARTBEAT`, and tells the router how many
/// instances are alive (each applies its part of an account's pacing and concurrency cap).
async fn heartbeat(
    cluster: Arc<Cluster>,
    address: SocketAddr,
    router: actix::Addr<actors::router::actor::RouterActor>,
) {
    let mut stop = cluster.stopped();
    let mut tick = actix_rt::time::interval(HEARTBEAT);
    let mut share = 1u32;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let row = Instance {
            id: cluster.id.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            address: address.to_string(),
            started_at: cluster.started_at,
            last_seen_at: now_ms(),
        };
        if let Err(e) = rows::heartbeat(&cluster.db, &row).await {
            tracing::warn!(error = %e, "writing this instance's heartbeat failed");
            continue;
        }
        // Out of reach, the last count stands (an instance never takes more than its part).
        if let Ok(alive) = cluster.instances().await {
            let n = u32::try_from(alive.len()).unwrap_or(u32::MAX).max(1);
            if n != share {
                share = n;
                router.do_send(actors::router::messages::SetShare(n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_payloads_round_trip() {
        let a = encode("i-1", &Written::Account(42));
        assert_eq!(a, "i-1 a 42");
        assert_eq!(decode(&a), Some(("i-1", Written::Account(42))));
        let b = encode("i-1", &Written::Breaker("my provider".into()));
        assert_eq!(decode(&b), Some(("i-1", Written::Breaker("my provider".into()))));
        let q = encode("i-1", &Written::Quota(7));
        assert_eq!(decode(&q), Some(("i-1", Written::Quota(7))));
        assert_eq!(decode("i-1 a x"), None);
        assert_eq!(decode("i-1 z 3"), None);
        assert_eq!(decode("garbage"), None);
    }
}

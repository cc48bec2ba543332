//! The listening side on PostgreSQL (MariaDB polls instead: `poll`): one dedicated connection (`application_name` =
//! `omnigate-feed-<instance id>`) LISTENing on both channels. A newer revision reloads the runtime
//! (debounced); another instance's health write is re-read and adopted by this instance's actor,
//! which tells the router; another instance's dashboard login or logout applies to `Sessions`. After a lost connection it reconnects, compares the revision and
//! re-reads every account's and breaker's health; a periodic check backs it all up.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actors::persist::{self, Written};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{CHECK_EVERY, Cluster, DEBOUNCE, decode};
use crate::runtime::Runtime;
use crate::store::cluster::{CHANGES, HEALTH, SESSIONS, STICKY};

/// What the connection task hands the loop.
enum Event {
    /// A notification: its channel and payload.
    Note(String, String),
    /// The connection is gone.
    Lost,
}

/// Opens the listening connection.
async fn listen(cluster: &Cluster) -> Result<Held, sea_orm::sqlx::Error> {
    let opts = PgConnectOptions::from_str(&cluster.url)?.application_name(&format!("omnigate-feed-{}", cluster.id));
    let pool = PgPoolOptions::new().max_connections(1).connect_with(opts).await?;
    let mut held = Held(Some(PgListener::connect_with(&pool).await?));
    if let Some(l) = held.0.as_mut() {
        l.listen_all([CHANGES, HEALTH, SESSIONS, STICKY]).await?;
    }
    Ok(held)
}

/// The listener, let go without its `UNLISTEN` when the runtime is already gone (a daemon or a
/// test torn down without `Running::stop`): sqlx's drop would spawn that on no runtime and panic.
struct Held(Option<PgListener>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(l) = self.0.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            // The process or its actix System is ending: the connection goes with it.
            std::mem::forget(l);
        }
    }
}

/// Forwards the connection's notifications until it is lost.
async fn forward(mut held: Held, tx: mpsc::UnboundedSender<Event>) {
    let Some(listener) = held.0.as_mut() else { return };
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                if tx.send(Event::Note(n.channel().to_string(), n.payload().to_string())).is_err() {
                    return;
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "the cluster listening connection failed");
                break;
            }
        }
    }
    let _ = tx.send(Event::Lost);
}

/// The feed, until the daemon stops.
pub(super) async fn run(cluster: Arc<Cluster>, runtime: Arc<Runtime>) {
    let mut stop = cluster.stopped();
    let mut first = true;
    let mut wait = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let attempt = tokio::select! {
            _ = stop.changed() => return,
            a = listen(&cluster) => a,
        };
        let listener = match attempt {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot listen for other instances' changes");
                tokio::select! {
                    _ = stop.changed() => return,
                    () = actix_rt::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        wait = Duration::from_millis(100);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = actix_rt::spawn(forward(listener, tx));
        // Whatever was announced while nobody listened (and the logins from before a restart),
        // health included: on the first connection, what was written between the runtime's
        // first load and this LISTEN.
        cluster.sync(&runtime).await;
        cluster.sync_sessions().await;
        super::sticky::load(&cluster, &runtime).await;
        if !first {
            tracing::info!("listening for other instances' changes again");
        }
        resync_health(&cluster, &runtime).await;
        first = false;
        cluster.listening.send_replace(true);
        let mut check = actix_rt::time::interval_at(Instant::now() + CHECK_EVERY, CHECK_EVERY);
        let mut due: Option<Instant> = None;
        loop {
            let debounce = async {
                match due {
                    Some(t) => actix_rt::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => {
                    task.abort();
                    // Dropped here, on the runtime, where sqlx can UNLISTEN and close.
                    let _ = task.await;
                    return;
                }
                e = rx.recv() => match e {
                    Some(Event::Note(channel, payload)) => {
                        if channel == CHANGES {
                            let newer = payload.parse::<i64>().map_or(true, |r| r > cluster.seen.load(Ordering::SeqCst));
                            if newer && due.is_none() {
                                due = Some(Instant::now() + DEBOUNCE);
                            }
                        } else if channel == SESSIONS {
                            cluster.session_note(&payload);
                        } else if channel == STICKY {
                            super::sticky::note(&cluster, &runtime, &payload);
                        } else {
                            adopt(&cluster, &runtime, &payload).await;
                        }
                    }
                    Some(Event::Lost) | None => break,
                },
                () = debounce => {
                    due = None;
                    cluster.sync(&runtime).await;
                }
                _ = check.tick() => cluster.sync(&runtime).await,
            }
        }
        tracing::warn!("lost the cluster listening connection: reconnecting");
    }
}

/// Another instance wrote an account's or a breaker's health: this instance's actor adopts it.
pub(super) async fn adopt(cluster: &Cluster, runtime: &Runtime, payload: &str) {
    let Some((writer, written)) = decode(payload) else {
        tracing::debug!("ignoring a malformed health announcement");
        return;
    };
    if writer == cluster.id {
        return;
    }
    match written {
        Written::Account(id) => {
            let Some(addr) = runtime.account_actor(id) else { return };
            match persist::load_account(&cluster.db, id).await {
                Ok(h) => addr.do_send(actors::account::messages::Adopt(h)),
                Err(e) => tracing::warn!(account = id, error = %e, "reading another instance's account health failed"),
            }
        }
        Written::Quota(id) => {
            let Some((_, addr)) = runtime.oauth.trackers().into_iter().find(|(a, _)| *a == id) else { return };
            let subject = actors::quota::persist::account_subject(id);
            match actors::quota::persist::load(&cluster.db, &subject).await {
                Ok(w) => addr.do_send(actors::quota::messages::AdoptWindows(w)),
                Err(e) => tracing::warn!(account = id, error = %e, "reading another instance's quota windows failed"),
            }
        }
        Written::Breaker(provider) => {
            let Some(addr) = runtime.breaker_actor(&provider) else { return };
            match persist::load_breakers(&cluster.db).await {
                Ok(mut all) => {
                    addr.do_send(actors::breaker::messages::Adopt(all.remove(&provider).unwrap_or_default()))
                }
                Err(e) => tracing::warn!(provider = %provider, error = %e, "reading another instance's breaker failed"),
            }
        }
    }
}

/// After a lost connection: every account's and breaker's health as the database has it.
pub(super) async fn resync_health(cluster: &Cluster, runtime: &Runtime) {
    match persist::load_accounts(&cluster.db).await {
        Ok(mut all) => {
            for entry in runtime.accounts.iter() {
                let h = all.remove(entry.key()).unwrap_or_default();
                entry.value().do_send(actors::account::messages::Adopt(h));
            }
        }
        Err(e) => tracing::warn!(error = %e, "re-reading account health failed"),
    }
    match persist::load_breakers(&cluster.db).await {
        Ok(mut all) => {
            for entry in runtime.breakers.iter() {
                let s = all.remove(entry.key()).unwrap_or_default();
                entry.value().do_send(actors::breaker::messages::Adopt(s));
            }
        }
        Err(e) => tracing::warn!(error = %e, "re-reading breakers failed"),
    }
    for (id, addr) in runtime.oauth.trackers() {
        match actors::quota::persist::load(&cluster.db, &actors::quota::persist::account_subject(id)).await {
            Ok(w) => addr.do_send(actors::quota::messages::AdoptWindows(w)),
            Err(e) => tracing::warn!(account = id, error = %e, "re-reading quota windows failed"),
        }
    }
}

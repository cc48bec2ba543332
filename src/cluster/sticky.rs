//! Sticky session bindings shared by the instances: each binding the router (an account per
//! provider) or the pipeline (a combo's target) makes, moves or keeps using half a TTL after it
//! last told is stored in `sticky_sessions` and announced on `omnigate_sticky` in one statement
//! (on MariaDB, with a `cluster_events` row the others poll);
//! the other instances adopt it, so a session keeps its upstream whichever instance it lands on.
//! A (re)connecting feed loads the bindings used within the TTL; rows idle past it are deleted
//! once a minute. Nothing here is on the request path (the router hands bindings over a channel).

use std::sync::Arc;
use std::time::Duration;

use actors::router::messages::{AdoptSession, ShareSessions};
use actors::router::sessions::Bound;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Cluster;
use crate::runtime::Runtime;
use crate::store::cluster as rows;
use crate::store::now_ms;

/// Session keys longer than this are kept on their own instance (a `NOTIFY` payload is bounded).
const MAX_KEY: usize = 512;
/// How often bindings idle past the TTL are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts sharing: the router and the combo book send their bindings to the publishing task.
pub(super) fn start(cluster: &Arc<Cluster>, runtime: &Arc<Runtime>) {
    let (tx, rx) = mpsc::unbounded_channel();
    runtime.router.do_send(ShareSessions(tx.clone()));
    runtime.combo_sessions.share(tx);
    actix_rt::spawn(publish(Arc::clone(cluster), rx));
    actix_rt::spawn(prune(Arc::clone(cluster), Arc::clone(runtime)));
}

async fn publish(cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<Bound>) {
    let mut stop = cluster.stopped();
    loop {
        let b = tokio::select! {
            _ = stop.changed() => return,
            b = rx.recv() => match b {
                Some(b) => b,
                None => return,
            },
        };
        if b.session.len() > MAX_KEY {
            continue;
        }
        // Session keys are scoped by key name with a NUL, which PostgreSQL text cannot hold.
        let b = Bound { session: wire(&b.session), ..b };
        let payload = json!({"i": cluster.id, "s": b.scope, "k": b.session, "v": b.value, "t": b.seen}).to_string();
        if let Err(e) = rows::sticky_put(&cluster.db, &b, &payload).await {
            tracing::warn!(error = %e, "sharing a session binding with the other instances failed");
        }
    }
}

async fn prune(cluster: Arc<Cluster>, runtime: Arc<Runtime>) {
    let mut stop = cluster.stopped();
    let mut tick = actix_rt::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let ttl = runtime.live().routing.session_policy().ttl_ms;
        if let Err(e) = rows::sticky_prune(&cluster.db, now_ms() - ttl.max(0)).await {
            tracing::debug!(error = %e, "pruning idle session bindings failed");
        }
    }
}

/// Another instance's binding (`omnigate_sticky` payload), adopted unless this one wrote it.
pub(super) fn note(cluster: &Cluster, runtime: &Runtime, payload: &str) {
    let Ok(v) = serde_json::from_str::<Value>(payload) else { return };
    if v["i"].as_str() == Some(cluster.id.as_str()) {
        return;
    }
    let text = |k: &str| v[k].as_str().map(str::to_string);
    if let (Some(scope), Some(session), Some(value), Some(seen)) = (text("s"), text("k"), text("v"), v["t"].as_i64()) {
        adopt(runtime, Bound { scope, session, value, seen });
    }
}

/// A session key as stored and announced: `%` and NUL escaped (`unwire` undoes it).
fn wire(session: &str) -> String {
    session.replace('%', "%25").replace('\0', "%00")
}

fn unwire(session: &str) -> String {
    session.replace("%00", "\0").replace("%25", "%")
}

fn adopt(runtime: &Runtime, b: Bound) {
    let b = Bound { session: unwire(&b.session), ..b };
    if b.scope.starts_with("c:") {
        runtime.combo_sessions.adopt(&b);
    } else {
        runtime.router.do_send(AdoptSession(b));
    }
}

/// After (re)connecting: every binding used within the TTL, as the database has it.
pub(super) async fn load(cluster: &Cluster, runtime: &Runtime) {
    let ttl = runtime.live().routing.session_policy().ttl_ms;
    if ttl <= 0 {
        return;
    }
    match rows::sticky_live(&cluster.db, now_ms() - ttl).await {
        Ok(all) => {
            for b in all {
                adopt(runtime, b);
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading the shared session bindings failed"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_keys_survive_the_wire() {
        for k in ["ci\0sess-1", "a%00b\0%25", "", "%"] {
            assert!(!super::wire(k).contains('\0'));
            assert_eq!(super::unwire(&super::wire(k)), k);
        }
    }
}

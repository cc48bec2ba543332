//! The client's session key for sticky routing: `X-Session-Id` (or `x_session_id`), else the
//! session markers coding tools send anyway (Codex's `session_id` / `session-id` header and `prompt_cache_key`,
//! Claude Code's `metadata.user_id` session part), else for the Responses API the chain a
//! `previous_response_id` continues (`ResponseChains`: each response id the upstream gave is
//! remembered with the session that produced it, and a request starting a chain gets a session
//! of its own, so the whole chain stays on the account that stored its responses). The router
//! binds a session to an account per provider; `ComboSessions` binds it to the combo target that
//! served it, so a combo's strategy does not move a session between providers while its target
//! serves.

use std::sync::{Arc, Mutex};

use actix_web::http::header::HeaderMap;
use actors::router::sessions::{Bound, SessionBook, SessionPolicy};
use serde_json::Value;

use super::resolve::Target;
use crate::protocol::raw::RawObject;

/// A session book shared by request threads (scope, key → a name), bounded and expiring like
/// the router's sessions.
#[derive(Debug, Default)]
pub struct SharedBook(Mutex<SessionBook<Arc<str>>>);

impl SharedBook {
    fn book(&self) -> std::sync::MutexGuard<'_, SessionBook<Arc<str>>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// New TTL and bound (live settings).
    pub fn configure(&self, policy: SessionPolicy, now: i64) {
        self.book().set_policy(policy, now);
    }
}

/// Which target of a combo each session was last served by.
#[derive(Debug, Default)]
pub struct ComboSessions(SharedBook, std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Bound>>);

impl std::ops::Deref for ComboSessions {
    type Target = SharedBook;
    fn deref(&self) -> &SharedBook {
        &self.0
    }
}

impl ComboSessions {
    /// Puts the target `session` was last served by in `combo` first, if it is still a target.
    pub fn prefer(&self, combo: &str, session: &str, targets: &mut Vec<Target>, now: i64) {
        let Some(label) = self.book().bound(combo, session, now) else { return };
        if let Some(i) = targets.iter().position(|t| t.label() == *label)
            && i > 0
        {
            let t = targets.remove(i);
            targets.insert(0, t);
        }
    }

    /// `session` was served in `combo` by `label`.
    pub fn served(&self, combo: &str, session: &str, label: &str, now: i64) {
        if self.book().bind(combo, session, label.into(), now)
            && let Some(tx) = self.1.get()
        {
            let b = Bound { scope: format!("c:{combo}"), session: session.into(), value: label.into(), seen: now };
            // Closed only while the daemon stops.
            let _ = tx.send(b);
        }
    }

    /// From now on bindings made, moved or kept in use go to `tx` (instances sharing them).
    pub fn share(&self, tx: tokio::sync::mpsc::UnboundedSender<Bound>) {
        let _ = self.1.set(tx);
    }

    /// A binding another instance made (scope `c:<combo>`).
    pub fn adopt(&self, b: &Bound) {
        if let Some(combo) = b.scope.strip_prefix("c:") {
            self.book().adopt(combo, &b.session, b.value.as_str().into(), b.seen);
        }
    }
}

/// The session each Responses API response id belongs to, per gateway key (bounded and expiring
/// like the sessions).
#[derive(Debug, Default)]
pub struct ResponseChains(SharedBook);

pub use crate::translate::adapter::IdHook;

impl std::ops::Deref for ResponseChains {
    type Target = SharedBook;
    fn deref(&self) -> &SharedBook {
        &self.0
    }
}

impl ResponseChains {
    /// The session of a Responses request without an explicit one: the session of the response
    /// it continues (`previous_response_id`), else a new one named after this request.
    pub fn session_for(&self, key: &str, body: &RawObject, request_id: &str, now: i64) -> String {
        let previous = body.parse::<String>("previous_response_id");
        if let Some(s) = previous.as_deref().and_then(|p| self.book().bound(key, p, now)) {
            return s.to_string();
        }
        format!("chain-{request_id}")
    }

    /// A hook that remembers each response id given to `session` (of gateway key `key`).
    pub fn hook(self: &Arc<Self>, key: &str, session: &str) -> IdHook {
        let (chains, key, session): (Arc<Self>, Arc<str>, Arc<str>) = (self.clone(), key.into(), session.into());
        IdHook(Arc::new(move |id: &str| {
            if sane(id).is_some() {
                chains.book().bind(&key, id, session.clone(), actors::clock::now_ms());
            }
        }))
    }
}

/// Longest session key taken (longer ones are not a session id).
const MAX_LEN: usize = 200;

/// The explicit or tool-sent session header, if sane.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    ["x-session-id", "x_session_id", "session_id", "session-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).and_then(sane))
}

/// A session marker inside the body: `prompt_cache_key`, or the `_session_…` part of Claude
/// Code's `metadata.user_id`.
pub fn from_body(body: &RawObject) -> Option<String> {
    if let Some(k) = body.parse::<String>("prompt_cache_key").as_deref().and_then(sane) {
        return Some(k);
    }
    let meta: Value = body.parse("metadata")?;
    let user = meta.get("user_id")?.as_str()?;
    let (_, session) = user.rsplit_once("_session_")?;
    sane(session)
}

fn sane(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= MAX_LEN && v.chars().all(|c| c.is_ascii_graphic())).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn a_combo_session_goes_back_to_the_target_that_served_it() {
        let c = ComboSessions::default();
        c.configure(SessionPolicy { ttl_ms: 1_000, max: 10 }, 0);
        let t = |p: &str| Target { provider: p.into(), model: "m".into() };
        let mut order = vec![t("a"), t("b"), t("c")];
        c.prefer("combo", "s", &mut order, 0);
        assert_eq!(order[0].provider, "a", "no binding: the strategy's order");
        c.served("combo", "s", "c/m", 0);
        c.prefer("combo", "s", &mut order, 10);
        assert_eq!(order.iter().map(|t| t.provider.as_str()).collect::<Vec<_>>(), vec!["c", "a", "b"]);
        let mut other = vec![t("a"), t("b")];
        c.prefer("other", "s", &mut other, 10);
        assert_eq!(other[0].provider, "a", "bindings are per combo");
        let mut later = vec![t("a"), t("c")];
        c.prefer("combo", "s", &mut later, 1_000);
        assert_eq!(later[0].provider, "a", "expired after the idle TTL");
    }

    #[test]
    fn a_response_chain_keeps_the_session_that_started_it() {
        let c = Arc::new(ResponseChains::default());
        c.configure(SessionPolicy { ttl_ms: 60_000, max: 10 }, 0);
        let first = body(serde_json::json!({"input": "hi"}));
        let s = c.session_for("ci", &first, "req-1", 0);
        assert_eq!(s, "chain-req-1", "a new chain gets a session of its own");
        (c.hook("ci", &s).0)("resp_1");
        let next = body(serde_json::json!({"input": "more", "previous_response_id": "resp_1"}));
        assert_eq!(c.session_for("ci", &next, "req-2", 1), "chain-req-1");
        (c.hook("ci", &s).0)("resp_2");
        let third = body(serde_json::json!({"previous_response_id": "resp_2"}));
        assert_eq!(c.session_for("ci", &third, "req-3", 2), "chain-req-1", "the chain goes on");
        assert_eq!(c.session_for("other-key", &third, "req-4", 2), "chain-req-4", "another key's ids are not ours");
        let unknown = body(serde_json::json!({"previous_response_id": "resp_9"}));
        assert_eq!(c.session_for("ci", &unknown, "req-5", 2), "chain-req-5");
    }

    fn body(v: Value) -> RawObject {
        serde_json::from_str(&v.to_string()).unwrap_or_default()
    }

    #[test]
    fn headers_then_body_markers() {
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h), None);
        h.insert(HeaderName::from_static("session-id"), HeaderValue::from_static("codex-0171"));
        assert_eq!(from_headers(&h).as_deref(), Some("codex-0171"), "Codex 0.171 spells it with a hyphen");
        h.insert(HeaderName::from_static("session_id"), HeaderValue::from_static("codex-1"));
        assert_eq!(from_headers(&h).as_deref(), Some("codex-1"));
        h.insert(HeaderName::from_static("x-session-id"), HeaderValue::from_static(" mine "));
        assert_eq!(from_headers(&h).as_deref(), Some("mine"), "the explicit header wins");
        h.insert(HeaderName::from_static("x-session-id"), HeaderValue::from_static("has space"));
        assert_eq!(from_headers(&h).as_deref(), Some("codex-1"), "an insane value is no session");

        let cc = body(serde_json::json!({"metadata": {"user_id": "user_ab12_account_x_session_5f0c-77"}}));
        assert_eq!(from_body(&cc).as_deref(), Some("5f0c-77"));
        let codex = body(serde_json::json!({"prompt_cache_key": "conv-9", "metadata": {"user_id": "u_session_z"}}));
        assert_eq!(from_body(&codex).as_deref(), Some("conv-9"));
        assert_eq!(from_body(&body(serde_json::json!({"metadata": {"user_id": "plain-user"}}))), None);
        assert_eq!(from_body(&body(serde_json::json!({"prompt_cache_key": 7}))), None);
    }
}

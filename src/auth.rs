//! Authentication: gateway keys on the client surfaces, admin sessions and the management token
//! on `/api/...`. A gateway key never opens the admin API.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use dashmap::DashMap;
use sha2::{Digest, Sha256};

use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::protocol::Dialect;
use crate::secrets::{ct_eq, hex, random_token};
use crate::state::AppState;
use crate::store::now_ms;

/// Name of the dashboard session cookie.
pub const SESSION_COOKIE: &str = "omnigate_session";

/// The token of an `Authorization: Bearer` header.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim)
}

/// The credential a client presented: `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`,
/// and `?key=` only where the dialect itself puts keys in the URL (`query_ok`: the Gemini routes),
/// since URLs end up in proxy logs and browser history.
pub fn presented_key(req: &HttpRequest, query_ok: bool) -> Option<&str> {
    if let Some(k) = bearer(req) {
        return Some(k);
    }
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(v) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
            return Some(v.trim());
        }
    }
    if !query_ok {
        return None;
    }
    req.query_string().split('&').find_map(|kv| kv.strip_prefix("key=")).filter(|k| !k.is_empty())
}

/// Checks the gateway key of a client request of `dialect`. `Ok(None)` only when keys are not
/// required and none was sent.
pub fn client_key(req: &HttpRequest, state: &AppState, dialect: Dialect) -> Result<Option<KeyInfo>, GatewayError> {
    match presented_key(req, dialect == Dialect::Gemini) {
        Some(k) => state
            .keys
            .check(&state.sealer, k)
            .map(Some)
            .ok_or_else(|| GatewayError::Unauthorized("invalid API key".into())),
        None if !state.config.auth.require_api_key => Ok(None),
        None => Err(GatewayError::Unauthorized(
            "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key`".into(),
        )),
    }
}

/// What a dashboard user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read usage, requests and health; change nothing, see no secret.
    Viewer,
}

impl Role {
    /// The stored and answered spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// The name of the bootstrap admin (its password is the one made at first start).
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// One open dashboard session: whose it is, with which role, until when (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// When it ends, ms since the epoch.
    pub expires_at: i64,
    /// The user's name (`BOOTSTRAP_ADMIN` for the bootstrap password).
    pub user: String,
    /// The role the user had at sign-in (a role change closes the user's sessions).
    pub role: Role,
}

/// Dashboard sessions: token digest → session, checked in memory (never a database round trip
/// per request). On SQLite that is all (a restart logs everyone out); on PostgreSQL the login and
/// logout routes also store the digest with its user and role and `cluster` tells every
/// instance, so a dashboard behind a load balancer stays logged in on all of them and across
/// restarts.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_digest: Arc<DashMap<String, Session>>,
    failures: Arc<DashMap<IpAddr, (u32, i64)>>,
}

/// The digest a session is kept under (never the token itself).
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Failed logins from one address before it must wait.
const MAX_FAILURES: u32 = 5;
/// How long an address waits after too many failed logins, in ms.
const LOCKOUT_MS: i64 = 60_000;

impl Sessions {
    /// Opens a session of `user` with `role`, returning its token.
    pub fn open(&self, ttl_ms: i64, user: &str, role: Role) -> String {
        let token = random_token(32);
        let now = now_ms();
        self.by_digest.retain(|_, s| s.expires_at > now);
        self.by_digest.insert(token_digest(&token), Session { expires_at: now + ttl_ms, user: user.to_string(), role });
        token
    }

    /// Accepts a session another instance opened (by its digest).
    pub fn adopt(&self, digest: String, session: Session) {
        if session.expires_at > now_ms() {
            self.by_digest.insert(digest, session);
        }
    }

    /// Forgets a session another instance closed.
    pub fn forget(&self, digest: &str) {
        self.by_digest.remove(digest);
    }

    /// Exactly the sessions the database holds (by digest): after this instance may have missed
    /// logins and logouts elsewhere.
    pub fn replace_all(&self, open: Vec<(String, Session)>) {
        let now = now_ms();
        let keep: std::collections::HashSet<&String> = open.iter().map(|(d, _)| d).collect();
        self.by_digest.retain(|d, _| keep.contains(d));
        for (d, s) in open.into_iter().filter(|(_, s)| s.expires_at > now) {
            self.by_digest.insert(d, s);
        }
    }

    /// The session stored under `digest`, if any.
    pub fn by_digest(&self, digest: &str) -> Option<Session> {
        self.by_digest.get(digest).map(|e| e.value().clone())
    }

    /// The session of a token, if it is open now.
    pub fn lookup(&self, token: &str) -> Option<Session> {
        self.by_digest.get(&token_digest(token)).map(|e| e.value().clone()).filter(|s| s.expires_at > now_ms())
    }

    /// Whether a session token is valid now.
    pub fn valid(&self, token: &str) -> bool {
        self.lookup(token).is_some()
    }

    /// Ends a session.
    pub fn close(&self, token: &str) {
        self.by_digest.remove(&token_digest(token));
    }

    /// Ends every session of `user` (deleted, or given another role); their digests.
    pub fn close_user(&self, user: &str) -> Vec<String> {
        let digests: Vec<String> =
            self.by_digest.iter().filter(|e| e.value().user == user).map(|e| e.key().clone()).collect();
        for d in &digests {
            self.by_digest.remove(d);
        }
        digests
    }

    /// Admits one password check from `ip`, counting it as a failure until `login_succeeded`
    /// says otherwise. The check and the count are one step under the map's entry lock, so
    /// parallel attempts cannot all pass the check before any is counted. `Err` is the wait in
    /// seconds once `MAX_FAILURES` attempts were made within the window.
    pub fn begin_login(&self, ip: IpAddr) -> Result<(), u64> {
        let now = now_ms();
        let mut e = self.failures.entry(ip).or_insert((0, now));
        if now - e.1 >= LOCKOUT_MS {
            *e = (0, now);
        }
        if e.0 >= MAX_FAILURES {
            return Err(((LOCKOUT_MS - (now - e.1)) / 1000).max(1) as u64);
        }
        e.0 += 1;
        Ok(())
    }

    /// A password check from `ip` succeeded: its failures are forgotten.
    pub fn login_succeeded(&self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

/// The session token in the request's cookie, if any.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

/// How an admin request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAuth {
    /// A dashboard session cookie (ambient: a browser sends it by itself, so CSRF checks apply).
    Session {
        /// Whose session it is.
        user: String,
        /// What the user may do.
        role: Role,
    },
    /// The management token as `Authorization: Bearer` (never a query parameter or other header):
    /// admin rights.
    Token,
}

impl AdminAuth {
    /// What the caller may do.
    pub fn role(&self) -> Role {
        match self {
            Self::Session { role, .. } => *role,
            Self::Token => Role::Admin,
        }
    }

    /// The caller as the audit log names it: `token`, `session` (the bootstrap admin) or
    /// `session:<user>`.
    pub fn actor(&self) -> String {
        match self {
            Self::Session { user, .. } if user == BOOTSTRAP_ADMIN => "session".into(),
            Self::Session { user, .. } => format!("session:{user}"),
            Self::Token => "token".into(),
        }
    }
}

/// Admits an admin request: a valid session cookie, or the management token as a Bearer.
pub fn admin(req: &HttpRequest, state: &AppState) -> Result<AdminAuth, GatewayError> {
    if let Some(s) = session_token(req).and_then(|t| state.sessions.lookup(&t)) {
        return Ok(AdminAuth::Session { user: s.user, role: s.role });
    }
    if let Some(given) = bearer(req)
        && [&state.admin_token, &state.local_token]
            .into_iter()
            .flatten()
            .any(|expected| ct_eq(expected.as_bytes(), given.as_bytes()))
    {
        return Ok(AdminAuth::Token);
    }
    Err(GatewayError::Unauthorized(
        "admin authentication required: log in at /dashboard or send the management token".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_and_close() {
        let s = Sessions::default();
        let t = s.open(60_000, "admin", Role::Admin);
        assert!(s.valid(&t));
        assert!(!s.valid("nope"));
        s.close(&t);
        assert!(!s.valid(&t));
        let t = s.open(-1, "admin", Role::Admin);
        assert!(!s.valid(&t), "expired session");
    }

    #[test]
    fn sessions_of_other_instances_are_adopted_forgotten_and_replaced() {
        let s = Sessions::default();
        let mine = s.open(60_000, "admin", Role::Admin);
        let theirs = "their-token";
        let open = |expires_at| Session { expires_at, user: "ann".into(), role: Role::Viewer };
        s.adopt(token_digest(theirs), open(now_ms() + 60_000));
        assert_eq!(s.lookup(theirs).map(|s| (s.user, s.role)), Some(("ann".into(), Role::Viewer)));
        s.adopt(token_digest("expired"), open(now_ms() - 1));
        assert!(!s.valid("expired"));
        s.forget(&token_digest(theirs));
        assert!(!s.valid(theirs));
        // After a reconnect: exactly what the database holds.
        s.replace_all(vec![(token_digest(theirs), open(now_ms() + 60_000))]);
        assert!(s.valid(theirs));
        assert!(!s.valid(&mine), "closed elsewhere meanwhile");
    }

    #[test]
    fn closing_a_users_sessions_leaves_the_others_open() {
        let s = Sessions::default();
        let a1 = s.open(60_000, "ann", Role::Viewer);
        let a2 = s.open(60_000, "ann", Role::Viewer);
        let b = s.open(60_000, "bob", Role::Admin);
        assert_eq!(s.close_user("ann").len(), 2);
        assert!(!s.valid(&a1) && !s.valid(&a2));
        assert!(s.valid(&b));
    }

    #[test]
    fn login_lockout_counts_attempts_before_they_are_checked() {
        let s = Sessions::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_FAILURES {
            assert!(s.begin_login(ip).is_ok());
        }
        assert!(s.begin_login(ip).is_err_and(|wait| (1..=60).contains(&wait)));
        s.login_succeeded(ip);
        assert!(s.begin_login(ip).is_ok());
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(s.begin_login(other).is_ok(), "another address is not affected");
    }
}

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
use crate::secrets::{ct_eq, hex, random_token};
use crate::state::AppState;
use crate::store::now_ms;

/// Name of the dashboard session cookie.
pub const SESSION_COOKIE: &str = "omnigate_session";

/// The credential a client presented: `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`
/// or `?key=`.
pub fn presented_key(req: &HttpRequest) -> Option<&str> {
    let h = req.headers();
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(k) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(k.trim());
        }
    }
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(v) = h.get(name).and_then(|v| v.to_str().ok()) {
            return Some(v.trim());
        }
    }
    req.query_string().split('&').find_map(|kv| kv.strip_prefix("key=")).filter(|k| !k.is_empty())
}

/// Checks the gateway key of a client request. `Ok(None)` only when keys are not required and
/// none was sent.
pub fn client_key(req: &HttpRequest, state: &AppState) -> Result<Option<KeyInfo>, GatewayError> {
    match presented_key(req) {
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

/// Dashboard sessions: token digest → expiry (ms). In memory; a restart logs everyone out.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_digest: Arc<DashMap<String, i64>>,
    failures: Arc<DashMap<IpAddr, (u32, i64)>>,
}

fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Failed logins from one address before it must wait.
const MAX_FAILURES: u32 = 5;
/// How long an address waits after too many failed logins, in ms.
const LOCKOUT_MS: i64 = 60_000;

impl Sessions {
    /// Opens a session, returning its token.
    pub fn open(&self, ttl_ms: i64) -> String {
        let token = random_token(32);
        let now = now_ms();
        self.by_digest.retain(|_, exp| *exp > now);
        self.by_digest.insert(token_digest(&token), now + ttl_ms);
        token
    }

    /// Whether a session token is valid now.
    pub fn valid(&self, token: &str) -> bool {
        self.by_digest.get(&token_digest(token)).is_some_and(|e| *e.value() > now_ms())
    }

    /// Ends a session.
    pub fn close(&self, token: &str) {
        self.by_digest.remove(&token_digest(token));
    }

    /// Whether this address must wait before trying another password; the wait in seconds.
    pub fn locked_out(&self, ip: IpAddr) -> Option<u64> {
        let now = now_ms();
        let e = self.failures.get(&ip)?;
        let (count, since) = *e.value();
        (count >= MAX_FAILURES && now - since < LOCKOUT_MS).then(|| ((LOCKOUT_MS - (now - since)) / 1000).max(1) as u64)
    }

    /// Records a login result from an address.
    pub fn record_login(&self, ip: IpAddr, ok: bool) {
        if ok {
            self.failures.remove(&ip);
            return;
        }
        let now = now_ms();
        let mut e = self.failures.entry(ip).or_insert((0, now));
        if now - e.1 >= LOCKOUT_MS {
            *e = (0, now);
        }
        e.0 += 1;
    }
}

/// The session token in the request's cookie, if any.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

/// Admits an admin request: a valid session cookie, or the management token as a Bearer.
pub fn admin(req: &HttpRequest, state: &AppState) -> Result<(), GatewayError> {
    if let Some(token) = session_token(req)
        && state.sessions.valid(&token)
    {
        return Ok(());
    }
    if let (Some(expected), Some(given)) = (&state.admin_token, presented_key(req))
        && ct_eq(expected.as_bytes(), given.as_bytes())
    {
        return Ok(());
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
        let t = s.open(60_000);
        assert!(s.valid(&t));
        assert!(!s.valid("nope"));
        s.close(&t);
        assert!(!s.valid(&t));
        let t = s.open(-1);
        assert!(!s.valid(&t), "expired session");
    }

    #[test]
    fn login_lockout_after_failures() {
        let s = Sessions::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_FAILURES {
            assert!(s.locked_out(ip).is_none());
            s.record_login(ip, false);
        }
        assert!(s.locked_out(ip).is_some());
        s.record_login(ip, true);
        assert!(s.locked_out(ip).is_none());
    }
}

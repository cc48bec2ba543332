//! Dashboard login: a user name (none: the bootstrap admin) and an Argon2id password check, a
//! session cookie carrying the user and role, lockout after repeated failures, and an audit row
//! for every sign-in and every refused one.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{db_fail, fail, guarded, state_change_checks};
use crate::auth::{AdminAuth, BOOTSTRAP_ADMIN, Role, SESSION_COOKIE, session_token};
use crate::error::GatewayError;
use crate::routes::common::read_body_limited;
use crate::secrets::verify_password;
use crate::state::AppState;
use crate::store::audit::{self, Change};
use crate::store::{settings, users};

#[derive(Deserialize)]
pub(super) struct Login {
    /// The user; absent or `admin`: the bootstrap admin.
    #[serde(default)]
    username: Option<String>,
    password: String,
}

/// The password hash and role of the user signing in. An unknown user gets the bootstrap hash
/// checked against a role of `None`, so the answer takes as long as for a known one and is
/// refused all the same.
async fn credentials(state: &AppState, user: &str) -> Result<(Option<String>, Option<Role>), sea_orm::DbErr> {
    let bootstrap = settings::get(&state.db, settings::ADMIN_PASSWORD_HASH).await?;
    if user == BOOTSTRAP_ADMIN {
        return Ok((bootstrap, Some(Role::Admin)));
    }
    Ok(match users::get(&state.db, user).await? {
        Some(u) => (Some(u.password_hash), Role::parse(&u.role)),
        None => (bootstrap, None),
    })
}

/// The audit row of a sign-in (`login`) or a refused one (`login_failed`). A failure to write it
/// is logged, never a reason to refuse or admit.
async fn audit_login(state: &AppState, req: &HttpRequest, user: &str, role: Option<Role>, ok: bool) {
    let actor = match (ok, user) {
        (false, _) => "anonymous".to_string(),
        (true, BOOTSTRAP_ADMIN) => "session".to_string(),
        (true, u) => format!("session:{u}"),
    };
    let change = Change {
        actor: &actor,
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        resource: "session",
        resource_id: user.to_string(),
        action: if ok { "login" } else { "login_failed" },
        before: None,
        after: role.filter(|_| ok).map(|r| json!({ "role": r.as_str() })),
    };
    if let Err(e) = audit::record(&state.db, change).await {
        tracing::warn!(error = %e, "recording a sign-in in the audit log failed");
    }
}

/// Largest login body: a password, not a payload.
const LOGIN_BODY_LIMIT: usize = 4 * 1024;

/// `POST /api/login {"password": "..."}` → sets the session cookie. The attempt is counted
/// against the caller's address before its body is read or its password checked.
pub(super) async fn login(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    if let Err(e) = state_change_checks(&req) {
        return fail(e);
    }
    let ip = req.peer_addr().map(|a| a.ip()).unwrap_or([0, 0, 0, 0].into());
    if let Err(wait) = state.sessions.begin_login(ip) {
        return fail(GatewayError::RateLimited {
            message: "too many failed logins; wait before trying again".into(),
            retry_after: Some(Duration::from_secs(wait)),
        });
    }
    let login: Login = match read_body_limited(&req, payload, &state, LOGIN_BODY_LIMIT).await {
        Ok(body) => match serde_json::from_slice(&body) {
            Ok(l) => l,
            Err(_) => return fail(GatewayError::BadRequest("expected JSON {\"password\": \"...\"}".into())),
        },
        Err(e) => return fail(e),
    };
    // Names are short and plain (`users::valid_name`): anything else is no user.
    let user = login.username.filter(|u| !u.is_empty()).unwrap_or_else(|| BOOTSTRAP_ADMIN.to_string());
    if !super::users::valid_name(&user) {
        audit_login(&state, &req, "(invalid)", None, false).await;
        return fail(GatewayError::Unauthorized("wrong password".into()));
    }
    let (hash, role) = match credentials(&state, &user).await {
        Ok(c) => c,
        Err(e) => return db_fail(e),
    };
    let password = login.password;
    // Argon2 takes tens of milliseconds: keep it off the worker's event loop.
    let verified = match hash {
        Some(h) => web::block(move || verify_password(&password, &h)).await.unwrap_or(false),
        None => false,
    };
    let role = match role {
        Some(r) if verified => r,
        Some(_) | None => {
            tracing::warn!(%ip, "failed dashboard login");
            audit_login(&state, &req, &user, None, false).await;
            return fail(GatewayError::Unauthorized("wrong password".into()));
        }
    };
    state.sessions.login_succeeded(ip);
    // The dashboard is in use: the kept first-start credentials have done their job.
    crate::first_start::claimed(&state.config.data_dir());
    audit_login(&state, &req, &user, Some(role), true).await;
    let ttl_ms = (state.config.auth.session_ttl_hours * 3_600_000) as i64;
    let token = state.sessions.open(ttl_ms, &user, role);
    if let Some(c) = &state.runtime.cluster {
        c.session_opened(&token).await;
    }
    // `Secure` when the browser reached us over HTTPS (directly, or through a proxy that says so
    // in `Forwarded` / `X-Forwarded-Proto`).
    let https = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::milliseconds(ttl_ms))
        .finish();
    HttpResponse::Ok().cookie(cookie).json(json!({ "ok": true }))
}

/// `POST /api/logout` → ends the session.
pub(super) async fn logout(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = state_change_checks(&req) {
        return fail(e);
    }
    if let Some(t) = session_token(&req) {
        state.sessions.close(&t);
        if let Some(c) = &state.runtime.cluster {
            c.session_closed(&t).await;
        }
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    HttpResponse::Ok().cookie(gone).json(json!({ "ok": true }))
}

/// `GET /api/session` → 200 with the user and role when logged in, for the dashboard to decide
/// what to show.
pub(super) async fn whoami(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let auth = match guarded(&req, &state) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let user = match &auth {
        AdminAuth::Session { user, .. } => Some(user.as_str()),
        AdminAuth::Token => None,
    };
    HttpResponse::Ok().json(json!({
        "ok": true, "version": env!("CARGO_PKG_VERSION"), "user": user, "role": auth.role().as_str(),
    }))
}

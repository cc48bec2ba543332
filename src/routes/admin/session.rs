//! Dashboard login: Argon2id password check, session cookie, lockout after repeated failures.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{db_fail, fail, guarded, state_change_checks};
use crate::auth::{SESSION_COOKIE, session_token};
use crate::error::GatewayError;
use crate::routes::common::read_body_limited;
use crate::secrets::verify_password;
use crate::state::AppState;
use crate::store::settings;

#[derive(Deserialize)]
pub(super) struct Login {
    password: String,
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
    let hash = match settings::get(&state.db, settings::ADMIN_PASSWORD_HASH).await {
        Ok(h) => h,
        Err(e) => return db_fail(e),
    };
    let password = login.password;
    // Argon2 takes tens of milliseconds: keep it off the worker's event loop.
    let ok = match hash {
        Some(h) => web::block(move || verify_password(&password, &h)).await.unwrap_or(false),
        None => false,
    };
    if ok {
        state.sessions.login_succeeded(ip);
        // The dashboard is in use: the kept first-start credentials have done their job.
        crate::first_start::claimed(&state.config.data_dir());
    }
    if !ok {
        tracing::warn!(%ip, "failed admin login");
        return fail(GatewayError::Unauthorized("wrong password".into()));
    }
    let ttl_ms = (state.config.auth.session_ttl_hours * 3_600_000) as i64;
    let token = state.sessions.open(ttl_ms);
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

/// `GET /api/session` → 200 when logged in, for the dashboard to decide what to show.
pub(super) async fn whoami(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    HttpResponse::Ok().json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}

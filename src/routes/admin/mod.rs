//! The admin JSON API under `/api/`: every route but login requires a dashboard session or the
//! management token; a viewer's session only the read-only `VIEWER_ROUTES`.

mod accounts;
mod aliases;
mod audit;
mod backup;
mod change;
mod combos;
mod export;
mod health;
mod keys;
mod oauth;
pub mod openapi;
mod params;
mod playground;
mod pricing;
mod providers;
mod requests;
mod session;
mod settings;
mod state;
mod tools;
mod transforms;
mod usage_summary;
mod users;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;

use super::get;
use crate::auth::{AdminAuth, Role};
use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::state::AppState;

/// Largest admin request body.
const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(routes(web::scope("/api")).wrap(super::security_headers()).default_service(web::to(api_not_found)));
}

/// The paths of every `/api` route (relative to `/api`, one per registered route), as
/// `configure` registers them: what the OpenAPI drift tests compare `openapi::SPEC` with.
pub fn registered_paths() -> Vec<String> {
    routes(openapi::Recorded::default()).0
}

/// Every `/api` route. Keep to `.route(path, method().to(handler))` here, and give each new
/// route its line in `openapi::SPEC` (the drift tests fail otherwise).
fn routes<R: openapi::Routes>(r: R) -> R {
    r.route("/login", web::post().to(session::login))
        .route("/logout", web::post().to(session::logout))
        .route("/session", get().to(session::whoami))
        .route("/users", get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/users/{name}", web::patch().to(users::update))
        .route("/users/{name}", web::delete().to(users::delete))
        .route("/keys", get().to(keys::list))
        .route("/teams", get().to(keys::teams))
        .route("/keys", web::post().to(keys::create))
        .route("/keys/{name}", web::delete().to(keys::revoke))
        .route("/keys/{name}", web::patch().to(keys::update))
        .route("/accounts", get().to(accounts::list))
        .route("/accounts", web::post().to(accounts::create))
        .route("/accounts/{id}", get().to(accounts::get))
        .route("/accounts/{id}", web::patch().to(accounts::update))
        .route("/accounts/{id}", web::delete().to(accounts::delete))
        .route("/accounts/{id}/reset", web::post().to(accounts::reset))
        .route("/accounts/{id}/test", web::post().to(accounts::test))
        .route("/accounts/{id}/quota/poll", web::post().to(oauth::poll_quota))
        .route("/oauth/providers", get().to(oauth::providers))
        .route("/oauth/{provider}/start", web::post().to(oauth::start))
        .route("/oauth/{provider}/callback", get().to(oauth::callback_get))
        .route("/oauth/{provider}/callback", web::post().to(oauth::callback_post))
        .route("/oauth/{provider}/flows/{id}", get().to(oauth::flow_state))
        .route("/oauth/{provider}/import", web::post().to(oauth::import))
        .route("/providers", get().to(providers::list))
        .route("/providers", web::post().to(providers::create))
        .route("/providers/{id}", get().to(providers::get))
        .route("/providers/{id}", web::patch().to(providers::update))
        .route("/providers/{id}", web::delete().to(providers::delete))
        .route("/providers/{id}/reset-breaker", web::post().to(providers::reset_breaker))
        .route("/combos", get().to(combos::list))
        .route("/combos", web::post().to(combos::create))
        .route("/combos/{name}", get().to(combos::get))
        .route("/combos/{name}", web::put().to(combos::replace))
        .route("/combos/{name}", web::delete().to(combos::delete))
        .route("/aliases", get().to(aliases::list))
        .route("/aliases", web::post().to(aliases::create))
        .route("/aliases/{alias}", web::delete().to(aliases::delete))
        .route("/transforms", get().to(transforms::list))
        .route("/transforms", web::post().to(transforms::create))
        .route("/transforms/{name}", web::put().to(transforms::replace))
        .route("/transforms/{name}", web::delete().to(transforms::delete))
        .route("/pricing", get().to(pricing::list))
        .route("/pricing", web::put().to(pricing::put))
        .route("/pricing", web::delete().to(pricing::delete))
        .route("/settings", get().to(settings::get))
        .route("/settings", web::patch().to(settings::patch))
        .route("/audit", get().to(audit::list))
        .route("/usage", get().to(state::recent_usage))
        .route("/status", get().to(state::status))
        .route("/requests", get().to(requests::list))
        .route("/requests/{id}", get().to(requests::detail))
        .route("/usage/summary", get().to(usage_summary::summary))
        .route("/usage/export", get().to(export::export))
        .route("/backup", get().to(backup::download))
        .route("/health", get().to(health::health))
        .route("/tools", get().to(tools::list))
        .route("/openapi.json", get().to(openapi::serve))
        .route("/playground/preview", web::post().to(playground::preview))
        .route("/playground/send", web::post().to(playground::send))
}

/// Whether a method changes state.
fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// CSRF: a state-changing request that a browser marks as coming from another site (by
/// `Sec-Fetch-Site`, or an `Origin` that is not this scheme, host and port) is refused. Requests
/// without either header come from non-browser clients, which carry no ambient cookie to abuse.
fn same_origin(req: &HttpRequest) -> Result<(), GatewayError> {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(GatewayError::Forbidden(format!("cross-site request refused (Sec-Fetch-Site: {site})")));
    }
    if let Some(origin) = h.get(header::ORIGIN) {
        let info = req.connection_info();
        let expected = format!("{}://{}", info.scheme(), info.host());
        let ok = origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(&expected));
        if !ok {
            return Err(GatewayError::Forbidden("cross-origin request refused: Origin is not this dashboard".into()));
        }
    }
    Ok(())
}

/// A state-changing admin request carries JSON or nothing: an HTML form (the classic CSRF
/// vehicle) cannot send `application/json`.
fn json_or_empty(req: &HttpRequest) -> Result<(), GatewayError> {
    let h = req.headers();
    let has_body = h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0");
    match h.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or_default()) {
        Some(ct) if ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")) => Ok(()),
        None if !has_body => Ok(()),
        Some(_) | None => {
            Err(GatewayError::UnsupportedMediaType("admin requests that change state take `application/json`".into()))
        }
    }
}

/// The checks every state-changing admin request passes before authentication is even looked at.
pub(crate) fn state_change_checks(req: &HttpRequest) -> Result<(), GatewayError> {
    if changes_state(req.method()) {
        same_origin(req)?;
        json_or_empty(req)?;
    }
    Ok(())
}

/// The routes a viewer may call: the reads of the Overview, Usage, Requests and Health pages
/// (`GET`), and changing their own password (`users::update` checks it is their own). Everything
/// else (every write, keys, account details, settings, backups, the audit log) is an admin's.
const VIEWER_ROUTES: [(&str, &str); 11] = [
    ("GET", "/api/session"),
    ("GET", "/api/status"),
    ("GET", "/api/accounts"),
    ("GET", "/api/usage"),
    ("GET", "/api/usage/summary"),
    ("GET", "/api/usage/export"),
    ("GET", "/api/requests"),
    ("GET", "/api/requests/{id}"),
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("PATCH", "/api/users/{name}"),
];

/// Whether a viewer may make this request (by its matched route pattern, never its raw path).
fn viewer_may(req: &HttpRequest) -> bool {
    let method = if req.method() == Method::HEAD { "GET" } else { req.method().as_str() };
    req.match_pattern().is_some_and(|p| VIEWER_ROUTES.iter().any(|(m, r)| *m == method && *r == p))
}

/// Admits an admin request (and, when it changes state, checks its origin and content type), or
/// gives the error response to return. A viewer is admitted only to `VIEWER_ROUTES` (403
/// otherwise).
pub(crate) fn guarded(req: &HttpRequest, state: &AppState) -> Result<AdminAuth, Box<HttpResponse>> {
    state_change_checks(req).map_err(|e| Box::new(fail(e)))?;
    let auth = crate::auth::admin(req, state).map_err(|e| Box::new(e.response(Dialect::OpenaiChat)))?;
    match auth.role() {
        Role::Admin => Ok(auth),
        Role::Viewer if viewer_may(req) => Ok(auth),
        Role::Viewer => Err(Box::new(fail(GatewayError::Forbidden(
            "this needs an admin: a viewer may read usage, requests and health only".into(),
        )))),
    }
}

/// Reads an admin JSON body (at most 1 MiB) after `guarded` admitted the request.
pub(crate) async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    expected: &str,
) -> Result<T, HttpResponse> {
    let body = super::common::read_body_limited(req, payload, state, ADMIN_BODY_LIMIT).await.map_err(fail)?;
    serde_json::from_slice(&body).map_err(|e| {
        fail(GatewayError::BadRequest(format!(
            "expected JSON {expected}: {}",
            super::common::echo(&e.to_string(), 120)
        )))
    })
}

/// An admin error in the admin API's (OpenAI-like) shape.
pub(crate) fn fail(e: GatewayError) -> HttpResponse {
    e.response(Dialect::OpenaiChat)
}

/// A database failure: logged here, answered without its cause.
pub(crate) fn db_fail(e: sea_orm::DbErr) -> HttpResponse {
    tracing::error!(error = %e, "admin API database error");
    fail(GatewayError::Internal("database error".into()))
}

async fn api_not_found(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    fail(GatewayError::NotFound(format!("no admin route {} {}", req.method(), req.path())))
}

//! The admin JSON API under `/api/`: every route but login requires an admin session or the
//! management token.

mod keys;
mod session;
mod state;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::state::AppState;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/login", web::post().to(session::login))
            .route("/logout", web::post().to(session::logout))
            .route("/session", web::get().to(session::whoami))
            .route("/keys", web::get().to(keys::list))
            .route("/keys", web::post().to(keys::create))
            .route("/keys/{name}", web::delete().to(keys::revoke))
            .route("/accounts", web::get().to(state::accounts))
            .route("/accounts/{id}/reset", web::post().to(state::reset_account))
            .route("/providers/{id}/reset-breaker", web::post().to(state::reset_breaker))
            .route("/usage", web::get().to(state::recent_usage))
            .route("/status", web::get().to(state::status))
            .default_service(web::to(api_not_found)),
    );
}

/// Admits an admin request, or gives the 401 response to return.
pub(crate) fn guarded(req: &HttpRequest, state: &AppState) -> Result<(), Box<HttpResponse>> {
    crate::auth::admin(req, state).map_err(|e| Box::new(e.response(Dialect::OpenaiChat)))
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

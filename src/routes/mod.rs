//! The HTTP surface: one module per client dialect, the admin API, health and the dashboard.

pub mod admin;
pub mod health;

use actix_web::{HttpResponse, web};

use crate::error::GatewayError;
use crate::protocol::Dialect;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health));
    admin::configure(cfg);
}

/// Unknown paths get a JSON 404 instead of an empty body.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path()))
        .response(Dialect::OpenaiChat)
}

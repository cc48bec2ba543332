//! The HTTP surface: one module per client dialect, the admin API, health and the dashboard.

pub mod admin;
pub mod anthropic;
pub mod common;
pub mod dashboard;
pub mod gemini;
pub mod health;
pub mod media;
pub mod metrics;
pub mod openai;
pub mod responses;
pub mod responses_ws;
pub mod surfaces;

use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, Route, guard, web};

use crate::error::GatewayError;
use crate::protocol::Dialect;

/// A route for `GET` that answers `HEAD` too (actix-http sends the head without the body).
pub fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Headers every dashboard and admin API response carries: no framing (clickjacking), no
/// referrer leaks, no MIME sniffing, no caching of admin data.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("x-frame-options", "DENY"))
        .add(("referrer-policy", "no-referrer"))
        .add(("x-content-type-options", "nosniff"))
        .add(("cache-control", "no-store"))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", get().to(health::health))
        .route("/ready", get().to(metrics::ready))
        .route("/metrics", get().to(metrics::metrics))
        .route("/v1/chat/completions", web::post().to(openai::chat_completions))
        .route("/v1/embeddings", web::post().to(openai::embeddings))
        .route("/v1/completions", web::post().to(surfaces::completions))
        .route("/v1/moderations", web::post().to(surfaces::moderations))
        .route("/v1/rerank", web::post().to(surfaces::rerank))
        .route("/v1/images/generations", web::post().to(surfaces::images))
        .route("/v1/images/edits", web::post().to(media::image_edits))
        .route("/v1/audio/transcriptions", web::post().to(media::transcriptions))
        .route("/v1/audio/translations", web::post().to(media::translations))
        .route("/v1/audio/speech", web::post().to(media::speech))
        .route("/v1/models", get().to(openai::models))
        .route("/v1/providers/{provider}/chat/completions", web::post().to(openai::provider_chat_completions))
        .route("/v1/messages", web::post().to(anthropic::messages))
        .route("/v1/messages/count_tokens", web::post().to(anthropic::count_tokens))
        .route("/v1/responses", web::post().to(responses::create))
        .route("/v1/responses", web::get().to(responses_ws::upgrade))
        .route("/v1/responses/{id}", get().to(responses::retrieve))
        .route("/{version:v1beta|v1}/models/{tail:.*}", web::post().to(gemini::call))
        .route("/v1beta/models", get().to(gemini::list))
        // The same surfaces without `/v1`, for clients whose base URL is the bare host (DeepSeek's
        // and Anthropic's own SDK conventions, among others).
        .route("/chat/completions", web::post().to(openai::chat_completions))
        .route("/embeddings", web::post().to(openai::embeddings))
        .route("/completions", web::post().to(surfaces::completions))
        .route("/moderations", web::post().to(surfaces::moderations))
        .route("/rerank", web::post().to(surfaces::rerank))
        .route("/images/generations", web::post().to(surfaces::images))
        .route("/images/edits", web::post().to(media::image_edits))
        .route("/audio/transcriptions", web::post().to(media::transcriptions))
        .route("/audio/translations", web::post().to(media::translations))
        .route("/audio/speech", web::post().to(media::speech))
        .route("/models", get().to(openai::models))
        .route("/messages", web::post().to(anthropic::messages))
        .route("/messages/count_tokens", web::post().to(anthropic::count_tokens))
        .route("/responses", web::post().to(responses::create))
        .route("/responses", web::get().to(responses_ws::upgrade));
    dashboard::configure(cfg);
    admin::configure(cfg);
}

/// Unknown paths get a JSON 404 instead of an empty body.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path())).response(Dialect::OpenaiChat)
}

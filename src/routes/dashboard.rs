//! The embedded dashboard (`static/`, compiled into the binary) at `/dashboard`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Registers `/`, `/dashboard` and its assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { redirect() }))
        .route("/dashboard", web::get().to(|| async { asset("index.html") }))
        .route("/dashboard/", web::get().to(|| async { asset("index.html") }))
        .route("/dashboard/{file:.*}", web::get().to(|file: web::Path<String>| async move { asset(&file) }));
}

fn redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/dashboard")).finish()
}

fn asset(path: &str) -> HttpResponse {
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(file) => HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().content_type("text/plain").body("not found"),
    }
}

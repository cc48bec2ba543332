//! The embedded dashboard (`static/`, compiled into the binary) at `/dashboard`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

use super::{get, security_headers};

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Registers `/`, `/dashboard` and its assets (GET and HEAD), with the security headers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").wrap(security_headers()).route(get().to(|| async { redirect() }))).service(
        web::scope("/dashboard")
            .wrap(security_headers())
            .route("", get().to(|| async { asset("index.html") }))
            .route("/", get().to(|| async { asset("index.html") }))
            .route("/{file:.*}", get().to(|file: web::Path<String>| async move { asset(&file) })),
    );
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
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().content_type("text/plain").body("not found"),
    }
}

//! `GET /api/tools`: each coding tool's settings for this gateway, rendered by the same
//! `tools` modules `omnigate setup` writes with (one source of truth), with a placeholder for
//! the key (the daemon keeps only digests) and for the model unless `?model=` names one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::params::Param;
use super::{fail, guarded};
use crate::error::GatewayError;
use crate::state::AppState;

/// The query parameters of `GET /api/tools`.
pub(super) const QUERY: &[Param] =
    &[Param::str("model", "the model to write into the snippets (default: a placeholder)")];

#[derive(Deserialize)]
pub(super) struct ToolsQuery {
    model: Option<String>,
}

/// `GET /api/tools?model=M`: `{url, tools: [{id, title, path, format, command, text, runs, note, source}]}`.
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>, q: web::Query<ToolsQuery>) -> HttpResponse {
    if let Err(r) = guarded(&req, &state) {
        return *r;
    }
    // The address the browser reached the daemon at is the one the user's tools can use.
    let url = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let model = q.model.as_deref().map(str::trim).filter(|m| !m.is_empty());
    match crate::tools::snippets(&url, model) {
        Ok(tools) => HttpResponse::Ok().json(json!({ "url": url, "tools": tools })),
        Err(e) => fail(GatewayError::BadRequest(e)),
    }
}

//! The OpenAI Responses surface: `POST /v1/responses` (stream and not). Responses are not stored:
//! `previous_response_id` is refused with an explanation when the request must be translated, and
//! `GET /v1/responses/{id}` says so. The same surface over WebSocket is `responses_ws`.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;

use super::common::generate;
use crate::auth::client_key;
use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::state::AppState;

const D: Dialect = Dialect::OpenaiResponses;

/// `POST /v1/responses`
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    generate(req, state, exec, payload, D).await
}

/// `GET /v1/responses/{id}`: nothing is stored.
pub async fn retrieve(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    if let Err(e) = client_key(&req, &state, D) {
        return e.response(D);
    }
    GatewayError::NotFound(format!(
        "response `{id}` not found: Omnigate does not store responses (`store` is not persisted)"
    ))
    .response(D)
}

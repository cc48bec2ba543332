//! The Anthropic Messages surface: `/v1/messages` and `/v1/messages/count_tokens`. The key may
//! come as `x-api-key` or Bearer; `anthropic-version` is accepted and not required.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;
use serde_json::{Value, json};

use super::common::{generate, intake_model, meta, permitted_targets, refuse};
use crate::error::GatewayError;
use crate::pipeline::{self, Inbound, Op};
use crate::protocol::Dialect;
use crate::protocol::shape::Surface;
use crate::state::AppState;
use crate::translate::canonical::estimate_request;
use crate::translate::decode_request;

const D: Dialect = Dialect::Anthropic;

/// `POST /v1/messages`
pub async fn messages(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    generate(req, state, exec, payload, D).await
}

/// `POST /v1/messages/count_tokens`: the upstream's own count when the model is served by an
/// Anthropic-dialect account, else an estimate (system, messages, tools and images counted).
pub async fn count_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    let (inp, model) = match intake_model(&req, &state, payload, Surface::Generate(D)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (reg, targets) = match permitted_targets(&state, inp.key.as_ref(), &model) {
        Ok(v) => v,
        Err(e) => return refuse(&req, &state, inp.key.as_ref(), &model, D, e),
    };
    let upstream_counts = targets
        .first()
        .and_then(|t| reg.provider(&t.provider))
        .is_some_and(|p| p.dialect == Dialect::Anthropic && !p.local && reg.is_served(&p.id));
    if upstream_counts {
        let key = inp.key.clone();
        let inbound = Inbound { model, stream: false, plan: inp.plan(D, Op::CountTokens), pinned: None };
        return pipeline::serve(&state, &exec, meta(&req, key), inbound).await;
    }
    let v: Value = serde_json::from_slice(&inp.body).unwrap_or(Value::Null);
    match decode_request(D, &v, false) {
        Ok(r) => HttpResponse::Ok().json(json!({ "input_tokens": estimate_request(&r) })),
        Err(e) => GatewayError::BadRequest(e).response(D),
    }
}

//! The OpenAI-shaped surfaces beyond chat and embeddings: legacy `/v1/completions`,
//! `/v1/moderations`, `/v1/images/generations` (JSON) and Cohere/Jina-style `/v1/rerank`. Each reads its body like chat (key
//! first, bounded read, well-known field types, `model` required: the gateway routes by it) and
//! hands the pipeline a plan of its own `Op`; errors are OpenAI's shape.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;

use super::common::{intake_model, meta};
use crate::pipeline::{self, Inbound, Op};
use crate::protocol::Dialect;
use crate::protocol::shape::Surface;
use crate::state::AppState;

async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    surface: Surface,
    op: Op,
) -> HttpResponse {
    let (inp, model) = match intake_model(&req, &state, payload, surface).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let stream = op == Op::Completions && inp.stream();
    let client_wants_usage = inp
        .object
        .parse::<serde_json::Value>("stream_options")
        .is_some_and(|o| o.get("include_usage").and_then(|v| v.as_bool()) == Some(true));
    let key = inp.key.clone();
    let mut plan = inp.plan(Dialect::OpenaiChat, op);
    plan.client_wants_usage = client_wants_usage;
    let inbound = Inbound { model, stream, plan, pinned: None };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

/// `POST /v1/completions`
pub async fn completions(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve(req, state, exec, payload, Surface::Completions, Op::Completions).await
}

/// `POST /v1/moderations`
pub async fn moderations(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve(req, state, exec, payload, Surface::Moderations, Op::Moderations).await
}

/// `POST /v1/images/generations` (JSON)
pub async fn images(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve(req, state, exec, payload, Surface::Images, Op::Images).await
}

/// `POST /v1/rerank`
pub async fn rerank(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve(req, state, exec, payload, Surface::Rerank, Op::Rerank).await
}

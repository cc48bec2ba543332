//! The OpenAI-compatible surface: `/v1/chat/completions`, `/v1/embeddings` (Gemini upstreams
//! translated: `pipeline::surfaces`), `/v1/models`, and the provider-pinned
//! `/v1/providers/{provider}/chat/completions`. Completions, moderations, rerank and images are
//! `routes::surfaces`.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;
use serde_json::json;

use super::common::{intake_model, meta};
use crate::auth::client_key;
use crate::pipeline::{self, Inbound, Op};
use crate::protocol::Dialect;
use crate::protocol::shape::Surface;
use crate::state::AppState;

const D: Dialect = Dialect::OpenaiChat;

async fn serve_op(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    op: Op,
    pinned: Option<String>,
) -> HttpResponse {
    let surface = if op == Op::Embeddings { Surface::Embeddings } else { Surface::Generate(D) };
    let (inp, model) = match intake_model(&req, &state, payload, surface).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let stream = op == Op::Generate && inp.stream();
    let client_wants_usage = inp
        .object
        .parse::<serde_json::Value>("stream_options")
        .is_some_and(|o| o.get("include_usage").and_then(|v| v.as_bool()) == Some(true));
    let key = inp.key.clone();
    // Cursor's agent mode: a Responses body (`input`, no `messages`) on the Chat path.
    let responses_body =
        op == Op::Generate && inp.object.get("messages").is_none() && inp.object.get("input").is_some();
    let mut plan = inp.plan(D, op);
    plan.client_wants_usage = client_wants_usage;
    if responses_body {
        plan.request_dialect = Dialect::OpenaiResponses;
    }
    let inbound = Inbound { model, stream, plan, pinned };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

/// `POST /v1/chat/completions`
pub async fn chat_completions(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve_op(req, state, exec, payload, Op::Generate, None).await
}

/// `POST /v1/providers/{provider}/chat/completions`
pub async fn provider_chat_completions(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    provider: web::Path<String>,
) -> HttpResponse {
    serve_op(req, state, exec, payload, Op::Generate, Some(provider.into_inner())).await
}

/// `POST /v1/embeddings`
pub async fn embeddings(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    serve_op(req, state, exec, payload, Op::Embeddings, None).await
}

/// The model ids a key may see: served providers' models, combos and exact aliases.
pub fn visible_models(state: &AppState, key: Option<&crate::keys::KeyInfo>) -> Vec<(String, String)> {
    let reg = state.runtime.registry();
    let mut out: Vec<(String, String)> = Vec::new();
    for p in reg.providers().filter(|p| reg.is_served(&p.id)) {
        for m in &p.models {
            out.push((format!("{}/{}", p.id, m.id), p.id.clone()));
        }
    }
    for c in reg.combos.keys() {
        out.push((c.clone(), "omnigate-combo".into()));
    }
    for (alias, _) in reg.aliases.iter().filter(|(a, _)| !a.contains(['*', '?'])) {
        out.push((alias.clone(), "omnigate-alias".into()));
    }
    out.retain(|(id, _)| key.is_none_or(|k| k.allows(id)));
    out.sort();
    out.dedup();
    out
}

/// `GET /v1/models`
pub async fn models(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let key = match client_key(&req, &state, D) {
        Ok(k) => k,
        Err(e) => return e.response(D),
    };
    let data: Vec<_> = visible_models(&state, key.as_ref())
        .into_iter()
        .map(|(id, owner)| json!({ "id": id, "object": "model", "created": 0, "owned_by": owner }))
        .collect();
    HttpResponse::Ok().json(json!({ "object": "list", "data": data }))
}

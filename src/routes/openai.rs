//! The OpenAI-compatible surface: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, and the
//! provider-pinned `/v1/providers/{provider}/chat/completions`.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;
use serde_json::json;

use super::common::{meta, read_body};
use crate::auth::client_key;
use crate::error::GatewayError;
use crate::pipeline::{self, Inbound, Op, Plan};
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::state::AppState;

pub(crate) fn parse_object(body: &[u8]) -> Result<RawObject, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::BadRequest("the request body is empty; expected a JSON object".into()));
    }
    serde_json::from_slice(body)
        .map_err(|e| GatewayError::BadRequest(format!("the request body is not a valid JSON object: {e}")))
}

fn model_of(o: &RawObject) -> Result<String, GatewayError> {
    match o.parse::<String>("model") {
        Some(m) if !m.trim().is_empty() => Ok(m),
        _ => Err(GatewayError::BadRequest("`model` is required and must be a string".into())),
    }
}

async fn chat(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    pinned: Option<String>,
) -> HttpResponse {
    let key = match client_key(&req, &state) {
        Ok(k) => k,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let body = match read_body(payload, &state).await {
        Ok(b) => b,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let parsed = parse_object(&body).and_then(|o| model_of(&o).map(|m| (o, m)));
    let (object, model) = match parsed {
        Ok(v) => v,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let stream = object.parse::<bool>("stream").unwrap_or(false);
    let client_wants_usage = object
        .parse::<serde_json::Value>("stream_options")
        .is_some_and(|o| o.get("include_usage").and_then(|v| v.as_bool()) == Some(true));
    let mut plan = Plan::new(Dialect::OpenaiChat, Op::Generate, object);
    plan.client_wants_usage = client_wants_usage;
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
    chat(req, state, exec, payload, None).await
}

/// `POST /v1/providers/{provider}/chat/completions`
pub async fn provider_chat_completions(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    provider: web::Path<String>,
) -> HttpResponse {
    chat(req, state, exec, payload, Some(provider.into_inner())).await
}

/// `POST /v1/embeddings`
pub async fn embeddings(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    let key = match client_key(&req, &state) {
        Ok(k) => k,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let body = match read_body(payload, &state).await {
        Ok(b) => b,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let (object, model) = match parse_object(&body).and_then(|o| model_of(&o).map(|m| (o, m))) {
        Ok(v) => v,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let inbound =
        Inbound { model, stream: false, plan: Plan::new(Dialect::OpenaiChat, Op::Embeddings, object), pinned: None };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
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
    let key = match client_key(&req, &state) {
        Ok(k) => k,
        Err(e) => return e.response(Dialect::OpenaiChat),
    };
    let data: Vec<_> = visible_models(&state, key.as_ref())
        .into_iter()
        .map(|(id, owner)| json!({ "id": id, "object": "model", "created": 0, "owned_by": owner }))
        .collect();
    HttpResponse::Ok().json(json!({ "object": "list", "data": data }))
}

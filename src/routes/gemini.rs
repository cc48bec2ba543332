//! The Gemini surface: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
//! (`alt=sse` or a JSON array), `:countTokens`, `GET /v1beta/models`, and the same under `/v1`
//! (the current google-genai SDK's default). The key may come as `x-goog-api-key`, `?key=` or
//! Bearer; the model may carry a provider prefix (`mock/mock-model`).

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;
use serde_json::{Value, json};

use super::common::{check_model_name, echo, intake, meta, permitted_targets, refuse};
use super::openai::visible_models;
use crate::auth::client_key;
use crate::error::GatewayError;
use crate::pipeline::{self, Inbound, Op};
use crate::protocol::Dialect;
use crate::protocol::shape::Surface;
use crate::state::AppState;
use crate::translate::canonical::estimate_request;
use crate::translate::decode_request;

const D: Dialect = Dialect::Gemini;

/// `POST /{version}/models/{model}:{method}`
pub async fn call(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    tail: web::Path<(String, String)>,
) -> HttpResponse {
    let (_, tail) = tail.into_inner();
    let inp = match intake(&req, &state, payload, Surface::Generate(D), true).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some((model, method)) = tail.rsplit_once(':') else {
        let e = GatewayError::NotFound(format!("expected models/{{model}}:generateContent, got `{}`", echo(&tail, 64)));
        return refuse(&req, &state, inp.key.as_ref(), "", D, e);
    };
    let model = model.strip_prefix("models/").unwrap_or(model).to_string();
    if let Err(e) = check_model_name(&model) {
        return refuse(&req, &state, inp.key.as_ref(), "", D, e);
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => {
            // Counting is answered locally, but only for a model this key may use.
            if let Err(e) = permitted_targets(&state, inp.key.as_ref(), &model) {
                return refuse(&req, &state, inp.key.as_ref(), &model, D, e);
            }
            return count_tokens(&inp.body);
        }
        other => {
            let e = GatewayError::NotFound(format!("method `{}` is not supported", echo(other, 64)));
            return refuse(&req, &state, inp.key.as_ref(), &model, D, e);
        }
    };
    let key = inp.key.clone();
    let mut plan = inp.plan(D, Op::Generate);
    plan.gemini_sse = req.query_string().split('&').any(|kv| kv == "alt=sse");
    let inbound = Inbound { model, stream, plan, pinned: None };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

fn count_tokens(body: &[u8]) -> HttpResponse {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // countTokens may wrap the request in `generateContentRequest`.
    let inner = v.get("generateContentRequest").cloned().unwrap_or(v);
    match decode_request(D, &inner, false) {
        Ok(r) => HttpResponse::Ok().json(json!({ "totalTokens": estimate_request(&r) })),
        Err(e) => GatewayError::BadRequest(e).response(D),
    }
}

/// `GET /{version}/models`
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let key = match client_key(&req, &state, D) {
        Ok(k) => k,
        Err(e) => return e.response(D),
    };
    let reg = state.runtime.registry();
    let models: Vec<Value> = visible_models(&state, key.as_ref())
        .into_iter()
        .map(|(id, _)| {
            let limit = id.split_once('/').and_then(|(p, m)| reg.model(p, m)).and_then(|m| m.max_output);
            let mut v = json!({
                "name": format!("models/{id}"), "version": "001", "displayName": id,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            });
            if let Some(l) = limit {
                v["outputTokenLimit"] = json!(l);
            }
            v
        })
        .collect();
    HttpResponse::Ok().json(json!({ "models": models }))
}

//! Helpers shared by the client surfaces: bounded body reading and request metadata.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use futures_util::StreamExt;

use crate::auth::client_key;
use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::pipeline::RequestMeta;
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::state::AppState;

/// Reads the body up to `server.max_body_mib`, answering 413 (in the caller's shape) beyond.
pub async fn read_body(mut payload: web::Payload, state: &AppState) -> Result<bytes::Bytes, GatewayError> {
    let limit = state.config.server.max_body_mib.saturating_mul(1024 * 1024);
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| GatewayError::BadRequest("the request body could not be read".into()))?;
        if buf.len() + chunk.len() > limit {
            return Err(GatewayError::PayloadTooLarge(format!(
                "the request body exceeds {} MiB",
                state.config.server.max_body_mib
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Request metadata: id (the client's `x-request-id` when sane, else a new UUIDv7), key, timing.
pub fn meta(req: &HttpRequest, key: Option<KeyInfo>) -> RequestMeta {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    RequestMeta {
        request_id,
        key,
        method: req.method().to_string(),
        path: req.path().to_string(),
        started: Instant::now(),
        ts: actors::clock::now_ms(),
        inject_panic: inject_panic(req),
    }
}

#[cfg(feature = "fault-injection")]
fn inject_panic(req: &HttpRequest) -> bool {
    req.headers().get("x-omnigate-inject-fault").and_then(|v| v.to_str().ok()) == Some("panic")
}

#[cfg(not(feature = "fault-injection"))]
fn inject_panic(_: &HttpRequest) -> bool {
    false
}

/// A client request past its gateway key, bounded read and top-level JSON parse.
pub struct Intake {
    /// The caller's key.
    pub key: Option<KeyInfo>,
    /// The raw body.
    pub body: bytes::Bytes,
    /// The body's top level.
    pub object: RawObject,
}

impl Intake {
    /// The body's `model`, required to be a non-empty string.
    pub fn model(&self) -> Result<String, GatewayError> {
        self.object
            .parse::<String>("model")
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| GatewayError::BadRequest("`model` is required and must be a string".into()))
    }

    /// The body's `stream` flag.
    pub fn stream(&self) -> bool {
        self.object.parse::<bool>("stream").unwrap_or(false)
    }
}

/// Checks the key, reads and parses the body; any failure is answered in `dialect`'s shape.
/// An empty body is an empty object when `empty_ok` (Gemini's countTokens), else an error.
pub async fn intake(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    dialect: Dialect,
    empty_ok: bool,
) -> Result<Intake, HttpResponse> {
    let run = async {
        let key = client_key(req, state)?;
        let body = read_body(payload, state).await?;
        let object = if empty_ok && body.is_empty() { RawObject::default() } else { parse_object(&body)? };
        Ok::<_, GatewayError>(Intake { key, body, object })
    };
    run.await.map_err(|e| e.response(dialect))
}

/// Parses a body's top level as a JSON object.
pub fn parse_object(body: &[u8]) -> Result<RawObject, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::BadRequest("the request body is empty; expected a JSON object".into()));
    }
    serde_json::from_slice(body)
        .map_err(|e| GatewayError::BadRequest(format!("the request body is not a valid JSON object: {e}")))
}

/// `intake` plus the required `model`, both failures answered in `dialect`'s shape.
pub async fn intake_model(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    dialect: Dialect,
) -> Result<(Intake, String), HttpResponse> {
    let inp = intake(req, state, payload, dialect, false).await?;
    let model = inp.model().map_err(|e| e.response(dialect))?;
    Ok((inp, model))
}

/// A generation request of `dialect` (body with `model` and `stream`) served through the pipeline.
pub async fn generate(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<actix::Addr<actors::executor::actor::ExecutorActor>>,
    payload: web::Payload,
    dialect: Dialect,
) -> HttpResponse {
    let (inp, model) = match intake_model(&req, &state, payload, dialect).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let stream = inp.stream();
    let plan = crate::pipeline::Plan::new(dialect, crate::pipeline::Op::Generate, inp.object);
    let inbound = crate::pipeline::Inbound { model, stream, plan, pinned: None };
    crate::pipeline::serve(&state, &exec, meta(&req, inp.key), inbound).await
}

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
use crate::protocol::shape::{self, Surface};
use crate::state::AppState;

/// Longest `model` (and other client identifiers that reach logs and the database), in bytes.
pub const MAX_IDENT_BYTES: usize = 256;

/// Reads the body up to `limit` bytes (413 beyond) within `server.body_timeout_secs` (408 and
/// the connection closed after). A declared `Content-Length` over the limit is refused before a
/// byte is read; an honest one sizes the buffer once, so a large body is not copied while growing.
pub async fn read_body_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    state: &AppState,
    limit: usize,
) -> Result<bytes::Bytes, GatewayError> {
    let too_large = || GatewayError::PayloadTooLarge(format!("the request body exceeds {}", human_bytes(limit)));
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let secs = state.config.server.body_timeout_secs.max(1);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    loop {
        let next = match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(n) => n,
            Err(_) => {
                return Err(GatewayError::RequestTimeout(format!("the request body did not arrive within {secs} s")));
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| GatewayError::BadRequest("the request body could not be read".into()))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads a client request body up to `server.max_body_mib`.
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<bytes::Bytes, GatewayError> {
    read_body_limited(req, payload, state, state.config.server.max_body_mib.saturating_mul(1024 * 1024)).await
}

fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// At most `max` characters of client input, for echoing in an error message.
pub fn echo(input: &str, max: usize) -> String {
    let mut out: String = input.chars().take(max).filter(|c| !c.is_control()).collect();
    if input.chars().count() > max {
        out.push('…');
    }
    out
}

/// Request metadata: id (the client's `x-request-id` when sane, else a new UUIDv7), key, timing.
pub fn meta(req: &HttpRequest, key: Option<KeyInfo>) -> RequestMeta {
    let sane = |v: &&str| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic());
    let given = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(sane).map(str::to_string);
    let client_request_id = given.is_some();
    let request_id = given.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let cache = header(crate::cache::HEADER).and_then(|v| match v.trim() {
        v if v.eq_ignore_ascii_case("on") => Some(true),
        v if v.eq_ignore_ascii_case("off") => Some(false),
        _ => None,
    });
    let idempotency_key = header("idempotency-key").map(str::trim).filter(sane).map(str::to_string);
    RequestMeta {
        request_id,
        client_request_id,
        cache,
        idempotency_key,
        key,
        method: req.method().to_string(),
        path: req.path().to_string(),
        started: Instant::now(),
        ts: actors::clock::now_ms(),
        inject_panic: inject_panic(req),
        session: crate::pipeline::session::from_headers(req.headers()),
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
    /// The client headers an upstream may see (`providers::call::FORWARDABLE`).
    pub headers: Vec<(String, String)>,
    /// The request's `x-omnigate-thinking` header.
    pub thinking: Option<String>,
}

impl Intake {
    /// A plan for this request (its body and forwardable headers).
    pub fn plan(self, dialect: Dialect, op: crate::pipeline::Op) -> crate::pipeline::Plan {
        let mut plan = crate::pipeline::Plan::new(dialect, op, self.object);
        plan.client_headers = self.headers;
        plan.thinking_header = self.thinking;
        plan
    }
}

impl Intake {
    /// The body's `model`: a non-empty string of at most `MAX_IDENT_BYTES` bytes.
    pub fn model(&self) -> Result<String, GatewayError> {
        let model = self
            .object
            .parse::<String>("model")
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| GatewayError::BadRequest("`model` is required and must be a string".into()))?;
        check_model_name(&model)?;
        Ok(model)
    }

    /// The body's `stream` flag.
    pub fn stream(&self) -> bool {
        self.object.parse::<bool>("stream").unwrap_or(false)
    }
}

/// Refuses a model name longer than `MAX_IDENT_BYTES` (it would reach logs and usage rows).
pub fn check_model_name(model: &str) -> Result<(), GatewayError> {
    if model.len() > MAX_IDENT_BYTES {
        return Err(GatewayError::BadRequest(format!(
            "`model` is {} bytes long; at most {MAX_IDENT_BYTES} are allowed (it starts `{}`)",
            model.len(),
            echo(model, 32)
        )));
    }
    Ok(())
}

/// Checks the key (before a byte of the body is read), reads and parses the body and checks the
/// types of its well-known fields; any failure is answered in `dialect`'s shape. An empty body is
/// an empty object when `empty_ok` (Gemini's countTokens), else an error.
pub async fn intake(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    surface: Surface,
    empty_ok: bool,
) -> Result<Intake, HttpResponse> {
    let dialect = surface.dialect();
    let key = client_key(req, state, dialect).map_err(|e| refuse(req, state, None, "", dialect, e))?;
    let run = async {
        let body = read_body(req, payload, state).await?;
        let object = if empty_ok && body.is_empty() { RawObject::default() } else { parse_object(&body)? };
        shape::check(surface, &object).map_err(GatewayError::BadRequest)?;
        if !empty_ok {
            shape::required(surface, &object).map_err(GatewayError::BadRequest)?;
        }
        Ok::<_, GatewayError>((body, object))
    };
    let (body, object) = run.await.map_err(|e| refuse(req, state, key.as_ref(), "", dialect, e))?;
    let headers = crate::providers::call::forwardable(req.headers());
    let thinking =
        req.headers().get(crate::translate::thinking::HEADER).and_then(|v| v.to_str().ok()).map(|s| echo(s, 32));
    Ok(Intake { key, body, object, headers, thinking })
}

/// Answers a request refused before the pipeline in `dialect`'s shape, and records its usage row
/// (status and error, the key when known, the model when read): every request leaves one.
pub fn refuse(
    req: &HttpRequest,
    state: &AppState,
    key: Option<&KeyInfo>,
    model: &str,
    dialect: Dialect,
    err: GatewayError,
) -> HttpResponse {
    let m = meta(req, key.cloned());
    if let Some(sink) = &state.runtime.usage_inbox {
        sink.send(actors::usage::UsageEvent {
            ts: m.ts,
            request_id: m.request_id.clone(),
            key_name: key.map(|k| k.name.clone()),
            client_dialect: dialect.as_str().to_string(),
            method: m.method,
            path: m.path,
            model: model.to_string(),
            status: err.status().as_u16(),
            error: Some(err.to_string()),
            ..Default::default()
        });
    }
    let mut resp = err.response(dialect);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&m.request_id) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
    }
    resp
}

/// Parses a body's top level as a JSON object.
pub fn parse_object(body: &[u8]) -> Result<RawObject, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::BadRequest("the request body is empty; expected a JSON object".into()));
    }
    serde_json::from_slice(body).map_err(|e| {
        GatewayError::BadRequest(format!("the request body is not a valid JSON object: {}", echo(&e.to_string(), 160)))
    })
}

/// The targets `model` resolves to that `key` may use (403 when none; 404 for an unknown model).
pub fn permitted_targets(
    state: &AppState,
    key: Option<&KeyInfo>,
    model: &str,
) -> Result<(std::sync::Arc<crate::providers::Registry>, Vec<crate::pipeline::resolve::Target>), GatewayError> {
    let reg = state.runtime.registry();
    let targets = crate::pipeline::resolve::resolve(&reg, model, None)?;
    let targets = crate::pipeline::authorize(key, model, targets)?;
    Ok((reg, targets))
}

/// `intake` plus the required `model`, both failures answered in the surface's shape.
pub async fn intake_model(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    surface: Surface,
) -> Result<(Intake, String), HttpResponse> {
    let dialect = surface.dialect();
    let inp = intake(req, state, payload, surface, false).await?;
    let model = inp.model().map_err(|e| refuse(req, state, inp.key.as_ref(), "", dialect, e))?;
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
    let (inp, model) = match intake_model(&req, &state, payload, Surface::Generate(dialect)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let stream = inp.stream();
    let key = inp.key.clone();
    let plan = inp.plan(dialect, crate::pipeline::Op::Generate);
    let inbound = crate::pipeline::Inbound { model, stream, plan, pinned: None };
    crate::pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

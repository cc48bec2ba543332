//! Helpers shared by the client surfaces: bounded body reading and request metadata.

use std::time::Instant;

use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use futures_util::StreamExt;

use crate::error::GatewayError;
use crate::keys::KeyInfo;
use crate::pipeline::RequestMeta;
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

//! Reads a client's `multipart/form-data` body into a `Form`: text fields into memory (each and
//! all of them bounded), file parts streamed to spool files in the data directory, every file
//! bounded by the surface's limit. A body over a limit is refused (413) without keeping the rest:
//! what is left of it is read and dropped (bounded) so the client, still sending, gets the answer.
//!
//! The parser is `actix-multipart` (actix-extras): it streams each part as it arrives, so nothing
//! here needs the whole body, and it is the one kept in step with actix-web's payload types.

use std::cell::RefCell;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_multipart::{Field, Multipart};
use actix_web::error::PayloadError;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::{Form, Part, PartBody, Spool};
use crate::error::GatewayError;

/// Spool file names start with this (the start-up sweep removes only these).
pub const PREFIX: &str = "og-upload-";

/// Largest text field, bytes (an image edit's prompt is at most 32,000 characters).
const MAX_TEXT: usize = 128 * 1024;
/// Largest sum of all text fields, bytes.
const MAX_TEXTS: usize = 512 * 1024;
/// Most parts in a form.
const MAX_PARTS: usize = 64;
/// Longest field name or file name kept, bytes.
const MAX_NAME: usize = 256;
/// Bytes gathered before a write to the spool file.
const WRITE_BUF: usize = 256 * 1024;

/// What a surface accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file, bytes.
    pub per_file: u64,
    /// Most files.
    pub max_files: usize,
}

/// The client's payload, shared so what the parser did not read can still be drained.
#[derive(Clone)]
struct Shared(Rc<RefCell<web::Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut p = self.0.borrow_mut();
        Pin::new(&mut *p).poll_next(cx)
    }
}

/// Reads the form of `req` (spooling into `dir`) within `timeout`. A refusal for size drains the
/// rest of the body first, when its declared length is at most four times what is allowed.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    dir: PathBuf,
    limits: Limits,
    timeout: Duration,
) -> Result<Form, GatewayError> {
    let ct = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(GatewayError::BadRequest(
            "this endpoint takes a multipart/form-data body (`Content-Type: multipart/form-data; boundary=...`)".into(),
        ));
    }
    let allowed = limits.per_file.saturating_mul(limits.max_files as u64).saturating_add(MAX_TEXTS as u64 + 64 * 1024);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > allowed.saturating_mul(4)) {
        return Err(too_large(limits));
    }
    let shared = Shared(Rc::new(RefCell::new(payload)));
    let deadline = tokio::time::Instant::now() + timeout;
    let parsed = tokio::time::timeout_at(deadline, parse(req, shared.clone(), dir, limits)).await;
    let result = match parsed {
        Ok(r) => r,
        Err(_) => {
            Err(GatewayError::RequestTimeout(format!("the request body did not arrive within {} s", timeout.as_secs())))
        }
    };
    if let Err(GatewayError::PayloadTooLarge(_)) = &result {
        // Read and drop the rest (never kept), so the client reads the 413 instead of a reset.
        let cap = allowed.saturating_mul(4);
        let mut seen = 0u64;
        let mut rest = shared;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, rest.next()).await {
            seen += chunk.len() as u64;
            if seen > cap {
                break;
            }
        }
    }
    result
}

fn too_large(limits: Limits) -> GatewayError {
    GatewayError::PayloadTooLarge(format!(
        "an uploaded file exceeds {} MiB, the largest this endpoint accepts",
        limits.per_file / (1024 * 1024)
    ))
}

fn unreadable(e: &actix_multipart::MultipartError) -> GatewayError {
    GatewayError::BadRequest(format!(
        "the multipart body could not be read: {}",
        crate::routes::common::echo(&e.to_string(), 160)
    ))
}

async fn parse(req: &HttpRequest, shared: Shared, dir: PathBuf, limits: Limits) -> Result<Form, GatewayError> {
    let mut mp = Multipart::new(req.headers(), shared);
    let mut spool = Spool::default();
    let mut parts = Vec::new();
    let mut texts = 0usize;
    let mut files = 0usize;
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(|e| unreadable(&e))?;
        if parts.len() >= MAX_PARTS {
            return Err(GatewayError::BadRequest(format!("the form has more than {MAX_PARTS} parts")));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(GatewayError::BadRequest("a form part has no name, or one too long".into()));
        }
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|f| crate::routes::common::echo(f, MAX_NAME));
        match filename {
            Some(filename) => {
                files += 1;
                if files > limits.max_files {
                    return Err(GatewayError::BadRequest(format!(
                        "the form has more than {} files, the most this endpoint accepts",
                        limits.max_files
                    )));
                }
                let content_type = field.content_type().map(|m| m.essence_str().chars().take(MAX_NAME).collect());
                let path = dir.join(format!("{PREFIX}{}", uuid::Uuid::new_v4().simple()));
                spool.own(path.clone());
                let len = spool_file(&mut field, &path, limits).await?;
                parts.push(Part { name, body: PartBody::File { path, len, filename, content_type } });
            }
            None => {
                let text = read_text(&mut field, &name).await?;
                texts += text.len();
                if texts > MAX_TEXTS {
                    return Err(GatewayError::PayloadTooLarge(format!(
                        "the form's text fields exceed {} KiB",
                        MAX_TEXTS / 1024
                    )));
                }
                parts.push(Part { name, body: PartBody::Text(text) });
            }
        }
    }
    Ok(Form::new(parts, spool))
}

async fn read_text(field: &mut Field, name: &str) -> Result<String, GatewayError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        if buf.len() + chunk.len() > MAX_TEXT {
            return Err(GatewayError::PayloadTooLarge(format!(
                "the form field `{}` exceeds {} KiB",
                crate::routes::common::echo(name, 64),
                MAX_TEXT / 1024
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf.to_vec()).map_err(|_| {
        GatewayError::BadRequest(format!(
            "the form field `{}` is not UTF-8 text",
            crate::routes::common::echo(name, 64)
        ))
    })
}

/// Streams one file part to `path`; its size.
async fn spool_file(field: &mut Field, path: &PathBuf, limits: Limits) -> Result<u64, GatewayError> {
    let io = |_: std::io::Error| GatewayError::Internal("the upload could not be spooled to disk".into());
    std::fs::create_dir_all(path.parent().unwrap_or(path)).map_err(io)?;
    // Created before any await: a request dropped from here on finds the file to remove.
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut buf = BytesMut::with_capacity(WRITE_BUF);
    let mut len = 0u64;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        len += chunk.len() as u64;
        if len > limits.per_file {
            return Err(too_large(limits));
        }
        buf.extend_from_slice(&chunk);
        if buf.len() >= WRITE_BUF {
            file.write_all(&buf).await.map_err(io)?;
            buf.clear();
        }
    }
    file.write_all(&buf).await.map_err(io)?;
    file.flush().await.map_err(io)?;
    Ok(len)
}

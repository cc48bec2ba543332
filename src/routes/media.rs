//! The OpenAI-shaped multipart and audio surfaces: `/v1/audio/transcriptions`,
//! `/v1/audio/translations` and `/v1/images/edits` (multipart forms: the key is checked first,
//! then the form is read with its files spooled to disk, `uploads::intake`) and
//! `/v1/audio/speech` (JSON, read like the other surfaces). Each hands the pipeline a plan of its
//! own `Op`; errors are OpenAI's shape and every refusal leaves a usage row.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, web};
use actors::executor::actor::ExecutorActor;

use super::common::{check_model_name, intake_model, meta, refuse};
use crate::auth::client_key;
use crate::error::GatewayError;
use crate::pipeline::{self, Inbound, Op, Plan};
use crate::protocol::Dialect;
use crate::protocol::shape::Surface;
use crate::state::AppState;
use crate::uploads::intake::{self, Limits};
use crate::uploads::{Form, spool_dir};

const MIB: u64 = 1024 * 1024;

/// Most image files an edit takes: 16 images (OpenAI's limit for the GPT image models) and a mask.
const MAX_EDIT_FILES: usize = 17;

/// The form's `model`, and the file parts the surface needs, or the 400 naming what is missing.
fn required(form: &Form, op: Op) -> Result<String, GatewayError> {
    let model = form
        .text("model")
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| GatewayError::BadRequest("`model` is required (a form field)".into()))?
        .to_string();
    check_model_name(&model)?;
    match op {
        Op::ImageEdits => {
            if form.files(&["image", "image[]"]) == 0 {
                return Err(GatewayError::BadRequest("`image` is required (one or more image files)".into()));
            }
            if form.text("prompt").is_none_or(str::is_empty) {
                return Err(GatewayError::BadRequest("`prompt` is required".into()));
            }
        }
        _ if form.files(&["file"]) == 0 => {
            return Err(GatewayError::BadRequest("`file` is required (an audio file)".into()));
        }
        _ => {}
    }
    Ok(model)
}

async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
    op: Op,
) -> HttpResponse {
    let dialect = Dialect::OpenaiChat;
    let key = match client_key(&req, &state, dialect) {
        Ok(k) => k,
        Err(e) => return refuse(&req, &state, None, "", dialect, e),
    };
    let server = &state.config.server;
    let limits = match op {
        Op::ImageEdits => {
            Limits { per_file: server.max_image_upload_mib.saturating_mul(MIB), max_files: MAX_EDIT_FILES }
        }
        _ => Limits { per_file: server.max_audio_upload_mib.saturating_mul(MIB), max_files: 1 },
    };
    let timeout = Duration::from_secs(server.body_timeout_secs.max(1));
    let dir = spool_dir(&state.config.data_dir());
    let form = match intake::read(&req, payload, dir, limits, timeout).await {
        Ok(f) => f,
        Err(e) => return refuse(&req, &state, key.as_ref(), "", dialect, e),
    };
    let model = match required(&form, op) {
        Ok(m) => m,
        Err(e) => return refuse(&req, &state, key.as_ref(), form.text("model").unwrap_or(""), dialect, e),
    };
    let stream = form.text("stream").is_some_and(|s| s.eq_ignore_ascii_case("true"));
    let mut plan = Plan::new(dialect, op, form.as_object());
    plan.client_headers = crate::providers::call::forwardable(req.headers());
    plan.form = Some(Arc::new(form));
    let inbound = Inbound { model, stream, plan, pinned: None };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

/// `POST /v1/audio/transcriptions` (multipart)
pub async fn transcriptions(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    upload(req, state, exec, payload, Op::Transcriptions).await
}

/// `POST /v1/audio/translations` (multipart)
pub async fn translations(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    upload(req, state, exec, payload, Op::Translations).await
}

/// `POST /v1/images/edits` (multipart)
pub async fn image_edits(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    upload(req, state, exec, payload, Op::ImageEdits).await
}

/// `POST /v1/audio/speech` (JSON in, audio streamed out)
pub async fn speech(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    let (inp, model) = match intake_model(&req, &state, payload, Surface::Speech).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let key = inp.key.clone();
    let plan = inp.plan(Dialect::OpenaiChat, Op::Speech);
    let inbound = Inbound { model, stream: true, plan, pinned: None };
    pipeline::serve(&state, &exec, meta(&req, key), inbound).await
}

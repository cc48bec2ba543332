//! Attempts of the multipart and audio surfaces: image edits, audio transcriptions and
//! translations (the client's form, spooled once, re-encoded for every attempt with `model` set
//! to the attempt's and streamed from disk: `uploads::Form::encoded`) and text to speech (the
//! JSON body with `model` rewritten; the audio relayed as it arrives). Each goes only to a
//! provider whose `serves` names it (`surfaces::check`). It builds calls only.

use actors::executor::{ResponseAdapter, Target, UpstreamCall};

use super::plan::{Attempt, Op, Plan};
use super::surfaces::{check, http, operation};
use crate::error::GatewayError;
use crate::providers::call::Operation;
use crate::translate::media::Relay;
use crate::translate::whole::{Answer, WholeJson};

/// The call of one attempt of a media `plan`.
pub fn build(plan: &Plan, a: &Attempt<'_>) -> Result<UpstreamCall, GatewayError> {
    let Some(op) = operation(plan.op) else {
        return Err(GatewayError::Internal("not a media surface".into()));
    };
    check(a, op)?;
    if plan.op == Op::Speech {
        return speech(plan, a);
    }
    let Some(form) = plan.form.as_ref() else {
        return Err(GatewayError::Internal("a multipart surface without its form".into()));
    };
    let streamed = form.text("stream").is_some_and(|s| s.eq_ignore_ascii_case("true"));
    let (stream, adapter): (bool, Box<dyn ResponseAdapter>) = match plan.op {
        Op::ImageEdits if streamed => {
            return Err(GatewayError::BadRequest(
                "streamed image edits (`stream=true`) are not served; ask without `stream`".into(),
            ));
        }
        Op::ImageEdits => (false, Box::new(WholeJson::new(Answer::ImageEdits))),
        Op::Transcriptions => (streamed, Box::new(Relay::transcript())),
        // Translations have no `stream` field (openai-python `translation_create_params.py`).
        Op::Translations => (false, Box::new(Relay::transcript())),
        Op::Speech
        | Op::Generate
        | Op::Embeddings
        | Op::CountTokens
        | Op::Completions
        | Op::Moderations
        | Op::Rerank
        | Op::Images => return Err(GatewayError::Internal("not a multipart surface".into())),
    };
    let (body, content_type) = form.encoded(a.model);
    let target = match http(plan, a, op, stream, bytes::Bytes::new()) {
        Target::Http { method, url, mut headers, .. } => {
            set_header(&mut headers, "content-type", &content_type);
            Target::Upload { method, url, headers, body }
        }
        other @ (Target::Upload { .. } | Target::Local(_)) => other,
    };
    Ok(UpstreamCall::new(target, stream, adapter))
}

/// Text to speech: the body with `model` rewritten; the audio is streamed back as it comes.
fn speech(plan: &Plan, a: &Attempt<'_>) -> Result<UpstreamCall, GatewayError> {
    let mut body = plan.body.clone();
    body.set("model", &a.model);
    let characters = plan.body.parse::<String>("input").map_or(0, |s| s.chars().count() as u64);
    let mut target = http(plan, a, Operation::Speech, true, bytes::Bytes::from(body.to_vec()));
    if let Target::Http { headers, .. } = &mut target {
        // Audio (or, with `stream_format=sse`, events): whatever the upstream makes of the request.
        set_header(headers, "accept", "*/*");
    }
    Ok(UpstreamCall::new(target, true, Box::new(Relay::speech(characters))))
}

fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value.to_string()));
}

/// The `Content-Type` an answer goes back with: the upstream's own for the surfaces that pass it
/// on (audio, text transcripts, subtitles), else the dialect's `default`.
pub fn answer_type(op: Op, upstream: Option<String>, default: &'static str) -> String {
    match upstream {
        Some(ct) if op.passes_content_type() && !ct.is_empty() => ct,
        _ => default.to_string(),
    }
}

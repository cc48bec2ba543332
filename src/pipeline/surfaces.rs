//! Attempts of the surfaces beyond generation: embeddings (OpenAI passthrough, Gemini
//! translated), Anthropic token counts, legacy completions (passthrough where the provider serves
//! them, else translated to chat and wrapped by `translate::completions::FromChat`), and
//! moderations, rerank and image generation (passthrough where the catalog or the provider's
//! `serves` says it serves them; a 400 naming the provider otherwise); the multipart and audio
//! surfaces are built by `pipeline::media` under the same `serves` gate. It builds calls only;
//! routing stays the pipeline's.

use actors::executor::{ResponseAdapter, UpstreamCall};

use super::plan::{Attempt, Op, Plan};
use super::resolve::Target;
use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::providers::call::{Operation, Outgoing, http_target, passed_on};
use crate::providers::{Extra, ProviderInfo, Registry};
use crate::translate::completions::{CompletionsPassthrough, FromChat};
use crate::translate::gemini_embed::{GeminiEmbeddings, to_gemini};
use crate::translate::passthrough::{CountTokensPassthrough, EmbeddingsPassthrough};
use crate::translate::whole::{Answer, WholeJson};

/// The call for one attempt of a non-generation `plan`; `None` for a generation.
pub fn build(plan: &Plan, a: &Attempt<'_>) -> Option<Result<UpstreamCall, GatewayError>> {
    match plan.op {
        Op::Generate => None,
        Op::Completions => Some(completions(plan, a)),
        Op::Embeddings if a.provider.dialect == Dialect::Gemini && !a.provider.local => {
            Some(gemini_embeddings(plan, a))
        }
        Op::Embeddings => Some(forward(plan, a, Operation::Embeddings)),
        Op::CountTokens => Some(forward(plan, a, Operation::CountTokens)),
        Op::Moderations => Some(forward(plan, a, Operation::Moderations)),
        Op::Rerank => Some(forward(plan, a, Operation::Rerank)),
        Op::Images => Some(forward(plan, a, Operation::Images)),
        Op::ImageEdits | Op::Transcriptions | Op::Translations | Op::Speech => Some(super::media::build(plan, a)),
    }
}

/// The provider call's operation of a surface op (`None`: generation and completions, which
/// every provider can take in some form).
pub fn operation(op: Op) -> Option<Operation> {
    match op {
        Op::Generate | Op::Completions => None,
        Op::Embeddings => Some(Operation::Embeddings),
        Op::CountTokens => Some(Operation::CountTokens),
        Op::Moderations => Some(Operation::Moderations),
        Op::Rerank => Some(Operation::Rerank),
        Op::Images => Some(Operation::Images),
        Op::ImageEdits => Some(Operation::ImageEdits),
        Op::Transcriptions => Some(Operation::Transcriptions),
        Op::Translations => Some(Operation::Translations),
        Op::Speech => Some(Operation::Speech),
    }
}

/// Keeps the targets whose provider can serve `op` at all (a combo of a provider that serves
/// rerank and one that does not tries only the first); none left is the first one's 400, before
/// any account is leased.
pub fn servable(reg: &Registry, op: Op, targets: Vec<Target>) -> Result<Vec<Target>, GatewayError> {
    let Some(operation) = operation(op) else { return Ok(targets) };
    let mut first: Option<GatewayError> = None;
    let kept: Vec<Target> = targets
        .into_iter()
        .filter(|t| match reg.provider(&t.provider).map(|p| refusal(p, operation)) {
            Some(Err(e)) => {
                first.get_or_insert(e);
                false
            }
            Some(Ok(())) | None => true,
        })
        .collect();
    match (kept.is_empty(), first) {
        (true, Some(e)) => Err(e),
        _ => Ok(kept),
    }
}

/// Whether `provider` can take `op` as it came, else the client's 400.
pub(super) fn check(a: &Attempt<'_>, op: Operation) -> Result<(), GatewayError> {
    refusal(a.provider, op)
}

fn refusal(p: &ProviderInfo, op: Operation) -> Result<(), GatewayError> {
    let (ok, what) = match op {
        // OpenAI's shape as it came, or translated for Gemini (`gemini_embeddings`).
        Operation::Embeddings => (matches!(p.dialect, Dialect::OpenaiChat | Dialect::Gemini), "serve embeddings"),
        Operation::CountTokens => (p.dialect == Dialect::Anthropic, "count tokens"),
        Operation::Moderations => (p.serves.has(Extra::Moderations), "serve moderations (/v1/moderations)"),
        Operation::Rerank => (p.serves.has(Extra::Rerank), "serve rerank (/v1/rerank)"),
        Operation::Images => (p.serves.has(Extra::Images), "generate images (/v1/images/generations)"),
        Operation::ImageEdits => (p.serves.has(Extra::ImageEdits), "edit images (/v1/images/edits)"),
        Operation::Transcriptions => {
            (p.serves.has(Extra::Transcriptions), "transcribe audio (/v1/audio/transcriptions)")
        }
        Operation::Translations => (p.serves.has(Extra::Translations), "translate audio (/v1/audio/translations)"),
        Operation::Speech => (p.serves.has(Extra::Speech), "generate speech (/v1/audio/speech)"),
        Operation::Completions => (p.serves.has(Extra::Completions), "serve completions"),
        Operation::Generate => (true, "generate"),
    };
    if !ok || p.local {
        return Err(GatewayError::BadRequest(format!("provider `{}` cannot {what}", p.id)));
    }
    Ok(())
}

/// The client body, only `model` rewritten, to the provider's endpoint for `op`.
fn forward(plan: &Plan, a: &Attempt<'_>, op: Operation) -> Result<UpstreamCall, GatewayError> {
    check(a, op)?;
    if op == Operation::Images && plan.body.parse::<bool>("stream") == Some(true) {
        return Err(GatewayError::BadRequest(
            "streamed image generation (`stream: true`) is not served; ask without `stream`".into(),
        ));
    }
    let mut body = plan.body.clone();
    body.set("model", &a.model);
    let adapter: Box<dyn ResponseAdapter> = match op {
        Operation::CountTokens => Box::new(CountTokensPassthrough),
        Operation::Moderations => Box::new(WholeJson::new(Answer::Moderations)),
        Operation::Rerank => Box::new(WholeJson::new(Answer::Rerank)),
        Operation::Images => Box::new(WholeJson::new(Answer::Images)),
        Operation::Embeddings
        | Operation::Generate
        | Operation::Completions
        | Operation::ImageEdits
        | Operation::Transcriptions
        | Operation::Translations
        | Operation::Speech => Box::new(EmbeddingsPassthrough::default()),
    };
    Ok(UpstreamCall::new(http(plan, a, op, false, bytes::Bytes::from(body.to_vec())), false, adapter))
}

/// The HTTP target of `op`; the attempt's request transforms edit the headers of a completion
/// (the one surface here whose body they also edit).
pub(super) fn http(
    plan: &Plan,
    a: &Attempt<'_>,
    op: Operation,
    stream: bool,
    body: bytes::Bytes,
) -> actors::executor::Target {
    let mut extra = passed_on(&plan.client_headers, plan.client, a.provider.dialect, a.account, &[]);
    if op == Operation::Completions {
        for t in a.transforms {
            super::transform::apply_headers(t, &mut extra);
        }
    }
    let out = Outgoing { op, model: a.model, stream, body, extra };
    http_target(a.provider, &a.lease.base_url, a.lease.credential.as_ref(), out)
}

/// OpenAI embeddings to Gemini's `batchEmbedContents`, answered in OpenAI's shape.
fn gemini_embeddings(plan: &Plan, a: &Attempt<'_>) -> Result<UpstreamCall, GatewayError> {
    let (body, estimate) = to_gemini(&plan.body, a.model).map_err(GatewayError::BadRequest)?;
    let base64 = plan.body.parse::<String>("encoding_format").as_deref() == Some("base64");
    let model = plan.body.parse::<String>("model").unwrap_or_default();
    let adapter = Box::new(GeminiEmbeddings::new(&model, base64, estimate));
    let target = http(plan, a, Operation::Embeddings, false, bytes::Bytes::from(body.to_string()));
    Ok(UpstreamCall::new(target, false, adapter))
}

/// A legacy completion: forwarded to a provider that serves `/completions`, else served as chat.
fn completions(plan: &Plan, a: &Attempt<'_>) -> Result<UpstreamCall, GatewayError> {
    if check(a, Operation::Completions).is_ok() && a.provider.dialect == Dialect::OpenaiChat {
        let mut body = plan.body.clone();
        body.set("model", &a.model);
        let strip = a.stream && !plan.client_wants_usage;
        if strip {
            // Ask for usage so it can be recorded; the adapter hides the extra chunk.
            let mut opts: serde_json::Map<String, serde_json::Value> = body.parse("stream_options").unwrap_or_default();
            opts.insert("include_usage".into(), serde_json::json!(true));
            body.set("stream_options", &opts);
        }
        for t in a.transforms {
            super::transform::apply_body(a.provider.dialect, t, &mut body);
        }
        let adapter = Box::new(CompletionsPassthrough::new(strip, plan.token_estimate()));
        let target = http(plan, a, Operation::Completions, a.stream, bytes::Bytes::from(body.to_vec()));
        return Ok(UpstreamCall::new(target, a.stream, adapter));
    }
    let chat = plan.as_chat().map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let mut call = chat.build(a)?;
    call.adapter = Box::new(FromChat::new(call.adapter));
    Ok(call)
}

//! The request plan: how each attempt's upstream call is built from the client's request. Same
//! dialect on both sides is a passthrough with only `model` rewritten; otherwise the request is
//! decoded once to the canonical hub and encoded per target.

use std::cell::OnceCell;

use actors::executor::{ResponseAdapter, Target as ExecTarget, UpstreamCall};
use actors::router::messages::LeaseGrant;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::providers::call::{CONTEXT_MANAGEMENT_BETA, Operation, Outgoing, http_target, passed_on};
use crate::providers::demo::Echo;
use crate::providers::{AccountOptions, ModelInfo, ProviderInfo};
use crate::translate::adapter::{SsePassthrough, Translating};
use crate::translate::canonical::{Request, estimate_request};
use crate::translate::passthrough::ChatPassthrough;
use crate::translate::rules::{self, Rules, candidates};
use crate::translate::thinking::Policy;
use crate::translate::{EncodeOptions, decode_request, encode_request};

/// Where one attempt goes: the provider and model, their catalog facts and rules, the lease.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The provider.
    pub provider: &'a ProviderInfo,
    /// The model's catalog entry, if known.
    pub info: Option<&'a ModelInfo>,
    /// The account leased.
    pub lease: &'a LeaseGrant,
    /// The account's options.
    pub account: Option<&'a AccountOptions>,
    /// The model family's request rules.
    pub rules: &'a Rules,
    /// The thinking policy for this provider/model (and request).
    pub thinking: Policy,
    /// The upstream model id.
    pub model: &'a str,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// The request transforms (config file and admin API) that cover this attempt, in order.
    pub transforms: &'a [&'a crate::config::transform::TransformEntry],
    /// Told the response id a Responses passthrough sees (`session::ResponseChains`).
    pub on_response_id: Option<&'a super::session::IdHook>,
    /// Mid-stream failover: the text the client already has, for this upstream to continue.
    pub continue_from: Option<&'a str>,
}

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Chat / message / response generation.
    Generate,
    /// OpenAI embeddings.
    Embeddings,
    /// Anthropic token counting (forwarded only to Anthropic-dialect upstreams).
    CountTokens,
    /// OpenAI legacy text completions (forwarded or translated to chat: `surfaces`).
    Completions,
    /// OpenAI moderations (forwarded to providers that serve them).
    Moderations,
    /// Cohere/Jina-style rerank (forwarded to providers that serve it).
    Rerank,
    /// OpenAI image generation (forwarded to providers that serve it).
    Images,
    /// OpenAI image edits (a multipart form, re-encoded per attempt: `pipeline::media`).
    ImageEdits,
    /// OpenAI audio transcription (a multipart form).
    Transcriptions,
    /// OpenAI audio translation to English (a multipart form).
    Translations,
    /// OpenAI text to speech (JSON in, audio streamed out).
    Speech,
}

impl Op {
    /// Whether the answer goes back with the upstream's own `Content-Type` (audio, plain-text
    /// transcripts, subtitles) rather than the dialect's JSON or SSE.
    pub fn passes_content_type(self) -> bool {
        matches!(self, Self::Transcriptions | Self::Translations | Self::Speech | Self::ImageEdits)
    }
}

/// How to build upstream calls for one client request.
#[derive(Debug)]
pub struct Plan {
    /// The client's dialect.
    pub client: Dialect,
    /// The operation.
    pub op: Op,
    /// The client body, top level parsed.
    pub body: RawObject,
    /// OpenAI Chat: the client asked for `stream_options.include_usage`.
    pub client_wants_usage: bool,
    /// Gemini: the client asked for `alt=sse`.
    pub gemini_sse: bool,
    /// The client's forwardable headers (`providers::call::FORWARDABLE`).
    pub client_headers: Vec<(String, String)>,
    /// The client's `x-omnigate-thinking` header.
    pub thinking_header: Option<String>,
    /// The dialect the body is written in, when it is not the one the client wants back (Cursor's
    /// agent mode posts a Responses body to `/chat/completions` and reads a Chat answer).
    pub request_dialect: Dialect,
    /// Mid-stream failover may continue its stream (`resume = true` on the combo): streams are
    /// translated through the hub even when the dialects match, so the gateway holds the client
    /// stream's state.
    pub resumable: bool,
    /// A multipart request's form (its files spooled), re-encoded for every attempt.
    pub form: Option<std::sync::Arc<crate::uploads::Form>>,
    canonical: OnceCell<Result<Request, String>>,
    /// A completion request as the chat request it stands for (made once, on first need).
    chat: OnceCell<Result<Box<Plan>, String>>,
}

impl Plan {
    /// A plan for a client body.
    pub fn new(client: Dialect, op: Op, body: RawObject) -> Self {
        Self {
            client,
            op,
            body,
            client_wants_usage: false,
            gemini_sse: true,
            client_headers: Vec::new(),
            thinking_header: None,
            request_dialect: client,
            resumable: false,
            form: None,
            canonical: OnceCell::new(),
            chat: OnceCell::new(),
        }
    }

    /// A completion request as a chat plan (`translate::completions::to_chat`), for upstreams
    /// that do not serve completions; the reason when it cannot be one.
    pub fn as_chat(&self) -> Result<&Plan, &str> {
        self.chat
            .get_or_init(|| {
                let body = crate::translate::completions::to_chat(&self.body)?;
                let mut chat = Plan::new(Dialect::OpenaiChat, Op::Generate, body);
                chat.client_wants_usage = self.client_wants_usage;
                chat.client_headers = self.client_headers.clone();
                chat.thinking_header = self.thinking_header.clone();
                Ok(Box::new(chat))
            })
            .as_deref()
            .map_err(String::as_str)
    }

    /// The dialect the client speaks.
    pub fn client_dialect(&self) -> Dialect {
        self.client
    }

    /// The client request in canonical form (decoded once, on first need).
    pub fn canonical(&self, stream: bool) -> Result<&Request, GatewayError> {
        self.canonical
            .get_or_init(|| {
                let v: Value = serde_json::from_slice(&self.body.to_vec()).map_err(|e| e.to_string())?;
                decode_request(self.request_dialect, &v, stream)
            })
            .as_ref()
            .map_err(|e| GatewayError::BadRequest(e.clone()))
    }

    /// Estimated input tokens: from the canonical request when it was decoded, else from the
    /// body size (a passthrough never decodes just for an estimate).
    fn input_estimate(&self) -> u64 {
        match self.canonical.get() {
            Some(Ok(r)) => estimate_request(r),
            _ => (self.body.0.iter().map(|(k, v)| k.len() + v.get().len()).sum::<usize>() as u64).div_ceil(4),
        }
    }

    /// The request's estimated input tokens when they exceed a context window of `context`
    /// tokens (`None`: it fits, or it is no generation). Cheap first: a body of at most two bytes
    /// per token of the window fits without decoding; a larger one is decoded once (as the
    /// attempt would be) and estimated, images counting ~1,600 tokens rather than their bytes.
    pub fn exceeds(&self, context: u32, stream: bool) -> Option<u64> {
        if self.op == Op::Completions {
            // A completion is estimated as the chat request it stands for.
            return self.as_chat().ok()?.exceeds(context, stream);
        }
        if self.op != Op::Generate {
            return None;
        }
        let bytes: usize = self.body.0.iter().map(|(k, v)| k.len() + v.get().len()).sum();
        if (bytes as u64) / 2 <= u64::from(context) {
            return None;
        }
        let estimate = estimate_request(self.canonical(stream).ok()?);
        (estimate > u64::from(context)).then_some(estimate)
    }

    /// Tokens the request is expected to use, as rate limiters count them: the input estimate
    /// plus the output tokens asked for, when it asks.
    pub fn token_estimate(&self) -> u64 {
        self.input_estimate().saturating_add(self.output_asked().unwrap_or(0))
    }

    /// The output tokens the request asks for at most, if it says.
    pub fn output_asked(&self) -> Option<u64> {
        ["max_tokens", "max_completion_tokens", "max_output_tokens"]
            .iter()
            .find_map(|k| self.body.parse::<u64>(k))
            .or_else(|| self.body.parse::<Value>("generationConfig").and_then(|g| g["maxOutputTokens"].as_u64()))
    }

    /// Builds one attempt (see `Attempt`).
    pub fn build(&self, a: &Attempt<'_>) -> Result<UpstreamCall, GatewayError> {
        let Attempt {
            provider,
            info,
            lease,
            account,
            rules,
            thinking,
            model,
            stream,
            transforms,
            on_response_id,
            continue_from,
        } = *a;
        // The other surfaces (embeddings, token counts, completions, moderations, rerank).
        if let Some(call) = super::surfaces::build(self, a) {
            return call;
        }
        let passthrough = provider.dialect == self.client
            && self.request_dialect == self.client
            && !(self.resumable && stream)
            && continue_from.is_none()
            && (self.client != Dialect::Gemini || !stream || self.gemini_sse);
        let max_output = info.and_then(|m| m.max_output);
        // One answer per request is all a translation carries; more only where the model can.
        let n = candidates(&self.body);
        if n > 1 && (!passthrough || rules.max_candidates.is_some_and(|m| n > u64::from(m))) {
            return Err(GatewayError::BadRequest(format!(
                "{n} answers per request (`n` / `candidateCount`) cannot be served by `{}/{model}`; ask for one",
                provider.id
            )));
        }
        let mut required_betas: Vec<&str> = Vec::new();
        if passthrough && self.body.get("context_management").is_some() {
            required_betas.push(CONTEXT_MANAGEMENT_BETA);
        }
        let (bytes, adapter): (Bytes, Box<dyn ResponseAdapter>) = if passthrough {
            let mut body = self.body.clone();
            match self.client {
                Dialect::Gemini => {}
                Dialect::OpenaiChat => {
                    body.set("model", &model);
                    if stream && !self.client_wants_usage {
                        // Ask for usage so it can be recorded; the adapter hides the extra chunk.
                        let mut opts: serde_json::Map<String, Value> = body.parse("stream_options").unwrap_or_default();
                        opts.insert("include_usage".into(), json!(true));
                        body.set("stream_options", &opts);
                    }
                }
                Dialect::Anthropic | Dialect::OpenaiResponses => body.set("model", &model),
            }
            crate::translate::envelope::strip_foreign(provider.dialect, &mut body);
            crate::translate::sanitize::mend(provider.dialect, &mut body);
            thinking.apply_raw(provider.dialect, &mut body);
            if provider.dialect == Dialect::Anthropic {
                crate::translate::anthropic::request::fit_thinking(&mut body);
            }
            rules::apply(provider.dialect, rules, max_output, false, &mut body);
            for t in transforms {
                super::transform::apply_body(provider.dialect, t, &mut body);
            }
            let adapter: Box<dyn ResponseAdapter> = match self.client {
                Dialect::OpenaiChat => Box::new(
                    ChatPassthrough::new(stream && !self.client_wants_usage, self.input_estimate())
                        .after_tool_result(self.after_tool_result()),
                ),
                d => Box::new(SsePassthrough::new(d, model, self.options()).on_id(on_response_id.cloned())),
            };
            (Bytes::from(body.to_vec()), adapter)
        } else {
            let mut req = self.canonical(stream)?.clone();
            req.stream = stream;
            if let Some(text) = continue_from {
                super::resume::continue_from(&mut req, provider.dialect, text);
            }
            thinking.apply(&mut req);
            let mut body = encode_request(provider.dialect, &req, model, max_output);
            if let Some(map) = body.as_object_mut() {
                rules::apply(provider.dialect, rules, max_output, true, map);
                for t in transforms {
                    super::transform::apply_body(provider.dialect, t, map);
                }
            }
            let kinds = crate::translate::canonical::tool_kinds(&req.tools);
            let adapter =
                Box::new(Translating::new(self.client, provider.dialect, model, self.options()).with_tool_kinds(kinds));
            (Bytes::from(body.to_string()), adapter)
        };
        let target = if provider.local {
            ExecTarget::Local(Box::new(Echo::new(&bytes, model)))
        } else {
            let mut extra = passed_on(&self.client_headers, self.client, provider.dialect, account, &required_betas);
            for t in transforms {
                super::transform::apply_headers(t, &mut extra);
            }
            let out = Outgoing { op: Operation::Generate, model, stream, body: bytes, extra };
            http_target(provider, &lease.base_url, lease.credential.as_ref(), out)
        };
        Ok(UpstreamCall::new(target, stream, adapter))
    }

    fn options(&self) -> EncodeOptions {
        EncodeOptions {
            include_usage: self.client_wants_usage,
            gemini_sse: self.gemini_sse,
            input_estimate: self.input_estimate(),
            upstream: None,
            after_tool_result: self.after_tool_result(),
        }
    }

    /// Whether the request ends with a tool result (read from the canonical form when there is
    /// one, else from the last message of the raw body).
    fn after_tool_result(&self) -> bool {
        if let Some(Ok(r)) = self.canonical.get() {
            return crate::translate::canonical::ends_with_tool_result(r);
        }
        raw_ends_with_tool_result(self.request_dialect, &self.body)
    }
}

/// Whether a raw client body's last message carries a tool result; only that message is parsed.
fn raw_ends_with_tool_result(dialect: Dialect, body: &RawObject) -> bool {
    let key = match dialect {
        Dialect::OpenaiChat | Dialect::Anthropic => "messages",
        Dialect::OpenaiResponses => "input",
        Dialect::Gemini => "contents",
    };
    let Some(items) = body.parse::<Vec<&serde_json::value::RawValue>>(key) else { return false };
    let Some(last) = items.last().and_then(|l| serde_json::from_str::<Value>(l.get()).ok()) else { return false };
    match dialect {
        Dialect::OpenaiChat => last["role"] == "tool",
        Dialect::Anthropic => {
            last["role"] == "user"
                && last["content"].as_array().is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
        }
        Dialect::OpenaiResponses => last["type"].as_str().is_some_and(|t| t.ends_with("_call_output")),
        Dialect::Gemini => last["parts"].as_array().is_some_and(|p| {
            p.iter().any(|x| x.get("functionResponse").is_some() || x.get("function_response").is_some())
        }),
    }
}

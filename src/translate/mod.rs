//! Turning a client request into an upstream call and the upstream response back into the
//! client's dialect, through the canonical hub (`canonical`). Each dialect module has a request
//! decoder/encoder, a response decoder/encoder and stream decoder/encoder. Same dialect on both
//! sides is a passthrough: bytes flow as they came, only `model` is rewritten.

pub mod adapter;
pub mod anthropic;
pub mod canonical;
pub mod completions;
pub mod envelope;
pub mod errors;
pub mod gemini;
pub mod gemini_embed;
pub mod json;
pub mod media;
pub mod openai_chat;
pub mod passthrough;
pub mod responses;
pub mod rules;
pub mod sanitize;
pub mod think;
pub mod thinking;
pub mod whole;

use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

use crate::protocol::Dialect;
use crate::sse::SseEvent;
use canonical::{Event, Request, Response, UpstreamError};

/// Reads one upstream dialect's stream events into canonical events.
pub trait StreamDecoder: Send {
    /// One upstream SSE event.
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<Event>);
    /// Whether the upstream's own end of stream was seen.
    fn terminated(&self) -> bool;
}

/// Writes canonical events as one client dialect's stream.
pub trait StreamEncoder: Send {
    /// The tools the client declared as something other than a function (only the Responses
    /// encoder has other kinds of items to give back).
    fn declare_tools(&mut self, kinds: &[(String, canonical::ToolKind)]) {
        let _ = kinds;
    }
    /// One canonical event.
    fn event(&mut self, ev: &Event, out: &mut Vec<Bytes>);
    /// The end: closes what is open and emits the dialect's terminal events with `usage`; an
    /// `error` is reported first, and then the stream ends as its dialect ends a failed one (never
    /// with a normal stop reason). An encoder that already relayed an `Event::Error` ends the same
    /// way without a second error.
    fn finish(&mut self, error: Option<&UpstreamError>, usage: TokenUsage, out: &mut Vec<Bytes>);
}

/// Client-side options of a stream encoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    /// OpenAI Chat: the client asked for the usage chunk.
    pub include_usage: bool,
    /// Gemini: `alt=sse` framing (else one JSON array).
    pub gemini_sse: bool,
    /// Estimated input tokens, for dialects that report input before the upstream does.
    pub input_estimate: u64,
    /// The upstream's dialect (set by the adapter): reasoning signatures and opaque data from
    /// another dialect are marked (`envelope`) so they only ever go back to their own provider.
    pub upstream: Option<Dialect>,
    /// The request ends with a tool result: an empty `end_turn` is then the model's answer.
    pub after_tool_result: bool,
}

/// Decodes a client request body of `dialect`.
pub fn decode_request(dialect: Dialect, body: &Value, stream: bool) -> Result<Request, String> {
    match dialect {
        Dialect::OpenaiChat => openai_chat::request::decode(body),
        Dialect::OpenaiResponses => responses::request::decode(body),
        Dialect::Anthropic => anthropic::request::decode(body),
        Dialect::Gemini => gemini::request::decode(body, stream),
    }
}

/// Encodes a canonical request for an upstream of `dialect`.
pub fn encode_request(dialect: Dialect, req: &Request, model: &str, max_output: Option<u32>) -> Value {
    let mut req = std::borrow::Cow::Borrowed(req);
    if let (Some(limit), Some(n)) = (max_output, req.max_tokens)
        && n > limit
    {
        req.to_mut().max_tokens = Some(limit);
    }
    match dialect {
        Dialect::OpenaiChat => openai_chat::request::encode(&req, model),
        Dialect::OpenaiResponses => responses::request::encode(&req, model),
        Dialect::Anthropic => anthropic::request::encode(&req, model, max_output),
        Dialect::Gemini => gemini::request::encode(&req, max_output),
    }
}

/// Decodes a non-streamed upstream body of `dialect`.
pub fn decode_response(dialect: Dialect, body: &Value) -> Result<Response, String> {
    match dialect {
        Dialect::OpenaiChat => openai_chat::response::decode(body),
        Dialect::OpenaiResponses => responses::response::decode(body),
        Dialect::Anthropic => anthropic::response::decode(body),
        Dialect::Gemini => gemini::response::decode(body),
    }
}

/// Encodes a canonical response for a client of `dialect`.
pub fn encode_response(dialect: Dialect, r: &Response) -> Value {
    match dialect {
        Dialect::OpenaiChat => openai_chat::response::encode(r),
        Dialect::OpenaiResponses => responses::response::encode(r),
        Dialect::Anthropic => anthropic::response::encode(r),
        Dialect::Gemini => gemini::response::encode(r),
    }
}

/// A stream decoder for an upstream of `dialect`.
pub fn decoder(dialect: Dialect) -> Box<dyn StreamDecoder> {
    match dialect {
        Dialect::OpenaiChat => Box::new(openai_chat::stream::Decoder::default()),
        Dialect::OpenaiResponses => Box::new(responses::stream::Decoder::default()),
        Dialect::Anthropic => Box::new(anthropic::stream::Decoder::default()),
        Dialect::Gemini => Box::new(gemini::stream::Decoder::default()),
    }
}

/// A stream encoder for a client of `dialect`.
pub fn encoder(dialect: Dialect, model: &str, opts: EncodeOptions) -> Box<dyn StreamEncoder> {
    match dialect {
        Dialect::OpenaiChat => Box::new(openai_chat::stream::Encoder::new(model, opts.include_usage)),
        Dialect::OpenaiResponses => Box::new(responses::stream::Encoder::new(model).from(opts.upstream)),
        Dialect::Anthropic => Box::new(anthropic::stream::Encoder::new(model, opts.input_estimate).from(opts.upstream)),
        Dialect::Gemini => Box::new(gemini::stream::Encoder::new(model, opts.gemini_sse).from(opts.upstream)),
    }
}

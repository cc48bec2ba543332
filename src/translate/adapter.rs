//! Response adapters for the executor: `Translating` (upstream dialect → canonical → client
//! dialect) and `SsePassthrough` (same dialect, bytes forwarded; a shadow encoder only supplies
//! the terminal events when the upstream ended abruptly).

use actors::executor::{AdapterError, ResponseAdapter};
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

use super::canonical::{Accumulator, Event, Response, Stop, estimate_tokens};
use super::{EncodeOptions, StreamDecoder, StreamEncoder, decode_response, decoder, encode_response, encoder};
use crate::protocol::Dialect;
use crate::sse::{SseEvent, SseParser};

/// Upstream usage completed with estimates where the upstream said nothing.
fn merged_usage(acc: &Accumulator, input_estimate: u64) -> TokenUsage {
    let mut u = acc.usage.unwrap_or_default();
    if u.input == 0 {
        u.input = input_estimate;
    }
    if u.output == 0 {
        u.output = estimate_tokens(&acc.output_chars());
    }
    u
}

/// Decodes a whole upstream body into `acc` (parts and usage); an answer without content (and not
/// filtered) is empty, so the executor can fall over to another account.
fn decode_whole(dialect: Dialect, body: &[u8], acc: &mut Accumulator) -> Result<Response, AdapterError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AdapterError::Empty);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| AdapterError::Malformed("the upstream returned invalid JSON".into()))?;
    let r = decode_response(dialect, &v).map_err(AdapterError::Malformed)?;
    if r.parts.is_empty() && r.stop != Stop::ContentFilter {
        return Err(AdapterError::Empty);
    }
    acc.parts.clone_from(&r.parts);
    acc.usage = (!r.usage.is_empty()).then_some(r.usage);
    Ok(r)
}

fn is_content(ev: &Event) -> bool {
    match ev {
        Event::Text(t) | Event::Reasoning(t) => !t.is_empty(),
        Event::ToolStart { .. } | Event::Error(_) | Event::ReasoningOpaque(_) | Event::ReasoningSignature(_) => true,
        Event::Start { .. } | Event::ToolArgs { .. } | Event::Usage(_) | Event::Stop(_) => false,
    }
}

/// Hands decoded events to the accumulator and an encoder, noting whether content came.
fn feed(
    canon: &mut Vec<Event>,
    acc: &mut Accumulator,
    content: &mut bool,
    enc: &mut dyn StreamEncoder,
    out: &mut Vec<Bytes>,
) {
    for ce in canon.drain(..) {
        *content |= is_content(&ce);
        acc.apply(&ce);
        enc.event(&ce, out);
    }
}

/// Translates between two different dialects.
pub struct Translating {
    client: Dialect,
    upstream: Dialect,
    model: String,
    sse: SseParser,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    acc: Accumulator,
    input_estimate: u64,
    content: bool,
    events: Vec<SseEvent>,
    canon: Vec<Event>,
    invalid: u64,
}

impl Translating {
    /// An adapter from `upstream` to `client`; `model` is what the client asked for.
    pub fn new(client: Dialect, upstream: Dialect, model: &str, opts: EncodeOptions) -> Self {
        Self {
            client,
            upstream,
            model: model.to_string(),
            sse: SseParser::new(),
            decoder: decoder(upstream),
            encoder: encoder(client, model, opts),
            acc: Accumulator::default(),
            input_estimate: opts.input_estimate,
            content: false,
            events: Vec::new(),
            canon: Vec::new(),
            invalid: 0,
        }
    }

    fn drain(&mut self, out: &mut Vec<Bytes>) {
        for ev in std::mem::take(&mut self.events) {
            if !ev.data.trim_start().starts_with(['{', '[']) {
                self.invalid += 1;
                continue;
            }
            self.decoder.event(&ev, &mut self.canon);
        }
        feed(&mut self.canon, &mut self.acc, &mut self.content, self.encoder.as_mut(), out);
    }
}

impl ResponseAdapter for Translating {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        self.drain(out);
        Ok(())
    }

    fn finish(&mut self, error: Option<&str>, out: &mut Vec<Bytes>) {
        self.sse.finish(&mut self.events);
        self.drain(out);
        let usage = merged_usage(&self.acc, self.input_estimate);
        self.encoder.finish(error, usage, out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let mut r = decode_whole(self.upstream, &body, &mut self.acc)?;
        self.content = true;
        r.usage = merged_usage(&self.acc, self.input_estimate);
        if r.model.is_empty() {
            r.model.clone_from(&self.model);
        }
        Ok(Bytes::from(encode_response(self.client, &r).to_string()))
    }

    fn has_content(&self) -> bool {
        self.content
    }

    fn terminated(&self) -> bool {
        self.decoder.terminated()
    }

    fn usage(&self) -> TokenUsage {
        merged_usage(&self.acc, self.input_estimate)
    }

    fn dropped_frames(&self) -> u64 {
        self.invalid + self.sse.garbage_lines()
    }
}

/// Same-dialect stream passthrough for Anthropic, Responses and Gemini (`alt=sse`; a Gemini client
/// that wants the JSON-array framing goes through `Translating` instead, since upstreams are always
/// asked for SSE).
pub struct SsePassthrough {
    dialect: Dialect,
    sse: SseParser,
    decoder: Box<dyn StreamDecoder>,
    shadow: Box<dyn StreamEncoder>,
    acc: Accumulator,
    input_estimate: u64,
    content: bool,
    events: Vec<SseEvent>,
    canon: Vec<Event>,
    discard: Vec<Bytes>,
    invalid: u64,
}

impl SsePassthrough {
    /// A passthrough for `dialect`.
    pub fn new(dialect: Dialect, model: &str, opts: EncodeOptions) -> Self {
        Self {
            dialect,
            sse: SseParser::new(),
            decoder: decoder(dialect),
            shadow: encoder(dialect, model, opts),
            acc: Accumulator::default(),
            input_estimate: opts.input_estimate,
            content: false,
            events: Vec::new(),
            canon: Vec::new(),
            discard: Vec::new(),
            invalid: 0,
        }
    }

    fn drain(&mut self, out: &mut Vec<Bytes>) {
        for ev in std::mem::take(&mut self.events) {
            // Every frame of these dialects is JSON: anything else is dropped, never forwarded;
            // so is anything after the upstream's own terminal event (`message_stop`, `error`,
            // `response.completed`, ...), which no client expects.
            if !ev.data_is_json() || self.decoder.terminated() {
                self.invalid += 1;
                continue;
            }
            self.decoder.event(&ev, &mut self.canon);
            out.push(if ev.clean { ev.raw } else { reframe(&ev) });
        }
        feed(&mut self.canon, &mut self.acc, &mut self.content, self.shadow.as_mut(), &mut self.discard);
        self.discard.clear();
    }
}

/// A valid event whose block also held garbage lines, framed anew from its fields.
pub fn reframe(ev: &SseEvent) -> Bytes {
    match &ev.event {
        Some(name) => crate::sse::named_event(name, &ev.data),
        None => crate::sse::data_event(&ev.data),
    }
}

impl ResponseAdapter for SsePassthrough {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        self.drain(out);
        Ok(())
    }

    fn finish(&mut self, error: Option<&str>, out: &mut Vec<Bytes>) {
        self.sse.finish(&mut self.events);
        self.drain(out);
        if !self.decoder.terminated() || error.is_some() {
            let usage = merged_usage(&self.acc, self.input_estimate);
            self.shadow.finish(error, usage, out);
        }
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        decode_whole(self.dialect, &body, &mut self.acc)?;
        self.content = true;
        Ok(body)
    }

    fn has_content(&self) -> bool {
        self.content
    }

    fn terminated(&self) -> bool {
        self.decoder.terminated()
    }

    fn usage(&self) -> TokenUsage {
        merged_usage(&self.acc, self.input_estimate)
    }

    fn dropped_frames(&self) -> u64 {
        self.invalid + self.sse.garbage_lines()
    }
}

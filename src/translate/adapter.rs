//! Response adapters for the executor: `Translating` (upstream dialect → canonical → client
//! dialect) and `SsePassthrough` (same dialect, bytes forwarded; a shadow encoder only supplies
//! the terminal events when the upstream ended abruptly). Both treat an upstream error inside a
//! 200 stream as a failure: before any content it lets the executor fall over to another account;
//! after content it is relayed once, in the client's dialect, and ends the stream.

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd, UpstreamFault};
use actors::outcome::OutcomeKind;
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

use super::canonical::{Accumulator, ErrorKind, Event, Part, Response, UpstreamError, estimate_tokens};
use super::{EncodeOptions, StreamDecoder, StreamEncoder, decode_response, decoder, encode_response, encoder};
use crate::protocol::Dialect;
use crate::sse::{SseEvent, SseParser};

/// `u` with the input and output the upstream left at zero estimated (and marked so).
pub fn with_estimates(mut u: TokenUsage, input: u64, output: impl FnOnce() -> u64) -> TokenUsage {
    if u.input == 0 {
        u.input = input;
        u.estimated = true;
    }
    if u.output == 0 {
        u.output = output();
        u.estimated = true;
    }
    u
}

/// A whole upstream body read as `T`: a blank one is empty (the executor falls over), anything
/// else unreadable is malformed.
pub fn whole_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdapterError> {
    serde_json::from_slice(body).map_err(|_| {
        if body.iter().all(u8::is_ascii_whitespace) {
            AdapterError::Empty
        } else {
            AdapterError::Malformed("the upstream returned invalid JSON".into())
        }
    })
}

/// Upstream usage completed with estimates where the upstream said nothing.
fn merged_usage(acc: &Accumulator, input_estimate: u64) -> TokenUsage {
    with_estimates(acc.usage.unwrap_or_default(), input_estimate, || estimate_tokens(&acc.output_chars()))
}

/// An upstream event past the parser's bound: the stream is broken.
pub fn overflow() -> AdapterError {
    AdapterError::Malformed(format!(
        "an upstream stream event exceeds {} MiB",
        crate::sse::MAX_EVENT_BYTES / (1024 * 1024)
    ))
}

/// An upstream error as the executor counts it.
pub fn fault_of(e: &UpstreamError) -> UpstreamFault {
    UpstreamFault {
        kind: e.kind.outcome(),
        status: e.kind.http_status(),
        message: e.message.clone(),
        body: Bytes::from(e.body(e.dialect).to_string()),
    }
}

/// The executor's reason for ending a stream, as an error the client can read.
pub fn end_error(end: StreamEnd<'_>) -> UpstreamError {
    let kind = match end.kind {
        OutcomeKind::Timeout => ErrorKind::Timeout,
        OutcomeKind::Cancelled => ErrorKind::Overloaded,
        OutcomeKind::RateLimited { .. } | OutcomeKind::ModelUnavailable { .. } => ErrorKind::RateLimit,
        OutcomeKind::AuthFailed | OutcomeKind::Banned { .. } => ErrorKind::Authentication,
        OutcomeKind::ClientError | OutcomeKind::ContextExceeded => ErrorKind::InvalidRequest,
        OutcomeKind::Success
        | OutcomeKind::ServerError
        | OutcomeKind::ConnectError
        | OutcomeKind::EmptyResponse
        | OutcomeKind::ProtocolError => ErrorKind::Server,
    };
    UpstreamError::gateway(kind, end.message)
}

/// Decodes a whole upstream body into `acc` (parts and usage); an answer without content (and not
/// filtered) is empty, so the executor can fall over to another account; an error object in a
/// 200 answer is the upstream's error.
fn decode_whole(
    dialect: Dialect,
    body: &[u8],
    acc: &mut Accumulator,
    after_tool_result: bool,
) -> Result<Response, AdapterError> {
    let v: Value = whole_json(body)?;
    if let Some(e) = error_in_answer(dialect, &v) {
        return Err(AdapterError::Upstream(fault_of(&e)));
    }
    let mut r = decode_response(dialect, &v).map_err(AdapterError::Malformed)?;
    if r.parts.is_empty() && !super::canonical::explains_empty(r.stop, after_tool_result) {
        return Err(AdapterError::Empty);
    }
    normalize_tool_args(&mut r.parts);
    acc.parts.clone_from(&r.parts);
    acc.usage = (!r.usage.is_empty()).then_some(r.usage);
    Ok(r)
}

/// A 200 body that is an error object rather than an answer.
pub fn error_in_answer(dialect: Dialect, v: &Value) -> Option<UpstreamError> {
    v.get("error").filter(|e| e.is_object() || e.is_string())?;
    let answer = ["choices", "content", "candidates", "output"].iter().any(|k| v.get(k).is_some_and(|x| !x.is_null()));
    if answer {
        return None;
    }
    super::errors::parse(dialect, v, None)
}

/// A tool call without arguments carries `{}` (never an empty string a client cannot parse).
fn normalize_tool_args(parts: &mut [super::canonical::Part]) {
    for p in parts {
        if let super::canonical::Part::ToolCall { arguments, .. } = p
            && arguments.trim().is_empty()
        {
            *arguments = "{}".into();
        }
    }
}

fn is_content(ev: &Event) -> bool {
    match ev {
        Event::Text(t) | Event::Reasoning(t) => !t.is_empty(),
        Event::ToolStart { .. } | Event::ReasoningOpaque(_) | Event::ReasoningSignature(_) => true,
        Event::Start { .. }
        | Event::ToolArgs { .. }
        | Event::ToolSignature { .. }
        | Event::Usage(_)
        | Event::Stop(_)
        | Event::Error(_) => false,
    }
}

/// What the stream has shown so far, shared by both adapters.
#[derive(Debug, Default)]
struct Progress {
    content: bool,
    /// The request ends with a tool result (an empty `end_turn` is an answer).
    after_tool_result: bool,
    fault: Option<UpstreamFault>,
    /// Per canonical tool index: whether any argument text came.
    tool_args: Vec<bool>,
}

impl Progress {
    /// Looks at one canonical event before it is encoded. `Err` for an upstream error that came
    /// before any content (the attempt fails and another account may serve).
    fn observe(&mut self, ev: &Event) -> Result<(), AdapterError> {
        match ev {
            Event::Error(e) => {
                let fault = fault_of(e);
                if !self.content {
                    return Err(AdapterError::Upstream(fault));
                }
                self.fault = Some(fault);
            }
            Event::ToolStart { index, .. } if self.tool_args.len() <= *index => {
                self.tool_args.resize(*index + 1, false);
            }
            Event::ToolArgs { index, delta } if !delta.trim().is_empty() => {
                if let Some(seen) = self.tool_args.get_mut(*index) {
                    *seen = true;
                }
            }
            // A stop that explains an empty answer makes it one: the client gets it as it is.
            Event::Stop(s) if super::canonical::explains_empty(*s, self.after_tool_result) => self.content = true,
            _ => {}
        }
        self.content |= is_content(ev);
        Ok(())
    }

    /// `{}` for every tool call that got no arguments, before the stream's stop.
    fn missing_args(&mut self) -> Vec<Event> {
        let out = self
            .tool_args
            .iter()
            .enumerate()
            .filter(|(_, seen)| !**seen)
            .map(|(index, _)| Event::ToolArgs { index, delta: "{}".into() })
            .collect();
        self.tool_args.iter_mut().for_each(|s| *s = true);
        out
    }
}

/// Hands one canonical event to the accumulator and an encoder (tool calls without arguments get
/// `{}` before the stop).
fn feed(ev: Event, p: &mut Progress, acc: &mut Accumulator, enc: &mut dyn StreamEncoder, out: &mut Vec<Bytes>) {
    if matches!(ev, Event::Stop(_)) {
        for fix in p.missing_args() {
            acc.apply(&fix);
            enc.event(&fix, out);
        }
    }
    acc.apply(&ev);
    enc.event(&ev, out);
}

/// Keeps tool blocks one after another for a client whose blocks cannot interleave (Anthropic,
/// Responses) while the upstream (OpenAI Chat) may interleave fragments of several calls. The
/// first call streams live; from the moment anything else arrives while it is open (another
/// call, text), everything but that call's own fragments is held and released at the stop, each
/// held call whole.
#[derive(Debug, Default)]
struct ToolOrder {
    live: Option<usize>,
    holding: bool,
    held: Vec<Event>,
}

impl ToolOrder {
    /// Passes an event on now (`Some`) or holds it.
    fn route(&mut self, ev: Event) -> Option<Event> {
        match &ev {
            Event::ToolArgs { index, .. } if self.live == Some(*index) => return Some(ev),
            Event::ToolStart { index, .. } if !self.holding && self.live.is_none() => {
                self.live = Some(*index);
                return Some(ev);
            }
            Event::Usage(_) | Event::Start { .. } => return Some(ev),
            // An error ends the stream now; calls still held were never complete.
            Event::Error(_) => {
                self.held.clear();
                return Some(ev);
            }
            _ => {}
        }
        if self.live.is_some() || self.holding {
            self.holding = true;
            self.held.push(ev);
            return None;
        }
        Some(ev)
    }

    /// The held events in order, each held call whole (`{}` when it got no arguments).
    fn release(&mut self) -> Vec<Event> {
        let held = std::mem::take(&mut self.held);
        let mut args: std::collections::HashMap<usize, String> = std::collections::HashMap::new();
        for ev in &held {
            if let Event::ToolArgs { index, delta } = ev {
                args.entry(*index).or_default().push_str(delta);
            }
        }
        let mut out = Vec::new();
        for ev in held {
            match ev {
                Event::ToolArgs { .. } => {}
                Event::ToolStart { index, id, name } => {
                    let a = args.remove(&index).filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "{}".into());
                    out.push(Event::ToolStart { index, id, name });
                    out.push(Event::ToolArgs { index, delta: a });
                }
                other => out.push(other),
            }
        }
        self.holding = false;
        self.live = None;
        out
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
    progress: Progress,
    events: Vec<SseEvent>,
    canon: Vec<Event>,
    invalid: u64,
    /// `Some` when tool blocks must be kept apart (see `ToolOrder`).
    order: Option<ToolOrder>,
    /// Tools the client declared as something other than a function.
    kinds: Vec<(String, super::canonical::ToolKind)>,
    /// Continuing a broken stream with another upstream: its start and reasoning are not the
    /// client's (the client's stream started long ago), only its text and end are.
    continuing: bool,
}

/// Which upstream continues a broken stream (`ResponseAdapter::resume`).
#[derive(Debug, Clone, Copy)]
pub struct ResumeWith {
    /// The continuing upstream's dialect.
    pub upstream: Dialect,
}

impl Translating {
    /// An adapter from `upstream` to `client`; `model` is what the client asked for.
    pub fn new(client: Dialect, upstream: Dialect, model: &str, opts: EncodeOptions) -> Self {
        let opts = EncodeOptions { upstream: Some(upstream), ..opts };
        Self {
            client,
            upstream,
            model: model.to_string(),
            sse: SseParser::new(),
            decoder: decoder(upstream),
            encoder: encoder(client, model, opts),
            acc: Accumulator::default(),
            input_estimate: opts.input_estimate,
            progress: Progress { after_tool_result: opts.after_tool_result, ..Progress::default() },
            events: Vec::new(),
            canon: Vec::new(),
            invalid: 0,
            order: (upstream == Dialect::OpenaiChat && matches!(client, Dialect::Anthropic | Dialect::OpenaiResponses))
                .then(ToolOrder::default),
            kinds: Vec::new(),
            continuing: false,
        }
    }

    /// The tools the client declared as something other than a function (Codex's `custom` and
    /// `local_shell`): their calls go back to it as its own items.
    pub fn with_tool_kinds(mut self, kinds: Vec<(String, super::canonical::ToolKind)>) -> Self {
        self.encoder.declare_tools(&kinds);
        self.kinds = kinds;
        self
    }

    fn drain(&mut self, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        for ev in std::mem::take(&mut self.events) {
            if !ev.data.trim_start().starts_with(['{', '[']) {
                self.invalid += 1;
                continue;
            }
            self.decoder.event(&ev, &mut self.canon);
        }
        for ce in std::mem::take(&mut self.canon) {
            if self.progress.fault.is_some() {
                break;
            }
            self.progress.observe(&ce)?;
            if matches!(ce, Event::Stop(_)) {
                self.release_tools(out);
            }
            if self.continuing
                && matches!(
                    ce,
                    Event::Start { .. }
                        | Event::Reasoning(_)
                        | Event::ReasoningSignature(_)
                        | Event::ReasoningOpaque(_)
                )
            {
                continue;
            }
            let ce = match self.order.as_mut() {
                Some(o) => match o.route(ce) {
                    Some(ev) => ev,
                    None => continue,
                },
                None => ce,
            };
            feed(ce, &mut self.progress, &mut self.acc, self.encoder.as_mut(), out);
        }
        Ok(())
    }

    fn release_tools(&mut self, out: &mut Vec<Bytes>) {
        let Some(o) = self.order.as_mut() else { return };
        for ev in o.release() {
            self.progress.observe(&ev).ok();
            self.acc.apply(&ev);
            self.encoder.event(&ev, out);
        }
    }
}

impl ResponseAdapter for Translating {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        if self.sse.overflowed() {
            return Err(overflow());
        }
        self.drain(out)
    }

    fn finish(&mut self, end: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        self.sse.finish(&mut self.events);
        let _ = self.drain(out);
        if self.progress.fault.is_none() {
            self.release_tools(out);
            for fix in self.progress.missing_args() {
                self.acc.apply(&fix);
                self.encoder.event(&fix, out);
            }
        }
        let usage = merged_usage(&self.acc, self.input_estimate);
        let error = end.filter(|_| self.progress.fault.is_none()).map(end_error);
        self.encoder.finish(error.as_ref(), usage, out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let mut r = decode_whole(self.upstream, &body, &mut self.acc, self.progress.after_tool_result)?;
        self.progress.content = true;
        r.usage = merged_usage(&self.acc, self.input_estimate);
        if r.model.is_empty() {
            r.model.clone_from(&self.model);
        }
        let body = match self.client {
            Dialect::OpenaiResponses => super::responses::response::encode_with(&r, &self.kinds),
            other => encode_response(other, &r),
        };
        Ok(Bytes::from(body.to_string()))
    }

    fn has_content(&self) -> bool {
        self.progress.content
    }

    fn terminated(&self) -> bool {
        self.decoder.terminated() || self.progress.fault.is_some()
    }

    fn usage(&self) -> TokenUsage {
        merged_usage(&self.acc, self.input_estimate)
    }

    fn dropped_frames(&self) -> u64 {
        self.invalid + self.sse.garbage_lines()
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.progress.fault.as_ref()
    }

    fn resume_point(&self) -> Option<String> {
        // Only text goes on: a tool call begun (or an error relayed) cannot be continued.
        if self.progress.fault.is_some()
            || self.acc.parts.iter().any(|p| !matches!(p, Part::Text(_) | Part::Reasoning { .. }))
        {
            return None;
        }
        let text: String =
            self.acc.parts.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
        (!text.is_empty()).then_some(text)
    }

    fn resume(&mut self, next: &dyn std::any::Any) -> bool {
        let Some(with) = next.downcast_ref::<ResumeWith>() else { return false };
        self.upstream = with.upstream;
        self.decoder = decoder(with.upstream);
        self.sse = SseParser::new();
        self.events.clear();
        self.canon.clear();
        self.order = (with.upstream == Dialect::OpenaiChat
            && matches!(self.client, Dialect::Anthropic | Dialect::OpenaiResponses))
        .then(ToolOrder::default);
        // The continuation must bring text of its own before it counts as started.
        self.progress.content = false;
        self.continuing = true;
        true
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
    progress: Progress,
    events: Vec<SseEvent>,
    canon: Vec<Event>,
    discard: Vec<Bytes>,
    invalid: u64,
    /// Told the upstream's response id once it is seen.
    on_id: Option<IdHook>,
}

impl SsePassthrough {
    /// A passthrough for `dialect`.
    pub fn new(dialect: Dialect, model: &str, opts: EncodeOptions) -> Self {
        let opts = EncodeOptions { upstream: Some(dialect), ..opts };
        Self {
            dialect,
            sse: SseParser::new(),
            decoder: decoder(dialect),
            shadow: encoder(dialect, model, opts),
            acc: Accumulator::default(),
            input_estimate: opts.input_estimate,
            progress: Progress { after_tool_result: opts.after_tool_result, ..Progress::default() },
            events: Vec::new(),
            canon: Vec::new(),
            discard: Vec::new(),
            invalid: 0,
            on_id: None,
        }
    }

    /// Tells `hook` the upstream's response id when it is seen.
    pub fn on_id(mut self, hook: Option<IdHook>) -> Self {
        self.on_id = hook;
        self
    }

    fn tell_id(&mut self) {
        if !self.acc.id.is_empty()
            && let Some(hook) = self.on_id.take()
        {
            (hook.0)(&self.acc.id);
        }
    }

    fn drain(&mut self, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        for ev in std::mem::take(&mut self.events) {
            // Every frame of these dialects is JSON: anything else is dropped, never forwarded;
            // so is anything after the upstream's own terminal event (`message_stop`, `error`,
            // `response.completed`, ...), which no client expects.
            if !ev.data_is_json() || self.decoder.terminated() || self.progress.fault.is_some() {
                self.invalid += 1;
                continue;
            }
            self.decoder.event(&ev, &mut self.canon);
            for ce in std::mem::take(&mut self.canon) {
                self.progress.observe(&ce)?;
                feed(ce, &mut self.progress, &mut self.acc, self.shadow.as_mut(), &mut self.discard);
            }
            self.discard.clear();
            out.push(if ev.clean { ev.raw } else { reframe(&ev) });
        }
        self.tell_id();
        Ok(())
    }
}

/// Called with the response id an upstream gave (the Responses API's chains of
/// `previous_response_id` follow it).
#[derive(Clone)]
pub struct IdHook(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for IdHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHook")
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
        if self.sse.overflowed() {
            return Err(overflow());
        }
        self.drain(out)
    }

    fn finish(&mut self, end: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        self.sse.finish(&mut self.events);
        let _ = self.drain(out);
        // The upstream's own terminal events went through as they were; the shadow encoder (which
        // saw every event, errors included) supplies the end only when they are missing.
        if !self.decoder.terminated() || end.is_some() {
            let usage = merged_usage(&self.acc, self.input_estimate);
            let error = end.filter(|_| self.progress.fault.is_none()).map(end_error);
            self.shadow.finish(error.as_ref(), usage, out);
        }
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let r = decode_whole(self.dialect, &body, &mut self.acc, self.progress.after_tool_result)?;
        self.acc.id = r.id;
        self.tell_id();
        self.progress.content = true;
        Ok(body)
    }

    fn has_content(&self) -> bool {
        self.progress.content
    }

    fn terminated(&self) -> bool {
        self.decoder.terminated() || self.progress.fault.is_some()
    }

    fn usage(&self) -> TokenUsage {
        merged_usage(&self.acc, self.input_estimate)
    }

    fn dropped_frames(&self) -> u64 {
        self.invalid + self.sse.garbage_lines()
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.progress.fault.as_ref()
    }
}

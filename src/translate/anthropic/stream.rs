//! Anthropic Messages streams ↔ canonical events.

use std::collections::HashMap;

use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::{Value, json};

use super::{stop_from, stop_to, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::sse::{SseEvent, named_event};
use crate::translate::canonical::{ErrorKind, Event, Stop, UpstreamError, new_id};
use crate::translate::errors::parse as parse_error;
use crate::translate::json::str_of;
use crate::translate::{StreamDecoder, StreamEncoder};

/// Upstream Messages events → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Block index → canonical tool index.
    tools: HashMap<u64, usize>,
    usage: TokenUsage,
    stopped: bool,
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<Event>) {
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { return };
        match str_of(&v, "type").or(ev.event.as_deref()) {
            Some("message_start") => {
                let m = &v["message"];
                out.push(Event::Start {
                    id: str_of(m, "id").map(str::to_string).unwrap_or_else(|| new_id("msg_")),
                    model: str_of(m, "model").unwrap_or_default().to_string(),
                });
                if let Some(u) = m.get("usage") {
                    self.usage = usage_from(u);
                    out.push(Event::Usage(self.usage));
                }
            }
            Some("content_block_start") => {
                let b = &v["content_block"];
                let index = v["index"].as_u64().unwrap_or(0);
                match str_of(b, "type") {
                    Some("tool_use") => {
                        let n = self.tools.len();
                        self.tools.insert(index, n);
                        out.push(Event::ToolStart {
                            index: n,
                            id: str_of(b, "id").unwrap_or_default().to_string(),
                            name: str_of(b, "name").unwrap_or_default().to_string(),
                        });
                    }
                    Some("text") => {
                        if let Some(t) = str_of(b, "text").filter(|t| !t.is_empty()) {
                            out.push(Event::Text(t.to_string()));
                        }
                    }
                    Some("redacted_thinking") => {
                        if let Some(d) = str_of(b, "data") {
                            out.push(Event::ReasoningOpaque(d.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            Some("content_block_delta") => {
                let d = &v["delta"];
                match str_of(d, "type") {
                    Some("text_delta") => out.push(Event::Text(str_of(d, "text").unwrap_or_default().to_string())),
                    Some("thinking_delta") => {
                        out.push(Event::Reasoning(str_of(d, "thinking").unwrap_or_default().to_string()))
                    }
                    Some("signature_delta") => {
                        out.push(Event::ReasoningSignature(str_of(d, "signature").unwrap_or_default().to_string()))
                    }
                    Some("input_json_delta") => {
                        let frag = str_of(d, "partial_json").unwrap_or_default();
                        if let (false, Some(&i)) = (frag.is_empty(), self.tools.get(&v["index"].as_u64().unwrap_or(0)))
                        {
                            out.push(Event::ToolArgs { index: i, delta: frag.to_string() });
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(u) = v.get("usage") {
                    let later = usage_from(u);
                    // `message_delta` usage is cumulative; older streams only carry output_tokens.
                    if later.input > 0 {
                        self.usage = later;
                    } else {
                        self.usage.output = later.output;
                        self.usage.reasoning = later.reasoning.max(self.usage.reasoning);
                    }
                    out.push(Event::Usage(self.usage));
                }
                if let Some(s) = str_of(&v["delta"], "stop_reason") {
                    out.push(Event::Stop(stop_from(s)));
                }
            }
            Some("message_stop") => self.stopped = true,
            Some("error") => {
                let e = parse_error(Dialect::Anthropic, &v, None)
                    .unwrap_or_else(|| UpstreamError::gateway(ErrorKind::Server, "the upstream reported an error"));
                out.push(Event::Error(e));
                self.stopped = true;
            }
            _ => {}
        }
    }

    fn terminated(&self) -> bool {
        self.stopped
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// A thinking block; whether it got its signature.
    Thinking {
        signed: bool,
    },
    Redacted,
    Tool(usize),
}

/// Canonical events → Messages events for a client.
#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    input_estimate: u64,
    /// The upstream's usage, when it came before the stream started.
    known: Option<TokenUsage>,
    started: bool,
    next_index: usize,
    open: Option<Block>,
    stop: Option<Stop>,
    errored: bool,
    /// The upstream's dialect: another's signatures and opaque reasoning are marked (`envelope`).
    upstream: Option<Dialect>,
    /// Call ids by tool index (for Gemini tool signatures).
    tool_ids: std::collections::HashMap<usize, String>,
}

impl Encoder {
    /// An encoder; `input_estimate` fills `message_start.usage.input_tokens` when the upstream
    /// reports usage only at the end.
    pub fn new(model: &str, input_estimate: u64) -> Self {
        Self {
            id: new_id("msg_"),
            model: model.to_string(),
            input_estimate,
            known: None,
            started: false,
            next_index: 0,
            open: None,
            stop: None,
            errored: false,
            upstream: None,
            tool_ids: std::collections::HashMap::new(),
        }
    }

    /// The upstream's dialect.
    pub fn from(mut self, upstream: Option<Dialect>) -> Self {
        self.upstream = upstream;
        self
    }

    /// Whether reasoning data comes from somewhere other than Anthropic.
    fn foreign(&self) -> bool {
        self.upstream.is_some_and(|u| u != Dialect::Anthropic)
    }

    fn open_thinking(&mut self, out: &mut Vec<Bytes>) {
        if !matches!(self.open, Some(Block::Thinking { signed: false })) {
            self.open(
                Block::Thinking { signed: false },
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                out,
            );
        }
    }

    fn sign(&mut self, signature: &str, out: &mut Vec<Bytes>) {
        self.delta(json!({"type": "signature_delta", "signature": signature}), out);
        self.open = Some(Block::Thinking { signed: true });
        self.close(out);
    }

    fn emit(out: &mut Vec<Bytes>, v: Value) {
        let name = v["type"].as_str().unwrap_or("message").to_string();
        out.push(named_event(&name, &v.to_string()));
    }

    fn ensure_started(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        Self::emit(
            out,
            json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": self.start_usage()
            }}),
        );
    }

    /// `message_start`'s usage: the upstream's own input count when it came before any content,
    /// else the estimate (the final counts follow in `message_delta`).
    fn start_usage(&self) -> Value {
        match &self.known {
            Some(u) => {
                let mut v = usage_to(u);
                v["output_tokens"] = json!(1);
                v
            }
            None => {
                json!({"input_tokens": self.input_estimate, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1})
            }
        }
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        // A thinking block never ends unsigned: reasoning that came without a signature (plain
        // reasoning text from another provider) is marked as such.
        if self.open == Some(Block::Thinking { signed: false }) {
            let mark = crate::translate::envelope::reasoning(self.upstream.filter(|u| *u != Dialect::Anthropic), "");
            self.delta(json!({"type": "signature_delta", "signature": mark}), out);
        }
        if self.open.take().is_some() {
            Self::emit(out, json!({"type": "content_block_stop", "index": self.next_index - 1}));
        }
    }

    fn open(&mut self, block: Block, start: Value, out: &mut Vec<Bytes>) {
        self.close(out);
        Self::emit(out, json!({"type": "content_block_start", "index": self.next_index, "content_block": start}));
        self.next_index += 1;
        self.open = Some(block);
    }

    fn delta(&self, d: Value, out: &mut Vec<Bytes>) {
        Self::emit(out, json!({"type": "content_block_delta", "index": self.next_index - 1, "delta": d}));
    }
}

impl StreamEncoder for Encoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<Bytes>) {
        match ev {
            // The answer names the model as the upstream reports it, streamed or whole.
            // `message_start` waits for the first content (or the upstream's usage, which may come
            // just before it): nothing reaches the client before content anyway.
            Event::Start { model, .. } => {
                if !self.started && !model.is_empty() {
                    self.model.clone_from(model);
                }
            }
            Event::Text(t) => {
                self.ensure_started(out);
                if self.open != Some(Block::Text) {
                    self.open(Block::Text, json!({"type": "text", "text": ""}), out);
                }
                self.delta(json!({"type": "text_delta", "text": t}), out);
            }
            Event::Reasoning(t) => {
                self.ensure_started(out);
                self.open_thinking(out);
                self.delta(json!({"type": "thinking_delta", "thinking": t}), out);
            }
            Event::ReasoningSignature(s) => {
                self.ensure_started(out);
                self.open_thinking(out);
                let sig =
                    if self.foreign() { crate::translate::envelope::reasoning(self.upstream, s) } else { s.clone() };
                self.sign(&sig, out);
            }
            Event::ReasoningOpaque(d) if self.foreign() => {
                // Another provider's opaque reasoning (a Responses item): the signature carries it.
                self.ensure_started(out);
                self.open_thinking(out);
                let sig = crate::translate::envelope::reasoning(self.upstream, d);
                self.sign(&sig, out);
            }
            Event::ReasoningOpaque(d) => {
                self.ensure_started(out);
                self.open(Block::Redacted, json!({"type": "redacted_thinking", "data": d}), out);
                self.close(out);
            }
            Event::ToolStart { index, id, name } => {
                self.ensure_started(out);
                self.tool_ids.insert(*index, id.clone());
                self.open(Block::Tool(*index), json!({"type": "tool_use", "id": id, "name": name, "input": {}}), out);
            }
            Event::ToolSignature { index, signature } => {
                // A Gemini call's signature, in a thinking block of its own after the call.
                let id = self.tool_ids.get(index).cloned().unwrap_or_default();
                self.open(
                    Block::Thinking { signed: false },
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    out,
                );
                self.sign(&crate::translate::envelope::tool_signature(&id, signature), out);
            }
            Event::ToolArgs { index, delta } => {
                if self.open == Some(Block::Tool(*index)) {
                    self.delta(json!({"type": "input_json_delta", "partial_json": delta}), out);
                }
            }
            Event::Stop(s) => self.stop = Some(*s),
            Event::Error(e) => {
                // As the Messages API does: the error event ends the stream (no stop reason, no
                // `message_stop`, which would claim the answer ended normally).
                self.ensure_started(out);
                self.errored = true;
                Self::emit(out, e.body(Dialect::Anthropic));
            }
            Event::Usage(u) if !self.started && u.input > 0 => self.known = Some(*u),
            Event::Usage(_) => {}
        }
    }

    fn finish(&mut self, error: Option<&UpstreamError>, usage: TokenUsage, out: &mut Vec<Bytes>) {
        self.ensure_started(out);
        if let Some(e) = error.filter(|_| !self.errored) {
            self.event(&Event::Error(e.clone()), out);
        }
        if self.errored {
            return;
        }
        self.close(out);
        let stop = self.stop.unwrap_or(Stop::End);
        Self::emit(
            out,
            json!({"type": "message_delta", "delta": {"stop_reason": stop_to(stop), "stop_sequence": null}, "usage": usage_to(&usage)}),
        );
        Self::emit(out, json!({"type": "message_stop"}));
    }
}

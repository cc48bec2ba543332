//! Gemini `streamGenerateContent` ↔ canonical events. Upstream chunks are whole responses whose
//! text parts are deltas and whose usage is cumulative; function calls arrive whole.

use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::{Value, json};

use super::response::parts_of;
use super::{stop_from, stop_to, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::sse::SseEvent;
use crate::translate::canonical::{ErrorKind, Event, Part, Stop, UpstreamError, new_id};
use crate::translate::errors::parse as parse_error;
use crate::translate::json::{args_object, arr, str_of};
use crate::translate::{StreamDecoder, StreamEncoder};

/// Upstream Gemini chunks → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    tools: usize,
    finished: bool,
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<Event>) {
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { return };
        if v.get("error").is_some() {
            let e = parse_error(Dialect::Gemini, &v, None)
                .unwrap_or_else(|| UpstreamError::gateway(ErrorKind::Server, "the upstream reported an error"));
            out.push(Event::Error(e));
            self.finished = true;
            return;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: str_of(&v, "responseId").map(str::to_string).unwrap_or_else(|| new_id("gen-")),
                model: str_of(&v, "modelVersion").unwrap_or_default().to_string(),
            });
        }
        // Usage first: Gemini counts the prompt from the first chunk on, so a client whose stream
        // opens with the input count (Anthropic's `message_start`) gets the real one.
        if let Some(u) = v.get("usageMetadata") {
            out.push(Event::Usage(usage_from(u)));
        }
        let candidate = arr(&v, "candidates").first().cloned().unwrap_or(Value::Null);
        for p in parts_of(&candidate) {
            match p {
                Part::Text(t) => out.push(Event::Text(t)),
                Part::Reasoning { text, signature, .. } => {
                    if !text.is_empty() {
                        out.push(Event::Reasoning(text));
                    }
                    if let Some(s) = signature {
                        out.push(Event::ReasoningSignature(s));
                    }
                }
                Part::ToolCall { id, name, arguments, signature } => {
                    let index = self.tools;
                    self.tools += 1;
                    out.push(Event::ToolStart { index, id, name });
                    out.push(Event::ToolArgs { index, delta: arguments });
                    if let Some(signature) = signature {
                        out.push(Event::ToolSignature { index, signature });
                    }
                }
                Part::Image { .. } | Part::File { .. } | Part::ToolResult { .. } => {}
            }
        }
        let blocked = v["promptFeedback"].get("blockReason").is_some();
        if let Some(f) = str_of(&candidate, "finishReason").or(if blocked { Some("SAFETY") } else { None }) {
            let mut stop = stop_from(f);
            if stop == Stop::End && self.tools > 0 {
                stop = Stop::ToolUse;
            }
            out.push(Event::Stop(stop));
            self.finished = true;
        }
    }

    fn terminated(&self) -> bool {
        self.finished
    }
}

/// Canonical events → Gemini chunks for a client: SSE (`alt=sse`) or one streamed JSON array.
#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    sse: bool,
    chunks: usize,
    /// Tool calls are sent whole, so their arguments (and signature) are gathered first.
    tools: Vec<(String, String, Option<String>)>,
    /// The upstream's dialect: signatures are Gemini's own only when it is Gemini.
    upstream: Option<Dialect>,
    stop: Option<Stop>,
    errored: bool,
}

impl Encoder {
    /// The upstream's dialect.
    pub fn from(mut self, upstream: Option<Dialect>) -> Self {
        self.upstream = upstream;
        self
    }

    /// An encoder; `sse` for `alt=sse`, else a JSON array.
    pub fn new(model: &str, sse: bool) -> Self {
        Self {
            id: new_id("gen-"),
            model: model.to_string(),
            sse,
            chunks: 0,
            tools: Vec::new(),
            upstream: None,
            stop: None,
            errored: false,
        }
    }

    fn frame(&mut self, v: Value, out: &mut Vec<Bytes>) {
        let s = v.to_string();
        let framed = if self.sse {
            format!("data: {s}\r\n\r\n")
        } else if self.chunks == 0 {
            format!("[{s}")
        } else {
            format!(",\r\n{s}")
        };
        self.chunks += 1;
        out.push(Bytes::from(framed));
    }

    fn chunk(&mut self, parts: Vec<Value>, out: &mut Vec<Bytes>) {
        let v = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}], "modelVersion": self.model, "responseId": self.id});
        self.frame(v, out);
    }

    fn flush_tools(&mut self, out: &mut Vec<Bytes>) {
        if self.tools.is_empty() {
            return;
        }
        let parts: Vec<Value> = self
            .tools
            .drain(..)
            .map(|(name, args, sig)| {
                let mut p = json!({"functionCall": {"name": name, "args": args_object(&args)}});
                if let Some(s) = sig {
                    p["thoughtSignature"] = json!(s);
                }
                p
            })
            .collect();
        self.chunk(parts, out);
    }
}

impl StreamEncoder for Encoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<Bytes>) {
        match ev {
            Event::Text(t) => {
                self.flush_tools(out);
                self.chunk(vec![json!({"text": t})], out);
            }
            Event::Reasoning(t) => {
                self.flush_tools(out);
                self.chunk(vec![json!({"text": t, "thought": true})], out);
            }
            Event::ToolStart { name, .. } => self.tools.push((name.clone(), String::new(), None)),
            Event::ToolArgs { delta, .. } => {
                if let Some((_, args, _)) = self.tools.last_mut() {
                    args.push_str(delta);
                }
            }
            Event::ToolSignature { signature, .. } => {
                if let Some((_, _, sig)) = self.tools.last_mut() {
                    *sig = Some(signature.clone());
                }
            }
            Event::Stop(s) => self.stop = Some(*s),
            Event::Error(e) => {
                // As the Gemini API does: an error object is the last thing in the stream. A tool
                // call still being gathered is unusable and goes with it.
                self.errored = true;
                self.tools.clear();
                self.frame(e.body(Dialect::Gemini), out);
            }
            // A thought signature travels on an empty thought part, as Gemini streams do.
            Event::ReasoningSignature(s) if self.upstream.is_none_or(|u| u == Dialect::Gemini) => {
                self.flush_tools(out);
                self.chunk(vec![json!({"text": "", "thought": true, "thoughtSignature": s})], out);
            }
            // The answer names the model as the upstream reports it, streamed or whole.
            Event::Start { model, .. } if !model.is_empty() => self.model.clone_from(model),
            Event::Start { .. } | Event::ReasoningSignature(_) | Event::ReasoningOpaque(_) | Event::Usage(_) => {}
        }
    }

    fn finish(&mut self, error: Option<&UpstreamError>, usage: TokenUsage, out: &mut Vec<Bytes>) {
        if !self.errored {
            self.flush_tools(out);
        }
        if let Some(e) = error.filter(|_| !self.errored) {
            self.event(&Event::Error(e.clone()), out);
        }
        if !self.errored {
            let reason = stop_to(self.stop.unwrap_or(Stop::End));
            let v = json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": reason, "index": 0}],
                "usageMetadata": usage_to(&usage), "modelVersion": self.model, "responseId": self.id,
            });
            self.frame(v, out);
        }
        if !self.sse {
            out.push(Bytes::from_static(b"]"));
        }
    }
}

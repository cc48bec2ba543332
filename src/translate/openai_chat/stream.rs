//! OpenAI Chat Completions streams ↔ canonical events.

use std::collections::HashMap;

use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::{Value, json};

use super::response::usage_of;
use super::{stop_from, stop_to};
use crate::protocol::Dialect;
use crate::protocol::openai::OpenAiUsage;
use crate::sse::{SseEvent, data_event};
use crate::translate::canonical::{ErrorKind, Event, Stop, UpstreamError, new_id};
use crate::translate::errors::parse as parse_error;
use crate::translate::json::{arr, str_of};
use crate::translate::think::{Piece, ThinkSplitter};
use crate::translate::{StreamDecoder, StreamEncoder};

/// Upstream Chat chunks → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    done: bool,
    finished: bool,
    think: ThinkSplitter,
    /// Upstream tool index → canonical tool index.
    tools: HashMap<u64, usize>,
    /// Upstream call id → canonical tool index (for fragments that carry no index).
    tool_ids: HashMap<String, usize>,
    /// The tool call the last fragment belonged to.
    last_tool: Option<usize>,
    /// Tool calls started so far.
    tool_count: usize,
    saw_tool: bool,
}

impl Decoder {
    fn text(&mut self, t: &str, out: &mut Vec<Event>) {
        for p in self.think.push(t) {
            out.push(match p {
                Piece::Reasoning(r) => Event::Reasoning(r),
                Piece::Content(c) => Event::Text(c),
            });
        }
    }

    /// What a `<think>` splitter still holds back, once the text is over.
    fn flush_think(&mut self, out: &mut Vec<Event>) {
        for p in self.think.finish() {
            out.push(match p {
                Piece::Reasoning(r) => Event::Reasoning(r),
                Piece::Content(c) => Event::Text(c),
            });
        }
    }

    /// The canonical index of a tool-call fragment: by its own `index`, else by its call id,
    /// else the call the previous fragment belonged to; a new call starts when none matches.
    fn tool_index(&mut self, c: &Value, out: &mut Vec<Event>) -> usize {
        let up = c["index"].as_u64();
        let id = str_of(c, "id").filter(|i| !i.is_empty());
        let known = up
            .and_then(|i| self.tools.get(&i).copied())
            .or_else(|| id.and_then(|i| self.tool_ids.get(i).copied()))
            .or_else(|| if up.is_none() && id.is_none() { self.last_tool } else { None });
        let idx = match known {
            Some(i) => i,
            None => {
                let next = self.tool_count;
                self.tool_count += 1;
                let call_id = id.map(str::to_string).unwrap_or_else(|| new_id("call_"));
                out.push(Event::ToolStart {
                    index: next,
                    id: call_id.clone(),
                    name: str_of(&c["function"], "name").unwrap_or_default().to_string(),
                });
                self.tool_ids.insert(call_id, next);
                next
            }
        };
        if let Some(i) = up {
            self.tools.insert(i, idx);
        }
        if let Some(i) = id {
            self.tool_ids.insert(i.to_string(), idx);
        }
        self.last_tool = Some(idx);
        idx
    }
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<Event>) {
        if ev.data == "[DONE]" {
            // A stream may end with `[DONE]` alone: what the splitter held back is text too.
            self.flush_think(out);
            self.done = true;
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { return };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let e = parse_error(Dialect::OpenaiChat, &v, None)
                .unwrap_or_else(|| UpstreamError::gateway(ErrorKind::Server, "the upstream reported an error"));
            out.push(Event::Error(e));
            self.done = true;
            return;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: str_of(&v, "id").map(str::to_string).unwrap_or_else(|| new_id("chatcmpl-")),
                model: str_of(&v, "model").unwrap_or_default().to_string(),
            });
        }
        for choice in arr(&v, "choices") {
            let d = &choice["delta"];
            // Reasoning first: a chunk carrying both becomes two events.
            if let Some(r) = str_of(d, "reasoning_content").or_else(|| str_of(d, "reasoning")).filter(|r| !r.is_empty())
            {
                out.push(Event::Reasoning(r.to_string()));
            }
            if let Some(t) = str_of(d, "content").filter(|t| !t.is_empty()) {
                let t = t.to_string();
                self.text(&t, out);
            }
            for c in arr(d, "tool_calls") {
                let idx = self.tool_index(c, out);
                self.saw_tool = true;
                if let Some(a) = str_of(&c["function"], "arguments").filter(|a| !a.is_empty()) {
                    out.push(Event::ToolArgs { index: idx, delta: a.to_string() });
                }
            }
            if let Some(f) = str_of(choice, "finish_reason") {
                self.flush_think(out);
                let mut stop = stop_from(f);
                if stop == Stop::End && self.saw_tool {
                    stop = Stop::ToolUse;
                }
                self.finished = true;
                out.push(Event::Stop(stop));
            }
        }
        if let Some(u) = usage_of(&v) {
            out.push(Event::Usage(u));
        }
    }

    fn terminated(&self) -> bool {
        self.done || self.finished
    }
}

/// Canonical events → Chat chunks for a client.
#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    created: i64,
    started: bool,
    finish_sent: bool,
    stop: Option<Stop>,
    include_usage: bool,
    errored: bool,
}

impl Encoder {
    /// An encoder; `include_usage` when the client asked for the usage chunk.
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: new_id("chatcmpl-"),
            model: model.to_string(),
            created: actors::clock::now_ms() / 1000,
            started: false,
            finish_sent: false,
            stop: None,
            include_usage,
            errored: false,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        data_event(
            &json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            })
            .to_string(),
        )
    }

    fn ensure_started(&mut self, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }
}

impl StreamEncoder for Encoder {
    fn event(&mut self, ev: &Event, out: &mut Vec<Bytes>) {
        match ev {
            // The answer names the model as the upstream reports it, streamed or whole.
            Event::Start { model, .. } => {
                if !self.started && !model.is_empty() {
                    self.model.clone_from(model);
                }
                self.ensure_started(out)
            }
            Event::Text(t) => {
                self.ensure_started(out);
                out.push(self.chunk(json!({"content": t}), None));
            }
            Event::Reasoning(t) => {
                self.ensure_started(out);
                out.push(self.chunk(json!({"reasoning_content": t}), None));
            }
            Event::ToolStart { index, id, name } => {
                self.ensure_started(out);
                out.push(self.chunk(
                    json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                    None,
                ));
            }
            Event::ToolArgs { index, delta } => {
                out.push(self.chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": delta}}]}), None));
            }
            Event::ToolSignature { index, signature } => {
                let extra = super::response::google_extra(signature);
                out.push(self.chunk(json!({"tool_calls": [{"index": index, "extra_content": extra}]}), None));
            }
            Event::Stop(s) => {
                self.ensure_started(out);
                self.stop = Some(*s);
                if !self.finish_sent {
                    self.finish_sent = true;
                    out.push(self.chunk(json!({}), Some(stop_to(*s))));
                }
            }
            Event::Error(e) => {
                // The SDKs raise on an `error` chunk; no finish reason follows it.
                self.errored = true;
                out.push(data_event(&json!({"error": e.object(Dialect::OpenaiChat)}).to_string()));
            }
            Event::ReasoningSignature(_) | Event::ReasoningOpaque(_) | Event::Usage(_) => {}
        }
    }

    fn finish(&mut self, error: Option<&UpstreamError>, usage: TokenUsage, out: &mut Vec<Bytes>) {
        self.ensure_started(out);
        if let Some(e) = error.filter(|_| !self.errored) {
            self.event(&Event::Error(e.clone()), out);
        }
        if !self.finish_sent && !self.errored {
            self.finish_sent = true;
            out.push(self.chunk(json!({}), Some(stop_to(self.stop.unwrap_or(Stop::End)))));
        }
        if self.include_usage {
            let body = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                              "choices": [], "usage": OpenAiUsage::from_canonical(&usage)});
            out.push(data_event(&body.to_string()));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
}

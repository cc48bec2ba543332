//! OpenAI Responses streams ↔ canonical events. The encoder keeps the whole output so the terminal
//! event (`response.completed`, `response.incomplete` or, after an error, `response.failed`)
//! always carries it with full usage.

use std::collections::HashMap;

use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::{Value, json};

use super::response::{envelope, message_item, status_of};
use super::{opaque_of, usage_from, usage_to};
use crate::protocol::Dialect;
use crate::sse::{SseEvent, named_event};
use crate::translate::canonical::{ErrorKind, Event, Stop, ToolKind, UpstreamError, new_id};
use crate::translate::json::str_of;
use crate::translate::{StreamDecoder, StreamEncoder};

/// Upstream Responses events → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Function-call item id → canonical tool index.
    tools: HashMap<String, usize>,
    /// Canonical tool indexes whose arguments arrived (as deltas or whole).
    args_seen: std::collections::HashSet<usize>,
    saw_tool: bool,
    done: bool,
    errored: bool,
}

impl Decoder {
    /// Whole arguments from a `*.done` event, for a call whose deltas never came.
    fn whole_args(&mut self, item_id: &str, args: Option<&str>, out: &mut Vec<Event>) {
        if let (Some(&i), Some(a)) = (self.tools.get(item_id), args.filter(|a| !a.is_empty()))
            && self.args_seen.insert(i)
        {
            out.push(Event::ToolArgs { index: i, delta: a.to_string() });
        }
    }
}

/// A Responses error (`{code, message, param}`: an `error` event or `response.error`).
fn event_error(e: &Value, fallback: &str) -> UpstreamError {
    let code = str_of(e, "code").map(str::to_string);
    let kind = code.as_deref().map(crate::translate::errors::kind_of_code).unwrap_or(ErrorKind::Server);
    UpstreamError {
        kind,
        message: str_of(e, "message").unwrap_or(fallback).to_string(),
        dialect: Dialect::OpenaiResponses,
        kind_text: None,
        code,
        param: str_of(e, "param").map(str::to_string),
    }
}

impl StreamDecoder for Decoder {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<Event>) {
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { return };
        match str_of(&v, "type").or(ev.event.as_deref()) {
            Some("response.created") => out.push(Event::Start {
                id: str_of(&v["response"], "id").map(str::to_string).unwrap_or_else(|| new_id("resp_")),
                model: str_of(&v["response"], "model").unwrap_or_default().to_string(),
            }),
            Some("response.output_item.added") => {
                let it = &v["item"];
                if str_of(it, "type") == Some("function_call") {
                    let n = self.tools.len();
                    self.tools.insert(str_of(it, "id").unwrap_or_default().to_string(), n);
                    self.saw_tool = true;
                    out.push(Event::ToolStart {
                        index: n,
                        id: str_of(it, "call_id").map(str::to_string).unwrap_or_else(|| new_id("call_")),
                        name: str_of(it, "name").unwrap_or_default().to_string(),
                    });
                    if let Some(a) = str_of(it, "arguments").filter(|a| !a.is_empty()) {
                        self.args_seen.insert(n);
                        out.push(Event::ToolArgs { index: n, delta: a.to_string() });
                    }
                }
            }
            Some("response.output_text.delta") | Some("response.refusal.delta") => {
                out.push(Event::Text(str_of(&v, "delta").unwrap_or_default().to_string()))
            }
            Some("response.reasoning_summary_text.delta") | Some("response.reasoning_text.delta") => {
                out.push(Event::Reasoning(str_of(&v, "delta").unwrap_or_default().to_string()))
            }
            Some("response.function_call_arguments.done") => {
                let item = str_of(&v, "item_id").unwrap_or_default().to_string();
                self.whole_args(&item, str_of(&v, "arguments"), out);
            }
            Some("response.function_call_arguments.delta") => {
                if let Some(&i) = self.tools.get(str_of(&v, "item_id").unwrap_or_default()) {
                    if str_of(&v, "delta").is_some_and(|d| !d.is_empty()) {
                        self.args_seen.insert(i);
                    }
                    out.push(Event::ToolArgs { index: i, delta: str_of(&v, "delta").unwrap_or_default().to_string() });
                }
            }
            Some("response.output_item.done") => {
                let it = &v["item"];
                if str_of(it, "type") == Some("function_call") {
                    let item = str_of(it, "id").unwrap_or_default().to_string();
                    self.whole_args(&item, str_of(it, "arguments"), out);
                }
                if str_of(it, "type") == Some("reasoning")
                    && let Some(o) = opaque_of(it)
                {
                    out.push(Event::ReasoningOpaque(o));
                }
            }
            Some("response.completed") | Some("response.incomplete") => {
                let r = &v["response"];
                if let Some(u) = r.get("usage").filter(|u| u.is_object()) {
                    out.push(Event::Usage(usage_from(u)));
                }
                let stop = match (str_of(r, "status"), str_of(&r["incomplete_details"], "reason")) {
                    (Some("incomplete"), Some("content_filter")) => Stop::ContentFilter,
                    (Some("incomplete"), _) => Stop::MaxTokens,
                    _ if self.saw_tool => Stop::ToolUse,
                    _ => Stop::End,
                };
                out.push(Event::Stop(stop));
                self.done = true;
            }
            Some("response.failed") => {
                if !self.errored {
                    out.push(Event::Error(event_error(&v["response"]["error"], "the upstream response failed")));
                }
                self.done = true;
            }
            Some("error") => {
                self.errored = true;
                let e = if v.get("error").is_some_and(Value::is_object) { &v["error"] } else { &v };
                out.push(Event::Error(event_error(e, "the upstream reported an error")));
            }
            _ => {}
        }
    }

    fn terminated(&self) -> bool {
        self.done
    }
}

#[derive(Debug)]
enum Item {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
        opaque: Option<String>,
    },
    Function {
        id: String,
        call_id: String,
        name: String,
        args: String,
        index: usize,
    },
    /// A call of a tool the client declared as `custom` or `local_shell`: sent whole when done.
    Special {
        kind: ToolKind,
        call_id: String,
        name: String,
        args: String,
        index: usize,
    },
}

/// Canonical events → Responses events for a client.
#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    created: i64,
    seq: u64,
    started: bool,
    current: Option<Item>,
    done_items: Vec<Value>,
    stop: Option<Stop>,
    failed: Option<String>,
    /// The upstream's dialect: another's signatures and opaque reasoning are marked.
    upstream: Option<Dialect>,
    /// Call ids by tool index (for Gemini tool signatures).
    tool_ids: HashMap<usize, String>,
    /// Tools the client declared as something other than a function.
    kinds: Vec<(String, ToolKind)>,
}

impl Encoder {
    /// The upstream's dialect.
    pub fn from(mut self, upstream: Option<Dialect>) -> Self {
        self.upstream = upstream;
        self
    }

    fn foreign(&self) -> bool {
        self.upstream.is_some_and(|u| u != Dialect::OpenaiResponses)
    }

    /// A reasoning item that carries only `encrypted_content`.
    fn opaque_item(&mut self, encrypted: String, out: &mut Vec<Bytes>) {
        self.close(out);
        let oi = self.index();
        let item = json!({"id": new_id("rs_"), "type": "reasoning", "summary": [], "encrypted_content": encrypted});
        self.emit(json!({"type": "response.output_item.added", "output_index": oi, "item": item}), out);
        self.emit(json!({"type": "response.output_item.done", "output_index": oi, "item": item}), out);
        self.done_items.push(item);
    }

    /// An encoder for a client that asked for `model`.
    pub fn new(model: &str) -> Self {
        Self {
            id: new_id("resp_"),
            model: model.to_string(),
            created: actors::clock::now_ms() / 1000,
            seq: 0,
            started: false,
            current: None,
            done_items: Vec::new(),
            stop: None,
            failed: None,
            upstream: None,
            tool_ids: HashMap::new(),
            kinds: Vec::new(),
        }
    }

    fn emit(&mut self, mut v: Value, out: &mut Vec<Bytes>) {
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        let name = v["type"].as_str().unwrap_or("response").to_string();
        out.push(named_event(&name, &v.to_string()));
    }

    fn response(&self, status: &str, usage: Option<Value>) -> Value {
        let mut r = envelope(&self.id, &self.model, self.created, status, self.stop, self.done_items.clone(), usage);
        if status == "failed" {
            r["error"] = json!({"code": "server_error", "message": self.failed.clone().unwrap_or_default()});
        }
        r
    }

    fn ensure_started(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.response("in_progress", None);
        self.emit(json!({"type": "response.created", "response": r}), out);
        let r = self.response("in_progress", None);
        self.emit(json!({"type": "response.in_progress", "response": r}), out);
    }

    fn index(&self) -> usize {
        self.done_items.len()
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        let Some(item) = self.current.take() else { return };
        let oi = self.index();
        let done = match item {
            Item::Message { id, text } => {
                self.emit(json!({"type": "response.output_text.done", "item_id": id, "output_index": oi, "content_index": 0, "text": text, "logprobs": []}), out);
                let part = json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text});
                self.emit(json!({"type": "response.content_part.done", "item_id": id, "output_index": oi, "content_index": 0, "part": part}), out);
                message_item(&id, &text, "completed")
            }
            Item::Reasoning { id, text, opaque } => {
                let mut item = json!({"id": id, "type": "reasoning", "summary": []});
                if !text.is_empty() {
                    self.emit(json!({"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": oi, "summary_index": 0, "text": text}), out);
                    let part = json!({"type": "summary_text", "text": text});
                    self.emit(json!({"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": oi, "summary_index": 0, "part": part}), out);
                    item["summary"] = json!([part]);
                }
                if let Some(enc) = opaque
                    .as_deref()
                    .and_then(|o| serde_json::from_str::<Value>(o).ok())
                    .and_then(|o| o.get("encrypted_content").cloned())
                {
                    item["encrypted_content"] = enc;
                }
                item
            }
            Item::Special { kind, call_id, name, args, .. } => {
                let item = super::tools::item(kind, &call_id, &name, &args);
                self.emit(json!({"type": "response.output_item.added", "output_index": oi, "item": item}), out);
                item
            }
            Item::Function { id, call_id, name, args, .. } => {
                self.emit(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": oi, "name": name, "arguments": args}), out);
                json!({"id": id, "type": "function_call", "status": "completed", "call_id": call_id, "name": name, "arguments": args})
            }
        };
        self.emit(json!({"type": "response.output_item.done", "output_index": oi, "item": done}), out);
        self.done_items.push(done);
    }
}

impl StreamEncoder for Encoder {
    fn declare_tools(&mut self, kinds: &[(String, ToolKind)]) {
        self.kinds = kinds.to_vec();
    }

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
                if !matches!(self.current, Some(Item::Message { .. })) {
                    self.close(out);
                    let id = new_id("msg_");
                    let oi = self.index();
                    let item = json!({"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"});
                    self.emit(json!({"type": "response.output_item.added", "output_index": oi, "item": item}), out);
                    let part = json!({"type": "output_text", "annotations": [], "logprobs": [], "text": ""});
                    self.emit(json!({"type": "response.content_part.added", "item_id": id, "output_index": oi, "content_index": 0, "part": part}), out);
                    self.current = Some(Item::Message { id, text: String::new() });
                }
                let oi = self.index();
                if let Some(Item::Message { id, text }) = &mut self.current {
                    text.push_str(t);
                    let id = id.clone();
                    self.emit(json!({"type": "response.output_text.delta", "item_id": id, "output_index": oi, "content_index": 0, "delta": t, "logprobs": []}), out);
                }
            }
            Event::Reasoning(t) => {
                self.ensure_started(out);
                if !matches!(self.current, Some(Item::Reasoning { .. })) {
                    self.close(out);
                    let id = new_id("rs_");
                    let oi = self.index();
                    self.emit(json!({"type": "response.output_item.added", "output_index": oi, "item": {"id": id, "type": "reasoning", "summary": []}}), out);
                    self.emit(json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": oi, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}), out);
                    self.current = Some(Item::Reasoning { id, text: String::new(), opaque: None });
                }
                let oi = self.index();
                if let Some(Item::Reasoning { id, text, .. }) = &mut self.current {
                    text.push_str(t);
                    let id = id.clone();
                    self.emit(json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": oi, "summary_index": 0, "delta": t}), out);
                }
            }
            Event::ReasoningOpaque(o) if !self.foreign() => {
                if let Some(Item::Reasoning { opaque, .. }) = &mut self.current {
                    *opaque = Some(o.clone());
                }
            }
            // Another provider's reasoning data: kept, marked, in the item's encrypted content.
            Event::ReasoningOpaque(data) | Event::ReasoningSignature(data) => {
                self.ensure_started(out);
                let marked = if matches!(ev, Event::ReasoningOpaque(_)) && self.upstream == Some(Dialect::Anthropic) {
                    crate::translate::envelope::redacted(data)
                } else {
                    crate::translate::envelope::reasoning(self.upstream, data)
                };
                match &mut self.current {
                    Some(Item::Reasoning { opaque, .. }) if opaque.is_none() => {
                        *opaque = Some(json!({"encrypted_content": marked}).to_string());
                        self.close(out);
                    }
                    _ => self.opaque_item(marked, out),
                }
            }
            Event::ToolSignature { index, signature } => {
                let id = self.tool_ids.get(index).cloned().unwrap_or_default();
                self.ensure_started(out);
                self.opaque_item(crate::translate::envelope::tool_signature(&id, signature), out);
            }
            Event::ToolStart { index, id: call_id, name }
                if super::tools::kind_of(&self.kinds, name) != ToolKind::Function =>
            {
                self.ensure_started(out);
                self.tool_ids.insert(*index, call_id.clone());
                self.close(out);
                let kind = super::tools::kind_of(&self.kinds, name);
                self.current = Some(Item::Special {
                    kind,
                    call_id: call_id.clone(),
                    name: name.clone(),
                    args: String::new(),
                    index: *index,
                });
            }
            Event::ToolArgs { index, delta } if matches!(&self.current, Some(Item::Special { index: i, .. }) if i == index) => {
                if let Some(Item::Special { args, .. }) = &mut self.current {
                    args.push_str(delta);
                }
            }
            Event::ToolStart { index, id: call_id, name } => {
                self.ensure_started(out);
                self.tool_ids.insert(*index, call_id.clone());
                self.close(out);
                let id = new_id("fc_");
                let oi = self.index();
                let item = json!({"id": id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id, "name": name});
                self.emit(json!({"type": "response.output_item.added", "output_index": oi, "item": item}), out);
                self.current = Some(Item::Function {
                    id,
                    call_id: call_id.clone(),
                    name: name.clone(),
                    args: String::new(),
                    index: *index,
                });
            }
            Event::ToolArgs { index, delta } => {
                let oi = self.index();
                if let Some(Item::Function { id, args, index: i, .. }) = &mut self.current
                    && i == index
                {
                    args.push_str(delta);
                    let id = id.clone();
                    self.emit(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": oi, "delta": delta}), out);
                }
            }
            Event::Stop(s) => self.stop = Some(*s),
            Event::Error(e) => {
                self.ensure_started(out);
                self.failed = Some(e.message.clone());
                let code = e.openai_code().unwrap_or_else(|| e.kind.openai_type().to_string());
                self.emit(json!({"type": "error", "code": code, "message": e.message, "param": e.param}), out);
            }
            Event::Usage(_) => {}
        }
    }

    fn finish(&mut self, error: Option<&UpstreamError>, usage: TokenUsage, out: &mut Vec<Bytes>) {
        self.ensure_started(out);
        self.close(out);
        if let Some(e) = error.filter(|_| self.failed.is_none()) {
            self.event(&Event::Error(e.clone()), out);
        }
        let usage = Some(usage_to(&usage));
        if self.failed.is_some() {
            let r = self.response("failed", usage);
            self.emit(json!({"type": "response.failed", "response": r}), out);
            return;
        }
        let status = status_of(self.stop.unwrap_or(Stop::End));
        let r = self.response(status, usage);
        let kind = if status == "incomplete" { "response.incomplete" } else { "response.completed" };
        self.emit(json!({"type": kind, "response": r}), out);
    }
}

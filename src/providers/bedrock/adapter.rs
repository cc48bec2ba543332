//! The response adapter of a Bedrock attempt: Converse answers (a JSON body, or event stream
//! frames) become the OpenAI Chat bytes the plan's own adapter reads, so every client dialect is
//! served by the existing hub. It reports Bedrock's exact usage (cache writes included, which the
//! Chat shape cannot carry) and turns in-stream exceptions into the Chat error chunk the inner
//! adapter already classifies (before content: a retryable failure; after: relayed and ended).

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd, UpstreamFault};
use actors::outcome::OutcomeKind;
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

use super::converse::{self, StreamState};
use super::eventstream::{Decoder, Message};
use crate::sse::data_event;

/// Converse → OpenAI Chat, around the plan's adapter.
pub struct ConverseAdapter {
    inner: Box<dyn ResponseAdapter>,
    model: String,
    decoder: Decoder,
    state: StreamState,
    /// Exact usage (from `metadata` or the whole answer).
    usage: Option<TokenUsage>,
    /// `[DONE]` went to the inner adapter.
    done: bool,
    /// Frames of an unknown kind, dropped.
    dropped: u64,
    /// The client stream goes on with another upstream (mid-stream failover): its bytes are
    /// already what the inner adapter reads (a Bedrock one comes through its own wrapper).
    relay: bool,
    /// An exception relayed after content: the attempt counts as it.
    fault: Option<UpstreamFault>,
}

impl ConverseAdapter {
    /// Wraps the plan's (OpenAI Chat upstream) adapter for `model`.
    pub fn new(inner: Box<dyn ResponseAdapter>, model: &str) -> Self {
        Self {
            inner,
            model: model.to_string(),
            decoder: Decoder::new(),
            state: StreamState::new(model),
            usage: None,
            done: false,
            dropped: 0,
            relay: false,
            fault: None,
        }
    }

    fn feed(&mut self, v: &Value, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.inner.push(&data_event(&v.to_string()), out)
    }

    fn done(&mut self, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        self.inner.push(b"data: [DONE]\n\n", out)
    }

    fn message(&mut self, m: &Message, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        let payload: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        match m.header(":message-type").unwrap_or("event") {
            "event" => {
                let kind = m.header(":event-type").unwrap_or_default();
                let chunks = self.state.event(kind, &payload);
                if chunks.is_empty() && !KNOWN.contains(&kind) {
                    self.dropped += 1;
                }
                for c in chunks {
                    self.feed(&c, out)?;
                }
                if kind == "metadata" {
                    self.usage = self.state.usage;
                    self.done(out)?;
                }
                Ok(())
            }
            // `exception` (a modeled error: `:exception-type`) or `error` (`:error-code`).
            _ => {
                let kind = m
                    .header(":exception-type")
                    .or_else(|| m.header(":error-code"))
                    .unwrap_or("internalServerException");
                let message = payload
                    .get("message")
                    .or_else(|| payload.get("Message"))
                    .and_then(Value::as_str)
                    .or_else(|| m.header(":error-message"))
                    .unwrap_or("the upstream stream failed");
                self.done = true;
                let fault = fault(kind, message);
                if !self.inner.has_content() {
                    // Nothing reached the client: a failure the executor may retry elsewhere,
                    // classified here (Bedrock's throttling words would read as a context overflow).
                    return Err(AdapterError::Upstream(fault));
                }
                self.fault = Some(fault);
                self.feed(&converse::chat_error(kind, message), out)
            }
        }
    }
}

/// A Bedrock exception as the executor counts it (the HTTP status it has as a plain answer, from
/// the ConverseStream reference's error list).
pub fn fault(exception: &str, message: &str) -> UpstreamFault {
    let (kind, status) = match exception.trim_end_matches("Exception").to_ascii_lowercase().as_str() {
        "throttling" => (OutcomeKind::RateLimited { retry_after: None }, 429),
        "validation" | "resourcenotfound" | "modelerror" => (OutcomeKind::ClientError, 400),
        "accessdenied" => (OutcomeKind::AuthFailed, 403),
        "serviceunavailable" | "modelnotready" => (OutcomeKind::ServerError, 503),
        "modeltimeout" => (OutcomeKind::Timeout, 408),
        _ => (OutcomeKind::ServerError, 500),
    };
    let body = Bytes::from(converse::chat_error(exception, message).to_string());
    UpstreamFault { kind, status, message: message.to_string(), body }
}

/// Event types of a Converse stream that may carry nothing for a client.
const KNOWN: [&str; 6] =
    ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"];

impl ResponseAdapter for ConverseAdapter {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        if self.relay {
            return self.inner.push(chunk, out);
        }
        let mut messages = Vec::new();
        let framing = self.decoder.push(chunk, &mut messages);
        for m in &messages {
            if self.done {
                break;
            }
            self.message(m, out)?;
        }
        framing.map_err(|e| AdapterError::Malformed(format!("Bedrock event stream: {e}")))
    }

    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        if error.is_none() && self.state.stopped && !self.relay {
            // A stream that stopped but sent no `metadata`: still a whole answer.
            let _ = self.done(out);
        }
        self.inner.finish(error, out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|_| AdapterError::Malformed("Bedrock answered something that is not JSON".into()))?;
        if v.get("output").is_none() {
            let message = v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str).unwrap_or("no output");
            let e = converse::chat_error("internalServerException", message);
            return self.inner.complete(Bytes::from(e.to_string()));
        }
        let (chat, used) = converse::response(&v, &self.model);
        self.usage = Some(used);
        self.inner.complete(Bytes::from(chat.to_string()))
    }

    fn has_content(&self) -> bool {
        self.inner.has_content()
    }

    fn terminated(&self) -> bool {
        self.inner.terminated()
    }

    fn usage(&self) -> TokenUsage {
        match self.usage {
            Some(u) if !self.relay => u,
            _ => self.inner.usage(),
        }
    }

    fn dropped_frames(&self) -> u64 {
        self.inner.dropped_frames() + self.dropped
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.fault.as_ref().or_else(|| self.inner.fault())
    }

    fn resume_point(&self) -> Option<String> {
        self.inner.resume_point()
    }

    fn resume(&mut self, next: &dyn std::any::Any) -> bool {
        let ok = self.inner.resume(next);
        if ok {
            self.relay = true;
        }
        ok
    }
}

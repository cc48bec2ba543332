//! Response adapters around the dialect's own, for subscription endpoints that answer in an
//! envelope: Code Assist wraps every Gemini answer (and every stream chunk) in
//! `{"response": ...}`; the Codex endpoint only streams, so a client that asked for a whole
//! answer gets the stream's final response object.

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd, UpstreamFault};
use actors::outcome::OutcomeKind;
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde_json::Value;

use crate::sse::{SseEvent, SseParser, data_event};

/// An upstream event past the parser's bound.
fn overflow() -> AdapterError {
    crate::translate::adapter::overflow()
}

/// Code Assist → plain Gemini: each answer's `response` object is what the Gemini adapter
/// reads; `traceId` and credit fields around it are dropped.
pub struct CodeAssistUnwrap {
    inner: Box<dyn ResponseAdapter>,
    sse: SseParser,
    events: Vec<SseEvent>,
}

impl CodeAssistUnwrap {
    /// Wraps the Gemini adapter.
    pub fn new(inner: Box<dyn ResponseAdapter>) -> Self {
        Self { inner, sse: SseParser::new(), events: Vec::new() }
    }

    fn forward(&mut self, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        for ev in std::mem::take(&mut self.events) {
            match serde_json::from_str::<Value>(&ev.data) {
                Ok(mut v) => {
                    let inner = v.get_mut("response").map(Value::take).unwrap_or(v);
                    self.inner.push(&data_event(&inner.to_string()), out)?;
                }
                Err(_) => self.inner.push(&ev.raw, out)?,
            }
        }
        if self.sse.overflowed() { Err(overflow()) } else { Ok(()) }
    }
}

impl ResponseAdapter for CodeAssistUnwrap {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        self.forward(out)
    }

    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        self.sse.finish(&mut self.events);
        // A last event that cannot be forwarded changes nothing: the inner adapter closes the
        // stream in the client's dialect either way.
        let _ = self.forward(out);
        self.inner.finish(error, out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        match serde_json::from_slice::<Value>(&body) {
            Ok(mut v) if v.get("response").is_some() => {
                let inner = v.get_mut("response").map(Value::take).unwrap_or_default();
                self.inner.complete(Bytes::from(inner.to_string()))
            }
            Ok(_) | Err(_) => self.inner.complete(body),
        }
    }

    fn has_content(&self) -> bool {
        self.inner.has_content()
    }

    fn terminated(&self) -> bool {
        self.inner.terminated()
    }

    fn usage(&self) -> TokenUsage {
        self.inner.usage()
    }

    fn dropped_frames(&self) -> u64 {
        self.inner.dropped_frames() + self.sse.garbage_lines()
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.inner.fault()
    }
}

/// A Responses stream read whole → its final response object (`response.completed`,
/// `.incomplete` or `.failed`), with the output items of `response.output_item.done` filled
/// in when the final event carries none.
pub struct CollectResponse {
    inner: Box<dyn ResponseAdapter>,
}

impl CollectResponse {
    /// Wraps the Responses adapter.
    pub fn new(inner: Box<dyn ResponseAdapter>) -> Self {
        Self { inner }
    }
}

/// The final response of a whole Responses stream.
pub fn final_response(body: &[u8]) -> Result<Value, AdapterError> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    parser.push(body, &mut events);
    parser.finish(&mut events);
    if parser.overflowed() {
        return Err(overflow());
    }
    let mut items: Vec<(u64, Value)> = Vec::new();
    let mut last: Option<Value> = None;
    let mut error: Option<Value> = None;
    for ev in events {
        let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else { continue };
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "response.output_item.done" => {
                let i = v.get("output_index").and_then(Value::as_u64).unwrap_or(items.len() as u64);
                items.push((i, v.get_mut("item").map(Value::take).unwrap_or_default()));
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                last = v.get_mut("response").map(Value::take);
            }
            "error" => error = Some(v),
            _ => {}
        }
    }
    match (last, error) {
        (Some(mut r), _) => {
            let empty = r.get("output").and_then(Value::as_array).is_none_or(Vec::is_empty);
            if empty && !items.is_empty() {
                items.sort_by_key(|(i, _)| *i);
                r["output"] = Value::Array(items.into_iter().map(|(_, it)| it).collect());
            }
            Ok(r)
        }
        (None, Some(e)) => {
            let message = e
                .pointer("/error/message")
                .or_else(|| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("the upstream stream failed")
                .to_string();
            Err(AdapterError::Upstream(UpstreamFault {
                kind: OutcomeKind::ServerError,
                status: 502,
                message,
                body: Bytes::from(e.to_string()),
            }))
        }
        (None, None) => Err(AdapterError::Empty),
    }
}

impl ResponseAdapter for CollectResponse {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.inner.push(chunk, out)
    }

    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        self.inner.finish(error, out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&body[..], |i| &body[i..]);
        if trimmed.first() == Some(&b'{') {
            // Not a stream after all (an error object): as it is.
            return self.inner.complete(body);
        }
        let r = final_response(&body)?;
        self.inner.complete(Bytes::from(r.to_string()))
    }

    fn has_content(&self) -> bool {
        self.inner.has_content()
    }

    fn terminated(&self) -> bool {
        self.inner.terminated()
    }

    fn usage(&self) -> TokenUsage {
        self.inner.usage()
    }

    fn dropped_frames(&self) -> u64 {
        self.inner.dropped_frames()
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.inner.fault()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_response_of_a_stream_with_items_filled_in() {
        let sse = concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r1\",\"output\":[]}}\n\n",
            "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}]}}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r1\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        );
        let r = final_response(sse.as_bytes()).expect("final");
        assert_eq!(r["id"], "r1");
        assert_eq!(r["output"][0]["content"][0]["text"], "Hi");
        assert_eq!(r["usage"]["output_tokens"], 1);
        assert!(
            matches!(final_response(b"data: {\"type\":\"error\",\"message\":\"bad\"}\n\n"), Err(AdapterError::Upstream(f)) if f.message == "bad")
        );
        assert!(matches!(final_response(b""), Err(AdapterError::Empty)));
    }
}

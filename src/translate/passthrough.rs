//! Same-dialect adapters (OpenAI Chat → OpenAI Chat, embeddings): bytes are forwarded as they
//! came; the adapter only watches for content and usage, drops the usage chunk the gateway asked
//! for on the client's behalf, and guarantees the `[DONE]` terminator.

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd, UpstreamFault};
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use crate::protocol::Dialect;
use crate::protocol::openai::OpenAiUsage;
use crate::sse::{SseEvent, SseParser, data_event};
use crate::translate::adapter::{end_error, fault_of, whole_json, with_estimates};

/// The `[DONE]` terminator.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Deserialize)]
struct FunctionProbe {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ToolCallProbe {
    #[serde(default)]
    function: Option<FunctionProbe>,
}

#[derive(Deserialize)]
struct DeltaProbe {
    #[serde(default)]
    content: Option<serde_json::Value>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallProbe>>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceProbe {
    #[serde(default, alias = "message")]
    delta: Option<DeltaProbe>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChunkProbe {
    #[serde(default)]
    choices: Vec<ChoiceProbe>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

fn non_empty(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Null) | None => false,
        Some(_) => true,
    }
}

impl ChoiceProbe {
    fn has_content(&self) -> bool {
        self.delta.as_ref().is_some_and(|d| {
            non_empty(&d.content)
                || d.reasoning_content.as_deref().is_some_and(|s| !s.is_empty())
                || d.reasoning.as_deref().is_some_and(|s| !s.is_empty())
                || d.tool_calls.as_ref().is_some_and(|t| !t.is_empty())
                || d.refusal.as_deref().is_some_and(|s| !s.is_empty())
        })
    }

    /// Characters of output this choice carries (for an estimate when no usage comes).
    fn output_chars(&self) -> usize {
        let Some(d) = &self.delta else { return 0 };
        let text = match &d.content {
            Some(serde_json::Value::String(s)) => s.chars().count(),
            _ => 0,
        };
        let reasoning = d.reasoning_content.as_deref().or(d.reasoning.as_deref()).map_or(0, |s| s.chars().count());
        let tools: usize = d
            .tool_calls
            .iter()
            .flatten()
            .filter_map(|t| t.function.as_ref())
            .map(|f| f.name.as_deref().map_or(0, str::len) + f.arguments.as_deref().map_or(0, str::len))
            .sum();
        text + reasoning + tools
    }
}

/// OpenAI Chat Completions passthrough.
#[derive(Debug, Default)]
pub struct ChatPassthrough {
    sse: SseParser,
    events: Vec<SseEvent>,
    /// The client did not ask for usage: drop the usage-only chunk we requested.
    strip_usage_chunk: bool,
    done: bool,
    content: bool,
    finished: bool,
    usage: TokenUsage,
    /// Output characters seen, and the input estimate, for when the upstream reports no usage.
    output_chars: usize,
    input_estimate: u64,
    /// The request ends with a tool result (an empty `stop` is an answer).
    after_tool_result: bool,
    fault: Option<UpstreamFault>,
    invalid: u64,
}

impl ChatPassthrough {
    /// A passthrough; `strip_usage_chunk` when the gateway added `stream_options.include_usage`;
    /// `input_estimate` counts the prompt when the upstream reports no usage.
    pub fn new(strip_usage_chunk: bool, input_estimate: u64) -> Self {
        Self { strip_usage_chunk, input_estimate, ..Self::default() }
    }

    /// Marks the request as ending with a tool result: an empty answer that stops is then one.
    pub fn after_tool_result(mut self, yes: bool) -> Self {
        self.after_tool_result = yes;
        self
    }

    /// Whether a choice is an answer: content, or a finish reason that explains its absence.
    fn answers(&self, c: &ChoiceProbe) -> bool {
        c.has_content()
            || c.finish_reason.as_deref().is_some_and(|r| {
                crate::translate::canonical::explains_empty(
                    crate::translate::openai_chat::stop_from(r),
                    self.after_tool_result,
                )
            })
    }

    fn on_event(&mut self, ev: SseEvent, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        if self.done || self.fault.is_some() {
            // Nothing follows `[DONE]` (or the upstream's error) for a client.
            self.invalid += 1;
            return Ok(());
        }
        if ev.data == "[DONE]" {
            self.done = true;
            out.push(ev.raw);
            return Ok(());
        }
        // Every chunk is JSON: anything else (garbage, a cut frame) is dropped, never forwarded.
        if !ev.data_is_json() {
            self.invalid += 1;
            return Ok(());
        }
        if let Ok(p) = serde_json::from_str::<ChunkProbe>(&ev.data) {
            if p.error.is_some() {
                let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
                if let Some(e) = crate::translate::errors::parse(Dialect::OpenaiChat, &v, None) {
                    let fault = fault_of(&e);
                    if !self.content {
                        return Err(AdapterError::Upstream(fault));
                    }
                    self.fault = Some(fault);
                }
            }
            if p.choices.iter().any(|c| self.answers(c)) {
                self.content = true;
            }
            if p.choices.iter().any(|c| c.finish_reason.is_some()) {
                self.finished = true;
            }
            self.output_chars += p.choices.iter().map(ChoiceProbe::output_chars).sum::<usize>();
            if let Some(u) = &p.usage {
                self.usage = u.canonical();
                if self.strip_usage_chunk && p.choices.is_empty() {
                    return Ok(());
                }
            }
        }
        out.push(if ev.clean { ev.raw } else { data_event(&ev.data) });
        Ok(())
    }
}

impl ResponseAdapter for ChatPassthrough {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        if self.sse.overflowed() {
            return Err(crate::translate::adapter::overflow());
        }
        let events = std::mem::take(&mut self.events);
        for ev in events {
            self.on_event(ev, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, end: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        let mut tail = Vec::new();
        self.sse.finish(&mut tail);
        for ev in tail {
            let _ = self.on_event(ev, out);
        }
        if self.done {
            return;
        }
        if let Some(end) = end.filter(|_| self.fault.is_none()) {
            let e = end_error(end);
            out.push(data_event(&json!({"error": e.object(Dialect::OpenaiChat)}).to_string()));
        }
        out.push(Bytes::from_static(DONE));
        self.done = true;
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let probe: ChunkProbe = whole_json(&body)?;
        if probe.error.is_some() && probe.choices.is_empty() {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if let Some(e) = crate::translate::errors::parse(Dialect::OpenaiChat, &v, None) {
                return Err(AdapterError::Upstream(fault_of(&e)));
            }
        }
        if let Some(u) = &probe.usage {
            self.usage = u.canonical();
        }
        if !probe.choices.iter().any(|c| self.answers(c)) {
            return Err(AdapterError::Empty);
        }
        self.output_chars = probe.choices.iter().map(ChoiceProbe::output_chars).sum();
        self.content = true;
        Ok(body)
    }

    fn has_content(&self) -> bool {
        self.content
    }

    fn terminated(&self) -> bool {
        self.done || self.finished || self.fault.is_some()
    }

    fn usage(&self) -> TokenUsage {
        with_estimates(self.usage, self.input_estimate, || (self.output_chars as u64).div_ceil(4))
    }

    fn dropped_frames(&self) -> u64 {
        self.invalid + self.sse.garbage_lines()
    }

    fn fault(&self) -> Option<&UpstreamFault> {
        self.fault.as_ref()
    }
}

#[derive(Deserialize)]
struct EmbeddingsProbe {
    #[serde(default)]
    data: Vec<IgnoredAny>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

/// OpenAI embeddings passthrough (never streamed).
#[derive(Debug, Default)]
pub struct EmbeddingsPassthrough {
    usage: TokenUsage,
}

impl ResponseAdapter for EmbeddingsPassthrough {
    fn push(&mut self, _: &[u8], _: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        Err(AdapterError::Malformed("embeddings are not streamed".into()))
    }

    fn finish(&mut self, _: Option<StreamEnd<'_>>, _: &mut Vec<Bytes>) {}

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let p: EmbeddingsProbe = whole_json(&body)?;
        if p.data.is_empty() {
            return Err(AdapterError::Empty);
        }
        if let Some(u) = p.usage {
            self.usage = u.canonical();
        }
        Ok(body)
    }

    fn has_content(&self) -> bool {
        true
    }

    fn terminated(&self) -> bool {
        true
    }

    fn usage(&self) -> TokenUsage {
        self.usage
    }
}

/// Anthropic `count_tokens` passthrough (never streamed).
#[derive(Debug, Default)]
pub struct CountTokensPassthrough;

impl ResponseAdapter for CountTokensPassthrough {
    fn push(&mut self, _: &[u8], _: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        Err(AdapterError::Malformed("token counts are not streamed".into()))
    }

    fn finish(&mut self, _: Option<StreamEnd<'_>>, _: &mut Vec<Bytes>) {}

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let v: serde_json::Value = whole_json(&body)?;
        if v.get("input_tokens").and_then(serde_json::Value::as_u64).is_none() {
            return Err(AdapterError::Malformed("the upstream count has no input_tokens".into()));
        }
        Ok(body)
    }

    fn has_content(&self) -> bool {
        true
    }

    fn terminated(&self) -> bool {
        true
    }

    fn usage(&self) -> TokenUsage {
        TokenUsage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &mut ChatPassthrough, chunks: &[&str], err: Option<&str>) -> String {
        let mut out = Vec::new();
        for c in chunks {
            a.push(c.as_bytes(), &mut out).ok();
        }
        a.finish(err.map(|message| StreamEnd { kind: actors::outcome::OutcomeKind::ProtocolError, message }), &mut out);
        out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }

    #[test]
    fn usage_chunk_is_read_and_stripped_when_we_asked_for_it() {
        let chunks = [
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n",
        ];
        let mut a = ChatPassthrough::new(true, 0);
        let s = run(&mut a, &chunks, None);
        assert!(!s.contains("prompt_tokens"), "{s}");
        assert!(s.ends_with("data: [DONE]\n\n") && s.matches("[DONE]").count() == 1);
        assert_eq!(a.usage().total(), 4);
        let mut a = ChatPassthrough::new(false, 0);
        assert!(run(&mut a, &chunks, None).contains("prompt_tokens"));
    }

    #[test]
    fn garbage_lines_and_frames_are_dropped_and_counted_not_forwarded() {
        let chunks = [
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            "GARBAGE LINE\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
            "data: {this is not json\n\n",
            "<html>oops</html>\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        ];
        let mut a = ChatPassthrough::new(false, 0);
        let s = run(&mut a, &chunks, None);
        assert!(!s.contains("GARBAGE") && !s.contains("not json") && !s.contains("html"), "{s}");
        assert!(s.contains("\"content\":\"a\"") && s.contains("\"content\":\"b\""), "{s}");
        assert_eq!(a.dropped_frames(), 3, "one garbage line, one bad frame, one block of garbage");
        assert!(s.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn abrupt_end_gets_an_error_chunk_and_done() {
        let mut a = ChatPassthrough::new(false, 0);
        let s = run(&mut a, &["data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"], Some("broke"));
        assert!(a.has_content());
        assert!(s.contains("\"error\"") && s.contains("broke") && s.ends_with("data: [DONE]\n\n"), "{s}");
    }

    #[test]
    fn role_only_chunk_is_not_content_and_empty_bodies_are_empty() {
        let mut a = ChatPassthrough::new(false, 0);
        let mut out = Vec::new();
        a.push(b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n", &mut out).ok();
        assert!(!a.has_content());
        assert_eq!(a.complete(Bytes::new()), Err(AdapterError::Empty));
        assert_eq!(a.complete(Bytes::from_static(br#"{"choices":[]}"#)), Err(AdapterError::Empty));
        assert!(matches!(a.complete(Bytes::from_static(b"<html>")), Err(AdapterError::Malformed(_))));
    }
}

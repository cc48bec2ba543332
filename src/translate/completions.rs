//! OpenAI legacy text completions (`POST /v1/completions`): the request as a chat request for
//! upstreams that only chat (`to_chat`), chat answers rewritten as `text_completion` objects and
//! chunks (`FromChat`, wrapped around the chat adapter), and the adapter for upstreams that serve
//! completions themselves (`CompletionsPassthrough`). Which of the two an attempt takes is the
//! plan's choice (`pipeline::surfaces`), never this module's.
//!
//! Wire shapes (openai-python `types/completion.py`, `completion_choice.py`; fixtures in
//! `tests/fixtures/openai-completions/`): a completion and each streamed chunk are the same
//! object, `{id, object:"text_completion", created, model, choices:[{text, index, logprobs,
//! finish_reason}], usage?}`; `finish_reason` is `stop`, `length` or `content_filter` (null on
//! chunks before the last); a stream ends with `data: [DONE]`.

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd, UpstreamFault};
use actors::usage::TokenUsage;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use crate::protocol::Dialect;
use crate::protocol::openai::OpenAiUsage;
use crate::protocol::raw::RawObject;
use crate::sse::{SseEvent, SseParser, data_event};
use crate::translate::adapter::{end_error, fault_of, whole_json, with_estimates};
use crate::translate::passthrough::DONE;

/// Completion fields a chat request has no equivalent for: refused when the request must be
/// translated (silently dropping them would change the answer the client asked for).
const UNTRANSLATABLE: [(&str, &str); 4] = [
    ("suffix", "a suffix (fill-in-the-middle)"),
    ("echo", "echoing the prompt"),
    ("best_of", "best_of"),
    ("logprobs", "log probabilities"),
];

/// The chat request a completion request stands for: `prompt` (a string, or an array of one
/// string) becomes one user message; every other field is kept as it is (`max_tokens`,
/// `temperature`, `stop`, `stream`, `stream_options`, `n`, unknown vendor fields). A prompt
/// list of several prompts, token-id prompts and the fields in `UNTRANSLATABLE` (when set) are
/// refused, naming the field. `max_tokens` keeps the client's value; its absence is not turned
/// into OpenAI's completion default of 16.
pub fn to_chat(body: &RawObject) -> Result<RawObject, String> {
    for (key, what) in UNTRANSLATABLE {
        let set = match body.parse::<Value>(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Number(n)) if key == "best_of" => n.as_u64().is_some_and(|n| n > 1),
            Some(_) => true,
        };
        if set {
            return Err(format!(
                "`{key}` ({what}) cannot be served by a chat-only upstream; leave it out or use a provider that serves /v1/completions"
            ));
        }
    }
    let prompt = match body.parse::<Value>("prompt") {
        Some(Value::String(s)) => s,
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] => s.clone(),
            [] => return Err("`prompt` must not be an empty array".into()),
            items if items.iter().all(Value::is_string) => {
                return Err(format!(
                    "`prompt` holds {} prompts; a chat-only upstream takes one prompt per request",
                    items.len()
                ));
            }
            _ => {
                return Err(
                    "`prompt` as token ids cannot be served by a chat-only upstream; send the prompt as text".into()
                );
            }
        },
        None | Some(Value::Null) => return Err("`prompt` is required".into()),
        Some(_) => return Err("`prompt` must be a string or an array of strings".into()),
    };
    let mut chat = RawObject::default();
    for (k, v) in &body.0 {
        if k != "prompt" && !UNTRANSLATABLE.iter().any(|(u, _)| u == k) {
            chat.0.push((k.clone(), v.clone()));
        }
    }
    chat.set("messages", &json!([{"role": "user", "content": prompt}]));
    Ok(chat)
}

/// A chat finish reason as a completion's (`stop`, `length`, `content_filter`).
fn finish_of(chat: &Value) -> Value {
    match chat.as_str() {
        None => Value::Null,
        Some(r @ ("length" | "content_filter")) => Value::String(r.into()),
        Some(_) => Value::String("stop".into()),
    }
}

/// The `text_completion` object of one chat completion or chunk (`None`: a chunk that carries
/// nothing a completion client can see, such as a role-only or reasoning-only delta).
pub fn from_chat_object(chat: &Value) -> Option<Value> {
    if chat.get("error").is_some() {
        return Some(chat.clone());
    }
    let mut out = Map::new();
    for k in ["id", "created", "model"] {
        out.insert(k.into(), chat.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert("object".into(), json!("text_completion"));
    let mut seen = false;
    let choices: Vec<Value> = chat["choices"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let part = if c.get("message").is_some() { &c["message"] } else { &c["delta"] };
            let text = part["content"].as_str().unwrap_or_default();
            seen |= !text.is_empty() || !c["finish_reason"].is_null();
            json!({"text": text, "index": c["index"].as_u64().unwrap_or(0), "logprobs": null,
                   "finish_reason": finish_of(&c["finish_reason"])})
        })
        .collect();
    let usage = chat.get("usage").filter(|u| !u.is_null());
    if !seen && usage.is_none() && chat["object"] != "chat.completion" {
        return None;
    }
    out.insert("choices".into(), Value::Array(choices));
    if let Some(fp) = chat.get("system_fingerprint") {
        out.insert("system_fingerprint".into(), fp.clone());
    }
    if let Some(u) = usage {
        out.insert("usage".into(), u.clone());
    }
    Some(Value::Object(out))
}

/// Rewrites what a chat adapter gives an OpenAI Chat client as a completions client's answer.
pub struct FromChat {
    inner: Box<dyn ResponseAdapter>,
    sse: SseParser,
    events: Vec<SseEvent>,
}

impl FromChat {
    /// Wraps the adapter of a chat attempt (OpenAI Chat on the client side).
    pub fn new(inner: Box<dyn ResponseAdapter>) -> Self {
        Self { inner, sse: SseParser::default(), events: Vec::new() }
    }

    fn rewrite(&mut self, chat: Vec<Bytes>, out: &mut Vec<Bytes>) {
        for b in chat {
            self.sse.push(&b, &mut self.events);
        }
        for ev in std::mem::take(&mut self.events) {
            if ev.data == "[DONE]" {
                out.push(Bytes::from_static(DONE));
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { continue };
            if let Some(c) = from_chat_object(&v) {
                out.push(data_event(&c.to_string()));
            }
        }
    }
}

impl ResponseAdapter for FromChat {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        let mut chat = Vec::new();
        self.inner.push(chunk, &mut chat)?;
        self.rewrite(chat, out);
        Ok(())
    }

    fn finish(&mut self, end: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        let mut chat = Vec::new();
        self.inner.finish(end, &mut chat);
        self.rewrite(chat, out);
        let mut tail = Vec::new();
        self.sse.finish(&mut tail);
        self.events = tail;
        self.rewrite(Vec::new(), out);
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        let chat = self.inner.complete(body)?;
        let v: Value =
            serde_json::from_slice(&chat).map_err(|_| AdapterError::Malformed("the chat answer is not JSON".into()))?;
        let c = from_chat_object(&v).ok_or(AdapterError::Empty)?;
        Ok(Bytes::from(c.to_string()))
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

#[derive(Deserialize)]
struct ChoiceProbe {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    choices: Vec<ChoiceProbe>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

/// OpenAI completions passthrough: bytes as they came; watches for text and usage, drops the
/// usage chunk the gateway asked for on the client's behalf, guarantees `[DONE]`.
#[derive(Debug, Default)]
pub struct CompletionsPassthrough {
    sse: SseParser,
    events: Vec<SseEvent>,
    strip_usage_chunk: bool,
    done: bool,
    content: bool,
    finished: bool,
    usage: TokenUsage,
    output_chars: usize,
    input_estimate: u64,
    fault: Option<UpstreamFault>,
    invalid: u64,
}

impl CompletionsPassthrough {
    /// A passthrough; `strip_usage_chunk` when the gateway added `stream_options.include_usage`.
    pub fn new(strip_usage_chunk: bool, input_estimate: u64) -> Self {
        Self { strip_usage_chunk, input_estimate, ..Self::default() }
    }

    fn error_of(v: &Value) -> Option<UpstreamFault> {
        crate::translate::errors::parse(Dialect::OpenaiChat, v, None).map(|e| fault_of(&e))
    }

    fn read(&mut self, p: &Probe) {
        if p.choices.iter().any(|c| c.text.as_deref().is_some_and(|t| !t.is_empty()) || c.finish_reason.is_some()) {
            self.content = true;
        }
        if p.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.finished = true;
        }
        self.output_chars +=
            p.choices.iter().map(|c| c.text.as_deref().map_or(0, |t| t.chars().count())).sum::<usize>();
        if let Some(u) = &p.usage {
            self.usage = u.canonical();
        }
    }

    fn on_event(&mut self, ev: SseEvent, out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        if self.done || self.fault.is_some() {
            self.invalid += 1;
            return Ok(());
        }
        if ev.data == "[DONE]" {
            self.done = true;
            out.push(ev.raw);
            return Ok(());
        }
        if !ev.data_is_json() {
            self.invalid += 1;
            return Ok(());
        }
        if let Ok(p) = serde_json::from_str::<Probe>(&ev.data) {
            if p.error.is_some()
                && let Some(fault) = Self::error_of(&serde_json::from_str(&ev.data).unwrap_or_default())
            {
                if !self.content {
                    return Err(AdapterError::Upstream(fault));
                }
                self.fault = Some(fault);
            }
            self.read(&p);
            if p.usage.is_some() && self.strip_usage_chunk && p.choices.is_empty() {
                return Ok(());
            }
        }
        out.push(if ev.clean { ev.raw } else { data_event(&ev.data) });
        Ok(())
    }
}

impl ResponseAdapter for CompletionsPassthrough {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        self.sse.push(chunk, &mut self.events);
        if self.sse.overflowed() {
            return Err(crate::translate::adapter::overflow());
        }
        for ev in std::mem::take(&mut self.events) {
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
        let p: Probe = whole_json(&body)?;
        if p.error.is_some()
            && p.choices.is_empty()
            && let Some(fault) = Self::error_of(&serde_json::from_slice(&body).unwrap_or_default())
        {
            return Err(AdapterError::Upstream(fault));
        }
        self.read(&p);
        if !self.content {
            return Err(AdapterError::Empty);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawObject {
        serde_json::from_str(s).unwrap_or_default()
    }

    #[test]
    fn a_prompt_becomes_one_user_message_and_other_fields_stay() {
        let chat = to_chat(&raw(r#"{"model":"m","prompt":["Say hi"],"max_tokens":5,"stop":"\n","x_vendor":1}"#));
        let v: Value = serde_json::from_slice(&chat.unwrap_or_default().to_vec()).unwrap_or_default();
        assert_eq!(v["messages"], json!([{"role": "user", "content": "Say hi"}]));
        assert_eq!(
            (v["max_tokens"].as_u64(), v["stop"].as_str(), v["x_vendor"].as_u64()),
            (Some(5), Some("\n"), Some(1))
        );
        assert!(v.get("prompt").is_none());
    }

    #[test]
    fn what_chat_cannot_do_is_refused_by_name() {
        let e = |s: &str| to_chat(&raw(s)).err().unwrap_or_default();
        assert!(e(r#"{"prompt":["a","b"]}"#).contains("2 prompts"));
        assert!(e(r#"{"prompt":[1,2,3]}"#).contains("token ids"));
        assert!(e(r#"{"prompt":"a","suffix":"z"}"#).contains("`suffix`"));
        assert!(e(r#"{"prompt":"a","echo":true}"#).contains("`echo`"));
        assert!(e(r#"{"prompt":"a","logprobs":2}"#).contains("`logprobs`"));
        assert!(to_chat(&raw(r#"{"prompt":"a","echo":false,"best_of":1,"logprobs":null}"#)).is_ok());
    }

    #[test]
    fn chat_chunks_and_answers_become_text_completions() {
        let chunk = json!({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",
            "choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]});
        let c = from_chat_object(&chunk).unwrap_or_default();
        assert_eq!(c["object"], "text_completion");
        assert_eq!(c["choices"][0], json!({"text":"Hi","index":0,"logprobs":null,"finish_reason":null}));
        let role_only = json!({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]});
        assert!(from_chat_object(&role_only).is_none());
        let last = json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]});
        assert_eq!(from_chat_object(&last).unwrap_or_default()["choices"][0]["finish_reason"], "stop");
        let whole = json!({"id":"x","object":"chat.completion","created":1,"model":"m",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Yes"},"finish_reason":"length"}],
            "usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}});
        let c = from_chat_object(&whole).unwrap_or_default();
        assert_eq!(
            (c["choices"][0]["text"].as_str(), c["choices"][0]["finish_reason"].as_str()),
            (Some("Yes"), Some("length"))
        );
        assert_eq!(c["usage"]["total_tokens"], 3);
    }

    #[test]
    fn passthrough_strips_the_usage_chunk_it_asked_for_and_ends_with_done() {
        let mut a = CompletionsPassthrough::new(true, 0);
        let mut out = Vec::new();
        let frames = "data: {\"choices\":[{\"text\":\"Hi\",\"index\":0,\"finish_reason\":null}]}\n\n\
                      data: {\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"stop\"}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5}}\n\n";
        assert!(a.push(frames.as_bytes(), &mut out).is_ok());
        a.finish(None, &mut out);
        let s: String = out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        assert!(!s.contains("prompt_tokens") && s.ends_with("data: [DONE]\n\n"), "{s}");
        assert_eq!((a.usage().input, a.usage().output, a.usage().estimated), (4, 1, false));
        assert!(a.has_content() && a.terminated());
    }
}

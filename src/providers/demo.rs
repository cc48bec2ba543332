//! The built-in `demo` provider: a deterministic echo model served in-process (OpenAI Chat
//! dialect), so a newcomer can try the gateway and watch the dashboard fill without any API key.

use std::time::Duration;

use actors::executor::{LocalReply, LocalUpstream};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::sse::data_event;

/// Delay between two streamed words.
const WORD_DELAY: Duration = Duration::from_millis(15);

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    role: String,
    #[serde(default)]
    content: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => {
            parts.iter().filter_map(|p| p.get("text").and_then(|t| t.as_str())).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

/// One call to the echo model.
#[derive(Debug)]
pub struct Echo {
    reply: String,
    prompt_tokens: u64,
    stream: bool,
    model: String,
}

impl Echo {
    /// Prepares the reply for an OpenAI Chat request body.
    pub fn new(body: &[u8], model: &str) -> Self {
        let req: Request = serde_json::from_slice(body).unwrap_or(Request { messages: vec![], stream: false });
        let last =
            req.messages.iter().rev().find(|m| m.role == "user").map(|m| text_of(&m.content)).unwrap_or_default();
        let chars: usize = req.messages.iter().map(|m| text_of(&m.content).len()).sum();
        let reply =
            if last.trim().is_empty() { "Echo: (no text)".to_string() } else { format!("Echo: {}", last.trim()) };
        Self {
            reply,
            prompt_tokens: (chars as u64).div_ceil(4) + 3 * req.messages.len() as u64,
            stream: req.stream,
            model: model.into(),
        }
    }

    fn usage(&self) -> serde_json::Value {
        let out = self.reply.split_whitespace().count() as u64;
        json!({ "prompt_tokens": self.prompt_tokens, "completion_tokens": out, "total_tokens": self.prompt_tokens + out })
    }
}

impl LocalUpstream for Echo {
    fn call(self: Box<Self>) -> LocalReply {
        let id = format!("chatcmpl-demo-{}", uuid::Uuid::new_v4().simple());
        let created = actors::clock::now_ms() / 1000;
        if !self.stream {
            let body = json!({
                "id": id, "object": "chat.completion", "created": created, "model": self.model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": self.reply }, "finish_reason": "stop" }],
                "usage": self.usage(),
            });
            let bytes = Bytes::from(body.to_string());
            return LocalReply { status: 200, body: futures_util::stream::once(async move { bytes }).boxed() };
        }
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            data_event(
                &json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": self.model,
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                })
                .to_string(),
            )
        };
        let mut frames = vec![chunk(json!({ "role": "assistant", "content": "" }), None)];
        for (i, w) in self.reply.split(' ').enumerate() {
            let piece = if i == 0 { w.to_string() } else { format!(" {w}") };
            frames.push(chunk(json!({ "content": piece }), None));
        }
        frames.push(chunk(json!({}), Some("stop")));
        let usage = json!({ "id": id, "object": "chat.completion.chunk", "created": created, "model": self.model, "choices": [], "usage": self.usage() });
        frames.push(data_event(&usage.to_string()));
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
        let body = futures_util::stream::iter(frames)
            .then(|f| async move {
                tokio::time::sleep(WORD_DELAY).await;
                f
            })
            .boxed();
        LocalReply { status: 200, body }
    }
}

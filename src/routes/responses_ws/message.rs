//! The Responses WebSocket protocol's messages as pure functions: a client message read into a
//! streaming Responses request, a continuation of the socket's last response expanded into the
//! whole conversation, the `generate: false` warm-up's answer, errors in the wrapped shape Codex
//! reads, and what a finished stream leaves for the next turn. No I/O, no pipeline here.

use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::protocol::raw::RawObject;
use crate::routes::common::echo;

/// The `OpenAI-Beta` value Codex CLI sends on the upgrade (`responses_websockets=2026-02-06`):
/// a transport announcement, never passed on to an upstream's HTTP call.
pub const BETA_FEATURE: &str = "responses_websockets";

/// A message from the client.
#[derive(Debug)]
pub enum ClientMessage {
    /// `response.create`: a Responses create body.
    Create(Create),
    /// `response.processed` (newer Codex acknowledges a response it has handled): nothing to do.
    Processed,
}

/// A `response.create`, ready for the pipeline.
#[derive(Debug)]
pub struct Create {
    /// The create body: `type` and `generate` removed, `stream` forced on (a socket always
    /// streams).
    pub body: RawObject,
    /// `generate: false` asks only to prepare state for the next turn (Codex's warm-up).
    pub generate: bool,
}

/// Reads one text message.
pub fn read(text: &str) -> Result<ClientMessage, GatewayError> {
    let mut body: RawObject = serde_json::from_str(text).map_err(|e| {
        GatewayError::BadRequest(format!("the message is not a valid JSON object: {}", echo(&e.to_string(), 160)))
    })?;
    let kind = match body.get("type") {
        None => return Err(GatewayError::BadRequest("a message needs a `type` (`response.create`)".into())),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map_err(|_| GatewayError::BadRequest("the message's `type` must be a string".into()))?,
    };
    match kind.as_str() {
        "response.create" => {}
        "response.processed" => return Ok(ClientMessage::Processed),
        other => {
            return Err(GatewayError::BadRequest(format!(
                "unsupported message type `{}`: this socket takes `response.create`",
                echo(other, 64)
            )));
        }
    }
    let generate = match body.get("generate") {
        None => true,
        Some(raw) => match serde_json::from_str::<Option<bool>>(raw.get()) {
            Ok(g) => g.unwrap_or(true),
            Err(_) => return Err(GatewayError::BadRequest("`generate` must be a boolean".into())),
        },
    };
    if body.get("stream_id").is_some_and(|v| v.get() != "null") {
        // OpenAI's lanes multiplex several responses on one socket; this one runs one at a time.
        return Err(GatewayError::BadRequest(
            "`stream_id` lanes are not supported: one response at a time per socket (open another socket to run two)"
                .into(),
        ));
    }
    if body.parse::<bool>("background") == Some(true) {
        return Err(GatewayError::BadRequest("`background` responses are not supported over WebSocket".into()));
    }
    for k in ["type", "generate", "background", "stream", "stream_id"] {
        body.remove(k);
    }
    body.set("stream", &true);
    Ok(ClientMessage::Create(Create { body, generate }))
}

/// The input items of a Responses body: a string input is one user message.
pub fn input_items(body: &RawObject) -> Result<Vec<Value>, GatewayError> {
    match body.parse::<Value>("input") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"type": "message", "role": "user", "content": s})]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(GatewayError::BadRequest("`input` must be a string or an array of items".into())),
    }
}

/// What the socket keeps of its last completed response, as OpenAI keeps one previous response
/// per connection: enough to serve a continuation without anything stored.
#[derive(Debug, Clone)]
pub struct Last {
    /// The response id the client saw.
    pub id: String,
    /// The whole input that response answered (its own continuation already expanded).
    pub input: Vec<Value>,
    /// Its output items, as the client received them.
    pub output: Vec<Value>,
    /// The session the gateway served it under (`x-omnigate-session-id`), so the chain keeps
    /// its account.
    pub session: Option<String>,
}

/// When `body` continues `last` (`previous_response_id` is its id), replaces the reference by
/// the whole conversation (last's input, its output, then this input), as Codex would have sent
/// it over HTTP; any upstream then serves it, translated or not. Returns whether it did; another
/// `previous_response_id` is left for the pipeline (a stored response upstream may answer it).
pub fn expand(body: &mut RawObject, last: Option<&Last>) -> Result<bool, GatewayError> {
    let Some(last) = last else { return Ok(false) };
    if body.parse::<String>("previous_response_id").as_deref() != Some(last.id.as_str()) {
        return Ok(false);
    }
    let new = input_items(body)?;
    let mut whole = Vec::with_capacity(last.input.len() + last.output.len() + new.len());
    whole.extend(last.input.iter().cloned());
    whole.extend(last.output.iter().cloned());
    whole.extend(new);
    body.set("input", &whole);
    body.remove("previous_response_id");
    Ok(true)
}

/// The answer to a `generate: false` warm-up: `response.created` then `response.completed`,
/// no output and no usage (nothing was asked of an upstream).
pub fn warmup_events(id: &str, model: &str, now_secs: i64) -> [Value; 2] {
    let response = |status: &str| {
        json!({
            "id": id, "object": "response", "created_at": now_secs, "status": status, "model": model,
            "output": [], "error": null, "incomplete_details": null,
            "usage": {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}
        })
    };
    [
        json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress")}),
        json!({"type": "response.completed", "sequence_number": 1, "response": response("completed")}),
    ]
}

/// An error answered on the socket instead of an HTTP status: the HTTP error body's `error`
/// object wrapped with its `status` (and headers worth keeping), the shape OpenAI's socket uses
/// and Codex maps back to the HTTP error it stands for.
pub fn error_event(status: u16, body: &Value, headers: &[(&str, String)]) -> Value {
    let error =
        body.get("error").filter(|e| e.is_object()).cloned().unwrap_or_else(
            || json!({"type": "server_error", "code": null, "message": body.to_string(), "param": null}),
        );
    let mut ev = json!({"type": "error", "status": status, "error": error});
    if !headers.is_empty() {
        ev["headers"] = headers.iter().map(|(k, v)| ((*k).to_string(), Value::String(v.clone()))).collect();
    }
    ev
}

/// Follows a response's events to remember it once it completes.
#[derive(Debug, Default)]
pub struct Tally {
    output: Vec<Value>,
    completed: Option<(String, Vec<Value>)>,
    failed: bool,
}

impl Tally {
    /// Notes one event the client was sent.
    pub fn see(&mut self, event: &Value) {
        match event.get("type").and_then(Value::as_str) {
            Some("response.output_item.done") => {
                if let Some(item) = event.get("item").filter(|i| i.is_object()) {
                    self.output.push(as_input(item.clone()));
                }
            }
            Some("response.completed") => {
                let r = &event["response"];
                if let Some(id) = r.get("id").and_then(Value::as_str) {
                    let output = r.get("output").and_then(Value::as_array).cloned().unwrap_or_default();
                    self.completed = Some((id.to_string(), output.into_iter().map(as_input).collect()));
                }
            }
            Some("response.failed" | "response.incomplete" | "error") => self.failed = true,
            _ => {}
        }
    }

    /// What a turn that answered `input` leaves for the next one: only a completed response
    /// (after an error the client starts over with the whole conversation, as with OpenAI).
    pub fn finish(self, input: Vec<Value>, session: Option<String>) -> Option<Last> {
        if self.failed {
            return None;
        }
        let (id, whole) = self.completed?;
        let output = if self.output.is_empty() { whole } else { self.output };
        Some(Last { id, input, output, session })
    }
}

/// An output item as Codex sends it back as input: without its `id` (with `store: false` an
/// upstream has no item of that id to look up, and refuses the reference) and, for messages,
/// calls and reasoning, without its `status` (Codex's `ResponseItem` serializes neither).
fn as_input(mut item: Value) -> Value {
    if let Some(o) = item.as_object_mut() {
        o.remove("id");
        if matches!(o.get("type").and_then(Value::as_str), Some("message" | "function_call" | "reasoning")) {
            o.remove("status");
        }
    }
    item
}

/// The `OpenAI-Beta` values worth passing on: the socket's own announcement removed.
pub fn without_ws_beta(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter_map(|(k, v)| {
            if k != "openai-beta" {
                return Some((k, v));
            }
            let kept: Vec<&str> =
                v.split(',').map(str::trim).filter(|p| !p.is_empty() && !p.starts_with(BETA_FEATURE)).collect();
            (!kept.is_empty()).then(|| (k, kept.join(", ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn create(text: &str) -> Create {
        match read(text).unwrap() {
            ClientMessage::Create(c) => c,
            ClientMessage::Processed => panic!("not a create"),
        }
    }

    #[test]
    fn a_create_becomes_a_streaming_body_without_the_socket_fields() {
        let c = create(
            r#"{"type":"response.create","model":"m","input":"hi","stream":false,"generate":false,"stream_id":null}"#,
        );
        assert!(!c.generate);
        let v: Value = serde_json::from_slice(&c.body.to_vec()).unwrap();
        assert_eq!(v, json!({"model": "m", "input": "hi", "stream": true}));
        assert!(create(r#"{"type":"response.create","model":"m"}"#).generate);
        assert!(matches!(read(r#"{"type":"response.processed","response_id":"r"}"#), Ok(ClientMessage::Processed)));
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        for (text, words) in [
            ("not json", "not a valid JSON object"),
            (r#"{"model":"m"}"#, "needs a `type`"),
            (r#"{"type":7}"#, "must be a string"),
            (r#"{"type":"session.update"}"#, "unsupported message type `session.update`"),
            (r#"{"type":"response.create","generate":"no"}"#, "`generate` must be a boolean"),
            (r#"{"type":"response.create","background":true}"#, "`background`"),
            (r#"{"type":"response.create","stream_id":"lane-2"}"#, "`stream_id` lanes"),
            (r#"{"type":"response.steer","input":"x"}"#, "unsupported message type `response.steer`"),
        ] {
            let e = read(text).unwrap_err();
            assert!(matches!(&e, GatewayError::BadRequest(m) if m.contains(words)), "{text}: {e:?}");
        }
    }

    #[test]
    fn a_continuation_of_the_last_response_carries_the_whole_conversation() {
        let last = Last {
            id: "resp_1".into(),
            input: vec![json!({"type": "message", "role": "user", "content": "weather?"})],
            output: vec![json!({"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"})],
            session: Some("s".into()),
        };
        let mut c = create(
            r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c1","output":"sunny"}]}"#,
        );
        assert!(expand(&mut c.body, Some(&last)).unwrap());
        let v: Value = serde_json::from_slice(&c.body.to_vec()).unwrap();
        assert!(v.get("previous_response_id").is_none());
        let types: Vec<&str> = v["input"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["message", "function_call", "function_call_output"]);

        // Another id is the pipeline's to answer; no cache, nothing to expand.
        let mut other = create(r#"{"type":"response.create","model":"m","previous_response_id":"resp_9","input":"x"}"#);
        assert!(!expand(&mut other.body, Some(&last)).unwrap());
        assert_eq!(other.body.parse::<String>("previous_response_id").as_deref(), Some("resp_9"));
        assert!(!expand(&mut other.body, None).unwrap());
    }

    #[test]
    fn only_a_completed_response_is_remembered() {
        let mut t = Tally::default();
        t.see(&json!({"type": "response.output_item.done", "item": {"type": "message", "role": "assistant"}}));
        t.see(&json!({"type": "response.completed", "response": {"id": "resp_2", "output": []}}));
        let last = t.finish(vec![json!("in")], None).unwrap();
        assert_eq!((last.id.as_str(), last.output.len()), ("resp_2", 1));

        // Items go back as Codex sends them: no ids (nothing is stored), no status on calls.
        let mut t = Tally::default();
        let call = json!({"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "c", "name": "f", "arguments": "{}"});
        t.see(&json!({"type": "response.output_item.done", "item": call}));
        t.see(&json!({"type": "response.completed", "response": {"id": "resp_3", "output": []}}));
        let last = t.finish(vec![], None).unwrap();
        assert_eq!(last.output, [json!({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"})]);

        let mut t = Tally::default();
        t.see(&json!({"type": "response.completed", "response": {"id": "r", "output": [{"type": "message"}]}}));
        assert_eq!(t.finish(vec![], None).unwrap().output.len(), 1, "falls back to response.output");

        let mut t = Tally::default();
        t.see(&json!({"type": "error", "code": "server_error", "message": "broke"}));
        t.see(&json!({"type": "response.completed", "response": {"id": "r", "output": []}}));
        assert!(t.finish(vec![], None).is_none());
        assert!(Tally::default().finish(vec![], None).is_none(), "a stream cut short");
    }

    #[test]
    fn errors_are_wrapped_with_their_status() {
        let body = json!({"error": {"message": "invalid API key", "type": "authentication_error", "code": "invalid_api_key", "param": null}});
        let ev = error_event(401, &body, &[("x-request-id", "r1".into())]);
        assert_eq!(ev["type"], "error");
        assert_eq!(ev["status"], 401);
        assert_eq!(ev["error"]["code"], "invalid_api_key");
        assert_eq!(ev["headers"]["x-request-id"], "r1");
        assert!(error_event(500, &json!("odd"), &[]).get("headers").is_none());
    }

    #[test]
    fn the_socket_announcement_is_not_passed_on() {
        let h = vec![
            ("openai-beta".to_string(), "responses_websockets=2026-02-06".to_string()),
            ("openai-beta".to_string(), "assistants=v2, responses_websockets=2026-02-06".to_string()),
            ("openai-organization".to_string(), "org".to_string()),
        ];
        assert_eq!(
            without_ws_beta(h),
            vec![
                ("openai-beta".to_string(), "assistants=v2".to_string()),
                ("openai-organization".to_string(), "org".to_string())
            ]
        );
    }
}

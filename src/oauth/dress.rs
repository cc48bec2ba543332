//! Dressing an attempt for a subscription upstream: the plan builds the call as for any provider
//! of the dialect; here the provider module puts on what its subscription endpoint requires
//! (the OAuth bearer, the client's identity headers, URL and body rules), and the response
//! adapter is wrapped where the endpoint answers in its own envelope.

use actors::executor::{Target, UpstreamCall};
use actors::refresher::Tokens;
use bytes::Bytes;
use serde_json::Value;

use super::{Kind, adapters, claude_code, codex, copilot, gemini_cli, qwen};
use crate::providers::call::Operation;

/// One outgoing request while a provider module edits it.
#[derive(Debug)]
pub struct Outbound {
    /// Full URL.
    pub url: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body (`Null` when it is not JSON).
    pub body: Value,
    /// What the upstream is asked to do.
    pub op: Operation,
    /// The upstream model id.
    pub model: String,
    /// Whether the upstream is asked to stream.
    pub stream: bool,
    /// The base URL requests of this account go to (the account's override, or what its
    /// tokens name, or the provider's default).
    pub base: String,
}

impl Outbound {
    /// Sets a header, replacing any value it had.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.headers.push((name.to_string(), value.into()));
    }

    /// Removes a header.
    pub fn remove(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Puts the OAuth access token on as `Authorization: Bearer`, and no other credential.
    pub fn bearer(&mut self, tokens: &Tokens) {
        for h in ["authorization", "x-api-key", "x-goog-api-key"] {
            self.remove(h);
        }
        self.headers.push(("authorization".into(), format!("Bearer {}", tokens.access.expose())));
    }

    /// The body as a JSON object, if it is one.
    pub fn object(&mut self) -> Option<&mut serde_json::Map<String, Value>> {
        self.body.as_object_mut()
    }
}

/// `base` + `path`, without a doubled slash.
pub fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// What one attempt on a subscription account needs besides the plan's call.
#[derive(Debug, Clone, Copy)]
pub struct Dressing<'a> {
    /// The provider.
    pub kind: Kind,
    /// The account's tokens in force.
    pub tokens: &'a Tokens,
    /// Where its requests go.
    pub base: &'a str,
    /// The operation.
    pub op: Operation,
    /// The upstream model id.
    pub model: &'a str,
}

/// Dresses the plan's call for a subscription upstream. Fails only when the provider cannot
/// serve the operation at all.
pub fn dress(d: Dressing<'_>, call: UpstreamCall) -> Result<UpstreamCall, String> {
    let UpstreamCall { target, stream, adapter, .. } = call;
    let Target::Http { method, url, headers, body } = target else {
        return Err("a subscription provider is never served in process".into());
    };
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut o =
        Outbound { url, headers, body: json, op: d.op, model: d.model.to_string(), stream, base: d.base.to_string() };
    let adapter = match d.kind {
        Kind::ClaudeCode => {
            claude_code::dress(&mut o, d.tokens);
            adapter
        }
        Kind::Codex => {
            codex::dress(&mut o, d.tokens)?;
            // The endpoint only streams: a client that wants a whole answer gets the stream's
            // final response.
            if stream { adapter } else { Box::new(adapters::CollectResponse::new(adapter)) }
        }
        Kind::GeminiCli => {
            gemini_cli::dress(&mut o, d.tokens)?;
            Box::new(adapters::CodeAssistUnwrap::new(adapter))
        }
        Kind::Copilot => {
            copilot::dress(&mut o, d.tokens);
            adapter
        }
        Kind::QwenCode => {
            qwen::dress(&mut o, d.tokens);
            adapter
        }
    };
    let body = match &o.body {
        Value::Null => body,
        v => Bytes::from(v.to_string()),
    };
    let mut call = UpstreamCall::new(Target::Http { method, url: o.url, headers: o.headers, body }, stream, adapter);
    call.defer_auth_failure = true;
    Ok(call)
}

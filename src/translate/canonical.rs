//! The canonical hub every dialect translates to and from: requests, responses, stream events,
//! tool calls, reasoning, stop reasons and usage. Each dialect has a request decoder/encoder, a
//! response decoder/encoder and a stream decoder/encoder over these types (2·N pieces, not N²).

use actors::usage::TokenUsage;
use serde_json::Value;

use crate::protocol::Dialect;
pub use crate::translate::errors::{ErrorKind, UpstreamError};

/// Where an image or file comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// A URL (http(s) or a provider file URI).
    Url(String),
    /// Inline base64 data.
    Base64 {
        /// MIME type.
        media_type: String,
        /// Base64 payload.
        data: String,
    },
}

impl MediaSource {
    /// Parses a `data:<mime>;base64,<data>` URL into inline data; any other URL stays a URL.
    pub fn from_url(url: &str) -> Self {
        if let Some(rest) = url.strip_prefix("data:")
            && let Some((meta, data)) = rest.split_once(',')
            && let Some(mime) = meta.strip_suffix(";base64")
        {
            return Self::Base64 { media_type: mime.to_string(), data: data.to_string() };
        }
        Self::Url(url.to_string())
    }

    /// As a URL (`data:` URL for inline data).
    pub fn to_url(&self) -> String {
        match self {
            Self::Url(u) => u.clone(),
            Self::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text(String),
    /// An image.
    Image {
        /// Where it is.
        source: MediaSource,
        /// OpenAI `detail` (`low`, `high`, `auto`), kept where the target has it.
        detail: Option<String>,
    },
    /// A document (PDF and the like).
    File {
        /// Where it is.
        source: MediaSource,
        /// File name, if known.
        filename: Option<String>,
    },
    /// A tool call made by the assistant.
    ToolCall {
        /// Call id (generated when the dialect has none).
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as a JSON text.
        arguments: String,
        /// Gemini's thought signature of this call (only Gemini reads it back).
        signature: Option<String>,
    },
    /// The result of a tool call.
    ToolResult {
        /// The call it answers.
        call_id: String,
        /// The tool's name, when known.
        name: Option<String>,
        /// The result: text and images.
        content: Vec<Part>,
        /// Whether the tool failed.
        is_error: bool,
    },
    /// Reasoning (thinking) produced by the model.
    Reasoning {
        /// The visible reasoning text (or summary).
        text: String,
        /// Anthropic's signature, kept byte for byte.
        signature: Option<String>,
        /// Opaque reasoning the client must send back unchanged (Anthropic `redacted_thinking`,
        /// Responses `encrypted_content`).
        opaque: Option<String>,
        /// The dialect that produced the signature / opaque data (only it can read them).
        origin: Option<Dialect>,
    },
}

/// A message author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user (tool results travel in user messages).
    User,
    /// The model.
    Assistant,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Content, in order.
    pub parts: Vec<Part>,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// JSON schema of the arguments.
    pub parameters: Value,
    /// What the client declared it as (Codex's non-function tools travel as functions and come
    /// back to it as its own items).
    pub kind: ToolKind,
}

/// How a client declared a tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ToolKind {
    /// A function with JSON arguments.
    #[default]
    Function,
    /// A Responses `custom` tool: free-form text input (Codex's `apply_patch`); as a function it
    /// takes `{"input": "..."}`.
    Custom,
    /// A Responses `local_shell` tool: as a function it takes `{"command": [...], "workdir",
    /// "timeout_ms"}`.
    LocalShell,
}

/// The tool names a client declared as something other than a function.
pub fn tool_kinds(tools: &[Tool]) -> Vec<(String, ToolKind)> {
    tools.iter().filter(|t| t.kind != ToolKind::Function).map(|t| (t.name.clone(), t.kind)).collect()
}

/// Which tool use is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool.
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

/// Reasoning settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reasoning {
    /// `minimal`, `low`, `medium`, `high`.
    pub effort: Option<String>,
    /// A token budget.
    pub budget_tokens: Option<u32>,
    /// Whether reasoning text (or a summary) should be returned.
    pub include: bool,
}

impl Reasoning {
    /// A budget for an effort level.
    pub fn budget(&self) -> u32 {
        if let Some(b) = self.budget_tokens {
            return b;
        }
        match self.effort.as_deref() {
            Some("minimal") => 1_024,
            Some("low") => 2_048,
            Some("high") | Some("xhigh") => 24_576,
            _ => 8_192,
        }
    }

    /// An effort level for a budget.
    pub fn effort(&self) -> String {
        if let Some(e) = &self.effort {
            return e.clone();
        }
        match self.budget_tokens.unwrap_or(8_192) {
            0..=2_048 => "low".into(),
            2_049..=16_384 => "medium".into(),
            _ => "high".into(),
        }
    }
}

/// Structured-output request.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        /// Schema name.
        name: String,
        /// The schema.
        schema: Value,
    },
}

/// A generation request, dialect-free.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// System instructions (system / developer messages, `instructions`, `systemInstruction`).
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tool definitions.
    pub tools: Vec<Tool>,
    /// Tool choice.
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one turn.
    pub parallel_tool_calls: Option<bool>,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Reasoning settings.
    pub reasoning: Option<Reasoning>,
    /// Structured output.
    pub response_format: Option<ResponseFormat>,
    /// Stream the answer.
    pub stream: bool,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Natural end.
    End,
    /// The output token limit.
    MaxTokens,
    /// A stop sequence.
    StopSequence,
    /// Tool calls to run.
    ToolUse,
    /// Filtered or refused.
    ContentFilter,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Upstream id.
    pub id: String,
    /// Model that answered.
    pub model: String,
    /// Reasoning, text and tool calls, in order.
    pub parts: Vec<Part>,
    /// Why it stopped.
    pub stop: Stop,
    /// Token counts.
    pub usage: TokenUsage,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The answer started.
    Start {
        /// Upstream id.
        id: String,
        /// Model.
        model: String,
    },
    /// Text.
    Text(String),
    /// Reasoning text.
    Reasoning(String),
    /// Reasoning signature (Anthropic), for the current reasoning block.
    ReasoningSignature(String),
    /// Opaque reasoning data to pass back (redacted thinking, encrypted content).
    ReasoningOpaque(String),
    /// A tool call begins.
    ToolStart {
        /// Position among this answer's tool calls.
        index: usize,
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolArgs {
        /// Position among this answer's tool calls.
        index: usize,
        /// Fragment.
        delta: String,
    },
    /// Gemini's thought signature of a tool call (after its start).
    ToolSignature {
        /// Position among this answer's tool calls.
        index: usize,
        /// The signature.
        signature: String,
    },
    /// Usage so far (the latest wins).
    Usage(TokenUsage),
    /// Why it stopped.
    Stop(Stop),
    /// The upstream reported an error inside the stream.
    Error(UpstreamError),
}

/// Rough token count of a text (about four characters per token), for estimates only.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Estimated input tokens of a request: system, messages, tools, and ~1,600 per image.
pub fn estimate_request(req: &Request) -> u64 {
    let mut n: u64 = req.system.iter().map(|s| estimate_tokens(s)).sum();
    for m in &req.messages {
        n += 4;
        for p in &m.parts {
            n += estimate_part(p);
        }
    }
    for t in &req.tools {
        n += estimate_tokens(&t.name) + estimate_tokens(t.description.as_deref().unwrap_or_default());
        n += estimate_tokens(&t.parameters.to_string());
    }
    n
}

fn estimate_part(p: &Part) -> u64 {
    match p {
        Part::Text(t) => estimate_tokens(t),
        Part::Image { .. } => 1_600,
        Part::File { source, .. } => match source {
            MediaSource::Base64 { data, .. } => (data.len() as u64 * 3 / 4) / 16,
            MediaSource::Url(_) => 1_000,
        },
        Part::ToolCall { name, arguments, .. } => estimate_tokens(name) + estimate_tokens(arguments),
        Part::ToolResult { content, .. } => 4 + content.iter().map(estimate_part).sum::<u64>(),
        Part::Reasoning { text, .. } => estimate_tokens(text),
    }
}

/// A fresh id with a dialect-typical prefix.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The text of a list of parts (text parts joined).
pub fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("")
}

/// Whether an answer without content is still an answer (not a failure to fall over from): the
/// output limit was spent (on thinking, say), a filter or a stop sequence ended it, or the model had
/// nothing to add after a tool result.
pub fn explains_empty(stop: Stop, after_tool_result: bool) -> bool {
    match stop {
        Stop::MaxTokens | Stop::ContentFilter | Stop::StopSequence => true,
        Stop::End => after_tool_result,
        Stop::ToolUse => false,
    }
}

/// Whether the request's last message carries a tool result.
pub fn ends_with_tool_result(req: &Request) -> bool {
    req.messages
        .last()
        .is_some_and(|m| m.role == Role::User && m.parts.iter().any(|p| matches!(p, Part::ToolResult { .. })))
}

/// The images and documents of a tool result.
pub fn media_of(content: &[Part]) -> Vec<Part> {
    content.iter().filter(|p| matches!(p, Part::Image { .. } | Part::File { .. })).cloned().collect()
}

/// A note standing for media a tool returned, in dialects whose tool results are text only.
pub fn media_note(call_id: &str, n: usize) -> String {
    format!("[the tool returned {n} image(s) or file(s); they follow in the next user message (call {call_id})]")
}

/// The text of a tool result for dialects without an error flag: an error says so in its text.
pub fn result_text(content: &[Part], is_error: bool) -> String {
    let text = text_of(content);
    if is_error && !text.to_ascii_lowercase().starts_with("error") { format!("Error: {text}") } else { text }
}

/// Accumulates stream events into a whole response (for encoders that must repeat the full output
/// at the end, and for non-streamed answers built from streams).
#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    /// Upstream id.
    pub id: String,
    /// Model.
    pub model: String,
    /// Parts so far.
    pub parts: Vec<Part>,
    /// Stop reason, when seen.
    pub stop: Option<Stop>,
    /// Latest usage.
    pub usage: Option<TokenUsage>,
    tool_slots: Vec<usize>,
}

impl Accumulator {
    /// Applies one event.
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            Event::Text(t) => match self.parts.last_mut() {
                Some(Part::Text(s)) => s.push_str(t),
                _ => self.parts.push(Part::Text(t.clone())),
            },
            Event::Reasoning(t) => match self.parts.last_mut() {
                Some(Part::Reasoning { text, signature: None, .. }) => text.push_str(t),
                _ => self.parts.push(Part::Reasoning { text: t.clone(), signature: None, opaque: None, origin: None }),
            },
            Event::ReasoningSignature(sig) => match self.parts.last_mut() {
                Some(Part::Reasoning { signature, .. }) => *signature = Some(sig.clone()),
                _ => self.parts.push(Part::Reasoning {
                    text: String::new(),
                    signature: Some(sig.clone()),
                    opaque: None,
                    origin: None,
                }),
            },
            Event::ReasoningOpaque(data) => self.parts.push(Part::Reasoning {
                text: String::new(),
                signature: None,
                opaque: Some(data.clone()),
                origin: None,
            }),
            Event::ToolStart { index, id, name } => {
                if self.tool_slots.len() <= *index {
                    self.tool_slots.resize(*index + 1, usize::MAX);
                }
                self.tool_slots[*index] = self.parts.len();
                self.parts.push(Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    signature: None,
                });
            }
            Event::ToolArgs { index, delta } => {
                if let Some(&slot) = self.tool_slots.get(*index)
                    && let Some(Part::ToolCall { arguments, .. }) = self.parts.get_mut(slot)
                {
                    arguments.push_str(delta);
                }
            }
            Event::ToolSignature { index, signature: sig } => {
                if let Some(&slot) = self.tool_slots.get(*index)
                    && let Some(Part::ToolCall { signature, .. }) = self.parts.get_mut(slot)
                {
                    *signature = Some(sig.clone());
                }
            }
            Event::Usage(u) => self.usage = Some(*u),
            Event::Stop(s) => self.stop = Some(*s),
            Event::Error(_) => {}
        }
    }

    /// Whether any tool call was seen.
    pub fn has_tool_calls(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::ToolCall { .. }))
    }

    /// The output text produced so far (for usage estimates).
    pub fn output_chars(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) | Part::Reasoning { text: t, .. } => s.push_str(t),
                Part::ToolCall { name, arguments, .. } => {
                    s.push_str(name);
                    s.push_str(arguments);
                }
                Part::Image { .. } | Part::File { .. } | Part::ToolResult { .. } => {}
            }
        }
        s
    }
}

/// A tool-call id a target accepts: `[A-Za-z0-9_-]` only and at most `max` characters. An id
/// that already fits is kept; another is mended the same way every time (so a call and its
/// result still match), with a short hash of the original so two ids never collide.
pub fn safe_id(id: &str, max: usize) -> String {
    let fits = |s: &str| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if fits(id) {
        return id.to_string();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let cleaned: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let keep = max.saturating_sub(9).min(cleaned.len());
    format!("{}_{:08x}", &cleaned[..keep], hash as u32)
}

#[cfg(test)]
mod id_tests {
    use super::safe_id;

    #[test]
    fn ids_are_mended_consistently_and_without_collisions() {
        assert_eq!(safe_id("toolu_01ABC", 64), "toolu_01ABC");
        let a = safe_id("functions.get_weather:0", 64);
        assert!(a.starts_with("functions_get_weather_0_") && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(a, safe_id("functions.get_weather:0", 64), "deterministic");
        assert_ne!(safe_id("a.b", 64), safe_id("a:b", 64), "no collision");
        let long = "read_file__read_file_1733456789012_0_extra_long_suffix";
        assert!(safe_id(long, 40).len() <= 40);
        assert_eq!(safe_id("", 40).len(), 9);
    }
}

//! The JSON type each well-known top-level request field must have, per dialect, checked at
//! intake from the raw value's first byte (no parse). A request the upstream would refuse for a
//! wrong type is the client's mistake: it gets a 400 here instead of reaching a provider (whose
//! answer, sometimes a 500, could count against the provider's breaker). Unknown fields pass.

use serde_json::value::RawValue;

use super::Dialect;
use super::raw::RawObject;

/// The JSON kinds a field may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// A number.
    Number,
    /// An integer (a number without fraction or exponent).
    Integer,
    /// `true` / `false`
    Bool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Object => "an object",
            Self::Array => "an array",
            Self::String => "a string",
            Self::Number => "a number",
            Self::Integer => "an integer",
            Self::Bool => "a boolean",
        }
    }

    fn matches(self, raw: &RawValue) -> bool {
        let text = raw.get();
        let Some(first) = text.bytes().next() else { return false };
        match self {
            Self::Object => first == b'{',
            Self::Array => first == b'[',
            Self::String => first == b'"',
            Self::Bool => first == b't' || first == b'f',
            Self::Number => first == b'-' || first.is_ascii_digit(),
            Self::Integer => {
                (first == b'-' || first.is_ascii_digit()) && !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
            }
        }
    }
}

use Kind::{Array, Bool, Integer, Number, Object, String as Str};

/// Fields shared by every generation surface.
const COMMON: &[(&str, &[Kind])] = &[("model", &[Str]), ("stream", &[Bool])];

const OPENAI_CHAT: &[(&str, &[Kind])] = &[
    ("messages", &[Array]),
    ("max_tokens", &[Integer]),
    ("max_completion_tokens", &[Integer]),
    ("temperature", &[Number]),
    ("top_p", &[Number]),
    ("n", &[Integer]),
    ("seed", &[Integer]),
    ("presence_penalty", &[Number]),
    ("frequency_penalty", &[Number]),
    ("tools", &[Array]),
    ("tool_choice", &[Str, Object]),
    ("parallel_tool_calls", &[Bool]),
    ("stream_options", &[Object]),
    ("stop", &[Str, Array]),
    ("response_format", &[Object]),
    ("reasoning_effort", &[Str]),
    ("logprobs", &[Bool]),
    ("user", &[Str]),
    ("metadata", &[Object]),
];

const ANTHROPIC: &[(&str, &[Kind])] = &[
    ("messages", &[Array]),
    ("max_tokens", &[Integer]),
    ("system", &[Str, Array]),
    ("tools", &[Array]),
    ("tool_choice", &[Object]),
    ("temperature", &[Number]),
    ("top_p", &[Number]),
    ("top_k", &[Integer]),
    ("stop_sequences", &[Array]),
    ("metadata", &[Object]),
    ("thinking", &[Object]),
];

const RESPONSES: &[(&str, &[Kind])] = &[
    ("input", &[Str, Array]),
    ("instructions", &[Str]),
    ("tools", &[Array]),
    ("tool_choice", &[Str, Object]),
    ("max_output_tokens", &[Integer]),
    ("temperature", &[Number]),
    ("top_p", &[Number]),
    ("reasoning", &[Object]),
    ("previous_response_id", &[Str]),
    ("store", &[Bool]),
    ("include", &[Array]),
    ("text", &[Object]),
    ("parallel_tool_calls", &[Bool]),
    ("metadata", &[Object]),
];

const GEMINI: &[(&str, &[Kind])] = &[
    ("contents", &[Array]),
    ("systemInstruction", &[Object, Str]),
    ("system_instruction", &[Object, Str]),
    ("generationConfig", &[Object]),
    ("generation_config", &[Object]),
    ("tools", &[Array]),
    ("toolConfig", &[Object]),
    ("tool_config", &[Object]),
    ("safetySettings", &[Array]),
    ("safety_settings", &[Array]),
];

const EMBEDDINGS: &[(&str, &[Kind])] = &[("input", &[Str, Array]), ("dimensions", &[Integer])];

/// OpenAI legacy completions (openai-python `completion_create_params.py`).
const COMPLETIONS: &[(&str, &[Kind])] = &[
    ("prompt", &[Str, Array]),
    ("max_tokens", &[Integer]),
    ("temperature", &[Number]),
    ("top_p", &[Number]),
    ("n", &[Integer]),
    ("stop", &[Str, Array]),
    ("stream_options", &[Object]),
    ("seed", &[Integer]),
    ("presence_penalty", &[Number]),
    ("frequency_penalty", &[Number]),
    ("logprobs", &[Integer]),
    ("best_of", &[Integer]),
    ("echo", &[Bool]),
    ("suffix", &[Str]),
    ("logit_bias", &[Object]),
    ("user", &[Str]),
];

/// OpenAI moderations: `input` is a string, strings, or multi-modal parts.
const MODERATIONS: &[(&str, &[Kind])] = &[("input", &[Str, Array])];

/// OpenAI image generation (openai-python `image_generate_params.py`).
const IMAGES: &[(&str, &[Kind])] = &[
    ("prompt", &[Str]),
    ("n", &[Integer]),
    ("size", &[Str]),
    ("quality", &[Str]),
    ("response_format", &[Str]),
    ("style", &[Str]),
    ("background", &[Str]),
    ("output_format", &[Str]),
    ("output_compression", &[Integer]),
    ("moderation", &[Str]),
    ("user", &[Str]),
];

/// OpenAI text to speech (openai-python `audio/speech_create_params.py`): `voice` is a built-in
/// voice's name or `{id}` of a custom voice.
const SPEECH: &[(&str, &[Kind])] = &[
    ("input", &[Str]),
    ("voice", &[Str, Object]),
    ("instructions", &[Str]),
    ("response_format", &[Str]),
    ("speed", &[Number]),
    ("stream_format", &[Str]),
];

/// Cohere v2 / Jina rerank.
const RERANK: &[(&str, &[Kind])] = &[
    ("query", &[Str]),
    ("documents", &[Array]),
    ("top_n", &[Integer]),
    ("return_documents", &[Bool]),
    ("max_tokens_per_doc", &[Integer]),
];

/// Which request a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A generation request of a dialect.
    Generate(Dialect),
    /// OpenAI embeddings.
    Embeddings,
    /// OpenAI legacy completions.
    Completions,
    /// OpenAI moderations.
    Moderations,
    /// Cohere/Jina-style rerank.
    Rerank,
    /// OpenAI image generation.
    Images,
    /// OpenAI text to speech.
    Speech,
}

impl Surface {
    /// The dialect whose error shape the surface answers in.
    pub fn dialect(self) -> Dialect {
        match self {
            Self::Generate(d) => d,
            Self::Embeddings | Self::Completions | Self::Moderations | Self::Rerank | Self::Images | Self::Speech => {
                Dialect::OpenaiChat
            }
        }
    }
}

/// Checks the well-known fields of `body`; `null` is accepted for any of them (SDKs send it for
/// "not given"). The error names the field and the expected type.
pub fn check(surface: Surface, body: &RawObject) -> Result<(), String> {
    let specific = match surface {
        Surface::Generate(Dialect::OpenaiChat) => OPENAI_CHAT,
        Surface::Generate(Dialect::Anthropic) => ANTHROPIC,
        Surface::Generate(Dialect::OpenaiResponses) => RESPONSES,
        Surface::Generate(Dialect::Gemini) => GEMINI,
        Surface::Embeddings => EMBEDDINGS,
        Surface::Completions => COMPLETIONS,
        Surface::Moderations => MODERATIONS,
        Surface::Rerank => RERANK,
        Surface::Images => IMAGES,
        Surface::Speech => SPEECH,
    };
    for (key, value) in &body.0 {
        let Some((_, kinds)) = COMMON.iter().chain(specific).find(|(k, _)| k == key) else {
            continue;
        };
        if value.get() == "null" || kinds.iter().any(|k| k.matches(value)) {
            continue;
        }
        let expected: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!("`{key}` must be {}", expected.join(" or ")));
    }
    Ok(())
}

/// The fields a surface cannot do without: a chat or Messages request needs at least one message
/// (the real APIs refuse an empty list; answering one would be a made-up 200), embeddings an input.
pub fn required(surface: Surface, body: &RawObject) -> Result<(), String> {
    match surface {
        // Cursor sends Responses-shaped bodies (`input`) on the chat path.
        Surface::Generate(Dialect::OpenaiChat) if body.get("messages").is_none() && body.get("input").is_some() => {
            Ok(())
        }
        Surface::Generate(Dialect::OpenaiChat | Dialect::Anthropic) => non_empty(body, "messages", "message"),
        Surface::Embeddings => match body.get("input") {
            Some(v) if v.get() != "null" => Ok(()),
            _ => Err("`input` is required".into()),
        },
        Surface::Completions => present(body, "prompt"),
        Surface::Moderations => present(body, "input"),
        Surface::Images => present(body, "prompt"),
        Surface::Speech => present(body, "input").and_then(|()| present(body, "voice")),
        Surface::Rerank => present(body, "query").and_then(|()| non_empty(body, "documents", "document")),
        Surface::Generate(Dialect::OpenaiResponses | Dialect::Gemini) => Ok(()),
    }
}

fn present(body: &RawObject, key: &str) -> Result<(), String> {
    match body.get(key) {
        Some(v) if v.get() != "null" => Ok(()),
        _ => Err(format!("`{key}` is required")),
    }
}

fn non_empty(body: &RawObject, key: &str, what: &str) -> Result<(), String> {
    match body.get(key).map(|v| v.get()) {
        None | Some("null") => Err(format!("`{key}` is required")),
        Some(v) if v.strip_prefix('[').and_then(|r| r.strip_suffix(']')).is_some_and(|r| r.trim().is_empty()) => {
            Err(format!("`{key}` must contain at least one {what}"))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> RawObject {
        serde_json::from_str(s).unwrap_or_default()
    }

    #[test]
    fn wrong_types_are_named_and_right_ones_pass() {
        let chat = Surface::Generate(Dialect::OpenaiChat);
        assert_eq!(check(chat, &body(r#"{"stream":"yes"}"#)), Err("`stream` must be a boolean".into()));
        assert_eq!(check(chat, &body(r#"{"messages":"hi"}"#)), Err("`messages` must be an array".into()));
        assert_eq!(check(chat, &body(r#"{"max_tokens":1.5}"#)), Err("`max_tokens` must be an integer".into()));
        assert_eq!(check(chat, &body(r#"{"stop":5}"#)), Err("`stop` must be a string or an array".into()));
        let ok = r#"{"model":"m","messages":[],"stream":false,"max_tokens":10,"temperature":0.5,"tools":null,"x":"y"}"#;
        assert_eq!(check(chat, &body(ok)), Ok(()));
        let anthropic = Surface::Generate(Dialect::Anthropic);
        assert!(check(anthropic, &body(r#"{"max_tokens":"100"}"#)).is_err());
        assert!(check(anthropic, &body(r#"{"system":[{"type":"text","text":"x"}],"max_tokens":-1}"#)).is_ok());
        assert!(check(Surface::Generate(Dialect::Gemini), &body(r#"{"contents":{}}"#)).is_err());
        assert!(check(Surface::Embeddings, &body(r#"{"input":["a"],"dimensions":2e3}"#)).is_err());
    }

    #[test]
    fn a_chat_without_messages_is_refused_and_cursors_input_body_is_not() {
        let chat = Surface::Generate(Dialect::OpenaiChat);
        assert_eq!(required(chat, &body(r#"{"model":"m"}"#)), Err("`messages` is required".into()));
        assert_eq!(
            required(chat, &body(r#"{"model":"m","messages":[ ]}"#)),
            Err("`messages` must contain at least one message".into())
        );
        assert_eq!(required(chat, &body(r#"{"model":"m","input":"hi"}"#)), Ok(()));
        assert!(required(Surface::Generate(Dialect::Anthropic), &body(r#"{"messages":null}"#)).is_err());
        assert_eq!(required(Surface::Embeddings, &body(r#"{"model":"m"}"#)), Err("`input` is required".into()));
        assert_eq!(required(Surface::Generate(Dialect::Gemini), &body("{}")), Ok(()));
        assert_eq!(required(Surface::Completions, &body(r#"{"model":"m"}"#)), Err("`prompt` is required".into()));
        assert_eq!(required(Surface::Moderations, &body(r#"{"input":null}"#)), Err("`input` is required".into()));
        assert_eq!(
            required(Surface::Rerank, &body(r#"{"query":"q","documents":[]}"#)),
            Err("`documents` must contain at least one document".into())
        );
        assert_eq!(check(Surface::Rerank, &body(r#"{"top_n":"3"}"#)), Err("`top_n` must be an integer".into()));
        assert_eq!(
            check(Surface::Completions, &body(r#"{"prompt":5}"#)),
            Err("`prompt` must be a string or an array".into())
        );
    }
}

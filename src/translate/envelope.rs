//! Opaque reasoning that must go back to the provider that made it, carried through a client of
//! another dialect in the field that client replays unchanged: an Anthropic thinking block's
//! `signature`, a Responses reasoning item's `encrypted_content`. The value is marked
//! `og1:<origin>:<payload>` (`:` never occurs in Anthropic's base64 signatures), so a later
//! request can tell whose it is: only the provider that made it ever receives it back; a thinking
//! block that did not come from Anthropic is never sent to Anthropic, and a client never sees an
//! empty signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::protocol::Dialect;
use crate::protocol::raw::RawObject;
use crate::translate::canonical::Part;

const PREFIX: &str = "og1:";

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealed {
    /// Reasoning from `origin` (`None`: plain reasoning text that had no signature at all).
    Reasoning {
        /// The dialect whose provider made it.
        origin: Option<Dialect>,
        /// Its signature or opaque data, as that provider gave it.
        payload: String,
        /// Anthropic `redacted_thinking` data (not a signature).
        redacted: bool,
    },
    /// A Gemini thought signature that belongs to the function call `call_id`.
    ToolSignature {
        /// The call.
        call_id: String,
        /// The signature.
        signature: String,
    },
}

fn tag(origin: Option<Dialect>) -> &'static str {
    match origin {
        Some(Dialect::Anthropic) => "anthropic",
        Some(Dialect::OpenaiResponses) => "responses",
        Some(Dialect::Gemini) => "gemini",
        Some(Dialect::OpenaiChat) | None => "text",
    }
}

/// Marks reasoning `payload` from `origin`.
pub fn reasoning(origin: Option<Dialect>, payload: &str) -> String {
    format!("{PREFIX}{}:{payload}", tag(origin))
}

/// Marks Anthropic `redacted_thinking` data.
pub fn redacted(data: &str) -> String {
    format!("{PREFIX}anthropic-redacted:{data}")
}

/// Marks a Gemini thought signature of the call `call_id`.
pub fn tool_signature(call_id: &str, signature: &str) -> String {
    format!("{PREFIX}gcall:{}:{signature}", URL_SAFE_NO_PAD.encode(call_id))
}

/// Reads a marked value; `None` for anything else (a provider's own signature).
pub fn open(value: &str) -> Option<Sealed> {
    let rest = value.strip_prefix(PREFIX)?;
    let (kind, rest) = rest.split_once(':')?;
    let origin = match kind {
        "anthropic-redacted" => {
            return Some(Sealed::Reasoning {
                origin: Some(Dialect::Anthropic),
                payload: rest.to_string(),
                redacted: true,
            });
        }
        "anthropic" => Some(Dialect::Anthropic),
        "responses" => Some(Dialect::OpenaiResponses),
        "gemini" => Some(Dialect::Gemini),
        "text" => None,
        "gcall" => {
            let (id, signature) = rest.split_once(':')?;
            let call_id = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
            return Some(Sealed::ToolSignature { call_id, signature: signature.to_string() });
        }
        _ => return None,
    };
    Some(Sealed::Reasoning { origin, payload: rest.to_string(), redacted: false })
}

/// A reasoning part from a marked value (what a request decoder keeps of it).
pub fn part(text: &str, origin: Option<Dialect>, payload: String, redacted: bool) -> Part {
    let (signature, opaque) = match origin {
        Some(Dialect::Anthropic) if redacted => (None, Some(payload)),
        Some(Dialect::Anthropic) | Some(Dialect::Gemini) => (Some(payload), None),
        Some(Dialect::OpenaiResponses) => (None, Some(payload)),
        Some(Dialect::OpenaiChat) | None => (None, None),
    };
    Part::Reasoning { text: text.to_string(), signature, opaque, origin }
}

/// The marked value a client of another dialect keeps for a reasoning part, if it has one.
pub fn seal(p: &Part) -> Option<String> {
    let Part::Reasoning { signature, opaque, origin, .. } = p else { return None };
    Some(match (origin, signature, opaque) {
        (Some(Dialect::Anthropic), _, Some(data)) => redacted(data),
        (o, Some(sig), _) => reasoning(*o, sig),
        (o, None, Some(data)) => reasoning(*o, data),
        (o, None, None) => reasoning(*o, ""),
    })
}

/// A client's own body on its way to a provider of the same dialect: reasoning that another
/// provider made (a marked signature or encrypted content), and thinking blocks with an empty
/// signature, are taken out — no provider accepts another's. Bodies without any are untouched
/// (a byte scan, no parse).
pub fn strip_foreign(dialect: Dialect, body: &mut RawObject) {
    let (field, marker): (&str, &[&[u8]]) = match dialect {
        Dialect::Anthropic => ("messages", &[PREFIX.as_bytes(), b"\"signature\":\"\"", b"\"signature\": \"\""]),
        Dialect::OpenaiResponses => ("input", &[PREFIX.as_bytes()]),
        Dialect::OpenaiChat | Dialect::Gemini => return,
    };
    let Some(raw) = body.get(field) else { return };
    if !marker.iter().any(|m| memchr::memmem::find(raw.get().as_bytes(), m).is_some()) {
        return;
    }
    let Some(mut v) = body.parse::<serde_json::Value>(field) else { return };
    let foreign = |s: Option<&str>| s.is_none_or(|s| s.is_empty() || s.starts_with(PREFIX));
    match dialect {
        Dialect::Anthropic => {
            for m in v.as_array_mut().into_iter().flatten() {
                if let Some(blocks) = m.get_mut("content").and_then(serde_json::Value::as_array_mut) {
                    blocks.retain(|b| b["type"] != "thinking" || !foreign(b["signature"].as_str()));
                }
            }
        }
        Dialect::OpenaiResponses => {
            if let Some(items) = v.as_array_mut() {
                items.retain(|i| {
                    i["type"] != "reasoning" || !i["encrypted_content"].as_str().is_some_and(|s| s.starts_with(PREFIX))
                });
            }
        }
        Dialect::OpenaiChat | Dialect::Gemini => {}
    }
    body.set(field, &v);
}

/// Attaches marked tool-call signatures (read from a client's replayed reasoning) to their calls.
pub fn attach_tool_signatures(parts: &mut [Part], found: &[(String, String)]) {
    for p in parts {
        if let Part::ToolCall { id, signature, .. } = p
            && signature.is_none()
            && let Some((_, s)) = found.iter().find(|(call, _)| call == id)
        {
            *signature = Some(s.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_provider_values_are_left_alone() {
        let s = reasoning(Some(Dialect::Gemini), "Cs0BAVSoXO8=");
        assert_eq!(
            open(&s),
            Some(Sealed::Reasoning { origin: Some(Dialect::Gemini), payload: "Cs0BAVSoXO8=".into(), redacted: false })
        );
        assert!(matches!(open(&redacted("EmwK")), Some(Sealed::Reasoning { redacted: true, .. })));
        let s = reasoning(Some(Dialect::OpenaiResponses), r#"{"id":"rs_1","encrypted_content":"gAAA:x"}"#);
        assert!(matches!(open(&s), Some(Sealed::Reasoning { payload, .. }) if payload.ends_with("gAAA:x\"}")));
        assert_eq!(
            open(&reasoning(None, "")),
            Some(Sealed::Reasoning { origin: None, payload: String::new(), redacted: false })
        );
        let s = tool_signature("functions.get:0", "c2ln");
        assert_eq!(
            open(&s),
            Some(Sealed::ToolSignature { call_id: "functions.get:0".into(), signature: "c2ln".into() })
        );
        assert_eq!(open("EqQBCkYIBxgCKkDsCp7h"), None);
        assert_eq!(open("og1:martian:x"), None);
    }
}

//! Adapters for the audio surfaces, passed through as the upstream answered: speech audio and
//! transcription event streams relayed chunk by chunk as they arrive (never gathered), and whole
//! transcripts (JSON, text, SRT, VTT) returned untouched. They only read what the request is
//! billed by: the characters spoken (known before the call), the audio seconds or the token
//! counts a transcript reports.
//!
//! Shapes (openai-python `types/audio/`): a JSON transcript (`transcription.py`) carries
//! `usage` either `{type: "duration", seconds}` (models billed by the second, `whisper-1`) or
//! `{type: "tokens", input_tokens, output_tokens, total_tokens, input_token_details?}`
//! (`gpt-4o-transcribe`); a `verbose_json` one (`transcription_verbose.py`) has `duration` and
//! maybe `usage` of the duration kind; a streamed one ends with a `transcript.text.done` event
//! (`transcription_text_done_event.py`) whose `usage` is of the tokens kind. `text`, `srt` and
//! `vtt` answers say nothing of either: such a row is unpriced (never $0).

use actors::executor::{AdapterError, ResponseAdapter, StreamEnd};
use actors::usage::{TokenUsage, Unit, Units};
use bytes::Bytes;
use serde_json::Value;

/// Largest transcript event line looked into for usage, bytes (longer lines pass untouched).
const MAX_LINE: usize = 256 * 1024;

/// Token counts or audio seconds of a transcript's JSON (`None` for neither).
pub fn transcript_usage(v: &Value) -> TokenUsage {
    let u = &v["usage"];
    let seconds = match u["type"].as_str() {
        Some("duration") => u["seconds"].as_f64(),
        _ => None,
    }
    .or_else(|| v["duration"].as_f64())
    .filter(|s| s.is_finite() && *s >= 0.0);
    let units = Units { unit: Unit::Second, milli: seconds.map(|s| (s * 1000.0).round() as u64) };
    if u["type"].as_str() == Some("tokens") {
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        return TokenUsage {
            input: n("input_tokens"),
            output: n("output_tokens"),
            units: Some(Units { unit: Unit::Second, milli: None }),
            ..TokenUsage::default()
        };
    }
    TokenUsage { units: Some(units), ..TokenUsage::default() }
}

/// Relays an upstream body as it came: speech audio (billed by the characters of its input) or
/// a transcript, whole or as its event stream (billed by what it reports).
#[derive(Debug)]
pub struct Relay {
    usage: TokenUsage,
    seen: bool,
    /// Transcripts: read usage from the body (whole) or from its events (streamed).
    transcript: bool,
    /// A streamed transcript: the line not yet ended.
    line: Vec<u8>,
}

impl Relay {
    /// Speech of `characters` input characters.
    pub fn speech(characters: u64) -> Self {
        let usage = TokenUsage { units: Some(Units::whole(Unit::Character, characters)), ..TokenUsage::default() };
        Self { usage, seen: false, transcript: false, line: Vec::new() }
    }

    /// A transcript (or translation) answer.
    pub fn transcript() -> Self {
        let usage = TokenUsage { units: Some(Units { unit: Unit::Second, milli: None }), ..TokenUsage::default() };
        Self { usage, seen: false, transcript: true, line: Vec::new() }
    }

    fn scan(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                let data = line.strip_prefix(b"data:").map(|d| d.trim_ascii());
                if let Some(v) = data.and_then(|d| serde_json::from_slice::<Value>(d).ok())
                    && v.get("usage").is_some_and(Value::is_object)
                {
                    self.usage = transcript_usage(&v);
                }
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            }
        }
    }
}

impl ResponseAdapter for Relay {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.seen = true;
        if self.transcript {
            self.scan(chunk);
        }
        out.push(Bytes::copy_from_slice(chunk));
        Ok(())
    }

    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>) {
        // An event stream can say it broke; raw audio cannot (its body just ends).
        if let (Some(e), true) = (error, self.transcript) {
            let v = serde_json::json!({"type": "error", "error": {"type": "server_error", "message": e.message}});
            out.push(Bytes::from(format!("event: error\ndata: {v}\n\n")));
        }
    }

    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError> {
        if self.transcript
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
        {
            if v.get("error").is_some() && v.get("text").is_none() {
                return Err(AdapterError::Malformed("the upstream answered an error object".into()));
            }
            self.usage = transcript_usage(&v);
        }
        self.seen = true;
        Ok(body)
    }

    fn has_content(&self) -> bool {
        self.seen
    }

    fn terminated(&self) -> bool {
        // A body that ends without a broken connection is complete (its length or chunking
        // said so); there is no end event to wait for.
        true
    }

    fn usage(&self) -> TokenUsage {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_report_seconds_or_tokens_and_text_reports_nothing() {
        let mut r = Relay::transcript();
        r.complete(Bytes::from_static(br#"{"text":"hi","usage":{"type":"duration","seconds":8.47}}"#)).unwrap();
        assert_eq!(r.usage().units, Some(Units { unit: Unit::Second, milli: Some(8470) }));
        let verbose = br#"{"task":"transcribe","language":"english","duration":2.5,"text":"hi","segments":[]}"#;
        r.complete(Bytes::from_static(verbose)).unwrap();
        assert_eq!(r.usage().units.and_then(|u| u.milli), Some(2500));
        let tokens = br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":45,"total_tokens":59,"input_token_details":{"text_tokens":0,"audio_tokens":14}}}"#;
        r.complete(Bytes::from_static(tokens)).unwrap();
        assert_eq!((r.usage().input, r.usage().output, r.usage().units.and_then(|u| u.milli)), (14, 45, None));
        let mut t = Relay::transcript();
        assert_eq!(t.complete(Bytes::from_static(b"hello there\n")).unwrap(), Bytes::from_static(b"hello there\n"));
        assert_eq!(t.usage().units, Some(Units { unit: Unit::Second, milli: None }));
    }

    #[test]
    fn a_streamed_transcript_is_relayed_as_it_came_and_its_usage_read() {
        let mut r = Relay::transcript();
        let mut out = Vec::new();
        r.push(b"data: {\"type\":\"transcript.text.delta\",\"delta\":\"hi\"}\n\ndata: {\"type\":\"transcript.text.done\",\"text\":\"hi\",\"usa", &mut out).unwrap();
        r.push(b"ge\":{\"type\":\"tokens\",\"input_tokens\":7,\"output_tokens\":2,\"total_tokens\":9}}\n\n", &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert!(r.has_content());
        assert_eq!((r.usage().input, r.usage().output), (7, 2));
        let mut s = Relay::speech(11);
        assert!(!s.has_content());
        s.push(b"ID3\x04", &mut out).unwrap();
        assert!(s.has_content());
        assert_eq!(s.usage().units, Some(Units::whole(Unit::Character, 11)));
        let mut end = Vec::new();
        s.finish(Some(StreamEnd { kind: actors::outcome::OutcomeKind::ConnectError, message: "broke" }), &mut end);
        assert!(end.is_empty(), "audio cannot carry an error event");
    }
}

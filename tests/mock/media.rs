//! The mock's multipart and audio surfaces: it reads `multipart/form-data` bodies with its own
//! small parser (independent of the gateway's), recording text fields as the request's JSON body
//! and files byte for byte, and answers `/audio/transcriptions` and `/audio/translations` (JSON,
//! `verbose_json`, text formats, or an event stream), `/audio/speech` (binary audio, written in
//! several chunks) and `/images/edits` (`tests/fixtures/images/response.json`).
//!
//! Answer shapes follow openai-python `types/audio/transcription.py` (`text`, `usage` of the
//! `duration` kind), `transcription_verbose.py` (`duration`, `language`, `segments`),
//! `transcription_text_delta_event.py` / `transcription_text_done_event.py` (a stream's events,
//! the last with `usage` of the `tokens` kind).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{MockState, StreamGuard, fixture};

/// A file part the mock received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    pub name: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The text fields (as a JSON object; a repeated name becomes an array) and the files of a
/// multipart body, or `None` when it is not one.
pub fn parse(content_type: &str, body: &[u8]) -> Option<(Value, Vec<FilePart>)> {
    let boundary = content_type.strip_prefix("multipart/form-data")?.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    let mut fields = Map::new();
    let mut files = Vec::new();
    let mut rest = body;
    // Skip to the first delimiter.
    let at = find(rest, delim.as_bytes())?;
    rest = &rest[at + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let next = find(rest, format!("\r\n{delim}").as_bytes())?;
        let data = &rest[..next];
        rest = &rest[next + 2 + delim.len()..];
        let mut name = String::new();
        let mut filename = None;
        let mut ct = None;
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                name = param(line, "name").unwrap_or_default();
                filename = param(line, "filename");
            } else if let Some(v) = lower.strip_prefix("content-type:") {
                ct = Some(v.trim().to_string());
            }
        }
        match filename {
            Some(filename) => files.push(FilePart { name, filename, content_type: ct, data: data.to_vec() }),
            None => {
                let v = Value::String(String::from_utf8_lossy(data).into_owned());
                match fields.get_mut(&name) {
                    Some(Value::Array(a)) => a.push(v),
                    Some(old) => *old = json!([old.clone(), v]),
                    None => {
                        fields.insert(name, v);
                    }
                }
            }
        }
    }
    Some((Value::Object(fields), files))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn param(line: &str, key: &str) -> Option<String> {
    line.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(&format!("{key}=\"")).map(|v| v.trim_end_matches('"').to_string()))
}

/// The bytes the mock's speech answer carries: `n` bytes of a fixed pattern behind an MP3-ish
/// header, so a test can compare what the client got byte for byte.
pub fn speech_bytes(n: usize) -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00".to_vec();
    v.extend((0..n).map(|i| (i * 7 % 251) as u8));
    v
}

/// Size of the mock's speech answer.
pub const SPEECH_LEN: usize = 200 * 1024;

/// The answer on a media path (`None`: another surface).
pub fn reply(path: &str, req: &Value, text: &str, state: Arc<MockState>) -> Option<HttpResponse> {
    let path = path.split('?').next().unwrap_or(path);
    if path.ends_with("/images/edits") {
        return Some(HttpResponse::Ok().content_type("application/json").body(fixture("images", "response.json")));
    }
    if path.ends_with("/audio/speech") {
        let format = req["response_format"].as_str().unwrap_or("mp3");
        let ct = if format == "wav" { "audio/wav" } else { "audio/mpeg" };
        let all = speech_bytes(SPEECH_LEN);
        let chunks: VecDeque<Bytes> = all.chunks(32 * 1024).map(Bytes::copy_from_slice).collect();
        return Some(HttpResponse::Ok().content_type(ct).streaming(chunked(chunks, state)));
    }
    if !(path.ends_with("/audio/transcriptions") || path.ends_with("/audio/translations")) {
        return None;
    }
    if req["stream"].as_str() == Some("true") {
        let frames: Vec<String> = text
            .split(' ')
            .map(|w| format!("data: {}\n\n", json!({"type": "transcript.text.delta", "delta": w})))
            .chain(std::iter::once(format!(
                "data: {}\n\n",
                json!({"type": "transcript.text.done", "text": text,
                    "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 5, "total_tokens": 19}})
            )))
            .collect();
        return Some(super::sse(frames, Duration::ZERO, Duration::ZERO, None, state));
    }
    Some(match req["response_format"].as_str().unwrap_or("json") {
        "verbose_json" => HttpResponse::Ok().json(json!({
            "task": if path.ends_with("/translations") { "translate" } else { "transcribe" },
            "language": "english", "duration": 2.5, "text": text,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 2.5, "text": text, "tokens": [1, 2],
                "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01}]
        })),
        "text" => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(format!("{text}\n")),
        "srt" => HttpResponse::Ok()
            .content_type("application/x-subrip")
            .body(format!("1\n00:00:00,000 --> 00:00:02,500\n{text}\n\n")),
        "vtt" => HttpResponse::Ok()
            .content_type("text/vtt")
            .body(format!("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n{text}\n\n")),
        _ => HttpResponse::Ok().json(json!({"text": text, "usage": {"type": "duration", "seconds": 2.5}})),
    })
}

/// A body written one chunk at a time (counted as completed or cancelled like the mock's streams).
fn chunked(
    chunks: VecDeque<Bytes>,
    state: Arc<MockState>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let guard = StreamGuard { state, done: false };
    futures_util::stream::unfold((chunks, guard), |(mut chunks, mut guard)| async move {
        actix_rt::time::sleep(Duration::from_millis(2)).await;
        match chunks.pop_front() {
            Some(c) => Some((Ok(c), (chunks, guard))),
            None => {
                guard.done = true;
                drop(guard);
                None
            }
        }
    })
}

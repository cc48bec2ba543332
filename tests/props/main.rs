//! Property tests over the wire layer: the SSE parser, every dialect's stream decoder and encoder
//! (through the response adapters the executor uses), and the request and response translators.
//! Arbitrary bytes and arbitrary valid-shaped JSON never panic, and what we emit always parses in
//! the target dialect, with the dialect's terminal events last.
//!
//! `cargo test --test props` runs 256 cases per property; the long mode is
//! `PROPTEST_CASES=1000000 cargo test --release --test props` (see the README).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod shapes;

use actors::executor::{ResponseAdapter, StreamEnd};
use actors::outcome::OutcomeKind;
use bytes::Bytes;
use omnigate::protocol::Dialect;
use omnigate::sse::{SseEvent, SseParser};
use omnigate::translate::adapter::{SsePassthrough, Translating};
use omnigate::translate::passthrough::ChatPassthrough;
use omnigate::translate::{EncodeOptions, decode_request, decode_response, decoder, encode_request, encode_response};
use proptest::prelude::*;
use serde_json::Value;

const DIALECTS: [Dialect; 4] = [Dialect::OpenaiChat, Dialect::OpenaiResponses, Dialect::Anthropic, Dialect::Gemini];

/// Splits `bytes` at the given (arbitrary) points.
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain(std::iter::once(bytes.len())) {
        out.push(bytes[last..p].to_vec());
        last = p;
    }
    out
}

fn parse_all(chunks: &[Vec<u8>]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, &mut out);
    }
    p.finish(&mut out);
    out
}

/// The adapter the executor would use for a client of `client` and an upstream of `upstream`.
fn adapter(client: Dialect, upstream: Dialect, gemini_sse: bool) -> Box<dyn ResponseAdapter> {
    let opts =
        EncodeOptions { include_usage: true, gemini_sse, input_estimate: 7, upstream: None, after_tool_result: false };
    let same = client == upstream && (client != Dialect::Gemini || gemini_sse);
    match (same, client) {
        (true, Dialect::OpenaiChat) => Box::new(ChatPassthrough::new(false, 0)),
        (true, d) => Box::new(SsePassthrough::new(d, "m", opts)),
        (false, _) => Box::new(Translating::new(client, upstream, "m", opts)),
    }
}

/// Checks a client stream: every frame is well formed for `client`, and its terminal event is last.
fn check_client_stream(client: Dialect, gemini_sse: bool, out: &[Bytes]) -> Result<(), String> {
    let text: String = out.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    if client == Dialect::Gemini && !gemini_sse {
        let arr: Vec<Value> = serde_json::from_str(&text).map_err(|e| format!("not a JSON array ({e}): {text}"))?;
        let last = arr.last().ok_or("an empty array")?;
        if last["candidates"][0]["finishReason"].as_str().is_none() && last["error"]["status"].as_str().is_none() {
            return Err(format!("the last chunk has no finishReason (nor is it an error): {text}"));
        }
        return Ok(());
    }
    let events = parse_all(&[text.clone().into_bytes()]);
    let last = events.last().ok_or_else(|| format!("no events: {text:?}"))?;
    for ev in &events {
        if ev.data == "[DONE]" && client == Dialect::OpenaiChat {
            continue;
        }
        serde_json::from_str::<Value>(&ev.data).map_err(|e| format!("a frame is not JSON ({e}): {:?}", ev.data))?;
    }
    let last_json: Value = serde_json::from_str(&last.data).unwrap_or(Value::Null);
    let ok = match client {
        Dialect::OpenaiChat => last.data == "[DONE]" && events.iter().filter(|e| e.data == "[DONE]").count() == 1,
        // An `error` event is a terminal event of its own in both of these dialects (the real APIs
        // close the stream after it).
        Dialect::Anthropic => matches!(last_json["type"].as_str(), Some("message_stop" | "error")),
        Dialect::OpenaiResponses => matches!(
            last_json["type"].as_str(),
            Some("response.completed" | "response.incomplete" | "response.failed" | "error")
        ),
        // An error object is the last chunk of a failed Gemini stream.
        Dialect::Gemini => {
            last_json["candidates"][0]["finishReason"].as_str().is_some() || last_json["error"]["status"].is_string()
        }
    };
    if ok { Ok(()) } else { Err(format!("{client:?} stream does not end with its terminal event: {text}")) }
}

fn run_adapter(
    client: Dialect,
    upstream: Dialect,
    gemini_sse: bool,
    bytes: &[u8],
    cuts: &[usize],
    error: Option<&str>,
) -> Vec<Bytes> {
    let mut a = adapter(client, upstream, gemini_sse);
    let mut out = Vec::new();
    let mut broke = None;
    for c in split(bytes, cuts) {
        if a.push(&c, &mut out).is_err() {
            broke = Some("malformed upstream");
            break;
        }
    }
    a.finish(error.or(broke).map(|message| StreamEnd { kind: OutcomeKind::ProtocolError, message }), &mut out);
    let _ = (a.has_content(), a.terminated(), a.usage(), a.dropped_frames());
    out
}

proptest! {
    #[test]
    fn sse_parser_never_panics_and_chunking_never_changes_the_events(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = parse_all(std::slice::from_ref(&bytes));
        let parts = parse_all(&split(&bytes, &cuts));
        let key = |e: &SseEvent| (e.event.clone(), e.data.clone());
        prop_assert_eq!(whole.iter().map(key).collect::<Vec<_>>(), parts.iter().map(key).collect::<Vec<_>>());
    }

    #[test]
    fn sse_text_of_valid_events_round_trips(events in prop::collection::vec(shapes::sse_event(), 0..12)) {
        let mut text = String::new();
        for (name, data) in &events {
            if let Some(n) = name {
                text.push_str(&format!("event: {n}\n"));
            }
            for line in data.split('\n') {
                text.push_str(&format!("data: {line}\n"));
            }
            text.push('\n');
        }
        let parsed = parse_all(&[text.into_bytes()]);
        prop_assert_eq!(parsed.len(), events.len());
        for (p, (name, data)) in parsed.iter().zip(&events) {
            prop_assert_eq!(&p.event, name);
            prop_assert_eq!(&p.data, data);
        }
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_events(
        events in prop::collection::vec(shapes::any_event(), 0..24),
    ) {
        for d in DIALECTS {
            let mut dec = decoder(d);
            let mut out = Vec::new();
            for (name, data) in &events {
                let ev = SseEvent { event: name.clone(), data: data.clone(), raw: Bytes::new(), clean: true };
                dec.event(&ev, &mut out);
            }
            let _ = dec.terminated();
        }
    }

    #[test]
    fn every_adapter_survives_arbitrary_bytes_and_still_ends_its_stream(
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        gemini_sse in any::<bool>(),
    ) {
        for client in DIALECTS {
            for upstream in DIALECTS {
                let out = run_adapter(client, upstream, gemini_sse, &bytes, &cuts, Some("upstream broke"));
                check_client_stream(client, gemini_sse, &out)
                    .map_err(|e| TestCaseError::fail(format!("{upstream:?} -> {client:?}: {e}")))?;
            }
        }
    }

    #[test]
    fn valid_shaped_upstream_streams_become_valid_client_streams(
        upstream_idx in 0usize..4,
        frames in shapes::stream_frames(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        gemini_sse in any::<bool>(),
        abrupt in any::<bool>(),
    ) {
        let upstream = DIALECTS[upstream_idx];
        let text = frames[upstream_idx].concat();
        for client in DIALECTS {
            let error = abrupt.then_some("the upstream stream ended before it was complete");
            let out = run_adapter(client, upstream, gemini_sse, text.as_bytes(), &cuts, error);
            check_client_stream(client, gemini_sse, &out)
                .map_err(|e| TestCaseError::fail(format!("{upstream:?} -> {client:?}: {e}")))?;
        }
    }

    #[test]
    fn requests_translate_into_bodies_each_target_accepts(
        client_idx in 0usize..4,
        bodies in shapes::requests(),
        stream in any::<bool>(),
    ) {
        let client = DIALECTS[client_idx];
        let body = &bodies[client_idx];
        let Ok(req) = decode_request(client, body, stream) else { return Ok(()) };
        for target in DIALECTS {
            let encoded = encode_request(target, &req, "m", Some(4096));
            prop_assert!(encoded.is_object(), "{:?} -> {:?}: {}", client, target, encoded);
            if let Err(e) = decode_request(target, &encoded, stream) {
                return Err(TestCaseError::fail(format!("{client:?} -> {target:?} does not parse back ({e}): {encoded}")));
            }
        }
    }

    #[test]
    fn arbitrary_json_requests_never_panic(value in shapes::json(4)) {
        for d in DIALECTS {
            if let Ok(req) = decode_request(d, &value, false) {
                for target in DIALECTS {
                    let _ = encode_request(target, &req, "m", None);
                }
            }
            let _ = decode_response(d, &value);
        }
    }

    #[test]
    fn responses_translate_into_bodies_each_client_accepts(
        upstream_idx in 0usize..4,
        bodies in shapes::responses(),
    ) {
        let upstream = DIALECTS[upstream_idx];
        let Ok(r) = decode_response(upstream, &bodies[upstream_idx]) else { return Ok(()) };
        for client in DIALECTS {
            let encoded = encode_response(client, &r);
            if let Err(e) = decode_response(client, &encoded) {
                return Err(TestCaseError::fail(format!("{upstream:?} -> {client:?} does not parse back ({e}): {encoded}")));
            }
        }
    }
}

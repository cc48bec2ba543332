//! Incremental Server-Sent Events framing: events split across chunks, LF / CRLF / CR line ends,
//! comments, multi-line data, very long lines, and a last event without its blank line.

use bytes::{Bytes, BytesMut};

/// One SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The raw bytes of the event block, blank line included (for byte-exact passthrough).
    pub raw: Bytes,
    /// Every line of the block was a known field (`data`, `event`, `id`, `retry`) or a comment,
    /// so `raw` may be forwarded as it is; otherwise the event must be framed anew.
    pub clean: bool,
}

impl SseEvent {
    /// Whether `data` is one JSON value (what every dialect's frames carry, `[DONE]` aside).
    pub fn data_is_json(&self) -> bool {
        let d = self.data.trim_start();
        (d.starts_with('{') || d.starts_with('[')) && serde_json::from_str::<serde::de::IgnoredAny>(&self.data).is_ok()
    }
}

/// Largest event (its lines and data together) the parser holds, by default.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Splits a byte stream into events. An event that grows past its bound is an error (the
/// stream is broken), never unbounded memory.
#[derive(Debug)]
pub struct SseParser {
    buf: BytesMut,
    /// Offset of the first unparsed byte in `buf`.
    pos: usize,
    /// Offset where the current event's raw bytes start.
    start: usize,
    /// Bytes from `pos` up to here hold no line end (so a long line is scanned once).
    scanned: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The current block had a line with an unknown field.
    dirty: bool,
    /// Lines with unknown fields seen so far (dropped, never forwarded).
    garbage: u64,
    limit: usize,
    overflow: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A new parser with the default bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser whose events may hold at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            pos: 0,
            start: 0,
            scanned: 0,
            event: None,
            data: String::new(),
            has_data: false,
            dirty: false,
            garbage: 0,
            limit,
            overflow: false,
        }
    }

    /// Whether an event outgrew the bound (everything after it was discarded).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Lines that were neither a known field nor a comment, so far.
    pub fn garbage_lines(&self) -> u64 {
        self.garbage
    }

    /// Feeds bytes; appends complete events to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        if self.overflow {
            return;
        }
        self.buf.extend_from_slice(chunk);
        self.parse(false, out);
        if self.buf.len() - self.start + self.data.len() > self.limit {
            self.overflow = true;
            self.buf = BytesMut::new();
            self.data = String::new();
            self.pos = 0;
            self.start = 0;
            self.scanned = 0;
        }
    }

    /// The stream ended: dispatches a last event that lacked its blank line.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.overflow {
            return;
        }
        if self.buf.len() > self.pos {
            // Terminate a last line that lacks its line end.
            self.buf.extend_from_slice(b"\n");
        }
        self.parse(true, out);
        if self.has_data || self.event.is_some() {
            // The blank line the stream never sent, so the raw event can be forwarded as it is.
            self.buf.extend_from_slice(b"\n");
            let raw = self.buf.split_to(self.buf.len()).freeze();
            self.dispatch(raw, out);
        }
        self.buf.clear();
        self.pos = 0;
        self.start = 0;
        self.scanned = 0;
    }

    fn parse(&mut self, eof: bool, out: &mut Vec<SseEvent>) {
        loop {
            let from = self.scanned.max(self.pos);
            let Some(nl) = memchr::memchr2(b'\n', b'\r', &self.buf[from..]) else {
                self.scanned = self.buf.len();
                break;
            };
            let line_end = from + nl;
            let mut next = line_end + 1;
            if self.buf[line_end] == b'\r' {
                match self.buf.get(line_end + 1) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    // A CR at the end of what we have may be half of a CRLF.
                    None if !eof => {
                        self.scanned = line_end;
                        break;
                    }
                    None => {}
                }
            }
            let line_start = self.pos;
            self.pos = next;
            self.scanned = next;
            if line_end == line_start {
                // Blank line: dispatch the event (if it has anything).
                let consumed = self.buf.split_to(self.pos).freeze();
                let raw = consumed.slice(self.start..);
                self.pos = 0;
                self.start = 0;
                self.scanned = 0;
                if self.has_data || self.event.is_some() {
                    self.dispatch(raw, out);
                }
                self.dirty = false;
                continue;
            }
            let line = &self.buf[line_start..line_end];
            if line[0] == b':' {
                continue;
            }
            let (field, value) = match memchr::memchr(b':', line) {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &b""[..]),
            };
            let value = String::from_utf8_lossy(value);
            match field {
                b"data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(&value);
                    self.has_data = true;
                }
                b"event" => self.event = Some(value.into_owned()),
                b"id" | b"retry" => {}
                _ => {
                    self.dirty = true;
                    self.garbage += 1;
                }
            }
        }
    }

    fn dispatch(&mut self, raw: Bytes, out: &mut Vec<SseEvent>) {
        out.push(SseEvent { event: self.event.take(), data: std::mem::take(&mut self.data), raw, clean: !self.dirty });
        self.has_data = false;
        self.dirty = false;
    }
}

/// Frames one `data:` event.
pub fn data_event(json: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(json.len() + 8);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

/// Frames one named event (`event:` + `data:`).
pub fn named_event(name: &str, json: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(name.len() + json.len() + 16);
    b.extend_from_slice(b"event: ");
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(b"\ndata: ");
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(b"\n\n");
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out);
        }
        p.finish(&mut out);
        out
    }

    #[test]
    fn events_split_across_chunks_and_line_ends() {
        let ev = all(&[b"data: {\"a\"", b":1}\n", b"\ndata: x\r", b"\n\r\nevent: e\rdata: y\r\r"]);
        let data: Vec<&str> = ev.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, vec!["{\"a\":1}", "x", "y"]);
        assert_eq!(ev[2].event.as_deref(), Some("e"));
        assert_eq!(&ev[0].raw[..], b"data: {\"a\":1}\n\n");
        assert_eq!(&ev[1].raw[..], b"data: x\r\n\r\n");
    }

    #[test]
    fn comments_multiline_and_missing_final_blank_line() {
        let ev = all(&[b": keep-alive\n\n", b"data: a\ndata: b\n\n", b"event: message_stop\ndata: {}"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "a\nb");
        assert_eq!(ev[1].event.as_deref(), Some("message_stop"));
        assert_eq!(ev[1].data, "{}");
        assert_eq!(&ev[1].raw[..], b"event: message_stop\ndata: {}\n\n", "forwardable as it is");
    }

    #[test]
    fn garbage_lines_mark_the_event_and_are_counted() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: {\"a\":1}\n\nhello there\ndata: {\"b\":2}\n\nnonsense\n\nid: 7\ndata: {}\n\n", &mut out);
        p.finish(&mut out);
        assert_eq!(out.len(), 3, "a block of garbage alone is no event");
        assert!(out[0].clean && !out[1].clean && out[2].clean);
        assert_eq!(out[1].data, "{\"b\":2}");
        assert_eq!(p.garbage_lines(), 2);
        assert!(out[0].data_is_json());
        let ev = SseEvent { event: None, data: "{not json".into(), raw: Bytes::new(), clean: true };
        assert!(!ev.data_is_json());
    }

    #[test]
    fn an_event_past_the_bound_is_an_overflow_not_memory_growth() {
        let mut p = SseParser::with_limit(64);
        let mut out = Vec::new();
        p.push(b"data: small\n\n", &mut out);
        assert!(!p.overflowed() && out.len() == 1);
        for _ in 0..100 {
            p.push(&[b'x'; 10], &mut out);
        }
        assert!(p.overflowed(), "a line of 1000 bytes with no end");
        assert_eq!(out.len(), 1);
        let mut p = SseParser::with_limit(64);
        for _ in 0..20 {
            p.push(b"data: 0123456789\n", &mut out);
        }
        assert!(p.overflowed(), "many data lines of one event");
    }

    #[test]
    fn byte_by_byte_and_very_long_lines() {
        let long = "x".repeat(1 << 20);
        let text = format!("data: {long}\n\ndata: [DONE]\n\n");
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(7).collect();
        let ev = all(&chunks);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data.len(), 1 << 20);
        assert_eq!(ev[1].data, "[DONE]");
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(all(&bytes).len(), 2);
    }
}

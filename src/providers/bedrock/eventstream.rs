//! The `application/vnd.amazon.eventstream` framing of Bedrock's streaming answers: an
//! incremental decoder that takes the body in whatever chunks the network gives and yields whole,
//! checksum-verified messages; and an encoder (string headers only), used by the tests and the
//! mock upstream. It knows nothing of what the payloads mean (`converse` does).
//!
//! The wire format (the Smithy "Amazon Event Stream" specification, awslabs/aws-c-event-stream):
//! a 12-byte prelude — total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes —
//! then the headers, the payload, and a CRC32 of everything before it (u32 BE). A header is a
//! name (u8 length + bytes), a type byte and a value: 0 true, 1 false, 2 i8, 3 i16, 4 i32, 5 i64,
//! 6 bytes (u16 length), 7 string (u16 length), 8 timestamp (i64 ms), 9 UUID (16 bytes).

use bytes::{Buf, Bytes, BytesMut};

/// The prelude: two lengths and their CRC.
const PRELUDE: usize = 12;
/// The smallest message: a prelude and a message CRC.
const MIN_MESSAGE: usize = PRELUDE + 4;
/// The largest message accepted (AWS caps a message at 16 MiB of payload and 128 KiB of headers):
/// a bigger length is a corrupt stream, not a reason to buffer without end.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024 + 128 * 1024 + MIN_MESSAGE;

/// Why a stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The prelude's CRC does not match its lengths.
    #[error("event stream prelude checksum mismatch")]
    PreludeCrc,
    /// The message CRC does not match its bytes.
    #[error("event stream message checksum mismatch")]
    MessageCrc,
    /// Lengths that cannot describe a message (too short, too long, headers past the end).
    #[error("event stream message of impossible length")]
    Length,
    /// A header that does not parse (unknown type, cut short, not UTF-8).
    #[error("event stream header cannot be read")]
    Header,
}

/// A header's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Types 0 and 1.
    Bool(bool),
    /// Types 2–5 and 8 (a timestamp is ms since the epoch).
    Int(i64),
    /// Type 6.
    Bytes(Bytes),
    /// Type 7.
    Str(String),
    /// Type 9.
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its headers, in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// Its payload.
    pub payload: Bytes,
}

impl Message {
    /// A string header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(k, v)| match v {
            HeaderValue::Str(s) if k == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Reads messages out of a body that arrives in chunks.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    failed: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `chunk` and appends every message now complete to `out`. After an error the stream
    /// cannot be resynchronised: every later call fails too.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Message>) -> Result<(), FrameError> {
        if self.failed {
            return Err(FrameError::Length);
        }
        self.buf.extend_from_slice(chunk);
        loop {
            match next(&mut self.buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.failed = true;
                    self.buf.clear();
                    return Err(e);
                }
            }
        }
    }

    /// Bytes held that do not make a whole message yet (a stream that ends with some was cut).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The first message of `buf` when it is all there (removed from `buf`).
fn next(buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
    if buf.len() < PRELUDE {
        return Ok(None);
    }
    let total = be32(&buf[0..4]) as usize;
    let headers_len = be32(&buf[4..8]) as usize;
    if crc32fast::hash(&buf[0..8]) != be32(&buf[8..12]) {
        return Err(FrameError::PreludeCrc);
    }
    if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total) || headers_len > total - MIN_MESSAGE {
        return Err(FrameError::Length);
    }
    if buf.len() < total {
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    if crc32fast::hash(&frame[..total - 4]) != be32(&frame[total - 4..]) {
        return Err(FrameError::MessageCrc);
    }
    let headers = parse_headers(&frame[PRELUDE..PRELUDE + headers_len])?;
    let payload = frame.slice(PRELUDE + headers_len..total - 4);
    Ok(Some(Message { headers, payload }))
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, FrameError> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
        if b.len() < n {
            return Err(FrameError::Header);
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = take(&mut b, 1)?[0] as usize;
        let name = std::str::from_utf8(take(&mut b, n)?).map_err(|_| FrameError::Header)?.to_string();
        let value = match take(&mut b, 1)?[0] {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Int(i64::from(take(&mut b, 1)?[0] as i8)),
            3 => HeaderValue::Int(i64::from((&take(&mut b, 2)?[..]).get_i16())),
            4 => HeaderValue::Int(i64::from((&take(&mut b, 4)?[..]).get_i32())),
            5 | 8 => HeaderValue::Int((&take(&mut b, 8)?[..]).get_i64()),
            t @ (6 | 7) => {
                let len = (&take(&mut b, 2)?[..]).get_u16() as usize;
                let raw = take(&mut b, len)?;
                if t == 6 {
                    HeaderValue::Bytes(Bytes::copy_from_slice(raw))
                } else {
                    HeaderValue::Str(std::str::from_utf8(raw).map_err(|_| FrameError::Header)?.to_string())
                }
            }
            9 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(take(&mut b, 16)?);
                HeaderValue::Uuid(id)
            }
            _ => return Err(FrameError::Header),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Encodes one message with string headers (type 7).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (PRELUDE + h.len() + payload.len() + 4) as u32;
    let mut m = Vec::with_capacity(total as usize);
    m.extend_from_slice(&total.to_be_bytes());
    m.extend_from_slice(&(h.len() as u32).to_be_bytes());
    m.extend_from_slice(&crc32fast::hash(&m[..8]).to_be_bytes());
    m.extend_from_slice(&h);
    m.extend_from_slice(payload);
    m.extend_from_slice(&crc32fast::hash(&m).to_be_bytes());
    m
}

/// An event of a Bedrock stream: `:message-type` `event`, its `:event-type`, JSON payload.
pub fn event(event_type: &str, payload: &serde_json::Value) -> Vec<u8> {
    encode(
        &[(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        payload.to_string().as_bytes(),
    )
}

/// An exception inside a Bedrock stream: `:message-type` `exception` and its `:exception-type`.
pub fn exception(exception_type: &str, message: &str) -> Vec<u8> {
    encode(
        &[(":exception-type", exception_type), (":content-type", "application/json"), (":message-type", "exception")],
        serde_json::json!({ "message": message }).to_string().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // awslabs/aws-c-event-stream tests/channel_handler_test.c
    // (`test_channel_handler_multiple_valid_messages_parse`): an empty message, a payload-only
    // message and a message with one string header, back to back.
    const EMPTY: [u8; 16] =
        [0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff];

    fn vectors() -> Vec<u8> {
        let mut v = EMPTY.to_vec();
        v.extend_from_slice(&[0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a]);
        v.extend_from_slice(b"{'foo':'bar'}");
        v.extend_from_slice(&[0xc3, 0x65, 0x39, 0x36]);
        v.extend_from_slice(&[0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C]);
        v.extend_from_slice(b"content-type");
        v.extend_from_slice(&[0x07, 0x00, 0x10]);
        v.extend_from_slice(b"application/json");
        v.extend_from_slice(b"{'foo':'bar'}");
        v.extend_from_slice(&[0x8D, 0x9C, 0x08, 0xB1]);
        v
    }

    #[test]
    fn the_aws_c_event_stream_vectors_decode_in_any_split() {
        let all = vectors();
        // Every chunk size, down to one byte at a time: a frame split anywhere is held, not lost.
        for size in 1..=all.len() {
            let mut d = Decoder::new();
            let mut out = Vec::new();
            for chunk in all.chunks(size) {
                d.push(chunk, &mut out).expect("valid frames");
            }
            assert_eq!(out.len(), 3, "chunk size {size}");
            assert_eq!(d.pending(), 0);
            assert!(out[0].headers.is_empty() && out[0].payload.is_empty());
            assert_eq!(&out[1].payload[..], b"{'foo':'bar'}");
            assert_eq!(out[2].header("content-type"), Some("application/json"));
            assert_eq!(&out[2].payload[..], b"{'foo':'bar'}");
        }
        // Our encoder writes the same bytes.
        assert_eq!(encode(&[], b""), EMPTY);
        assert_eq!(encode(&[("content-type", "application/json")], b"{'foo':'bar'}"), all[45..]);
    }

    #[test]
    fn corrupted_checksums_and_lengths_are_refused() {
        // The vector's corrupted-prelude case: one bit flipped in the prelude CRC.
        let mut bad = EMPTY;
        bad[9] = 0xc3;
        assert_eq!(Decoder::new().push(&bad, &mut Vec::new()), Err(FrameError::PreludeCrc));
        // A flipped payload byte fails the message CRC.
        let mut m = event("contentBlockDelta", &serde_json::json!({"delta": {"text": "hi"}}));
        let at = m.len() - 6;
        m[at] ^= 1;
        let mut d = Decoder::new();
        assert_eq!(d.push(&m, &mut Vec::new()), Err(FrameError::MessageCrc));
        assert!(d.push(&EMPTY, &mut Vec::new()).is_err(), "no resynchronising after a corrupt frame");
        // A length below the minimum, with a valid prelude CRC.
        let mut short = [0u8; 12];
        short[3] = 8;
        let crc = crc32fast::hash(&short[..8]).to_be_bytes();
        short[8..].copy_from_slice(&crc);
        assert_eq!(Decoder::new().push(&short, &mut Vec::new()), Err(FrameError::Length));
    }

    #[test]
    fn typed_headers_and_exceptions() {
        let m = exception("throttlingException", "Too many requests");
        let mut out = Vec::new();
        Decoder::new().push(&m, &mut out).expect("decodes");
        assert_eq!(out[0].header(":message-type"), Some("exception"));
        assert_eq!(out[0].header(":exception-type"), Some("throttlingException"));
        // Non-string header types are read too (bool, i32, timestamp, bytes, uuid).
        let mut h = Vec::new();
        for (name, ty, val) in [
            ("t", 0u8, &[][..]),
            ("i", 4, &[0xff, 0xff, 0xff, 0xfe][..]),
            ("ts", 8, &[0, 0, 0, 0, 0, 0, 0x03, 0xe8][..]),
            ("b", 6, &[0, 2, 0xde, 0xad][..]),
            ("u", 9, &[7u8; 16][..]),
        ] {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(ty);
            h.extend_from_slice(val);
        }
        let got = parse_headers(&h).expect("headers");
        assert_eq!(got[0].1, HeaderValue::Bool(true));
        assert_eq!(got[1].1, HeaderValue::Int(-2));
        assert_eq!(got[2].1, HeaderValue::Int(1000));
        assert_eq!(got[3].1, HeaderValue::Bytes(Bytes::from_static(&[0xde, 0xad])));
        assert_eq!(got[4].1, HeaderValue::Uuid([7; 16]));
        assert_eq!(parse_headers(&[1, b'x', 42]), Err(FrameError::Header));
    }
}

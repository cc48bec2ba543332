//! Removes a secret from text before it reaches a client or a log: the secret itself and the
//! encodings an upstream may echo it in (URL-encoded, JSON-escaped, hex, and base64 in both
//! alphabets at every byte alignment, so a key inside a longer base64 value such as a Basic
//! credential is found too). Used on upstream error bodies; never on the hot path.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// What replaces a secret.
pub const MASK: &str = "***";

/// Shortest secret (and encoded form) worth searching for; shorter ones would mask ordinary text.
const MIN_LEN: usize = 6;

fn percent_encoded(secret: &str, upper: bool) -> String {
    let mut out = String::with_capacity(secret.len() * 3);
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The base64 characters that depend only on the secret's bytes when it starts `align` bytes
/// into a longer value.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for align in 0..3usize {
        let mut buf = vec![0u8; align];
        buf.extend_from_slice(secret);
        let first = (align * 8).div_ceil(6);
        let last = (buf.len() * 8) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&buf);
            if let Some(core) = enc.get(first..last.min(enc.len())) {
                out.push(core.to_string());
            }
        }
    }
    out
}

/// Every form of `secret` to look for, longest first.
fn forms(secret: &str) -> Vec<String> {
    let mut f = vec![
        secret.to_string(),
        percent_encoded(secret, true),
        percent_encoded(secret, false),
        secret.replace('/', "\\/"),
        secret.bytes().map(|b| format!("{b:02x}")).collect(),
        secret.bytes().map(|b| format!("{b:02X}")).collect(),
    ];
    f.extend(base64_cores(secret.as_bytes()));
    f.retain(|p| p.len() >= MIN_LEN);
    f.sort_by_key(|p| std::cmp::Reverse(p.len()));
    f.dedup();
    f
}

/// `text` with every form of `secret` replaced by `***`.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 4 || secret.trim().is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    if secret.len() < MIN_LEN {
        return out.replace(secret, MASK);
    }
    for p in forms(secret) {
        if out.contains(&p) {
            out = out.replace(&p, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    use super::*;

    const KEY: &str = "sk-live/abc+DEF=123xyz";

    #[test]
    fn the_key_and_its_encodings_are_masked() {
        let cases = [
            format!("invalid key {KEY} given"),
            format!("url ?key={}", percent_encoded(KEY, true)),
            format!("url ?key={}", percent_encoded(KEY, false)),
            format!("json \"{}\"", KEY.replace('/', "\\/")),
            format!("b64 {}", STANDARD.encode(KEY)),
            format!("b64url {}", URL_SAFE.encode(KEY)),
            format!("basic {}", STANDARD.encode(format!("user:{KEY}"))),
            format!("basic2 {}", STANDARD.encode(format!("u:{KEY}"))),
            format!("basic3 {}", STANDARD.encode(format!("us:{KEY}"))),
            format!("hex {}", KEY.bytes().map(|b| format!("{b:02x}")).collect::<String>()),
        ];
        for c in cases {
            let r = redact(&c, KEY);
            assert!(r.contains(MASK), "not masked: {c} -> {r}");
            assert!(!r.contains(KEY) && !r.contains(&STANDARD.encode(KEY)[..20]), "{r}");
        }
        assert_eq!(redact("nothing to hide", KEY), "nothing to hide");
        assert_eq!(redact("short abcd here", "abcd"), "short *** here");
    }
}

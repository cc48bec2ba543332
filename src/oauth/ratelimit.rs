//! The generic rate-limit headers any upstream may send, read for every account (API keys too):
//! OpenAI-style `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (resets as durations
//! such as `6m0s` or `20ms`), and Anthropic's API-key limits
//! `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
//! (resets in RFC 3339). A window with nothing remaining is exhausted until its reset.

use actors::quota::{Observation, Reading, WindowStatus};
use awc::http::header::HeaderMap;

/// A Go-style duration (`1h2m3.5s`, `20ms`, `6m0s`) or plain seconds, in ms.
pub fn duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as i64);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1.0
            }
            ('h', _) => 3_600_000.0,
            ('m', _) => 60_000.0,
            ('s', _) => 1_000.0,
            _ => return None,
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
        any = true;
    }
    (any && num.is_empty()).then_some(total as i64)
}

fn reading(key: &str, limit: Option<f64>, remaining: Option<f64>, resets_at: Option<i64>) -> Option<Reading> {
    let remaining = remaining?;
    let used = limit.filter(|l| *l > 0.0).map(|l| (1.0 - remaining / l).clamp(0.0, 1.0));
    let status = if remaining <= 0.0 { WindowStatus::Exhausted } else { WindowStatus::Allowed };
    Some(Reading { key: key.into(), used, resets_at, window_secs: None, status: Some(status) })
}

/// OpenAI-style windows: (key, limit, remaining, reset as a duration).
const OPENAI: [(&str, &str, &str, &str); 2] = [
    ("requests", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("tokens", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
];

/// Anthropic's API-key windows: (key, limit, remaining, reset as RFC 3339).
const ANTHROPIC: [(&str, &str, &str, &str); 4] = [
    (
        "requests",
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "tokens",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
    (
        "input-tokens",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ),
    (
        "output-tokens",
        "anthropic-ratelimit-output-tokens-limit",
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
    ),
];

/// The generic windows in `headers` at `now`. It runs on every response: one pass over the
/// header names first, and the named look-ups only for a family that is there.
pub fn generic(headers: &HeaderMap, now: i64) -> Observation {
    let (mut openai, mut anthropic) = (false, false);
    for name in headers.keys() {
        let n = name.as_str();
        openai |= n.starts_with("x-ratelimit-");
        anthropic |= n.starts_with("anthropic-ratelimit-");
    }
    let mut readings = Vec::new();
    if !openai && !anthropic {
        return Observation { readings };
    }
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let num = |name: &str| get(name).and_then(|v| v.parse::<f64>().ok());
    if openai {
        for (what, limit, remaining, reset) in OPENAI {
            let reset = get(reset).and_then(duration_ms).map(|d| now + d);
            readings.extend(reading(what, num(limit), num(remaining), reset));
        }
    }
    if anthropic {
        for (what, limit, remaining, reset) in ANTHROPIC {
            let reset = get(reset).and_then(super::import::parse_time);
            readings.extend(reading(what, num(limit), num(remaining), reset));
        }
    }
    Observation { readings }
}

#[cfg(test)]
mod tests {
    use awc::http::header::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("2.5"), Some(2_500));
        assert_eq!(duration_ms("soon"), None);
        assert_eq!(duration_ms("5"), Some(5_000));
    }

    #[test]
    fn openai_and_anthropic_api_windows() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "30s"),
            ("anthropic-ratelimit-tokens-limit", "1000"),
            ("anthropic-ratelimit-tokens-remaining", "250"),
            ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:10Z"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let o = generic(&h, 1_000);
        assert_eq!(o.readings.len(), 2);
        assert_eq!(o.readings[0].key, "requests");
        assert_eq!((o.readings[0].status, o.readings[0].resets_at), (Some(WindowStatus::Exhausted), Some(31_000)));
        assert_eq!(o.readings[1].used, Some(0.75));
        assert_eq!(o.readings[1].resets_at, Some(1_767_225_610_000));
        assert!(generic(&HeaderMap::new(), 0).is_empty());
    }
}

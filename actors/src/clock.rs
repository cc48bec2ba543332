//! Wall-clock time in milliseconds since the Unix epoch: the one time unit of persisted state.
//!
//! Pure state machines take `now` as an argument so tests drive time explicitly; only actor shells
//! call `now_ms`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

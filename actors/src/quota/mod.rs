//! The quota of one subject (a provider account today) as a plain state struct with an
//! explicit clock: the rolling windows the upstream reports (Claude's 5-hour and 7-day windows,
//! Codex's primary and secondary windows, generic request and token windows), each with its used
//! fraction, reset time and status, and the routing view derived from them (skip the account
//! until a window resets; use it last when it is near its limit).
//!
//! How to extend it (pacing, budgets): add a field to `QuotaState` for the new rule's state,
//! teach `view` to fold it into `QuotaView` (`blocked_until` is "not before", `near_limit` is "use
//! last"), add a message in `messages.rs` and a handler in `actor.rs` that only calls the state.
//! Nothing here knows a provider's header names: the root crate turns headers, error bodies and
//! usage endpoints into `Observation`s.

pub mod actor;
pub mod messages;
pub mod persist;
pub mod poller;

use std::collections::BTreeMap;

use serde::Serialize;

/// How a window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStatus {
    /// Requests go through.
    Allowed,
    /// The upstream warns that the window is filling up.
    Warning,
    /// The upstream refuses requests until the window resets.
    Exhausted,
}

impl WindowStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Warning => "warning",
            Self::Exhausted => "exhausted",
        }
    }

    /// Reads the stored spelling (unknown: allowed).
    pub fn parse(s: &str) -> Self {
        match s {
            "warning" => Self::Warning,
            "exhausted" => Self::Exhausted,
            _ => Self::Allowed,
        }
    }
}

/// One window as one signal reports it. Fields the signal does not carry are `None` and keep
/// what an earlier signal said.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// Window name: `5h`, `7d`, `primary`, `requests`, `tokens`, ... A window that concerns one
    /// model only is named `<name>@<model>` (`daily@gemini-2.5-pro`): when it is exhausted, only
    /// that model skips the account.
    pub key: String,
    /// Used share, 0 to 1 (a little above 1 when overrun).
    pub used: Option<f64>,
    /// When the window resets (ms since the epoch).
    pub resets_at: Option<i64>,
    /// The window's length, seconds.
    pub window_secs: Option<i64>,
    /// The status the upstream states, when it states one.
    pub status: Option<WindowStatus>,
}

/// What one upstream response (or one poll of a usage endpoint) said about the quota.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// The windows it reported.
    pub readings: Vec<Reading>,
}

impl Observation {
    /// Whether it says anything.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }
}

/// One window as the tracker keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Window name.
    pub key: String,
    /// Used share, 0 to 1.
    pub used: Option<f64>,
    /// When it resets (ms).
    pub resets_at: Option<i64>,
    /// Its length, seconds.
    pub window_secs: Option<i64>,
    /// How it stands.
    pub status: WindowStatus,
    /// When it was last reported (ms).
    pub observed_at: i64,
}

impl Window {
    /// The model a `<name>@<model>` window concerns.
    pub fn model(&self) -> Option<&str> {
        self.key.split_once('@').map(|(_, m)| m)
    }
}

/// Tuning of the quota rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaConfig {
    /// Used share from which an account is used only when nothing else is left.
    pub near_limit: f64,
    /// How long an exhausted window whose reset is unknown keeps the account out, ms.
    pub unknown_reset_ms: i64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self { near_limit: 0.95, unknown_reset_ms: 5 * 60_000 }
    }
}

/// What the router needs to know of a subject's quota.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuotaView {
    /// Not leased before this time (ms; 0: no block).
    pub blocked_until: i64,
    /// Above the near-limit share: leased only when no other account is left.
    pub near_limit: bool,
    /// Which window decided it.
    pub reason: Option<String>,
    /// Models not leased on this account before a time (ms): their own windows are exhausted.
    pub model_blocks: BTreeMap<String, i64>,
}

impl QuotaView {
    /// Until when the account is out for `model` (0: it is not).
    pub fn blocked_for(&self, model: &str) -> i64 {
        self.blocked_until.max(self.model_blocks.get(model).copied().unwrap_or(0))
    }
}

/// How much an observation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Nothing.
    None,
    /// Used shares drifted: worth saving now and then, not worth telling the router.
    Drift,
    /// A status, a reset time or a new window: save now, and recompute the routing view.
    Shift,
}

/// The quota of one subject.
#[derive(Debug, Clone, Default)]
pub struct QuotaState {
    windows: BTreeMap<String, Window>,
    cfg: QuotaConfig,
}

/// Used shares closer than this count as the same (for saving, not for routing).
const DRIFT: f64 = 0.01;

impl QuotaState {
    /// A state over stored windows.
    pub fn new(windows: Vec<Window>, cfg: QuotaConfig) -> Self {
        Self { windows: windows.into_iter().map(|w| (w.key.clone(), w)).collect(), cfg }
    }

    /// The windows, by name.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.windows.values()
    }

    /// The tuning in force.
    pub fn config(&self) -> QuotaConfig {
        self.cfg
    }

    /// Takes windows another instance observed: each replaces the one of its name unless this
    /// instance observed that one later. True when anything changed.
    pub fn adopt(&mut self, windows: Vec<Window>) -> bool {
        let mut changed = false;
        for w in windows {
            let newer = self.windows.get(&w.key).is_none_or(|mine| w.observed_at > mine.observed_at);
            if newer && self.windows.get(&w.key) != Some(&w) {
                self.windows.insert(w.key.clone(), w);
                changed = true;
            }
        }
        changed
    }

    /// New tuning (the routing view may change).
    pub fn set_config(&mut self, cfg: QuotaConfig) {
        self.cfg = cfg;
    }

    fn derive(&self, r: &Reading, used: Option<f64>) -> WindowStatus {
        match r.status {
            Some(s) => s,
            None => match used {
                Some(u) if u >= 1.0 => WindowStatus::Exhausted,
                Some(u) if u >= self.cfg.near_limit => WindowStatus::Warning,
                Some(_) | None => WindowStatus::Allowed,
            },
        }
    }

    /// Applies what an upstream said at `now`.
    pub fn observe(&mut self, obs: &Observation, now: i64) -> Change {
        let mut change = Change::None;
        for r in &obs.readings {
            let old = self.windows.get(&r.key).cloned();
            let used = r.used.or(old.as_ref().and_then(|o| o.used));
            let status = self.derive(r, used);
            let w = Window {
                key: r.key.clone(),
                used,
                resets_at: r.resets_at.or(old.as_ref().and_then(|o| o.resets_at)),
                window_secs: r.window_secs.or(old.as_ref().and_then(|o| o.window_secs)),
                status,
                observed_at: now,
            };
            let c = match &old {
                None => Change::Shift,
                Some(o) if o.status != w.status || o.resets_at != w.resets_at || o.window_secs != w.window_secs => {
                    Change::Shift
                }
                Some(o) => match (o.used, w.used) {
                    (Some(a), Some(b)) if (a - b).abs() < DRIFT => Change::None,
                    (None, None) => Change::None,
                    _ => Change::Drift,
                },
            };
            change = change.max(c);
            self.windows.insert(r.key.clone(), w);
        }
        change
    }

    /// Windows whose reset time passed start afresh. Returns whether any did.
    pub fn expire(&mut self, now: i64) -> bool {
        let unknown = self.cfg.unknown_reset_ms;
        let mut any = false;
        for w in self.windows.values_mut() {
            let over = match w.resets_at {
                Some(at) => at <= now && (w.status != WindowStatus::Allowed || w.used.is_some_and(|u| u > 0.0)),
                None => w.status == WindowStatus::Exhausted && w.observed_at + unknown <= now,
            };
            if over {
                w.status = WindowStatus::Allowed;
                w.used = w.used.map(|_| 0.0);
                if let (Some(at), Some(secs)) = (w.resets_at, w.window_secs) {
                    // The next reset of a rolling window of known length, until the upstream says.
                    w.resets_at = Some(at + secs * 1000 * (1 + (now - at) / (secs * 1000).max(1)));
                }
                any = true;
            }
        }
        any
    }

    /// The routing view at `now`.
    pub fn view(&self, now: i64) -> QuotaView {
        let mut v = QuotaView::default();
        for w in self.windows.values() {
            if let Some(model) = w.model() {
                let until = w.resets_at.unwrap_or(w.observed_at + self.cfg.unknown_reset_ms);
                if w.status == WindowStatus::Exhausted && until > now {
                    let e = v.model_blocks.entry(model.to_string()).or_insert(0);
                    *e = (*e).max(until);
                }
                continue;
            }
            if w.status == WindowStatus::Exhausted {
                let until = w.resets_at.unwrap_or(w.observed_at + self.cfg.unknown_reset_ms);
                if until > now && until > v.blocked_until {
                    v.blocked_until = until;
                    v.reason = Some(format!("quota window `{}` exhausted", w.key));
                }
            } else if w.used.is_some_and(|u| u >= self.cfg.near_limit) && w.resets_at.is_none_or(|at| at > now) {
                v.near_limit = true;
                if v.blocked_until == 0 {
                    v.reason = Some(format!("quota window `{}` near its limit", w.key));
                }
            }
        }
        v
    }

    /// The next time the view may change by itself (a reset, or the end of an unknown-reset
    /// block), if any.
    pub fn next_change(&self, now: i64) -> Option<i64> {
        self.windows
            .values()
            .filter(|w| w.status != WindowStatus::Allowed || w.used.is_some_and(|u| u >= self.cfg.near_limit))
            .filter_map(|w| match w.resets_at {
                Some(at) => Some(at),
                None => (w.status == WindowStatus::Exhausted).then_some(w.observed_at + self.cfg.unknown_reset_ms),
            })
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(key: &str, used: f64, resets_at: i64) -> Reading {
        Reading {
            key: key.into(),
            used: Some(used),
            resets_at: Some(resets_at),
            window_secs: Some(18_000),
            status: None,
        }
    }

    #[test]
    fn exhausted_window_blocks_until_its_reset_then_clears() {
        let mut q = QuotaState::default();
        let obs = Observation { readings: vec![reading("5h", 0.4, 50_000), reading("7d", 0.2, 900_000)] };
        assert_eq!(q.observe(&obs, 1_000), Change::Shift);
        assert_eq!(q.view(1_000), QuotaView::default());
        let full = Observation {
            readings: vec![Reading { status: Some(WindowStatus::Exhausted), ..reading("5h", 1.0, 50_000) }],
        };
        assert_eq!(q.observe(&full, 2_000), Change::Shift);
        let v = q.view(2_000);
        assert_eq!(v.blocked_until, 50_000);
        assert_eq!(v.reason.as_deref(), Some("quota window `5h` exhausted"));
        assert_eq!(q.next_change(2_000), Some(50_000));
        assert!(!q.expire(49_999));
        assert!(q.expire(50_000));
        assert_eq!(q.view(50_000), QuotaView::default());
        let w = q.windows().find(|w| w.key == "5h").cloned();
        assert_eq!(
            w.map(|w| (w.used, w.status, w.resets_at)),
            Some((Some(0.0), WindowStatus::Allowed, Some(18_050_000)))
        );
    }

    #[test]
    fn the_latest_reset_of_several_exhausted_windows_wins() {
        let mut q = QuotaState::default();
        q.observe(&Observation { readings: vec![reading("5h", 1.0, 10_000), reading("7d", 1.2, 70_000)] }, 0);
        assert_eq!(q.view(0).blocked_until, 70_000);
        assert_eq!(q.view(0).reason.as_deref(), Some("quota window `7d` exhausted"));
    }

    #[test]
    fn near_limit_share_is_configurable() {
        let mut q = QuotaState::default();
        q.observe(&Observation { readings: vec![reading("primary", 0.96, 10_000)] }, 0);
        let v = q.view(0);
        assert!(v.near_limit && v.blocked_until == 0, "{v:?}");
        q.set_config(QuotaConfig { near_limit: 0.99, ..QuotaConfig::default() });
        assert!(!q.view(0).near_limit);
        q.set_config(QuotaConfig::default());
        assert!(!q.view(10_001).near_limit, "a reset in the past no longer counts");
    }

    #[test]
    fn drift_is_told_apart_from_a_shift() {
        let mut q = QuotaState::default();
        q.observe(&Observation { readings: vec![reading("5h", 0.40, 9_000)] }, 0);
        assert_eq!(q.observe(&Observation { readings: vec![reading("5h", 0.405, 9_000)] }, 1), Change::None);
        assert_eq!(q.observe(&Observation { readings: vec![reading("5h", 0.45, 9_000)] }, 2), Change::Drift);
        assert_eq!(q.observe(&Observation { readings: vec![reading("5h", 0.45, 9_500)] }, 3), Change::Shift);
    }

    #[test]
    fn exhausted_without_a_reset_blocks_for_a_while() {
        let mut q = QuotaState::default();
        let r = Reading { key: "requests".into(), status: Some(WindowStatus::Exhausted), ..Reading::default() };
        q.observe(&Observation { readings: vec![r] }, 1_000);
        assert_eq!(q.view(1_000).blocked_until, 301_000);
        assert_eq!(q.next_change(1_000), Some(301_000));
        assert!(q.expire(301_000));
        assert_eq!(q.view(301_000), QuotaView::default());
    }

    #[test]
    fn a_model_window_blocks_only_its_model() {
        let mut q = QuotaState::default();
        let r = Reading { status: Some(WindowStatus::Exhausted), ..reading("daily@gemini-2.5-pro", 1.0, 90_000) };
        q.observe(&Observation { readings: vec![r] }, 0);
        let v = q.view(0);
        assert_eq!((v.blocked_until, v.near_limit), (0, false));
        assert_eq!(v.blocked_for("gemini-2.5-pro"), 90_000);
        assert_eq!(v.blocked_for("gemini-2.5-flash"), 0);
        assert_eq!(q.next_change(0), Some(90_000));
    }

    #[test]
    fn partial_readings_keep_what_was_known() {
        let mut q = QuotaState::default();
        q.observe(&Observation { readings: vec![reading("7d", 0.5, 99_000)] }, 0);
        let later = Reading { key: "7d".into(), used: Some(0.6), ..Reading::default() };
        q.observe(&Observation { readings: vec![later] }, 10);
        let w = q.windows().next().cloned();
        assert_eq!(w.map(|w| (w.used, w.resets_at, w.window_secs)), Some((Some(0.6), Some(99_000), Some(18_000))));
    }
}

//! Per-key limits and budgets, enforced before any upstream call. Limits: requests and tokens per
//! minute over a sliding 60-second window (`actors::router::pacing::Pacer`, the arithmetic the
//! router paces accounts with) and requests in flight (a permit held until the answer's last byte
//! has gone or the client left). Budgets: USD per calendar day, week (from Monday) or month, UTC.
//! Each request reserves its worst case (the input estimate plus the output asked for, or the
//! model's output limit, at the most expensive price among its targets) before it is sent; the
//! reservation is settled with the real cost when its usage is recorded and released when the
//! request ends without one. A request is admitted only while spent + reserved + its own
//! reservation fits the budget, so the spend overshoots the budget only by what the admitted
//! requests cost beyond their reservations (nothing when every target is priced and the output is
//! bounded by `max_tokens`). Unpriced requests cost nothing here: a budget can only count what the
//! price table prices. At 80 % of a budget a warning is logged once per period, shown on the key
//! in `/api/keys`, and posted to the optional webhook (`budget::notify`). With several instances
//! on one PostgreSQL the same limits hold across them (`shared`: leases of shared rows); on SQLite
//! that module is never reached and admission is the in-memory path alone.

mod period;
mod shared;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actors::executor::SpendSink;
use actors::router::pacing::{Pacer, Pacing};
use dashmap::DashMap;
use serde::Serialize;

use crate::error::GatewayError;
use crate::keys::{KeyInfo, KeyLimits};

pub use period::{Budget, Period, Zone};
pub use shared::{HOLD_TTL, RATE_USE_MS, SharedLimits, TICK};

/// A budget's state.
#[derive(Debug, Default)]
struct Spend {
    /// The period counted (its start, ms).
    period_start: i64,
    /// Settled cost in the period.
    spent: f64,
    /// Worst cases of the requests admitted and not settled.
    reserved: f64,
    /// The 80 % warning was given this period.
    warned: bool,
}

/// One key's state.
#[derive(Debug, Default)]
struct KeyState {
    pacer: Pacer,
    in_flight: u32,
    spend: Spend,
    /// What this instance holds of the shared limits (PostgreSQL only).
    lease: shared::Lease,
}

type Shared = Arc<Mutex<KeyState>>;

fn lock(s: &Mutex<KeyState>) -> MutexGuard<'_, KeyState> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Whose limits: a key's own, or its team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Holder {
    /// A gateway key.
    Key,
    /// A `[[teams]]` entry.
    Team,
}

impl Holder {
    /// The word people read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Team => "team",
        }
    }
}

/// Crossing 80 % of a budget (told to `alerts`).
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// A key's or a team's.
    pub holder: Holder,
    /// Its name.
    pub name: String,
    /// Spent so far in the period.
    pub spent_usd: f64,
    /// The budget.
    pub budget_usd: f64,
    /// Its period.
    pub period: Period,
    /// When it resets (RFC 3339).
    pub resets_at: String,
}

/// The share of a budget that warns.
pub const WARN_AT: f64 = 0.8;

/// What keys and teams may spend and send.
#[derive(Debug, Default)]
pub struct Limiter {
    /// State by (holder, name).
    states: DashMap<(Holder, String), Shared>,
    /// Each team's limits (from `[[teams]]`).
    teams: std::sync::RwLock<std::collections::HashMap<String, KeyLimits>>,
    /// Told each 80 % crossing (the webhook and log).
    warn: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Warning>>>,
    /// The rows the limits are shared through with other instances (PostgreSQL only).
    shared: std::sync::OnceLock<Arc<SharedLimits>>,
    /// The zone budget periods are counted in (`[budgets] time_zone`).
    zone: std::sync::RwLock<Zone>,
}

/// What an admitted request holds: its in-flight slots and its budget reservation.
#[derive(Debug)]
pub struct Admission {
    slots: Vec<Shared>,
    reservation: Option<Arc<Reservation>>,
}

impl Admission {
    /// The sink that settles the reservation with the real cost.
    pub fn spend_sink(&self) -> Option<Arc<dyn SpendSink>> {
        self.reservation.clone().map(|r| {
            let s: Arc<dyn SpendSink> = r;
            s
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        for state in &self.slots {
            let mut s = lock(state);
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}

/// One holder's share of a reservation.
#[derive(Debug)]
struct Held {
    state: Shared,
    holder: Holder,
    name: String,
    budget: Budget,
    period_start: i64,
}

/// A budget reservation (of a key, and of its team): settled once with the real cost, or
/// released when nobody holds it.
#[derive(Debug)]
pub struct Reservation {
    usd: f64,
    parts: Vec<Held>,
    settled: std::sync::atomic::AtomicBool,
    warn: Option<tokio::sync::mpsc::UnboundedSender<Warning>>,
}

impl Reservation {
    fn close(&self, cost: f64) {
        if self.settled.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        for p in &self.parts {
            let mut s = lock(&p.state);
            if s.spend.period_start == p.period_start {
                s.spend.reserved = (s.spend.reserved - self.usd).max(0.0);
                s.spend.spent += cost;
            }
            let crossed = !s.spend.warned && s.spend.spent >= WARN_AT * p.budget.usd;
            if crossed {
                s.spend.warned = true;
            }
            let spent = s.spend.spent;
            drop(s);
            if crossed {
                let (_, next) = p.budget.bounds(p.period_start);
                let w = Warning {
                    holder: p.holder,
                    name: p.name.clone(),
                    spent_usd: spent,
                    budget_usd: p.budget.usd,
                    period: p.budget.period,
                    resets_at: p.budget.when(next),
                };
                tracing::warn!(holder = p.holder.as_str(), name = %w.name, spent_usd = spent, budget_usd = w.budget_usd, period = w.period.as_str(), "80 % of a budget is spent");
                if let Some(tx) = &self.warn {
                    let _ = tx.send(w);
                }
            }
        }
    }
}

impl SpendSink for Reservation {
    fn settle(&self, usd: f64) {
        self.close(usd.max(0.0));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // Ended without a recorded cost (refused before any upstream call, say): released.
        self.close(0.0);
    }
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

/// Why `limits` of `holder` `name` refuse a request expected to use `tokens` costing up to
/// `need` at `now` (nothing is changed).
fn refusal(
    s: &mut KeyState,
    holder: Holder,
    name: &str,
    l: &KeyLimits,
    tokens: u64,
    need: f64,
    now: i64,
) -> Option<GatewayError> {
    let who = format!("{} `{name}`", holder.as_str());
    if let Some(m) = l.max_concurrent.filter(|m| s.in_flight >= *m) {
        return Some(GatewayError::RateLimited {
            message: format!("{who} has {m} requests in flight, its limit (max_concurrent); retry when one ends"),
            retry_after: Some(Duration::from_secs(1)),
        });
    }
    let pacing = Pacing { rpm: l.rpm, tpm: l.tpm, min_gap_ms: None };
    if pacing.is_set() {
        let at = s.pacer.free_at(pacing, tokens, now);
        if at > now {
            let what = match (l.rpm, l.tpm) {
                (Some(r), _) if s.pacer.free_at(Pacing { tpm: None, ..pacing }, tokens, now) > now => {
                    format!("{r} requests per minute (rpm)")
                }
                (_, Some(t)) => format!("{t} tokens per minute (tpm; this request counts {tokens})"),
                (Some(r), None) => format!("{r} requests per minute (rpm)"),
                (None, None) => "its rate limit".to_string(),
            };
            let wait = Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
            return Some(GatewayError::RateLimited {
                message: format!(
                    "{who} is over its limit of {what}; the next request fits in {}",
                    crate::pipeline::words::span(at - now)
                ),
                retry_after: Some(wait.max(Duration::from_secs(1))),
            });
        }
    }
    if let Some(b) = l.budget {
        let (start, next) = b.bounds(now);
        if s.spend.period_start != start {
            s.spend = Spend { period_start: start, ..Spend::default() };
        }
        if s.spend.spent >= b.usd || s.spend.spent + s.spend.reserved + need > b.usd {
            let why = if s.spend.spent >= b.usd {
                "is spent".to_string()
            } else {
                format!(
                    "cannot cover this request (spent {}, {} held by requests in flight, this one may cost up to {})",
                    usd(s.spend.spent),
                    usd(s.spend.reserved),
                    usd(need)
                )
            };
            return Some(GatewayError::BudgetSpent(format!(
                "budget of {} per {} for {who} {why}; resets {}",
                usd(b.usd),
                b.period.as_str(),
                b.when(next)
            )));
        }
    }
    None
}

impl Limiter {
    /// Where 80 % crossings go.
    pub fn on_warning(&self, tx: tokio::sync::mpsc::UnboundedSender<Warning>) {
        *self.warn.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
    }

    /// The teams' limits (from `[[teams]]`); teams no longer declared are forgotten.
    pub fn set_teams(&self, teams: impl IntoIterator<Item = (String, KeyLimits)>) {
        let map: std::collections::HashMap<String, KeyLimits> = teams.into_iter().collect();
        self.states.retain(|(h, n), _| *h == Holder::Key || map.contains_key(n));
        *self.teams.write().unwrap_or_else(std::sync::PoisonError::into_inner) = map;
    }

    /// A team's limits, its budget counted in the gateway's zone.
    pub fn team(&self, name: &str) -> Option<KeyLimits> {
        let l = self.teams.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).copied();
        l.map(|l| self.zoned(l))
    }

    /// Counts budget periods in `zone` from now on (a change starts the periods anew, seeded from
    /// the usage rows by the reload that set it).
    pub fn set_zone(&self, zone: Zone) {
        *self.zone.write().unwrap_or_else(std::sync::PoisonError::into_inner) = zone;
    }

    /// The zone budget periods are counted in.
    pub fn zone(&self) -> Zone {
        *self.zone.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `l` with its budget counted in the gateway's zone.
    pub fn zoned(&self, mut l: KeyLimits) -> KeyLimits {
        if let Some(b) = &mut l.budget {
            b.zone = self.zone();
        }
        l
    }

    fn state(&self, holder: Holder, name: &str) -> Shared {
        let k = (holder, name.to_string());
        if let Some(s) = self.states.get(&k) {
            return s.clone();
        }
        self.states.entry(k).or_default().clone()
    }

    /// Whether the period starting at `period_start` is already counted here (seeded or lived):
    /// a reload then need not ask the database again.
    pub fn counts(&self, holder: Holder, name: &str, period_start: i64) -> bool {
        self.states.get(&(holder, name.to_string())).is_some_and(|s| lock(&s).spend.period_start == period_start)
    }

    /// Starts a period from what the database says was spent in it (the usage rows; kept when the
    /// memory already counts more, since rows are written in batches).
    pub fn seed_spent(&self, holder: Holder, name: &str, period_start: i64, spent: f64) {
        let s = self.state(holder, name);
        let mut s = lock(&s);
        if s.spend.period_start != period_start {
            s.spend = Spend { period_start, ..Spend::default() };
        }
        s.spend.spent = s.spend.spent.max(spent);
    }

    /// Admits a request of `key` (and its team) expected to use `tokens` with a worst-case cost of
    /// `worst_usd` (`None`: unpriced) at `now`, or says why not. Both must allow it.
    pub fn admit(
        &self,
        key: &KeyInfo,
        tokens: u64,
        worst_usd: Option<f64>,
        now: i64,
    ) -> Result<Admission, GatewayError> {
        let holders = self.holders(key);
        let states: Vec<Shared> = holders.iter().map(|(h, n, _)| self.state(*h, n)).collect();
        // Always key before team: no two requests lock them in opposite orders.
        let mut guards: Vec<MutexGuard<'_, KeyState>> = states.iter().map(|s| lock(s)).collect();
        let need = worst_usd.unwrap_or(0.0);
        for ((holder, name, l), g) in holders.iter().zip(guards.iter_mut()) {
            if let Some(e) = refusal(g, *holder, name, l, tokens, need, now) {
                return Err(e);
            }
        }
        let mut slots = Vec::new();
        let mut parts = Vec::new();
        for (((holder, name, l), g), state) in holders.iter().zip(guards.iter_mut()).zip(&states) {
            let pacing = Pacing { rpm: l.rpm, tpm: l.tpm, min_gap_ms: None };
            if pacing.is_set() {
                g.pacer.record(pacing, tokens, now);
            }
            if l.max_concurrent.is_some() {
                g.in_flight += 1;
                slots.push(state.clone());
            }
            if let Some(b) = l.budget {
                g.spend.reserved += need;
                let period_start = g.spend.period_start;
                parts.push(Held { state: state.clone(), holder: *holder, name: name.clone(), budget: b, period_start });
            }
        }
        drop(guards);
        Ok(self.admission(slots, parts, need))
    }

    /// Whose limits a request of `key` must fit: the key's, then its team's (always in this
    /// order, so no two requests lock them in opposite orders).
    fn holders(&self, key: &KeyInfo) -> Vec<(Holder, String, KeyLimits)> {
        let mut holders = vec![(Holder::Key, key.name.clone(), self.zoned(key.limits))];
        if let Some(team) = &key.team
            && let Some(l) = self.team(team).filter(KeyLimits::is_set)
        {
            holders.push((Holder::Team, team.clone(), l));
        }
        holders
    }

    /// What an admitted request holds: `slots` in flight and its reservation of `need` on `parts`.
    fn admission(&self, slots: Vec<Shared>, parts: Vec<Held>, need: f64) -> Admission {
        let reservation = (!parts.is_empty()).then(|| {
            let warn = self.warn.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            Arc::new(Reservation { usd: need, parts, settled: std::sync::atomic::AtomicBool::new(false), warn })
        });
        Admission { slots, reservation }
    }

    /// A budget's state: (spent, reserved) in the period holding `now`.
    pub fn spend(&self, holder: Holder, name: &str, budget: Budget, now: i64) -> (f64, f64) {
        let Some(s) = self.states.get(&(holder, name.to_string())).map(|s| s.clone()) else { return (0.0, 0.0) };
        let s = lock(&s);
        if s.spend.period_start == budget.bounds(now).0 { (s.spend.spent, s.spend.reserved) } else { (0.0, 0.0) }
    }

    /// Forgets the keys not in `keep` (deleted or revoked).
    pub fn retain_keys(&self, keep: impl Fn(&str) -> bool) {
        self.states.retain(|(h, n), _| *h == Holder::Team || keep(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limits: KeyLimits) -> KeyInfo {
        KeyInfo { name: "ci".into(), models: vec!["*".into()], limits, team: None, cache: false }
    }

    const JAN_15: i64 = 1_768_478_400_000; // 2026-01-15T12:00Z, a Thursday

    #[test]
    fn rpm_and_concurrency_refuse_with_a_wait_and_free_again() {
        let l = Limiter::default();
        let k = key(KeyLimits { rpm: Some(2), max_concurrent: Some(1), ..KeyLimits::default() });
        let a = l.admit(&k, 10, None, 0).expect("first");
        let e = l.admit(&k, 10, None, 1).expect_err("one in flight");
        assert!(e.to_string().contains("max_concurrent"), "{e}");
        drop(a);
        let _b = l.admit(&k, 10, None, 2).expect("second");
        drop(_b);
        let e = l.admit(&k, 10, None, 3).expect_err("rpm");
        assert!(e.to_string().contains("2 requests per minute"), "{e}");
        assert!(matches!(e, GatewayError::RateLimited { retry_after: Some(d), .. } if d.as_secs() >= 59));
        assert!(l.admit(&k, 10, None, 60_001).is_ok(), "the window slid");
    }

    #[test]
    fn a_budget_admits_only_what_its_reservations_fit_and_settles_real_costs() {
        let l = Limiter::default();
        let budget = Budget::new(1.0, Period::Month);
        let k = key(KeyLimits { budget: Some(budget), ..KeyLimits::default() });
        let a = l.admit(&k, 0, Some(0.4), JAN_15).expect("0.4 of 1.0");
        let b = l.admit(&k, 0, Some(0.4), JAN_15).expect("0.8 of 1.0");
        let e = l.admit(&k, 0, Some(0.4), JAN_15).expect_err("1.2 > 1.0");
        assert!(e.to_string().contains("held by requests in flight"), "{e}");
        assert_eq!(e.status().as_u16(), 402);
        a.spend_sink().expect("sink").settle(0.1);
        drop(a);
        assert_eq!(l.spend(Holder::Key, "ci", budget, JAN_15), (0.1, 0.4));
        drop(b); // ended without a cost: released
        assert_eq!(l.spend(Holder::Key, "ci", budget, JAN_15), (0.1, 0.0));
        l.seed_spent(Holder::Key, "ci", Period::Month.bounds(JAN_15, Zone::UTC).0, 1.0);
        let e = l.admit(&k, 0, Some(0.0), JAN_15).expect_err("spent");
        assert!(
            e.to_string().contains("budget of $1.00 per month for key `ci` is spent; resets 2026-02-01T00:00Z"),
            "{e}"
        );
        assert!(l.admit(&k, 0, Some(0.5), Period::Month.bounds(JAN_15, Zone::UTC).1).is_ok(), "a new month");
    }

    #[test]
    fn a_team_limits_all_its_keys_together_and_both_must_allow() {
        let l = Limiter::default();
        l.set_teams([("blue".to_string(), KeyLimits { rpm: Some(3), ..KeyLimits::default() })]);
        let member = |name: &str, rpm| KeyInfo {
            name: name.into(),
            models: vec!["*".into()],
            limits: KeyLimits { rpm, ..KeyLimits::default() },
            team: Some("blue".into()),
            cache: false,
        };
        let (a, b) = (member("a", None), member("b", Some(1)));
        assert!(l.admit(&a, 0, None, 0).is_ok() && l.admit(&a, 0, None, 1).is_ok());
        let e = l.admit(&b, 0, None, 2).map(|_| ());
        assert!(e.is_ok(), "b's first, the team's third");
        let e = l.admit(&a, 0, None, 3).expect_err("the team's fourth");
        assert!(e.to_string().contains("team `blue` is over its limit of 3 requests per minute"), "{e}");
        let e = l.admit(&b, 0, None, 4).expect_err("b's own limit");
        assert!(e.to_string().starts_with("key `b`"), "{e}");
        // A key refused by its team counted nothing against itself.
        let c = member("c", Some(1));
        assert!(l.admit(&c, 0, None, 6).is_err());
        assert!(l.admit(&c, 0, None, 60_003).is_ok(), "c's own window is untouched");
    }

    #[test]
    fn eighty_percent_warns_once_per_period() {
        let l = Limiter::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        l.on_warning(tx);
        let budget = Budget::new(10.0, Period::Day);
        let k = key(KeyLimits { budget: Some(budget), ..KeyLimits::default() });
        for cost in [5.0, 3.5, 1.0] {
            let a = l.admit(&k, 0, Some(0.0), JAN_15).expect("admitted");
            a.spend_sink().expect("sink").settle(cost);
        }
        let w = rx.try_recv().expect("one warning");
        assert_eq!((w.name.as_str(), w.spent_usd, w.resets_at.as_str()), ("ci", 8.5, "2026-01-16T00:00Z"));
        assert!(rx.try_recv().is_err(), "only once");
    }
}

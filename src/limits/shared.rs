//! Key and team limits shared by several instances on one PostgreSQL, by leases: an instance takes
//! a chunk of a budget (USD), of the sliding minute (requests and tokens) and of a concurrency cap
//! (permits) from the shared rows in one locked transaction (`store::shared_limits`), serves the
//! requests that fit it from memory, and every `TICK` settles what was spent and gives back what
//! it did not use. Holds not renewed for `HOLD_TTL` are gone (a killed instance's share comes
//! back); a grant counts in the shared minute until `RATE_USE_MS` + 60 s after it was taken, and
//! once given back until 60 s after the last request it served: either covers every request
//! served from it, so the minute is never over-admitted. Only PostgreSQL builds this; SQLite never reaches it.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use sea_orm::DatabaseConnection;

use super::{Admission, Held, Holder, KeyState, Limiter, Shared, Spend, lock, usd};
use crate::error::GatewayError;
use crate::keys::{KeyInfo, KeyLimits};
use crate::store::shared_limits::{self as rows, Add, Back, GrantBack, Seen, Who};

/// How often an instance settles its spend and gives back what it holds unused.
pub const TICK: Duration = Duration::from_secs(1);
/// A hold (budget USD, permits) not renewed for this long is gone: a killed instance's share is
/// back within it.
pub const HOLD_TTL: Duration = Duration::from_secs(10);
/// An instance serves from its holds only this long after it last reached the database (well
/// inside `HOLD_TTL`: it stops before the others may take its share).
const LOCAL_VALID_MS: i64 = 5_000;
/// A grant of requests and tokens is served from for at most this long after it was taken.
pub const RATE_USE_MS: i64 = 2_000;
/// The sliding window of `rpm` and `tpm`.
const WINDOW_MS: i64 = actors::router::pacing::WINDOW_MS;
/// Takes retried when other requests of this instance used a fresh chunk first.
const ATTEMPTS: usize = 8;

/// A grant of the shared minute being served from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grant {
    id: i64,
    /// Requests left (`None`: no `rpm`).
    requests: Option<u64>,
    /// Tokens left (`None`: no `tpm`).
    tokens: Option<u64>,
    /// Served from until (local ms).
    until: i64,
    /// When it last served a request (local ms).
    used_at: Option<i64>,
}

impl Grant {
    /// Given back at `now` (local ms).
    fn back(self, now: i64) -> GrantBack {
        GrantBack {
            id: self.id,
            requests: unused(self.requests),
            tokens: unused(self.tokens),
            used_ago_ms: self.used_at.map(|t| now - t),
        }
    }
}

/// What this instance holds of one key's or team's shared limits.
#[derive(Debug, Default)]
pub(super) struct Lease {
    /// Concurrency permits held (requests in flight use them; the rest go back at the tick).
    permits: u32,
    /// Budget USD held: reservations in flight + spend settled here and not yet synced + free.
    usd: f64,
    /// `spend.spent` when it last matched the shared spend: what is above it is not synced yet.
    mark: f64,
    /// The budget period the hold is for.
    period_start: i64,
    grant: Option<Grant>,
    /// The holds may be served from until (local ms).
    valid_until: i64,
}

/// What a request lacks locally.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Want {
    permit: bool,
    rate: bool,
    usd: bool,
}

impl Want {
    fn any(self) -> bool {
        self.permit || self.rate || self.usd
    }
}

/// Why the shared rows refuse.
#[derive(Debug, Clone, PartialEq)]
enum Refusal {
    Concurrency,
    Rate { rpm: bool, wait_ms: i64 },
    Spent,
    CannotCover { spent: f64, held: f64 },
}

/// The instance's side: where the rows are, who it is, one take at a time per key or team.
#[derive(Debug)]
pub struct SharedLimits {
    db: DatabaseConnection,
    instance: String,
    takes: DashMap<(Holder, String), Arc<tokio::sync::Mutex<()>>>,
    /// Chunks asked of the database (the requests that waited for it).
    asked: std::sync::atomic::AtomicU64,
}

fn scope(holder: Holder, name: &str) -> String {
    format!("{}:{name}", holder.as_str())
}

fn unsynced(s: &KeyState) -> f64 {
    if s.lease.period_start == s.spend.period_start { s.spend.spent - s.lease.mark } else { 0.0 }
}

/// Starts a new budget period in `s` when `now` is past its own.
fn roll(s: &mut KeyState, l: &KeyLimits, now: i64) {
    if let Some(b) = l.budget {
        let (start, _) = b.bounds(now);
        if s.spend.period_start != start {
            s.spend = Spend { period_start: start, ..Spend::default() };
        }
        if s.lease.period_start != start {
            s.lease.usd = 0.0;
            s.lease.mark = 0.0;
            s.lease.period_start = start;
        }
    }
}

/// What `s` lacks to serve a request of `tokens` reserving `need` at `now`.
fn wants(s: &KeyState, l: &KeyLimits, tokens: u64, need: f64, now: i64) -> Want {
    let valid = now < s.lease.valid_until;
    let permit = l.max_concurrent.is_some() && (!valid || s.in_flight >= s.lease.permits);
    let rate = (l.rpm.is_some() || l.tpm.is_some())
        && !s.lease.grant.is_some_and(|g| {
            g.until > now
                && (l.rpm.is_none() || g.requests.is_some_and(|r| r >= 1))
                && (l.tpm.is_none() || g.tokens.is_some_and(|t| t >= tokens))
        });
    let free = s.lease.usd - s.spend.reserved - unsynced(s);
    let usd = l.budget.is_some() && need > 0.0 && (!valid || free < need);
    Want { permit, rate, usd }
}

/// Serves a request from `s` at `now` (it wants nothing).
fn consume(s: &mut KeyState, l: &KeyLimits, tokens: u64, need: f64, now: i64) {
    if l.max_concurrent.is_some() {
        s.in_flight += 1;
    }
    if let Some(g) = s.lease.grant.as_mut() {
        g.used_at = Some(now);
        g.requests = g.requests.map(|r| r.saturating_sub(1));
        g.tokens = g.tokens.map(|t| t.saturating_sub(tokens));
    }
    if l.budget.is_some() {
        s.spend.reserved += need;
    }
}

/// Gives back what `consume` took (the other holder refused).
fn unconsume(s: &mut KeyState, l: &KeyLimits, tokens: u64, need: f64) {
    if l.max_concurrent.is_some() {
        s.in_flight = s.in_flight.saturating_sub(1);
    }
    if let Some(g) = s.lease.grant.as_mut() {
        g.requests = g.requests.map(|r| r + 1);
        g.tokens = g.tokens.map(|t| t + tokens);
    }
    if l.budget.is_some() {
        s.spend.reserved = (s.spend.reserved - need).max(0.0);
    }
}

/// What to take for `want` given the shared rows `seen`: the request's own share (of the budget:
/// `need`, what the lease lacks of its reservation) and a chunk beyond it (a tenth of the limit,
/// at most a quarter of what is left), or why not.
fn decide(seen: &Seen, l: &KeyLimits, want: Want, tokens: u64, need: f64) -> Result<Add, Refusal> {
    let mut add = Add::default();
    if want.permit
        && let Some(max) = l.max_concurrent
    {
        let room = i64::from(max) - seen.permits;
        if room < 1 {
            return Err(Refusal::Concurrency);
        }
        add.permits = (i64::from(max) / 8).clamp(1, room);
    }
    if want.rate {
        let (mut requests, mut toks) = (0, 0);
        if let Some(rpm) = l.rpm.map(i64::from) {
            let used: i64 = seen.grants.iter().map(|g| g.1).sum();
            if used + 1 > rpm {
                return Err(Refusal::Rate { rpm: true, wait_ms: wait(seen, |freed| used - freed < rpm, |g| g.1) });
            }
            let room = rpm - used;
            requests = (rpm / 10).min(room / 4).clamp(1, room);
        }
        if let Some(tpm) = l.tpm.map(i64::from) {
            let need_t = i64::try_from(tokens).unwrap_or(i64::MAX / 4);
            let used: i64 = seen.grants.iter().map(|g| g.2).sum();
            if used > 0 && used + need_t > tpm {
                let fits = |freed: i64| used - freed == 0 || used - freed + need_t <= tpm;
                return Err(Refusal::Rate { rpm: false, wait_ms: wait(seen, fits, |g| g.2) });
            }
            let room = (tpm - used).max(need_t);
            toks = need_t.max((tpm / 10).min(room / 4)).min(room);
        }
        add.grant = Some((requests, toks, RATE_USE_MS + WINDOW_MS));
    }
    if want.usd
        && let Some(b) = l.budget
    {
        if seen.spent >= b.usd {
            return Err(Refusal::Spent);
        }
        let room = b.usd - seen.spent - seen.held_usd;
        if room < need {
            return Err(Refusal::CannotCover { spent: seen.spent, held: seen.held_usd });
        }
        add.usd = need.max((b.usd / 10.0).min(room / 4.0)).min(room);
    }
    Ok(add)
}

/// When enough grants have left the window for `fits` (given what they freed), from `now` (ms).
fn wait(seen: &Seen, fits: impl Fn(i64) -> bool, of: impl Fn(&(i64, i64, i64)) -> i64) -> i64 {
    let mut freed = 0;
    for g in &seen.grants {
        freed += of(g);
        if fits(freed) {
            return (g.0 - seen.now).max(0);
        }
    }
    WINDOW_MS + RATE_USE_MS
}

/// The words and status of a refusal by the shared rows.
fn refused(r: &Refusal, holder: Holder, name: &str, l: &KeyLimits, tokens: u64, need: f64, now: i64) -> GatewayError {
    let who = format!("{} `{name}`", holder.as_str());
    match r {
        Refusal::Concurrency => GatewayError::RateLimited {
            message: format!(
                "{who} has {} requests in flight across its instances, its limit (max_concurrent); retry when one ends",
                l.max_concurrent.unwrap_or(0)
            ),
            retry_after: Some(Duration::from_secs(1)),
        },
        Refusal::Rate { rpm, wait_ms } => {
            let what = match (rpm, l.rpm, l.tpm) {
                (true, Some(r), _) => format!("{r} requests per minute (rpm)"),
                (_, _, Some(t)) => format!("{t} tokens per minute (tpm; this request counts {tokens})"),
                (_, Some(r), None) => format!("{r} requests per minute (rpm)"),
                (_, None, None) => "its rate limit".to_string(),
            };
            let wait = Duration::from_millis(u64::try_from(*wait_ms).unwrap_or(0));
            GatewayError::RateLimited {
                message: format!(
                    "{who} is over its limit of {what}; the next request fits in {}",
                    crate::pipeline::words::span(*wait_ms)
                ),
                retry_after: Some(wait.max(Duration::from_secs(1))),
            }
        }
        Refusal::Spent | Refusal::CannotCover { .. } => {
            let Some(b) = l.budget else {
                return GatewayError::BudgetSpent(format!("the budget of {who} is spent"));
            };
            let why = match r {
                Refusal::CannotCover { spent, held } => format!(
                    "cannot cover this request (spent {}, {} held by requests in flight on its instances, this one may cost up to {})",
                    usd(*spent),
                    usd(*held),
                    usd(need)
                ),
                _ => "is spent".to_string(),
            };
            GatewayError::BudgetSpent(format!(
                "budget of {} per {} for {who} {why}; resets {}",
                usd(b.usd),
                b.period.as_str(),
                b.when(b.bounds(now).1)
            ))
        }
    }
}

fn unreachable_db(e: &sea_orm::DbErr) -> GatewayError {
    tracing::warn!(error = %e, "the limits shared with the other instances could not be checked");
    GatewayError::Unavailable {
        message: "this key's limits are shared with other instances and the database cannot be reached to check them"
            .into(),
        retry_after: Some(Duration::from_secs(1)),
    }
}

/// After the rows said `seen`: the shared spend is theirs plus what was settled here since.
fn adopt_spent(s: &mut KeyState, seen: &Seen, period_start: i64) {
    if s.spend.period_start == period_start && s.lease.period_start == period_start {
        let u = s.spend.spent - s.lease.mark;
        s.lease.mark = seen.spent;
        s.spend.spent = seen.spent + u;
    }
}

impl SharedLimits {
    /// This instance (`instance`: its cluster id) on the PostgreSQL behind `db`.
    pub fn new(db: DatabaseConnection, instance: String) -> Arc<Self> {
        Arc::new(Self { db, instance, takes: DashMap::new(), asked: Default::default() })
    }

    fn take_lock(&self, holder: Holder, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.takes.entry((holder, name.to_string())).or_default().clone()
    }

    fn who<'a>(&'a self, scope: &'a str, period_start: i64) -> Who<'a> {
        Who { scope, instance: &self.instance, period_start, ttl_ms: HOLD_TTL.as_millis() as i64 }
    }

    /// Serves one holder's share of a request, from memory when its lease covers it, else after
    /// taking a chunk from the shared rows.
    async fn claim(
        &self,
        state: &Shared,
        holder: Holder,
        name: &str,
        l: &KeyLimits,
        tokens: u64,
        need: f64,
    ) -> Result<(), GatewayError> {
        let spent_words =
            |now| refusal_if_spent(&mut lock(state), l, now).map(|r| refused(&r, holder, name, l, tokens, need, now));
        let now = actors::clock::now_ms();
        if let Some(e) = spent_words(now) {
            return Err(e);
        }
        if try_local(state, l, tokens, need, now) {
            return Ok(());
        }
        let one = self.take_lock(holder, name);
        let _one = one.lock().await;
        let scope = scope(holder, name);
        for _ in 0..ATTEMPTS {
            let now = actors::clock::now_ms();
            let (want, back, period_start, returned, short) = {
                let mut s = lock(state);
                roll(&mut s, l, now);
                let want = wants(&s, l, tokens, need, now);
                if !want.any() {
                    consume(&mut s, l, tokens, need, now);
                    return Ok(());
                }
                let returned = if want.rate { s.lease.grant.take() } else { None };
                let back = Back { grant: returned.map(|g| g.back(now)), ..Back::default() };
                // What the lease lacks of this request's reservation (what it has free counts).
                let free = if now < s.lease.valid_until { s.lease.usd - s.spend.reserved - unsynced(&s) } else { 0.0 };
                let short = (need - free.max(0.0)).max(0.0);
                (want, back, s.spend.period_start, returned, short)
            };
            let w = self.who(&scope, period_start);
            self.asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (done, decided) =
                match rows::take(&self.db, &w, &back, |seen| decide(seen, l, want, tokens, short)).await {
                    Ok(d) => d,
                    Err(e) => {
                        // Nothing changed in the database: the grant given back is still this one's.
                        let mut s = lock(state);
                        if s.lease.grant.is_none() {
                            s.lease.grant = returned;
                        }
                        return Err(unreachable_db(&e));
                    }
                };
            let mut s = lock(state);
            if s.lease.period_start == period_start && !done.seen.mine {
                // Our hold had expired (no sync for `HOLD_TTL`): what it held is the others' again.
                s.lease.usd = 0.0;
                s.lease.permits = 0;
            }
            adopt_spent(&mut s, &done.seen, period_start);
            let add = match decided {
                Ok(a) => a,
                Err(r) => return Err(refused(&r, holder, name, l, tokens, need, now)),
            };
            if s.lease.period_start == period_start {
                s.lease.usd += add.usd;
            }
            s.lease.permits += u32::try_from(add.permits).unwrap_or(0);
            s.lease.valid_until = now + LOCAL_VALID_MS;
            if let (Some((requests, toks, _)), Some(id)) = (add.grant, done.grant_id) {
                s.lease.grant = Some(Grant {
                    id,
                    requests: l.rpm.map(|_| u64::try_from(requests).unwrap_or(0)),
                    tokens: l.tpm.map(|_| u64::try_from(toks).unwrap_or(0)),
                    until: now + RATE_USE_MS,
                    used_at: None,
                });
            }
            if !wants(&s, l, tokens, need, now).any() {
                consume(&mut s, l, tokens, need, now);
                return Ok(());
            }
        }
        Err(GatewayError::RateLimited {
            message: format!(
                "{} `{name}` has too many requests arriving at once on this instance; retry",
                holder.as_str()
            ),
            retry_after: Some(Duration::from_secs(1)),
        })
    }

    /// Settles and gives back what `state` holds unused (every `TICK`, and at stop with `all`:
    /// then the permits of requests still in flight go back too).
    async fn sync_one(&self, holder: Holder, name: &str, state: &Shared, all: bool) {
        let one = self.take_lock(holder, name);
        let _one = one.lock().await;
        let now = actors::clock::now_ms();
        let (back, period_start, grant) = {
            let mut s = lock(state);
            let delta = unsynced(&s).max(0.0);
            if s.lease.usd <= 0.0 && s.lease.permits == 0 && s.lease.grant.is_none() && delta <= 0.0 {
                return;
            }
            let keep_usd = if all { 0.0 } else { s.spend.reserved };
            let free = (s.lease.usd - keep_usd - delta).max(0.0);
            let keep_permits = if all { 0 } else { s.in_flight.min(s.lease.permits) };
            let grant = s.lease.grant.take();
            let back = Back {
                spent: delta,
                usd: free,
                permits: i64::from(s.lease.permits - keep_permits),
                grant: grant.map(|g| g.back(now)),
            };
            s.lease.usd = (s.lease.usd - delta - free).max(0.0);
            s.lease.mark += delta;
            s.lease.permits = keep_permits;
            (back, s.spend.period_start, grant)
        };
        let scope = scope(holder, name);
        match rows::sync(&self.db, &self.who(&scope, period_start), &back).await {
            Ok(seen) => {
                let mut s = lock(state);
                if !seen.mine && (back.usd > 0.0 || back.permits > 0 || s.lease.usd > 0.0 || s.lease.permits > 0) {
                    tracing::warn!(
                        holder = holder.as_str(),
                        name,
                        "a shared limit's hold had expired: this instance lost its share"
                    );
                    s.lease.usd = 0.0;
                    s.lease.permits = 0;
                }
                adopt_spent(&mut s, &seen, period_start);
                s.lease.valid_until = now + LOCAL_VALID_MS;
            }
            Err(e) => {
                // Nothing changed in the database: held as before, and the next tick tries again.
                tracing::warn!(error = %e, holder = holder.as_str(), name, "syncing a shared limit failed");
                let mut s = lock(state);
                if s.lease.period_start == period_start {
                    s.lease.mark -= back.spent;
                    s.lease.usd += back.spent + back.usd;
                }
                s.lease.permits += u32::try_from(back.permits).unwrap_or(0);
                if s.lease.grant.is_none() {
                    s.lease.grant = grant;
                }
            }
        }
    }
}

fn unused(left: Option<u64>) -> i64 {
    left.map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX / 4))
}

/// The budget is spent as far as this instance knows (no need to ask the database).
fn refusal_if_spent(s: &mut KeyState, l: &KeyLimits, now: i64) -> Option<Refusal> {
    roll(s, l, now);
    l.budget.filter(|b| s.spend.spent >= b.usd).map(|_| Refusal::Spent)
}

fn try_local(state: &Shared, l: &KeyLimits, tokens: u64, need: f64, now: i64) -> bool {
    let mut s = lock(state);
    roll(&mut s, l, now);
    if wants(&s, l, tokens, need, now).any() {
        return false;
    }
    consume(&mut s, l, tokens, need, now);
    true
}

impl Limiter {
    /// Shares this limiter's keys and teams with the other instances on `shared`'s database.
    pub fn share(&self, shared: Arc<SharedLimits>) {
        let _ = self.shared.set(shared);
    }

    /// How many times a request asked the shared rows for a chunk (`None`: not shared).
    pub fn shared_round_trips(&self) -> Option<u64> {
        self.shared.get().map(|s| s.asked.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// `admit`, holding across instances when the limits are shared: from this instance's leases,
    /// taking a chunk from the shared rows when they do not cover the request.
    pub async fn admit_shared(
        &self,
        key: &KeyInfo,
        tokens: u64,
        worst_usd: Option<f64>,
        now: i64,
    ) -> Result<Admission, GatewayError> {
        let Some(sh) = self.shared.get() else { return self.admit(key, tokens, worst_usd, now) };
        let holders = self.holders(key);
        let need = worst_usd.unwrap_or(0.0);
        let states: Vec<Shared> = holders.iter().map(|(h, n, _)| self.state(*h, n)).collect();
        for (i, ((holder, name, l), state)) in holders.iter().zip(&states).enumerate() {
            if let Err(e) = sh.claim(state, *holder, name, l, tokens, need).await {
                // A refusal by one counts nothing against the other.
                for ((_, _, l), state) in holders.iter().zip(&states).take(i) {
                    unconsume(&mut lock(state), l, tokens, need);
                }
                return Err(e);
            }
        }
        let mut slots = Vec::new();
        let mut parts = Vec::new();
        for ((holder, name, l), state) in holders.iter().zip(&states) {
            if l.max_concurrent.is_some() {
                slots.push(state.clone());
            }
            if let Some(b) = l.budget {
                let period_start = lock(state).spend.period_start;
                parts.push(Held { state: state.clone(), holder: *holder, name: name.clone(), budget: b, period_start });
            }
        }
        Ok(self.admission(slots, parts, need))
    }

    /// Settles every key's and team's spend with the shared rows and gives back what is unused
    /// (`all`: everything, this instance stops).
    pub async fn sync_shared(&self, all: bool) {
        let Some(sh) = self.shared.get() else { return };
        let states: Vec<((Holder, String), Shared)> =
            self.states.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
        for ((holder, name), state) in states {
            sh.sync_one(holder, &name, &state, all).await;
        }
        if all && let Err(e) = rows::leave(&sh.db, &sh.instance).await {
            tracing::warn!(error = %e, "giving back this instance's shared limits failed");
        }
    }

    /// Starts a budget period from the shared spend (seeded from the usage rows, `seed`, when no
    /// instance counted it yet).
    pub async fn seed_shared(
        &self,
        holder: Holder,
        name: &str,
        period_start: i64,
        seed: f64,
    ) -> Result<(), sea_orm::DbErr> {
        let Some(sh) = self.shared.get() else {
            self.seed_spent(holder, name, period_start, seed);
            return Ok(());
        };
        let spent = rows::start_period(&sh.db, &scope(holder, name), period_start, seed).await?;
        let state = self.state(holder, name);
        let mut s = lock(&state);
        if s.spend.period_start != period_start {
            s.spend = Spend { period_start, ..Spend::default() };
        }
        if s.lease.period_start != period_start {
            // Permits and grants are not a period's: only the budget's hold starts afresh.
            s.lease.usd = 0.0;
            s.lease.mark = 0.0;
            s.lease.period_start = period_start;
        }
        let u = s.spend.spent - s.lease.mark;
        s.lease.mark = spent;
        s.spend.spent = spent + u.max(0.0);
        Ok(())
    }

    /// Whether the shared spend of a period must be read (it has not been here yet).
    pub async fn shared_spent(
        &self,
        holder: Holder,
        name: &str,
        period_start: i64,
    ) -> Result<Option<f64>, sea_orm::DbErr> {
        let Some(sh) = self.shared.get() else { return Ok(None) };
        rows::spent(&sh.db, &scope(holder, name), period_start).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Budget, Period};

    fn seen(spent: f64, held: f64, permits: i64, grants: Vec<(i64, i64, i64)>) -> Seen {
        Seen { now: 1_000, spent, held_usd: held, permits, grants, mine: true }
    }

    #[test]
    fn a_chunk_is_a_tenth_of_the_limit_at_most_a_quarter_of_what_is_left_and_never_over() {
        let l = KeyLimits {
            rpm: Some(100),
            max_concurrent: Some(16),
            budget: Some(Budget::new(10.0, Period::Month)),
            ..KeyLimits::default()
        };
        let all = Want { permit: true, rate: true, usd: true };
        let a = decide(&seen(0.0, 0.0, 0, vec![]), &l, all, 10, 0.05).expect("room");
        assert_eq!((a.permits, a.grant.map(|g| g.0), a.usd), (2, Some(10), 1.0));
        // Near the end: chunks shrink to what is left, the request's own share at least.
        let a = decide(&seen(9.0, 0.8, 15, vec![(61_000, 98, 0)]), &l, all, 10, 0.05).expect("room");
        assert_eq!((a.permits, a.grant.map(|g| g.0)), (1, Some(1)));
        assert!((a.usd - 0.05).abs() < 1e-9, "{}", a.usd);
        assert_eq!(
            decide(&seen(9.0, 0.96, 0, vec![]), &l, all, 10, 0.05),
            Err(Refusal::CannotCover { spent: 9.0, held: 0.96 })
        );
        assert_eq!(decide(&seen(10.0, 0.0, 0, vec![]), &l, all, 10, 0.0), Err(Refusal::Spent));
        assert_eq!(decide(&seen(0.0, 0.0, 16, vec![]), &l, all, 10, 0.0), Err(Refusal::Concurrency));
    }

    #[test]
    fn a_full_minute_says_when_the_next_request_fits() {
        let l = KeyLimits { rpm: Some(3), tpm: Some(1_000), ..KeyLimits::default() };
        let want = Want { rate: true, ..Want::default() };
        let full = seen(0.0, 0.0, 0, vec![(20_000, 2, 100), (45_000, 1, 100)]);
        assert_eq!(decide(&full, &l, want, 10, 0.0), Err(Refusal::Rate { rpm: true, wait_ms: 19_000 }));
        let tokens = seen(0.0, 0.0, 0, vec![(20_000, 1, 600), (45_000, 1, 300)]);
        assert_eq!(decide(&tokens, &l, want, 200, 0.0), Err(Refusal::Rate { rpm: false, wait_ms: 19_000 }));
        // Larger than the limit: alone, once the minute is empty.
        let empty = seen(0.0, 0.0, 0, vec![]);
        assert_eq!(decide(&empty, &l, want, 5_000, 0.0).map(|a| a.grant.map(|g| g.1)), Ok(Some(5_000)));
    }

    #[test]
    fn a_lease_serves_until_it_is_used_or_lapses() {
        let l = KeyLimits { rpm: Some(10), max_concurrent: Some(2), ..KeyLimits::default() };
        let mut s = KeyState::default();
        assert_eq!(wants(&s, &l, 1, 0.0, 0), Want { permit: true, rate: true, usd: false });
        s.lease.permits = 1;
        s.lease.valid_until = 5_000;
        s.lease.grant = Some(Grant { id: 1, requests: Some(1), tokens: None, until: 2_000, used_at: None });
        assert!(!wants(&s, &l, 1, 0.0, 0).any());
        consume(&mut s, &l, 1, 0.0, 0);
        assert_eq!(wants(&s, &l, 1, 0.0, 1), Want { permit: true, rate: true, usd: false }, "both used");
        unconsume(&mut s, &l, 1, 0.0);
        assert!(!wants(&s, &l, 1, 0.0, 1).any());
        assert!(wants(&s, &l, 1, 0.0, 2_000).rate, "a grant is served from for a while only");
        assert!(wants(&s, &l, 1, 0.0, 5_000).permit, "nor holds without a sync");
    }
}

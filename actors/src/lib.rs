//! The actor runtime of Omnigate. It knows nothing of HTTP routes or wire formats: the root crate
//! hands it upstream calls and response adapters through the traits in `executor`.
//!
//! # Actor map
//!
//! | actor | how many | owns | hears | tells |
//! |---|---|---|---|---|
//! | `RouterActor` | 1, on the main arbiter | the routing state (`SharedRouting`: one mutex the lease desks also lease from) — routing table: every account's health and in-flight slot, every provider's breaker and cursor, sticky session bindings (`router::sessions`, idle TTL, LRU bound), each paced account's recent leases (`router::pacing`: rpm and tpm over a sliding minute, min gap) | `AccountChanged`, `BreakerChanged`, `QuotaChanged`, `Reload` (keeps every known account's slot and health, every provider's breaker, probe and cursor, the sessions and pacing of accounts still there; carries `sticky_limit` and the session policy), `GetRoutingView`, `GetSessionCount`, `ShareSessions` / `AdoptSession` (several instances: bindings made, moved or still in use go out on a channel, others' come in), `SetShare` (instances alive: each applies an equal part of an account's pacing and cap) | — |
//! | `AccountActor` | 1 per account, supervised | cooldown, backoff, model locks | `AccountOutcome`, `ResetAccount`, `SetPolicy`, `GetAccount`, `Adopt` (health another instance wrote: told to the router, not written back) | `AccountChanged` → router; writes `account_state` in the order it changed (`persist::Saver`: one write at a time, the newest waiting replaces an older one), then announces `persist::Written` (several instances) |
//! | `BreakerActor` | 1 per provider, supervised | closed / open / half-open | `BreakerOutcome`, `ResetBreaker`, `SetPolicy`, `GetBreaker`, `Adopt` | `BreakerChanged` → router; writes `breaker_state` (`persist::Saver`), then announces `persist::Written` |
//! | `LeaseDesk` | 1 per HTTP worker thread, on that thread (and 1 on the main arbiter for callers there) | nothing of its own: leases from the router's `SharedRouting` | `Lease` (with the client's session key): picks an account by strategy, takes its in-flight slot, binds the session (bindings for the other instances go out on the router's channel) | — |
//! | `ExecutorActor` | 1 per HTTP worker thread, supervised | that thread's `awc::Client` (close-delimited HTTP/1.1 bodies read to EOF by `executor::eof_body`; an upload body, `Target::Upload`, opened afresh from its `BodySource` for every send) | `Execute` (with a cancel channel the client's departure drops, and for a resumable stream a channel a broken stream is handed back on: `Resumed`), `Fault`; watch channels: the upstream settings (read before each attempt) and the drain signal near the end of the shutdown grace | outcomes → account and breaker; usage events (costed by `usage::cost` from the price and subscription flag in its `ExecContext`) → the writer's `UsageInbox` (`usage::inbox`: only an event into an empty inbox sends the writer `Drain`); the cost → the context's `SpendSink` (a key budget's reservation) |
//! | `QuotaTracker` | 1 per account, supervised | its quota windows (5-hour, weekly, per-model; used share, reset, status) read from upstream headers, 429 bodies and usage endpoints | `Observe` (from the executor's response observer and the poller), `SetQuotaConfig`, `Retire` (account deleted), `GetQuota`, `AdoptWindows` (another instance's, where newer; not written back) | `QuotaChanged` (blocked until, near limit) → router; writes `quota_windows`, then announces `persist::Written::Quota` |
//! | `TokenRefresher` | 1 per OAuth account, supervised | the account's tokens (sealed at rest) and their lifecycle: refresh ahead of expiry with jitter, single flight, backoff on transient failures, `invalid_grant` → disabled | `GetToken`, `RefreshRejected` (after a 401), `MarkReauthRequired`, `ConfirmWorking`, `ReplaceTokens`, `Retire` (account deleted or refresher replaced), `GetRefresherStatus` | new tokens → the shared `TokenCell` the pipeline reads; writes `oauth_sessions` (rotated refresh token before use) |
//! | `QuotaPoller` | 1 per OAuth account with a usage endpoint, supervised | a timer (on PostgreSQL and MariaDB it polls only when it claims the cluster's turn) | `PollNow`, `SetPollEvery` | `Observe` → its quota tracker |
//! | `UsageWriter` | 1 | a buffer of usage rows (with `cost_usd`, `list_cost_usd`, `cost_source`) and request logs, written in fixed-shape batches, each batch also added to the hourly and daily rollups in its transaction (`usage::rollup`; pruning leaves them); retention pruning; the Prometheus aggregates of every event (`usage::metrics`, cost by source); one `omnigate::request` log line per event; while the database cannot be reached, the rows held in memory (up to `hold_rows`; a probe each second, written when it answers) | `Drain` (takes what the inbox gathered), `Flush`, `Reconfigure` (always running; counts every event, drops them while usage is off), `RenderMetrics`, `GetBacklog` (for `/ready`) | — |
//!
//! Raw SQL (the usage writer's batches and rollups, the claims of retention and quota polls) is
//! fitted to SQLite, PostgreSQL or MariaDB in one place, `sql`.
//!
//! Only `Lease` is awaited on the hot path, and it goes to the worker's own `LeaseDesk`, so it
//! never leaves the worker's thread; outcomes are `do_send`, usage goes through the inbox. A
//! lease holds an in-flight slot (`router::slot`) that it frees on drop, and says whether its
//! account and breaker had anything to reset, so a success on healthy ones sends nothing (no
//! cross-thread wake-up). The router, account, breaker and usage actors share the main arbiter,
//! where the database pool lives: no lease waits for them. Each actor's logic is a plain struct
//! (`account::AccountHealth`, `breaker::BreakerState`, `router::table::RoutingTable`,
//! `router::sessions::SessionBook`, `router::pacing::Pacer`) tested with an
//! explicit clock; the actor shells only receive messages and persist changes. A panic inside an
//! account's or breaker's handler is caught at the message, the actor stops and its supervisor
//! restarts it from its last persisted state (`Supervised::restarting`), and the router keeps
//! routing meanwhile. Actors of deleted accounts and providers are let go by the runtime: their
//! supervisor stops them once the last lease holding their address ends, so requests in flight
//! finish.

pub mod account;
pub mod breaker;
pub mod clock;
pub mod credential;
pub mod executor;
pub mod outcome;
pub mod persist;
pub mod quota;
pub mod refresher;
pub mod router;
pub mod sql;
pub mod usage;

pub use router::Strategy;

//! Omnigate: a self-hosted AI gateway, as an actor system.
//!
//! # Request flow
//! 1. `routes::{openai, anthropic, responses, gemini, surfaces, media}` check the gateway key against the
//!    in-memory `keys::KeyTable` (an HMAC digest lookup; never the database on the hot path) before
//!    a byte of the body is read, then read it (bounded in size and time), refuse duplicate keys and
//!    check the types of well-known fields (`protocol::shape`). A refusal is answered in the
//!    caller's own shape and still leaves a usage row (`routes::common::refuse`).
//!    `routes::responses_ws` serves the Responses API over WebSocket (`GET /v1/responses`): the
//!    key is checked on the upgrade, then each `response.create` message is read like a body and
//!    goes through the same `pipeline::serve` as a streaming `POST /v1/responses`; the events of
//!    its SSE body go back as text messages, one response at a time per socket. A continuation of
//!    the socket's last response is expanded into the whole conversation first (nothing is
//!    stored); closing the socket drops the turn's body, which cancels the upstream (step 6).
//!    `pipeline::serve` then makes one check: a request whose key has `cache` on, that sends
//!    `x-omnigate-cache: on` or an `Idempotency-Key` goes through `cache::serve` first (every
//!    other request pays that branch only). An idempotency key (per gateway key) leads, waits for
//!    the running first request's whole answer, replays the stored one, or is refused (422,
//!    another body); a deterministic request (temperature 0 or a seed) asking for the cache is
//!    keyed by its normalised body, path, dialects and sorted resolved targets, per gateway key
//!    (`cache::key`), and a hit replays the recorded body or stream events without an upstream
//!    call (a `cache` usage row: $0, no tokens). A miss runs below and its answer is recorded as
//!    it goes out (`cache::tap`): kept only when 2xx and, for a stream, when the executor flagged
//!    a clean end (`ExecContext::clean_end`).
//! 2. `pipeline::resolve` turns the model into ordered targets: combo → its targets in its
//!    strategy's order (priority, round-robin, random, weighted, least-used, cost-, latency-
//!    optimized, fill-first; what served requests taught is in `pipeline::stats::TargetBook`),
//!    nested combos expanded in place; alias (exact or wildcard, `x/*` keeps the name) → target;
//!    `provider/model` (id or alias prefix) → itself; a bare model served by one provider → it.
//!    The key's patterns filter the targets (a combo or alias name allowed means all its targets).
//!    `pipeline::admit` then checks the key's and its team's limits (`limits::Limiter`: rpm and
//!    tpm over a sliding minute, requests in flight, a budget by reservation of the worst case at
//!    the targets' prices) before any upstream call; the admission rides with the answer's body
//!    and its reservation is settled with the real cost through the `SpendSink` in the executor
//!    context. On PostgreSQL and MariaDB the same limits hold across instances (`limits::SharedLimits`): the
//!    request is served from this instance's lease of the key's shared budget, minute and permits,
//!    and only a lease that runs out asks the database (one locked transaction for a chunk). `pipeline::session` reads the client's session key (header or body markers; for
//!    the Responses API the `previous_response_id` chain, `session::ResponseChains`).
//! 3. For each target, `Lease` goes to this worker thread's `LeaseDesk` (a router actor on the same
//!    event loop, over the `RouterActor`'s shared routing state: no cross-thread hop): it gives a
//!    bound session its account while that one can serve, else picks an account by strategy from
//!    the routing table (cooldowns, model locks, breaker, concurrency caps, pacing) and binds the
//!    session; it answers with a lease holding an in-flight slot that frees itself on drop. When
//!    every target lacks only a ready account (paced or cooling briefly), the request waits in
//!    `pipeline::queue` (a FIFO lane per model, bounded in time and size) and leases again. A
//!    target whose catalog context window is smaller than the request's estimate
//!    (`pipeline::plan::Plan::exceeds`) is skipped before leasing; none fitting is a 400. A
//!    subscription account (`oauth`: claude-code, codex, gemini-cli, github-copilot, qwen-code) is
//!    leased like any other; its quota tracker has already told the router when a window is
//!    exhausted (skipped until the reset) or nearly full (leased last).
//! 4. `pipeline::plan` builds the attempt. The surfaces beyond generation go to
//!    `pipeline::surfaces` (`routes::surfaces` reads their bodies): embeddings, token counts,
//!    moderations, rerank and image generation are forwarded as they came to a provider that
//!    serves them (the catalog's or the provider's `serves`; a 400 naming the provider
//!    otherwise), OpenAI embeddings to a Gemini upstream become `batchEmbedContents`
//!    (`translate::gemini_embed`), and a legacy completion is forwarded where it is served, else
//!    made a chat plan (`translate::completions::to_chat`) whose adapter is wrapped to answer in
//!    `text_completion` objects and chunks (`translate::completions::FromChat`). The multipart
//!    and audio surfaces (`routes::media`) go to `pipeline::media`: a transcription, translation
//!    or image edit form was read by `uploads::intake` (text in memory, files spooled to
//!    `<data dir>/uploads`, bounded; the spool goes with the request) and is encoded afresh per
//!    attempt with `model` rewritten (`uploads::Form::encoded`), streamed to the upstream from
//!    disk (`actors::executor::Target::Upload`); speech is JSON with `model` rewritten. Their
//!    answers keep the upstream's `Content-Type` and are relayed as they come
//!    (`translate::media::Relay`), billed per audio second, character or image. For
//!    generation: same dialect on both sides → passthrough (only `model` rewritten, unknown fields and `cache_control` survive; OpenAI streams ask for usage and hide
//!    that chunk); otherwise the client body is decoded once to `translate::canonical` and encoded
//!    for the provider's dialect, with a `translate::adapter::Translating` response adapter. Both
//!    then pass through the same edits: foreign reasoning signatures removed or unwrapped
//!    (`translate::envelope`), bodies every provider of the dialect would refuse mended
//!    (`translate::sanitize`), the thinking policy (`translate::thinking`), and the catalog's
//!    per-family request rules (`translate::rules`), then the request transforms the registry
//!    holds (`[[transforms]]` and `/api/transforms`, in position order: `pipeline::transform`;
//!    their names go to the answer and the request log); client headers are forwarded by allowlist
//!    (`providers::call::passed_on`) and edited by the same transforms. On a subscription account
//!    `oauth::attempt` then takes the
//!    token from the account's `TokenCell` (or waits for its `TokenRefresher`'s single refresh)
//!    and `oauth::dress` applies the provider's own rules (Claude Code's beta flag and system
//!    prompt, Codex's account header and `store`/`instructions`/stream, Code Assist's project
//!    envelope, Copilot's editor headers, Qwen's resource URL); a 401 there refreshes once and
//!    retries on the same account, a second one marks it `reauth_required`. A provider whose
//!    key is not sent as it is gets it last (`providers::sign`: Vertex AI's access token, minted
//!    from the account's service account key by `providers::vertex` and cached); Azure OpenAI's
//!    deployment URL and `api-key` header are built with the call (`providers::call`). A Bedrock
//!    account (auth `aws-sigv4`) is dressed after that by `providers::bedrock::dress`: the Chat
//!    body becomes a Converse request, signed with SigV4 (or carrying a Bedrock API key), and the
//!    adapter is wrapped to read Converse answers and event streams back as Chat bytes (in
//!    `pipeline::resume` too, after the shared adapter, so a continuation on Bedrock is read the
//!    same way).
//! 5. `Execute` goes to this worker thread's supervised `ExecutorActor` (its own awc client). It
//!    answers `Started` only once content arrived (or a finish reason that explains an empty
//!    answer; connect, first-byte and idle timeouts are ours), `Complete` for whole bodies, or
//!    `Failed` (an error event inside a 200 stream before content is one); a retryable failure
//!    excludes the account and the pipeline tries the next account, then the next target. A
//!    client that leaves before the first byte drops the request's cancel channel, which aborts
//!    the upstream call and frees the lease. A stream of a combo with `resume = true` that breaks
//!    after text is handed back by the executor (`Resumed`) and `pipeline::resume` splices the
//!    next target's continuation into the same client stream.
//! 6. The stream is pumped as an independent task: upstream bytes → adapter → client, cancelled
//!    the moment the client goes away; it always ends with the client dialect's terminal events
//!    (an error event first when the upstream broke). Outcomes go to the account and breaker
//!    actors (only when they change something; recorded before the client sees the stream end)
//!    and one usage event per request to the `UsageWriter`, which batches inserts and keeps the
//!    `/metrics` aggregates. The event is costed (`actors::usage::cost`) by the price the pipeline
//!    took from memory before the attempt (`runtime.prices()`, a `pricing::PriceTable` the last
//!    reload built; most specific row wins; per token, or per unit where the answer counted
//!    images, audio seconds or characters): `priced`, `estimated` (counts estimated),
//!    `unpriced` (no row: NULL, never $0) or `subscription` ($0, list price kept); a whole answer
//!    carries `x-omnigate-cost-usd` (`routes::metrics` adds the router's live gauges); every response's
//!    headers go to the account's `QuotaTracker` (`oauth::hub`'s observer). Nothing on the
//!    response path waits for the database.
//! 7. When nothing could serve, `pipeline::final_error` answers in the caller's dialect: each
//!    attempt's account and cause, or (nothing sent) each account's state from the router's view
//!    (`pipeline::words`: "credentials refused 2 min ago, next try in 40 s"). The gateway's own
//!    429/503 carry `x-should-retry` by `error::RETRY_WORTH`.
//!
//! # The control plane
//! Who may call `/api` is `auth::admin` (a session cookie, carrying its user and `auth::Role`, or
//! the management token: admin) and `routes::admin::guarded` (a viewer only on its read-only
//! `VIEWER_ROUTES`, 403 otherwise); `routes::admin::users` manages the dashboard users
//! (`store::users`; the bootstrap admin's password stays in `settings`), `omnigate users`
//! (`users_cli`) through the same API.
//! Admin changes (`routes::admin`) are one transaction each with their audit row (`store::audit`),
//! then `runtime::Runtime::reload`: the one idempotent, database-driven step that rebuilds the
//! registry (providers, accounts, combos, aliases and request transforms), seeds the declared
//! prices (`store::pricing`: catalog and custom providers, never an operator's row) and rebuilds
//! the price table, starts or lets go of account and breaker actors, and sends the router a
//! `Reload` that keeps known accounts' in-flight slots and health. Live settings (`runtime::settings`) are the
//! file's values under the overrides stored in the database. The read side (`routes::admin::
//! {requests, usage_summary, health}`) queries `store::observe` in SQL portable to SQLite,
//! PostgreSQL and MariaDB (`usage_summary` from the hourly and daily rollups the usage writer keeps,
//! `actors::usage::rollup`, for whole hours and days, raw rows only for the ragged edges:
//! `store::observe::summary::plan`) (`routes::admin::export` streams usage rows as CSV or JSON lines; `backup` snapshots
//! the SQLite file with `VACUUM INTO`, for `/api/backup` and `omnigate backup|restore`; `bundle`
//! writes and reads the passphrase-sealed configuration of `omnigate export|import`, re-sealing
//! credentials under the importing master key and keeping the exporter's gateway-key digest key);
//! `routes::admin::routes` is the one list of `/api` routes, rendered as OpenAPI by
//! `routes::admin::openapi`. The dashboard (`static/`, embedded) uses only that API. Subscription
//! sign-in (`oauth::cli` for `omnigate accounts login|import`, `routes::admin::oauth` for the
//! dashboard) writes the sealed session (`oauth::store::sign_in`) and reloads; `oauth::hub`, run
//! by each reload, starts or replaces the refresher, poller and quota tracker of every account,
//! and a watch reloads when another process (the CLI) signed in meanwhile. `import_omniroute`
//! (`omnigate import-omniroute`) is a client of the same admin API: it reads an OmniRoute SQLite
//! database (`read`), opens its encrypted credentials (`secret`), maps entries (`plan`) and posts
//! them, so an import is validated and applied like any dashboard edit.
//!
//! # Several instances on one PostgreSQL or MariaDB (`cluster`)
//! Built only on PostgreSQL and MariaDB (SQLite is one instance by construction and does none of
//! this). Raw SQL goes through `actors::sql` (placeholders, quoting, upserts per engine). Each
//! admin change bumps `cluster_revision` and `NOTIFY omnigate` (`change::apply`, via
//! `store::cluster::bump`) before its own reload; `cluster::feed` holds one listening connection
//! per instance and reloads (debounced) on a newer revision, on reconnecting, and every
//! `CHECK_EVERY` as the safety net. MariaDB has no `NOTIFY`: `cluster::poll` reads the revision
//! and the `cluster_events` rows (what PostgreSQL would announce) every `POLL_EVERY` instead. Account and breaker actors announce each health write
//! (`actors::persist::Written`) and the others' actors adopt the re-read row (`Adopt`), which tells
//! their routers. Sticky session bindings the router and the combo book make go to
//! `cluster::sticky` over a channel, are stored and announced, and adopted elsewhere (`AdoptSession`);
//! quota trackers announce their windows (`AdoptWindows` elsewhere) and a usage poller polls only
//! when it claims the turn (`actors::quota::persist::claim_poll`).
//! Dashboard logins are stored by digest (with their user and role) and announced; each instance heartbeats
//! `cluster_instances` (`/api/health` lists the live ones). An OAuth refresh holds a per-account
//! advisory lock (`oauth::source`; a `settings` row lock on MariaDB) so one instance at a time
//! spends the refresh token. None of it
//! is on the request path, except a key's shared limits: `limits::SharedLimits` takes chunks of
//! them from `store::shared_limits` when this instance's lease runs out, and the `cluster` task
//! settles spend and gives back what is unused every `limits::TICK` (everything on stop). A
//! starting instance answers only once its feed listens and has re-read the health rows written
//! before it did (`Cluster::listening`). With the database out of reach requests go on from
//! memory: the usage writer holds its rows until a probe sees the database again, and `/ready`
//! says `degraded` (still 200) meanwhile.
//!
//! # Coding tools and the operator's checks
//! `tools` knows each coding tool's settings format (one module per tool, from its own docs);
//! `omnigate setup | run` (`tools::cli`) reach the daemon like `omnigate accounts` (the admin
//! API with the local `cli.token`), make a key named after the tool and merge the tool's file
//! (`tools::files`: backup once, `--undo` restores byte for byte). `GET /api/tools`
//! (`routes::admin::tools`) renders the same modules for the dashboard's Tools page. `doctor`
//! runs `status` and `doctor` without starting anything (`app::check_master_key` is the
//! start-up unlock without its writes).
//!
//! # Start-up (`app::start`)
//! config (defaults → file → env → flags) → validate against the catalog → open the database
//! (SQLite lock, migrations) → unlock the master key → upsert config entries (never the rows the
//! API made, and none at all without a config file; a subscription account's `oauth` tokens are
//! a seed, applied only when they change: `oauth::seeds`) → bootstrap admin password and first key,
//! kept in `<data dir>/first-start.txt` until the first login (`first_start`) → `Runtime::start` (stored setting overrides,
//! then `Runtime::reload`: registry and actors from the database) → serve (on PostgreSQL or
//! MariaDB, then `cluster::Cluster::start`: listen or poll, announce, heartbeat). On stop:
//! drain in-flight requests (shortly before the grace ends, streams still running get their
//! dialect's error and terminator, waiting requests a 503), flush usage, stop the router,
//! checkpoint the WAL, close.

pub mod accounts_cli;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod backup;
pub mod bundle;
pub mod cache;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod db;
pub mod doctor;
pub mod error;
pub mod first_start;
pub mod import_omniroute;
pub mod keys;
pub mod limits;
pub mod local_token;
pub mod logging;
pub mod oauth;
pub mod pipeline;
pub mod pricing;
pub mod protocol;
pub mod providers;
pub mod redact;
pub mod routes;
pub mod runtime;
pub mod secrets;
pub mod service;
pub mod sse;
pub mod state;
pub mod store;
pub mod tools;
pub mod translate;
pub mod uploads;
pub mod users_cli;

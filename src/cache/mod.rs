//! The exact response cache and `Idempotency-Key`, in front of the pipeline. A request reaches
//! this module only when it asks for one of them (`wanted`: the key's `cache` flag, the
//! `x-omnigate-cache` header, an idempotency key); every other request pays one check.
//!
//! The cache answers a deterministic generation request (`key::deterministic`: temperature 0 or
//! a seed) that the same gateway key sent before, within `[cache] ttl_secs`, without an upstream
//! call: the same body, or the same stream events in the client's dialect. Entries are scoped per
//! gateway key (never shared: two keys may be two customers), keyed by the normalised request and
//! the resolved targets (`key`). Only a complete, successful answer is stored (a 2xx whole body,
//! or a stream the executor saw end cleanly: no break, no error event, no spliced resume). A hit
//! leaves a usage row with no tokens, $0 and the `cache` cost source, so neither budgets nor token
//! figures count the answer twice. Idempotency is `idem`.

pub mod idem;
pub mod key;
pub mod store;
pub mod tap;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actors::executor::actor::ExecutorActor;
use actors::usage::metrics::family;

use crate::config::CacheConfig;
use crate::error::GatewayError;
use crate::pipeline::{Inbound, RequestMeta, serve_with};
use crate::state::AppState;
use idem::{Begin, Idempotency};
use tap::Answer;

/// The request header that asks (`on`) or declines (`off`) the cache, and the answer's header
/// that says `hit`, `miss` or `bypass` (asked, but the request is not deterministic).
pub const HEADER: &str = "x-omnigate-cache";

/// The answer's header marking an idempotent replay.
pub const REPLAY_HEADER: &str = "x-omnigate-idempotent-replay";

/// The response cache, the idempotency keys and their counters.
pub struct Cache {
    answers: store::Store<Answer>,
    idem: Arc<Idempotency>,
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
    replays: AtomicU64,
}

impl Cache {
    /// An empty cache with `cfg`'s bounds (read at start).
    pub fn new(cfg: &CacheConfig) -> Self {
        let answers = store::Store::new(cfg.max_entries, cfg.max_bytes, Duration::from_secs(cfg.ttl_secs));
        let window = Duration::from_secs(cfg.idempotency_window_secs);
        let done = store::Store::new(cfg.max_entries, cfg.max_bytes, window);
        Self {
            answers,
            idem: Arc::new(Idempotency::new(done)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
            replays: AtomicU64::new(0),
        }
    }

    /// Entries and bytes the response cache holds.
    pub fn snapshot(&self) -> (usize, usize) {
        self.answers.size()
    }

    /// Its `/metrics` families.
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "omnigate_cache_requests_total",
            "counter",
            "Requests that asked for the response cache, by result.",
        );
        for (result, n) in [("hit", &self.hits), ("miss", &self.misses), ("bypass", &self.bypassed)] {
            let _ = writeln!(out, "omnigate_cache_requests_total{{result=\"{result}\"}} {}", n.load(Ordering::Relaxed));
        }
        let (entries, bytes) = self.snapshot();
        family(out, "omnigate_cache_entries", "gauge", "Answers held by the response cache.");
        let _ = writeln!(out, "omnigate_cache_entries {entries}");
        family(out, "omnigate_cache_bytes", "gauge", "Bytes of answers held by the response cache.");
        let _ = writeln!(out, "omnigate_cache_bytes {bytes}");
        family(out, "omnigate_idempotent_replays_total", "counter", "Answers repeated for a repeated Idempotency-Key.");
        let _ = writeln!(out, "omnigate_idempotent_replays_total {}", self.replays.load(Ordering::Relaxed));
        family(out, "omnigate_idempotency_running", "gauge", "Idempotency keys whose first request is running.");
        let _ = writeln!(out, "omnigate_idempotency_running {}", self.idem.running());
    }
}

/// The cache as the request asks: the header, else its key's setting.
fn cache_asked(meta: &RequestMeta) -> bool {
    meta.cache.unwrap_or_else(|| meta.key.as_ref().is_some_and(|k| k.cache))
}

/// The request's idempotency key: `Idempotency-Key`, or its own `x-request-id` when so configured.
fn idempotency_key<'a>(state: &AppState, meta: &'a RequestMeta) -> Option<&'a str> {
    meta.idempotency_key.as_deref().or_else(|| {
        (meta.client_request_id && state.config.cache.idempotency_from_request_id).then_some(meta.request_id.as_str())
    })
}

/// Whether the request goes through this module (the pipeline's one check).
pub fn wanted(state: &AppState, meta: &RequestMeta) -> bool {
    cache_asked(meta)
        || meta.idempotency_key.is_some()
        || (meta.client_request_id && state.config.cache.idempotency_from_request_id)
}

/// Serves a request that asked for the cache or carries an idempotency key.
pub async fn serve(state: &AppState, exec: &Addr<ExecutorActor>, meta: RequestMeta, inbound: Inbound) -> HttpResponse {
    let cache = Arc::clone(&state.runtime.cache);
    // Set by the executor when a stream ends cleanly; both recorders read it.
    let clean = inbound.stream.then(|| Arc::new(AtomicBool::new(false)));
    let Some(idem_key) = idempotency_key(state, &meta) else {
        return cached(state, exec, meta, inbound, clean).await;
    };
    let scope = meta.key.as_ref().map_or("", |k| k.name.as_str());
    let whole = key::Scope { key: scope, path: &meta.path, stream: inbound.stream, targets: &[] };
    let body = key::fingerprint(&inbound.plan, &whole);
    let id = Idempotency::id(scope, idem_key);
    let leader = loop {
        match cache.idem.begin(id, body) {
            Begin::Lead(l) => break l,
            Begin::Replay(a) => return replayed(state, &meta, &inbound, &a, (REPLAY_HEADER, "true")),
            Begin::Wait(rx) => {
                // Dropped with the handler when this client leaves: the wait ends with it.
                if let Some(a) = idem::wait(rx).await {
                    return replayed(state, &meta, &inbound, &a, (REPLAY_HEADER, "true"));
                }
            }
            Begin::Mismatch => {
                let e = GatewayError::IdempotencyMismatch(
                    "this Idempotency-Key was used for a different request within the idempotency window; \
                     use a new key for a new request"
                        .into(),
                );
                let ctx = crate::pipeline::context(state, &meta, &inbound);
                ctx.record_unserved(e.status().as_u16(), e.to_string());
                let mut resp = e.response(inbound.plan.client_dialect());
                request_id(&mut resp, &meta.request_id);
                return resp;
            }
        }
    };
    let resp = cached(state, exec, meta, inbound, clean.clone()).await;
    let limit = cache.answers.max_bytes();
    tap::record(resp, limit, clean, Box::new(move |a| leader.finish(a)))
}

/// The cache's part: a hit, or the pipeline's answer recorded for the next time.
async fn cached(
    state: &AppState,
    exec: &Addr<ExecutorActor>,
    meta: RequestMeta,
    inbound: Inbound,
    clean: Option<Arc<AtomicBool>>,
) -> HttpResponse {
    let cache = Arc::clone(&state.runtime.cache);
    if !cache_asked(&meta) {
        return serve_with(state, exec, meta, inbound, clean).await;
    }
    if !key::deterministic(&inbound.plan) {
        cache.bypassed.fetch_add(1, Ordering::Relaxed);
        let mut resp = serve_with(state, exec, meta, inbound, clean).await;
        resp.headers_mut().insert(HeaderName::from_static(HEADER), HeaderValue::from_static("bypass"));
        return resp;
    }
    // The targets the key may use, in a stable order (a combo's strategy reorders them per
    // request); a model that does not resolve is the pipeline's to refuse.
    let reg = state.runtime.registry();
    let targets = crate::pipeline::resolve::resolve(&reg, &inbound.model, inbound.pinned.as_deref())
        .and_then(|t| crate::pipeline::authorize(meta.key.as_ref(), &inbound.model, t));
    let mut labels: Vec<String> = match targets {
        Ok(t) => t.iter().map(crate::pipeline::resolve::Target::label).collect(),
        Err(_) => return serve_with(state, exec, meta, inbound, clean).await,
    };
    labels.sort();
    let scope = meta.key.as_ref().map_or("", |k| k.name.as_str());
    let fp = key::fingerprint(
        &inbound.plan,
        &key::Scope { key: scope, path: &meta.path, stream: inbound.stream, targets: &labels },
    );
    if let Some(a) = cache.answers.get(&fp, Instant::now()) {
        cache.hits.fetch_add(1, Ordering::Relaxed);
        // A replayed stream is complete: an idempotency key's leader may keep it too.
        if let Some(c) = &clean {
            c.store(true, Ordering::Release);
        }
        return replayed(state, &meta, &inbound, &a, (HEADER, "hit"));
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    let mut resp = serve_with(state, exec, meta, inbound, clean.clone()).await;
    resp.headers_mut().insert(HeaderName::from_static(HEADER), HeaderValue::from_static("miss"));
    if !resp.status().is_success() {
        return resp;
    }
    let limit = cache.answers.max_bytes();
    tap::record(
        resp,
        limit,
        clean,
        Box::new(move |a| {
            if let Some((a, true)) = a
                && a.success()
            {
                let bytes = a.bytes;
                cache.answers.put(fp, a, bytes, Instant::now());
            }
        }),
    )
}

/// `answer` repeated for this request, with its usage row (no tokens, $0, source `cache`).
fn replayed(
    state: &AppState,
    meta: &RequestMeta,
    inbound: &Inbound,
    answer: &Answer,
    mark: (&'static str, &'static str),
) -> HttpResponse {
    if mark.0 == REPLAY_HEADER {
        state.runtime.cache.replays.fetch_add(1, Ordering::Relaxed);
    }
    let ctx = crate::pipeline::context(state, meta, inbound);
    if answer.success() {
        ctx.record_replayed(answer.status, answer.streamed);
    } else {
        ctx.record_unserved(answer.status, "the same request (by its Idempotency-Key) failed".into());
    }
    answer.replay(mark, &meta.request_id)
}

fn request_id(resp: &mut HttpResponse, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
}

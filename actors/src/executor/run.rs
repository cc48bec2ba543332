//! One attempt from request to verdict: send, classify the status, and for a stream read until the
//! first content arrives (so a stalled or empty 200 can still fall over to another account).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::actor::{ExecutorStats, Fault};
use super::pump::{self, Finish};
use super::{
    AdapterError, Completed, ExecContext, ExecOutcome, Execute, ExecutorConfig, Failure, ResponseAdapter,
    ResponseObserver, Started, Target,
};
use crate::account::Streaks;
use crate::account::messages::{AccountFault, AccountOutcome};
use crate::breaker::messages::BreakerOutcome;
use crate::outcome::{OutcomeKind, classify_answer, classify_status, parse_retry_after, retry_hint_from_text};
use crate::router::messages::LeaseGrant;
use crate::usage::cost::Cost;
use crate::usage::{AttemptTrace, TokenUsage, UsageEvent};

/// Upstream error bodies are kept up to this size.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Chunks of an upstream body, or the reason it broke.
pub(super) type Source = LocalBoxStream<'static, Result<Bytes, SourceError>>;

/// Why reading the upstream body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceError {
    /// The connection broke or the payload was invalid.
    Broken,
}

/// Tells the account and breaker actors what happened. Provider faults bump the account's and
/// the provider's shared streaks, any success ends them (reading first, so a healthy provider's
/// success writes nothing). A success on an account and a breaker that had nothing to reset
/// changes nothing, so it is not sent (no cross-thread wake-up); neither are outcomes the
/// breaker ignores, except a probe's, which frees the probe slot whatever it was.
pub(super) fn report(lease: &LeaseGrant, kind: OutcomeKind, model: &str) {
    let success = kind == OutcomeKind::Success;
    let mut streaks = Streaks::default();
    let mut streak_ended = false;
    if success {
        lease.guard.slot().faults.succeed();
        streak_ended = lease.streak.succeed();
    } else if kind.is_provider_fault() {
        streaks = Streaks { account: lease.guard.slot().faults.fail(), provider: lease.streak.fail() };
    }
    if let Some(a) = lease.account.as_ref().filter(|_| !(success && lease.account_clean)) {
        if streaks == Streaks::default() {
            a.do_send(AccountOutcome { kind, model: model.to_string() });
        } else {
            a.do_send(AccountFault { kind, model: model.to_string(), streaks });
        }
    }
    let probe = lease.end_probe();
    let tell_breaker = if success { !lease.breaker_clean || streak_ended } else { kind.trips_breaker() };
    if let Some(b) = lease.breaker.as_ref().filter(|_| tell_breaker || probe) {
        b.do_send(BreakerOutcome { kind, streak: streaks.provider, probe });
    }
}

/// Appends this attempt to the trace.
pub(super) fn trace(
    ctx: &mut ExecContext,
    lease: &LeaseGrant,
    kind: OutcomeKind,
    status: Option<u16>,
    since: Instant,
    error: Option<&str>,
) {
    ctx.attempts.push(AttemptTrace {
        provider: lease.provider.to_string(),
        account: lease.account_name.to_string(),
        outcome: kind.label(),
        status,
        ms: since.elapsed().as_millis() as i64,
        error: error.map(str::to_string),
    });
}

/// Sends the usage event of a finished request; answers its cost.
pub(super) fn record(
    ctx: &ExecContext,
    lease: &LeaseGrant,
    status: u16,
    error: Option<String>,
    tokens: TokenUsage,
    ttfb: Option<Duration>,
    streamed: bool,
) -> Cost {
    let cost = Cost::assess(&tokens, ctx.price.as_ref(), ctx.subscription);
    if let Some(s) = &ctx.spend {
        s.settle(cost.usd.unwrap_or(0.0));
    }
    let Some(sink) = &ctx.usage else { return cost };
    sink.send(UsageEvent {
        ts: ctx.ts,
        request_id: ctx.request_id.clone(),
        key_name: ctx.key_name.clone(),
        client_dialect: ctx.client_dialect.clone(),
        method: ctx.method.clone(),
        path: ctx.path.clone(),
        provider: Some(lease.provider.to_string()),
        account: Some(lease.account_name.to_string()),
        model: ctx.model_label.clone(),
        status,
        error,
        tokens,
        cost,
        latency_ms: ctx.started.elapsed().as_millis() as i64,
        ttfb_ms: ttfb.map(|d| d.as_millis() as i64),
        streamed,
        attempts: ctx.attempts.clone(),
        transforms: ctx.transforms.clone(),
    });
    cost
}

struct Fail {
    kind: OutcomeKind,
    status: Option<u16>,
    message: String,
    retry_after: Option<Duration>,
    body: Option<Bytes>,
}

impl Fail {
    fn new(kind: OutcomeKind, message: impl Into<String>) -> Self {
        Self { kind, status: None, message: message.into(), retry_after: None, body: None }
    }

    /// An adapter's verdict on an answer that reached it before any content went to the client.
    fn adapter(e: AdapterError, empty: &str) -> Self {
        match e {
            AdapterError::Empty => Self::new(OutcomeKind::EmptyResponse, empty),
            AdapterError::Malformed(m) => Self::new(OutcomeKind::ProtocolError, m),
            AdapterError::Upstream(f) => {
                Self { kind: f.kind, status: Some(f.status), message: f.message, retry_after: None, body: Some(f.body) }
            }
        }
    }
}

/// Reads an upstream error answer's body for what its status alone does not say: a ban phrase,
/// a refusal scoped to the model, a context window exceeded (`outcome::classify_answer`).
fn refine(f: &mut Fail, model: &str, defer_auth: bool) {
    if let (Some(status), Some(body)) = (f.status, f.body.as_ref())
        && !(200..300).contains(&status)
    {
        let text = String::from_utf8_lossy(body);
        f.kind = classify_answer(status, f.retry_after, &text, model, defer_auth);
        match f.kind {
            OutcomeKind::Banned { reason } => {
                f.message = format!(
                    "the upstream refused the key ({status}): {reason}; the account is disabled until an operator resets it"
                );
            }
            OutcomeKind::ModelUnavailable { .. } => {
                f.message = format!("the upstream refused model `{model}` on this account ({status})");
            }
            OutcomeKind::ContextExceeded => {
                f.message = format!("the request is larger than the context window of `{model}` ({status})");
            }
            _ => {}
        }
    }
}

fn failed(mut ctx: ExecContext, lease: LeaseGrant, f: Fail, since: Instant, defer_auth: bool) -> ExecOutcome {
    // A deferred 401 is the caller's: it refreshes the credential and retries on this account.
    if !(defer_auth && f.status == Some(401)) {
        report(&lease, f.kind, &ctx.upstream_model);
    }
    trace(&mut ctx, &lease, f.kind, f.status, since, Some(&f.message));
    tracing::debug!(provider = %lease.provider, account = %lease.account_name, outcome = f.kind.label(), status = ?f.status, "upstream attempt failed");
    ExecOutcome::Failed(Box::new(Failure {
        kind: f.kind,
        status: f.status,
        message: f.message,
        retry_after: f.retry_after,
        upstream_body: f.body,
        account_id: lease.account_id,
        ctx,
        received: false,
    }))
}

/// Runs `push` under `catch_unwind`; a panic becomes a protocol fault and stops the executor.
pub(super) fn guarded<T>(
    faults: &Recipient<Fault>,
    stats: &ExecutorStats,
    f: impl FnOnce() -> Result<T, AdapterError>,
) -> Result<T, AdapterError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            let _ = stats;
            tracing::error!("stream translation panicked: failing this attempt and restarting the executor");
            faults.do_send(Fault);
            Err(AdapterError::Malformed("internal fault while translating the upstream response".into()))
        }
    }
}

/// What an upstream answered first: status, wait hint, the body to read, the headers when
/// someone observes them, and its `Content-Type`.
type Reply = (u16, Option<Duration>, Source, Option<awc::http::header::HeaderMap>, Option<String>);

/// Sends the request `$send` builds from a fresh request each time. A pooled connection the
/// upstream closed while idle (its keep-alive ran out as we wrote) breaks while sending, or ends
/// before any answer: sent once more on a fresh connection within the same first-byte deadline,
/// as the official SDKs retry a connection error.
macro_rules! send_resending {
    ($client:expr, $cfg:expr, $method:expr, $url:expr, $headers:expr, |$req:ident| $send:expr) => {{
        let deadline = Instant::now() + $cfg.first_byte;
        let mut resent = false;
        loop {
            let mut $req = $client.request($method.clone(), $url.as_str()).no_decompress();
            for (k, v) in &$headers {
                $req = $req.insert_header((k.as_str(), v.as_str()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, $send).await {
                Err(_) => {
                    let secs = $cfg.first_byte.as_secs();
                    return Err(Fail::new(
                        OutcomeKind::Timeout,
                        format!("timed out after {secs} s waiting for the first byte from {}", host_of(&$url)),
                    ));
                }
                Ok(Err(e)) if !resent && closed_unanswered(&e) => {
                    resent = true;
                    tracing::debug!(host = %host_of(&$url), "pooled connection closed while sending: sending again");
                }
                Ok(Err(e)) => {
                    let kind = match e {
                        awc::error::SendRequestError::Timeout => OutcomeKind::Timeout,
                        _ => OutcomeKind::ConnectError,
                    };
                    return Err(Fail::new(kind, send_error_words(&e, &host_of(&$url))));
                }
                Ok(Ok(r)) => break r,
            }
        }
    }};
}

async fn send_http(
    client: &awc::Client,
    target: Target,
    cfg: &ExecutorConfig,
    want_headers: bool,
) -> Result<Reply, Fail> {
    let reply = match target {
        Target::Local(local) => {
            let r = local.call();
            let body: Source = Box::pin(r.body.map(Ok));
            return Ok((r.status, None, body, None, None));
        }
        Target::Http { method, url, headers, body } => {
            send_resending!(client, cfg, method, url, headers, |req| req.send_body(body.clone()))
        }
        // Opened afresh for each send: a resend reads the spooled body again from its start.
        Target::Upload { method, url, headers, body } => {
            send_resending!(client, cfg, method, url, headers, |req| req
                .send_body(actix_http::body::SizedStream::new(body.len(), body.open())))
        }
    };
    let status = reply.status().as_u16();
    let retry_after = reply.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let headers = want_headers.then(|| reply.headers().clone());
    let content_type =
        reply.headers().get("content-type").and_then(|v| v.to_str().ok()).map(|s| s.chars().take(200).collect());
    let body: Source = Box::pin(reply.map(|r| r.map_err(|_| SourceError::Broken)));
    Ok((status, retry_after, body, headers, content_type))
}

/// Whether a send failed because the connection closed before any answer arrived (broken while
/// writing, or reset/ended before a response head), the mark of a pooled connection the upstream
/// had already let go.
fn closed_unanswered(e: &awc::error::SendRequestError) -> bool {
    use actix_http::error::ParseError;
    use awc::error::SendRequestError as E;
    match e {
        E::Send(_) => true,
        E::Response(p) => matches!(p, ParseError::Incomplete | ParseError::Io(_)),
        _ => false,
    }
}

/// `host:port` of an upstream URL (never its path or query, which may carry a key).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') && !host.ends_with(']') {
        host.to_string()
    } else {
        let port = if url.starts_with("https://") { 443 } else { 80 };
        format!("{host}:{port}")
    }
}

/// Why an upstream could not be reached, in words a person can act on.
fn send_error_words(e: &awc::error::SendRequestError, host: &str) -> String {
    use awc::error::{ConnectError as C, SendRequestError as E};
    match e {
        E::Connect(c) => match c {
            C::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => format!("connection refused at {host}"),
                std::io::ErrorKind::TimedOut => format!("connecting to {host} timed out"),
                std::io::ErrorKind::ConnectionReset => format!("{host} reset the connection"),
                _ => format!("cannot connect to {host}: {}", io.kind()),
            },
            C::Resolver(_) | C::NoRecords | C::Unresolved => format!("cannot resolve the host of {host}"),
            C::Timeout => format!("connecting to {host} timed out"),
            C::SslIsNotSupported => format!("TLS is not available to reach {host}"),
            C::H2(_) => format!("HTTP/2 error talking to {host}"),
            C::Disconnected => format!("the connection pool to {host} closed"),
            #[allow(unreachable_patterns)]
            _ => format!("cannot connect to {host} (TLS or connection error)"),
        },
        E::Url(_) => format!("the upstream URL for {host} is invalid"),
        E::Send(_) => format!("the connection to {host} broke while sending the request"),
        E::Response(_) => format!("{host} sent a response that is not valid HTTP"),
        E::Http(_) => "the upstream request could not be built".into(),
        E::H2(_) => format!("HTTP/2 error talking to {host}"),
        E::Timeout => format!("{host} did not answer in time"),
        E::TunnelNotSupported => "tunnelling is not supported".into(),
        E::Body(_) => format!("sending the request body to {host} failed"),
        E::Custom(_, _) => format!("the request to {host} failed"),
        #[allow(unreachable_patterns)]
        _ => format!("the request to {host} failed"),
    }
}

async fn read_limited(body: &mut Source, limit: usize, idle: Duration, deadline: Instant) -> Result<Bytes, Fail> {
    // Most bodies arrive in one chunk: keep it as it is, copy only when there are several.
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(idle.min(left), body.next()).await {
            Err(_) if left <= idle => {
                return Err(Fail::new(
                    OutcomeKind::Timeout,
                    "the upstream response took longer than the total timeout",
                ));
            }
            Err(_) => {
                let secs = idle.as_secs();
                return Err(Fail::new(
                    OutcomeKind::Timeout,
                    format!("the upstream stalled for {secs} s while sending its response"),
                ));
            }
            Ok(None) => return Ok(if buf.is_empty() { first.unwrap_or_default() } else { buf.freeze() }),
            Ok(Some(Err(_))) => {
                return Err(Fail::new(OutcomeKind::ConnectError, "the upstream connection broke"));
            }
            Ok(Some(Ok(chunk))) => {
                let have = first.as_ref().map_or(0, Bytes::len) + buf.len();
                if have + chunk.len() > limit {
                    return Err(Fail::new(OutcomeKind::ProtocolError, "the upstream response is too large"));
                }
                if first.is_none() && buf.is_empty() {
                    first = Some(chunk);
                } else {
                    if let Some(p) = first.take() {
                        buf.extend_from_slice(&p);
                    }
                    buf.extend_from_slice(&chunk);
                }
            }
        }
    }
}

/// What every attempt runs with, besides its message.
pub(crate) struct RunEnv {
    /// Timeouts and limits.
    pub cfg: ExecutorConfig,
    /// Where a caught fault stops the executor.
    pub faults: Recipient<Fault>,
    /// Shared counters.
    pub stats: Arc<ExecutorStats>,
    /// Turns true when the shutdown grace is nearly over.
    pub drain: watch::Receiver<bool>,
}

/// Resolves once the daemon drains (never, if the flag's sender is gone).
pub(super) async fn drained(mut drain: watch::Receiver<bool>) {
    if drain.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// An attempt that got past its status and first content.
enum Ready {
    /// A whole response, converted for the client.
    Whole(Bytes, Option<String>),
    /// A stream: what the client gets first, and the rest of the upstream body.
    Stream { body: Source, pending: Vec<Bytes>, chunks: usize, content_type: Option<String> },
}

/// Sends the call and reads until the verdict: a converted whole body, a stream with content, or
/// the failure that lets the caller try another account.
async fn attempt(
    client: awc::Client,
    target: Target,
    stream: bool,
    adapter: &mut Box<dyn ResponseAdapter>,
    observer: Option<&dyn ResponseObserver>,
    env: &RunEnv,
    t0: Instant,
) -> Result<(u16, Ready), Fail> {
    let cfg = &env.cfg;
    let (status, retry_after, mut body, headers, content_type) =
        send_http(&client, target, cfg, observer.is_some()).await?;
    drop(client);
    let observe = |error_body: Option<&[u8]>| {
        if let (Some(o), Some(h)) = (observer, headers.as_ref()) {
            o.observe(status, h, error_body);
        }
    };

    let deadline = t0 + cfg.total;
    if !(200..300).contains(&status) {
        let err_body = read_limited(&mut body, ERROR_BODY_LIMIT, cfg.idle, deadline).await.unwrap_or_default();
        observe(Some(&err_body));
        let text = String::from_utf8_lossy(&err_body);
        let hint = retry_after.or_else(|| if status == 429 { retry_hint_from_text(&text) } else { None });
        let kind = classify_status(status, hint);
        let message = match status {
            300..=399 => format!("the upstream answered a redirect ({status}), which is never followed"),
            401 | 403 => format!("the upstream refused the key ({status})"),
            429 => "the upstream rate-limited the account (429)".to_string(),
            500..=599 => format!("the upstream failed ({status})"),
            _ => format!("the upstream answered {status}"),
        };
        return Err(Fail { kind, status: Some(status), message, retry_after: hint, body: Some(err_body) });
    }
    observe(None);

    if !stream {
        let whole = read_limited(&mut body, cfg.max_response_bytes, cfg.idle, deadline).await?;
        return match guarded(&env.faults, &env.stats, || adapter.complete(whole)) {
            Ok(client_body) => Ok((status, Ready::Whole(client_body, content_type))),
            Err(e) => Err(Fail::adapter(e, "the upstream returned an empty response")),
        };
    }

    // Streaming: read until content arrives, within the first-byte deadline.
    let deadline = t0 + cfg.first_byte;
    let mut pending: Vec<Bytes> = Vec::new();
    let mut chunks = 0usize;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match timeout(left, body.next()).await {
            Err(_) => {
                let secs = cfg.first_byte.as_secs();
                return Err(Fail::new(OutcomeKind::Timeout, format!("the upstream sent no content within {secs} s")));
            }
            Ok(None) => return Err(Fail::new(OutcomeKind::EmptyResponse, "the upstream stream ended without content")),
            Ok(Some(Err(_))) => return Err(Fail::new(OutcomeKind::ConnectError, "the upstream connection broke")),
            Ok(Some(Ok(chunk))) => chunk,
        };
        chunks += 1;
        if let Err(e) = guarded(&env.faults, &env.stats, || adapter.push(&chunk, &mut pending)) {
            return Err(Fail::adapter(e, "the upstream returned no content"));
        }
        if adapter.has_content() {
            return Ok((status, Ready::Stream { body, pending, chunks, content_type }));
        }
    }
}

/// Runs one attempt. A shutdown that reaches the end of its grace while the attempt still waits
/// for its verdict ends it as cancelled (the caller answers "shutting down").
pub(super) async fn run(client: awc::Client, msg: Execute, env: RunEnv) -> ExecOutcome {
    let Execute { call, lease, ctx, caller } = msg;
    let t0 = Instant::now();
    let mut adapter = call.adapter;
    let defer_auth = call.defer_auth_failure;
    let observer = call.observer;
    let resume = call.resume;
    let verdict = tokio::select! {
        v = attempt(client, call.target, call.stream, &mut adapter, observer.as_deref(), &env, t0) => v,
        () = drained(env.drain.clone()) => Err(Fail::new(OutcomeKind::Cancelled, "the gateway is shutting down")),
        // The caller only ever drops its sender, so any wake-up here means it is gone.
        _ = caller => Err(Fail::new(OutcomeKind::Cancelled, "the client disconnected before a response")),
    };
    let (status, ready) = match verdict {
        Ok(v) => v,
        Err(mut f) => {
            refine(&mut f, &ctx.upstream_model, defer_auth);
            // Invalid frames of an attempt that failed over count too.
            let dropped = adapter.dropped_frames();
            if dropped > 0 {
                env.stats.dropped_frames.fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
            }
            return failed(ctx, lease, f, t0, defer_auth);
        }
    };
    match ready {
        Ready::Whole(client_body, content_type) => {
            let usage = adapter.usage();
            let mut ctx = ctx;
            report(&lease, OutcomeKind::Success, &ctx.upstream_model);
            trace(&mut ctx, &lease, OutcomeKind::Success, Some(status), t0, None);
            let cost = record(&ctx, &lease, 200, None, usage, Some(ctx.started.elapsed()), false);
            ExecOutcome::Complete(Completed { body: client_body, upstream_ms: ms(t0), usage, cost, content_type })
        }
        Ready::Stream { body, pending, chunks, content_type } => {
            // The verdict on a stream comes at its end (an error event after content is a failure,
            // and a success must not reset the breaker before it is one).
            let upstream_ms = ms(t0);
            let ttfb = ctx.started.elapsed();
            let (tx, rx) = mpsc::channel(pending.len().max(1) + 32);
            for b in pending {
                let _ = tx.try_send(b);
            }
            let RunEnv { cfg, faults, stats, drain } = env;
            let finish =
                Finish { ctx, lease, adapter, ttfb, t0, status, chunks, faults, stats, idle: cfg.idle, drain, resume };
            actix_rt::spawn(pump::pump(body, tx, finish));
            ExecOutcome::Started(Started { body: rx, upstream_ms, content_type })
        }
    }
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// The test hook behind `ExecContext::inject_panic` (set only by the fault-injection feature).
pub(super) fn fault_injection_panic() {
    panic!("injected executor fault");
}

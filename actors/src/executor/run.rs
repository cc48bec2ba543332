//! One attempt from request to verdict: send, classify the status, and for a stream read until the
//! first content arrives (so a stalled or empty 200 can still fall over to another account).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::actor::{ExecutorStats, Fault};
use super::pump::{self, Finish};
use super::{AdapterError, Completed, ExecContext, ExecOutcome, Execute, ExecutorConfig, Failure, Started, Target};
use crate::account::messages::AccountOutcome;
use crate::breaker::messages::BreakerOutcome;
use crate::outcome::{OutcomeKind, classify_status, parse_retry_after, retry_hint_from_text};
use crate::router::messages::LeaseGrant;
use crate::usage::actor::Record;
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

/// Tells the account and breaker actors what happened. A success on an account and a breaker
/// that had nothing to reset changes nothing, so it is not sent (no cross-thread wake-up).
pub(super) fn report(lease: &LeaseGrant, kind: OutcomeKind, model: &str) {
    let success = kind == OutcomeKind::Success;
    if let Some(a) = lease.account.as_ref().filter(|_| !(success && lease.account_clean)) {
        a.do_send(AccountOutcome { kind, model: model.to_string() });
    }
    if let Some(b) = lease.breaker.as_ref().filter(|_| !(success && lease.breaker_clean)) {
        b.do_send(BreakerOutcome { kind });
    }
}

/// Appends this attempt to the trace.
pub(super) fn trace(ctx: &mut ExecContext, lease: &LeaseGrant, kind: OutcomeKind, status: Option<u16>, since: Instant) {
    ctx.attempts.push(AttemptTrace {
        provider: lease.provider.to_string(),
        account: lease.account_name.to_string(),
        outcome: kind.label(),
        status,
        ms: since.elapsed().as_millis() as i64,
    });
}

/// Sends the usage event of a finished request.
pub(super) fn record(
    ctx: &ExecContext,
    lease: &LeaseGrant,
    status: u16,
    error: Option<String>,
    tokens: TokenUsage,
    ttfb: Option<Duration>,
    streamed: bool,
) {
    let Some(sink) = &ctx.usage else { return };
    sink.do_send(Record(UsageEvent {
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
        cost: tokens.cost(&ctx.price),
        latency_ms: ctx.started.elapsed().as_millis() as i64,
        ttfb_ms: ttfb.map(|d| d.as_millis() as i64),
        streamed,
        attempts: ctx.attempts.clone(),
    }));
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
}

fn failed(mut ctx: ExecContext, lease: LeaseGrant, f: Fail, since: Instant) -> ExecOutcome {
    report(&lease, f.kind, &ctx.upstream_model);
    trace(&mut ctx, &lease, f.kind, f.status, since);
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

async fn send_http(
    client: &awc::Client,
    target: Target,
    cfg: &ExecutorConfig,
) -> Result<(u16, Option<Duration>, Source), Fail> {
    let reply = match target {
        Target::Local(local) => {
            let r = local.call();
            let body: Source = Box::pin(r.body.map(Ok));
            return Ok((r.status, None, body));
        }
        Target::Http { method, url, headers, body } => {
            let mut req = client.request(method, url.as_str()).no_decompress();
            for (k, v) in &headers {
                req = req.insert_header((k.as_str(), v.as_str()));
            }
            match timeout(cfg.first_byte, req.send_body(body)).await {
                Err(_) => {
                    return Err(Fail::new(OutcomeKind::Timeout, "the upstream did not answer in time"));
                }
                Ok(Err(e)) => {
                    let kind = match e {
                        awc::error::SendRequestError::Timeout => OutcomeKind::Timeout,
                        _ => OutcomeKind::ConnectError,
                    };
                    return Err(Fail::new(kind, format!("cannot reach the upstream: {}", short_send_error(&e))));
                }
                Ok(Ok(r)) => r,
            }
        }
    };
    let status = reply.status().as_u16();
    let retry_after = reply.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let body: Source = Box::pin(reply.map(|r| r.map_err(|_| SourceError::Broken)));
    Ok((status, retry_after, body))
}

fn short_send_error(e: &awc::error::SendRequestError) -> &'static str {
    use awc::error::SendRequestError as E;
    match e {
        E::Url(_) => "invalid URL",
        E::Connect(_) => "connection failed",
        E::Send(_) => "connection broke while sending",
        E::Response(_) => "invalid response",
        E::Http(_) => "invalid request",
        E::H2(_) => "HTTP/2 error",
        E::Timeout => "timed out",
        E::TunnelNotSupported => "tunnel not supported",
        E::Body(_) => "request body error",
        E::Custom(_, _) => "request failed",
        _ => "request failed",
    }
}

async fn read_limited(body: &mut Source, limit: usize, idle: Duration) -> Result<Bytes, Fail> {
    // Most bodies arrive in one chunk: keep it as it is, copy only when there are several.
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    loop {
        match timeout(idle, body.next()).await {
            Err(_) => {
                return Err(Fail::new(OutcomeKind::Timeout, "the upstream stalled while sending its response"));
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

/// Runs one attempt.
pub(super) async fn run(
    client: awc::Client,
    msg: Execute,
    cfg: ExecutorConfig,
    faults: Recipient<Fault>,
    stats: Arc<ExecutorStats>,
) -> ExecOutcome {
    let Execute { call, lease, ctx } = msg;
    let t0 = Instant::now();
    let mut adapter = call.adapter;
    let (status, retry_after, mut body) = match send_http(&client, call.target, &cfg).await {
        Ok(r) => r,
        Err(f) => return failed(ctx, lease, f, t0),
    };
    drop(client);

    if !(200..300).contains(&status) {
        let err_body = read_limited(&mut body, ERROR_BODY_LIMIT, cfg.idle).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&err_body);
        let hint = retry_after.or_else(|| if status == 429 { retry_hint_from_text(&text) } else { None });
        let kind = classify_status(status, hint);
        let f = Fail {
            kind,
            status: Some(status),
            message: format!("the upstream answered {status}"),
            retry_after: hint,
            body: Some(err_body),
        };
        return failed(ctx, lease, f, t0);
    }

    if !call.stream {
        let whole = match read_limited(&mut body, cfg.max_response_bytes, cfg.idle).await {
            Ok(b) => b,
            Err(f) => return failed(ctx, lease, f, t0),
        };
        let converted = guarded(&faults, &stats, || adapter.complete(whole));
        return match converted {
            Ok(client_body) => {
                let usage = adapter.usage();
                let mut ctx = ctx;
                report(&lease, OutcomeKind::Success, &ctx.upstream_model);
                trace(&mut ctx, &lease, OutcomeKind::Success, Some(status), t0);
                record(&ctx, &lease, 200, None, usage, Some(ctx.started.elapsed()), false);
                ExecOutcome::Complete(Completed { body: client_body, upstream_ms: ms(t0), usage })
            }
            Err(AdapterError::Empty) => {
                failed(ctx, lease, Fail::new(OutcomeKind::EmptyResponse, "the upstream returned an empty response"), t0)
            }
            Err(AdapterError::Malformed(m)) => failed(ctx, lease, Fail::new(OutcomeKind::ProtocolError, m), t0),
        };
    }

    // Streaming: read until content arrives, within the first-byte deadline.
    let deadline = t0 + cfg.first_byte;
    let mut pending: Vec<Bytes> = Vec::new();
    let mut chunks = 0usize;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, body.next()).await {
            Err(_) => {
                return failed(ctx, lease, Fail::new(OutcomeKind::Timeout, "the upstream sent no content in time"), t0);
            }
            Ok(None) => {
                return failed(
                    ctx,
                    lease,
                    Fail::new(OutcomeKind::EmptyResponse, "the upstream stream ended without content"),
                    t0,
                );
            }
            Ok(Some(Err(_))) => {
                return failed(ctx, lease, Fail::new(OutcomeKind::ConnectError, "the upstream connection broke"), t0);
            }
            Ok(Some(Ok(chunk))) => {
                chunks += 1;
                let pushed = guarded(&faults, &stats, || adapter.push(&chunk, &mut pending));
                match pushed {
                    Ok(()) => {}
                    Err(AdapterError::Malformed(m)) => {
                        return failed(ctx, lease, Fail::new(OutcomeKind::ProtocolError, m), t0);
                    }
                    Err(AdapterError::Empty) => {
                        return failed(
                            ctx,
                            lease,
                            Fail::new(OutcomeKind::EmptyResponse, "the upstream returned no content"),
                            t0,
                        );
                    }
                }
                if adapter.has_content() {
                    break;
                }
            }
        }
    }

    let upstream_ms = ms(t0);
    let ttfb = ctx.started.elapsed();
    report(&lease, OutcomeKind::Success, &ctx.upstream_model);
    let (tx, rx) = mpsc::channel(pending.len().max(1) + 32);
    for b in pending {
        let _ = tx.try_send(b);
    }
    let finish = Finish { ctx, lease, adapter, ttfb, t0, status, chunks, faults, stats, idle: cfg.idle };
    actix_rt::spawn(pump::pump(body, tx, finish));
    ExecOutcome::Started(Started { body: rx, upstream_ms })
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// The test hook behind `ExecContext::inject_panic` (set only by the fault-injection feature).
pub(super) fn fault_injection_panic() {
    panic!("injected executor fault");
}

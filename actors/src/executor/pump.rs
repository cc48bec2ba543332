//! The rest of a started stream: upstream chunks → adapter → client, with the idle timeout, until
//! the upstream ends, breaks, or the client goes away (which cancels the upstream at once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::actor::{ExecutorStats, Fault};
use super::run::{Source, drained, fault_injection_panic, guarded, record, report, trace};
use super::{AdapterError, ExecContext, ResponseAdapter, Resumed, StreamEnd};
use crate::outcome::OutcomeKind;
use crate::router::messages::LeaseGrant;

/// Everything the pump needs to finish the request.
pub(super) struct Finish {
    pub ctx: ExecContext,
    pub lease: LeaseGrant,
    pub adapter: Box<dyn ResponseAdapter>,
    pub ttfb: Duration,
    pub t0: Instant,
    pub status: u16,
    pub chunks: usize,
    pub faults: Recipient<Fault>,
    pub stats: Arc<ExecutorStats>,
    pub idle: Duration,
    pub drain: watch::Receiver<bool>,
    pub resume: Option<tokio::sync::oneshot::Sender<Resumed>>,
}

enum End {
    Clean,
    Broken(OutcomeKind, &'static str),
    /// The upstream reported an error after content; the adapter already relayed it.
    Upstream(OutcomeKind, String),
    ClientGone,
    /// The shutdown grace is nearly over: the stream ends now, cleanly framed, with an error event.
    Shutdown,
}

async fn deliver(tx: &mpsc::Sender<Bytes>, out: &mut Vec<Bytes>) -> bool {
    for b in out.drain(..) {
        if tx.send(b).await.is_err() {
            return false;
        }
    }
    true
}

/// Pumps the stream to its end, then reports the outcome and records usage.
pub(super) async fn pump(mut body: Source, tx: mpsc::Sender<Bytes>, f: Finish) {
    let Finish { mut ctx, lease, mut adapter, ttfb, t0, status, mut chunks, faults, stats, idle, drain, resume } = f;
    let mut tx = tx;
    let mut out = Vec::new();
    let drained = drained(drain);
    tokio::pin!(drained);
    let end = loop {
        let next = tokio::select! {
            biased;
            _ = tx.closed() => break End::ClientGone,
            () = &mut drained => break End::Shutdown,
            n = timeout(idle, body.next()) => n,
        };
        match next {
            Err(_) => break End::Broken(OutcomeKind::Timeout, "the upstream stalled mid-stream"),
            Ok(None) if adapter.terminated() => break End::Clean,
            Ok(None) => {
                break End::Broken(OutcomeKind::ProtocolError, "the upstream stream ended before it was complete");
            }
            Ok(Some(Err(_))) => {
                break End::Broken(OutcomeKind::ConnectError, "the upstream connection broke mid-stream");
            }
            Ok(Some(Ok(chunk))) => {
                chunks += 1;
                let inject = ctx.inject_panic;
                let pushed = guarded(&faults, &stats, || {
                    if inject {
                        fault_injection_panic();
                    }
                    adapter.push(&chunk, &mut out)
                });
                match pushed {
                    Ok(()) => {}
                    Err(AdapterError::Malformed(_) | AdapterError::Empty) => {
                        break End::Broken(OutcomeKind::ProtocolError, "the upstream sent a malformed stream");
                    }
                    Err(AdapterError::Upstream(f)) => break End::Upstream(f.kind, f.message),
                }
                if !deliver(&tx, &mut out).await {
                    break End::ClientGone;
                }
                if let Some(f) = adapter.fault() {
                    break End::Upstream(f.kind, f.message.clone());
                }
            }
        }
    };
    // Stop reading the upstream now: dropping the body closes the connection.
    drop(body);
    // Mid-stream failover: a break after text goes back to the caller, who continues the same
    // client stream with another upstream; this attempt is over (and counted as the failure it is).
    let mut reported = false;
    if let (End::Broken(kind, msg), Some(resume)) = (&end, resume)
        && let Some(text) = adapter.resume_point()
    {
        report(&lease, *kind, &ctx.upstream_model);
        trace(&mut ctx, &lease, *kind, Some(status), t0, Some(msg));
        let handed = Resumed { client: tx, adapter, ctx, text, kind: *kind, message: msg.to_string() };
        match resume.send(handed) {
            Ok(()) => return,
            // Nobody continues it after all: end it here as any broken stream ends.
            Err(back) => {
                (tx, adapter, ctx) = (back.client, back.adapter, back.ctx);
                ctx.attempts.pop();
                reported = true;
            }
        }
    }
    let (kind, client_status, error) = match &end {
        End::Clean => (OutcomeKind::Success, status, None),
        End::Broken(kind, msg) => (*kind, status, Some(msg.to_string())),
        End::Upstream(kind, msg) => (*kind, status, Some(format!("the upstream reported an error: {msg}"))),
        End::ClientGone => (OutcomeKind::Cancelled, 499, Some("the client disconnected".to_string())),
        // Nobody's fault: no health changes, but the client and the usage row say what happened.
        End::Shutdown => {
            (OutcomeKind::Cancelled, status, Some("the gateway shut down before the stream ended".to_string()))
        }
    };
    if !matches!(end, End::ClientGone) {
        // The adapter relays an upstream error itself; only our own reasons are passed in.
        let reason = match &end {
            End::Broken(kind, msg) => Some(StreamEnd { kind: *kind, message: msg }),
            End::Shutdown => {
                Some(StreamEnd { kind: OutcomeKind::Cancelled, message: error.as_deref().unwrap_or_default() })
            }
            End::Clean | End::Upstream(..) | End::ClientGone => None,
        };
        let closed = guarded(&faults, &stats, || {
            adapter.finish(reason, &mut out);
            Ok(())
        });
        if closed.is_ok() {
            deliver(&tx, &mut out).await;
        }
    }
    // The outcome is on record before the client sees the stream end: its next request meets the
    // health this one left (a success has ended the provider's fault streak).
    if !reported {
        report(&lease, kind, &ctx.upstream_model);
    }
    if matches!(end, End::Clean)
        && let Some(flag) = &ctx.clean_end
    {
        flag.store(true, std::sync::atomic::Ordering::Release);
    }
    drop(tx);
    trace(&mut ctx, &lease, kind, Some(status), t0, error.as_deref());
    let dropped = adapter.dropped_frames();
    if dropped > 0 {
        stats.dropped_frames.fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(request_id = %ctx.request_id, dropped, "invalid upstream frames dropped");
    }
    let usage = adapter.usage();
    tracing::debug!(request_id = %ctx.request_id, chunks, outcome = kind.label(), "stream finished");
    let _ = record(&ctx, &lease, client_status, error, usage, Some(ttfb), true);
    drop(lease);
}

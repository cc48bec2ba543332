//! Executors: one per worker thread, supervised, each owning its thread's `awc::Client`.
//!
//! The executor knows nothing of wire formats: the root hands it an `UpstreamCall` (where to send
//! what) and a `ResponseAdapter` (how to turn upstream bytes into the client's bytes and read
//! usage). It answers as soon as it knows whether the attempt started: `Started` (a stream whose
//! first content arrived), `Complete` (a whole body) or `Failed` (nothing reached the client, so
//! the caller may try another account).

pub mod actor;
pub mod eof_body;
mod pump;
mod run;

use std::time::{Duration, Instant};

use actix::Message;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;

use crate::outcome::OutcomeKind;
use crate::router::messages::LeaseGrant;
use crate::usage::inbox::UsageInbox;
use crate::usage::{AttemptTrace, TokenUsage, UsageEvent};

/// Why an adapter could not use an upstream body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterError {
    /// A 200 without content.
    Empty,
    /// The upstream broke its protocol.
    Malformed(String),
    /// The upstream reported an error inside a 200 answer (an error event before any content,
    /// or an error object instead of an answer).
    Upstream(UpstreamFault),
}

/// An error the upstream reported inside a 200 answer, classified by the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFault {
    /// How it counts (a server error falls over and trips the breaker, an invalid request is
    /// passed on, ...).
    pub kind: OutcomeKind,
    /// The HTTP status the same error would have had as a plain answer.
    pub status: u16,
    /// Its message.
    pub message: String,
    /// The upstream's error object, in its own dialect (for passing its type and code on).
    pub body: Bytes,
}

/// Why the executor ends a stream early (the adapter closes it in the client's dialect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd<'a> {
    /// What happened.
    pub kind: OutcomeKind,
    /// Words for the client.
    pub message: &'a str,
}

/// Turns upstream bytes into client bytes (same dialect: a light passthrough; otherwise a
/// translation) and reads usage on the way. Implemented by the root crate.
pub trait ResponseAdapter: Send + 'static {
    /// Streaming: one chunk of the upstream body; appends what the client should get now.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), AdapterError>;
    /// Streaming: the upstream ended, cleanly (`None`) or not; appends the client's terminal
    /// events (an error event first when `error` is set and the adapter has not already relayed
    /// the upstream's own).
    fn finish(&mut self, error: Option<StreamEnd<'_>>, out: &mut Vec<Bytes>);
    /// Non-streaming: the whole upstream body → the client body (a passthrough returns it as is).
    fn complete(&mut self, body: Bytes) -> Result<Bytes, AdapterError>;
    /// Whether real content (text, tool call, reasoning) has been seen.
    fn has_content(&self) -> bool;
    /// Whether the upstream's own end of stream (`[DONE]`, `message_stop`, a finish reason, ...)
    /// has been seen; a stream that closes without it ended abruptly.
    fn terminated(&self) -> bool;
    /// Token usage seen so far.
    fn usage(&self) -> TokenUsage;
    /// Upstream frames that were not valid for the dialect (garbage lines, unparseable data),
    /// dropped instead of being forwarded.
    fn dropped_frames(&self) -> u64 {
        0
    }
    /// An error the upstream reported after content had reached the client (already relayed to
    /// the client in its dialect): the stream is over, and the attempt counts as this failure.
    fn fault(&self) -> Option<&UpstreamFault> {
        None
    }
    /// Streaming, after the upstream broke: the text the client has been sent, when the stream
    /// can be continued by another upstream (text only so far: no tool call begun, no error
    /// relayed); `None` when it cannot.
    fn resume_point(&self) -> Option<String> {
        None
    }
    /// Makes this client stream go on with another upstream's events; `next` (a type of the
    /// implementor's crate) says whose. `false` when it cannot.
    fn resume(&mut self, next: &dyn std::any::Any) -> bool {
        let _ = next;
        false
    }
}

/// Told the real cost of a request once its usage is recorded (a key's budget settles its
/// reservation with it). Called on the executor's thread; must not block.
pub trait SpendSink: Send + Sync + std::fmt::Debug + 'static {
    /// The request cost `usd` (0 when unpriced or not served).
    fn settle(&self, usd: f64);
}

/// A stream that broke after text reached the client, handed back to whoever asked for it
/// (`UpstreamCall::resume`) to be continued by another upstream: the client's channel, the
/// adapter holding the client stream's state, and the request context (this attempt traced).
pub struct Resumed {
    /// Where the client's bytes go.
    pub client: mpsc::Sender<Bytes>,
    /// The client stream's state.
    pub adapter: Box<dyn ResponseAdapter>,
    /// The request, with the broken attempt in its trace.
    pub ctx: ExecContext,
    /// The text the client has been sent.
    pub text: String,
    /// Why the stream broke.
    pub kind: OutcomeKind,
    /// The same, in words.
    pub message: String,
}

/// A built-in upstream that needs no network (the demo provider).
pub trait LocalUpstream: Send + 'static {
    /// Produces the reply.
    fn call(self: Box<Self>) -> LocalReply;
}

/// A local upstream's reply.
pub struct LocalReply {
    /// HTTP status.
    pub status: u16,
    /// The body, whole or as chunks.
    pub body: BoxStream<'static, Bytes>,
}

/// Where an attempt goes.
pub enum Target {
    /// An HTTP upstream.
    Http {
        /// Method.
        method: awc::http::Method,
        /// Full URL (may carry a query key).
        url: String,
        /// Request headers, credentials included.
        headers: Vec<(String, String)>,
        /// Request body.
        body: Bytes,
    },
    /// An HTTP upstream whose body is streamed from a source that can be read again for every
    /// attempt (a spooled multipart upload): never held whole in memory.
    Upload {
        /// Method.
        method: awc::http::Method,
        /// Full URL (may carry a query key).
        url: String,
        /// Request headers, credentials included (`content-type` names the body's own).
        headers: Vec<(String, String)>,
        /// Where the body is read from, once per send.
        body: std::sync::Arc<dyn BodySource>,
    },
    /// A local upstream.
    Local(Box<dyn LocalUpstream>),
}

/// A request body streamed to the upstream, opened afresh for every send (a failover or a resend
/// on a fresh connection reads it again from its start).
pub trait BodySource: Send + Sync + 'static {
    /// Its exact length in bytes (sent as `Content-Length`).
    fn len(&self) -> u64;
    /// Whether it is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Its bytes from the start, in chunks; an error ends the send.
    fn open(&self) -> futures_util::stream::LocalBoxStream<'static, Result<Bytes, std::io::Error>>;
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print headers: they carry the credential.
            Self::Http { method, url, .. } => {
                write!(f, "Http({method} {})", url.split('?').next().unwrap_or(url))
            }
            Self::Upload { method, url, body, .. } => {
                write!(f, "Upload({method} {}, {} bytes)", url.split('?').next().unwrap_or(url), body.len())
            }
            Self::Local(_) => f.write_str("Local"),
        }
    }
}

/// Hears the status and headers of every upstream answer of an attempt (and the body of an
/// error answer): the quota tracker reads rate-limit windows from them. Called on the
/// executor's thread; must not block.
pub trait ResponseObserver: Send + Sync + 'static {
    /// One answer: its status, headers, and the (bounded) body when it is an error.
    fn observe(&self, status: u16, headers: &awc::http::header::HeaderMap, error_body: Option<&[u8]>);
}

/// One upstream attempt.
pub struct UpstreamCall {
    /// Where it goes.
    pub target: Target,
    /// Whether the response is a stream.
    pub stream: bool,
    /// How the response becomes the client's.
    pub adapter: Box<dyn ResponseAdapter>,
    /// A 401 is the caller's to handle (an OAuth account refreshes its token and retries once on
    /// the same account): it is not reported to the account, so the retry finds it leasable.
    pub defer_auth_failure: bool,
    /// Told what the upstream answered (quota tracking), if anyone listens.
    pub observer: Option<std::sync::Arc<dyn ResponseObserver>>,
    /// Mid-stream failover: a stream that breaks after text (and whose adapter can go on) is
    /// handed back here instead of being ended.
    pub resume: Option<tokio::sync::oneshot::Sender<Resumed>>,
}

impl UpstreamCall {
    /// A call with nothing deferred and nobody observing.
    pub fn new(target: Target, stream: bool, adapter: Box<dyn ResponseAdapter>) -> Self {
        Self { target, stream, adapter, defer_auth_failure: false, observer: None, resume: None }
    }
}

/// What is recorded about the request this attempt belongs to.
#[derive(Debug, Clone)]
pub struct ExecContext {
    /// Request id.
    pub request_id: String,
    /// Gateway key name.
    pub key_name: Option<String>,
    /// Client dialect label.
    pub client_dialect: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// `provider/model` being tried.
    pub model_label: String,
    /// Upstream model id (for model lockouts).
    pub upstream_model: String,
    /// When the request arrived.
    pub started: Instant,
    /// The same, as ms since the epoch.
    pub ts: i64,
    /// Earlier attempts of this request.
    pub attempts: Vec<AttemptTrace>,
    /// The price of the model being tried (`None`: no pricing row matches it).
    pub price: Option<crate::usage::cost::Price>,
    /// The account being tried is a subscription (OAuth) account: $0 at the margin.
    pub subscription: bool,
    /// Where usage goes (`None`: not recorded).
    pub usage: Option<UsageInbox>,
    /// Test hook: make the stream translation panic after its first chunk.
    pub inject_panic: bool,
    /// Names of the request transforms applied to the attempt being tried.
    pub transforms: Vec<String>,
    /// Told the request's cost when its usage is recorded (a key budget's reservation).
    pub spend: Option<std::sync::Arc<dyn SpendSink>>,
    /// Set (before the client sees the stream end) when a stream ended cleanly: the whole answer
    /// reached the client, no break, no error event. The response cache stores only such streams.
    pub clean_end: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Sends one attempt upstream.
#[derive(Message)]
#[rtype(result = "ExecOutcome")]
pub struct Execute {
    /// The call.
    pub call: UpstreamCall,
    /// The lease it runs under (held until the response ends).
    pub lease: LeaseGrant,
    /// Request context.
    pub ctx: ExecContext,
    /// Resolves when the caller gave up (its sender was dropped: the client went away before an
    /// answer): the attempt stops at once, freeing its upstream connection and its lease.
    pub caller: tokio::sync::oneshot::Receiver<()>,
}

/// A stream whose first content arrived.
#[derive(Debug)]
pub struct Started {
    /// Client-bound chunks; dropping the receiver cancels the upstream.
    pub body: mpsc::Receiver<Bytes>,
    /// Time spent waiting for the upstream (request sent → first content), ms.
    pub upstream_ms: f64,
    /// The upstream's `Content-Type` (passed on by the surfaces that answer as the upstream did).
    pub content_type: Option<String>,
}

/// A whole non-streaming response.
#[derive(Debug)]
pub struct Completed {
    /// The client body.
    pub body: Bytes,
    /// Time spent waiting for the upstream, ms.
    pub upstream_ms: f64,
    /// Usage read from it.
    pub usage: TokenUsage,
    /// What it cost (as recorded).
    pub cost: crate::usage::cost::Cost,
    /// The upstream's `Content-Type` (passed on by the surfaces that answer as the upstream did).
    pub content_type: Option<String>,
}

/// An attempt that failed before anything reached the client.
#[derive(Debug)]
pub struct Failure {
    /// Classification.
    pub kind: OutcomeKind,
    /// Upstream status, if one came.
    pub status: Option<u16>,
    /// A message safe to show (no upstream secrets).
    pub message: String,
    /// Upstream's wait hint.
    pub retry_after: Option<Duration>,
    /// The upstream error body (bounded), for passing on a client error.
    pub upstream_body: Option<Bytes>,
    /// The account that failed.
    pub account_id: i64,
    /// The request context, with this attempt appended to its trace.
    pub ctx: ExecContext,
    /// Set by the caller once it holds the failure; a failure nobody received (the client left
    /// while it was on its way) records the request's usage row itself.
    pub received: bool,
}

impl Drop for Failure {
    fn drop(&mut self) {
        if !self.received {
            self.ctx.record_unserved(499, "the client disconnected before a response".into());
        }
    }
}

impl ExecContext {
    /// Records the usage row of a request that ends without an upstream answer reaching the
    /// client (a final failure, or a client that left first).
    pub fn record_unserved(&self, status: u16, error: String) {
        if let Some(s) = &self.spend {
            s.settle(0.0);
        }
        let Some(sink) = &self.usage else { return };
        let last = self.attempts.last();
        sink.send(UsageEvent {
            ts: self.ts,
            request_id: self.request_id.clone(),
            key_name: self.key_name.clone(),
            client_dialect: self.client_dialect.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            provider: last.map(|a| a.provider.clone()),
            account: last.map(|a| a.account.clone()),
            model: self.model_label.clone(),
            status,
            error: Some(error),
            tokens: TokenUsage::default(),
            cost: crate::usage::cost::Cost::assess(&TokenUsage::default(), self.price.as_ref(), self.subscription),
            latency_ms: self.started.elapsed().as_millis() as i64,
            ttfb_ms: None,
            streamed: false,
            attempts: self.attempts.clone(),
            transforms: self.transforms.clone(),
        });
    }

    /// Records a request answered without an upstream call (a cache hit or an idempotent
    /// replay): status `status`, no tokens, $0 with the `cache` source, so budgets and token
    /// figures never count the answer twice.
    pub fn record_replayed(&self, status: u16, streamed: bool) {
        if let Some(s) = &self.spend {
            s.settle(0.0);
        }
        let Some(sink) = &self.usage else { return };
        let cost =
            crate::usage::cost::Cost { usd: Some(0.0), list_usd: None, source: crate::usage::cost::CostSource::Cache };
        sink.send(UsageEvent {
            ts: self.ts,
            request_id: self.request_id.clone(),
            key_name: self.key_name.clone(),
            client_dialect: self.client_dialect.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            provider: None,
            account: None,
            model: self.model_label.clone(),
            status,
            error: None,
            tokens: TokenUsage::default(),
            cost,
            latency_ms: self.started.elapsed().as_millis() as i64,
            ttfb_ms: Some(self.started.elapsed().as_millis() as i64),
            streamed,
            attempts: Vec::new(),
            transforms: Vec::new(),
        });
    }
}

/// The answer to `Execute`.
#[derive(Debug)]
pub enum ExecOutcome {
    /// Streaming; the executor records usage when it ends.
    Started(Started),
    /// Complete; usage recorded.
    Complete(Completed),
    /// Failed before the client saw anything; usage not recorded.
    Failed(Box<Failure>),
}

/// Timeouts and limits of upstream calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// Request sent → first content.
    pub first_byte: Duration,
    /// Between two chunks.
    pub idle: Duration,
    /// Request sent → last byte of a non-streamed response (a slow trickle cannot hold it forever).
    pub total: Duration,
    /// Pooled connections (0: unlimited).
    pub max_connections: usize,
    /// Largest non-streaming body.
    pub max_response_bytes: usize,
}

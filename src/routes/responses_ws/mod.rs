//! The OpenAI Responses API over WebSocket (`GET /v1/responses` with an upgrade), as current
//! Codex CLI speaks it: each `response.create` message runs through `pipeline::serve` exactly like
//! a streaming `POST /v1/responses` (routing, translation, fallback, usage rows, key patterns),
//! and the events of its SSE body go back as text messages, one response at a time. It owns the
//! socket's loop and its one remembered response; it must not route, translate or store anything.

pub mod message;

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError, Session};
use actors::executor::actor::ExecutorActor;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use self::message::{ClientMessage, Last, Tally};
use super::common::{Intake, meta, permitted_targets, refuse};
use crate::auth::client_key;
use crate::error::GatewayError;
use crate::protocol::Dialect;
use crate::protocol::shape::{self, Surface};
use crate::sse::SseParser;
use crate::state::AppState;

const D: Dialect = Dialect::OpenaiResponses;

/// How often an idle socket is pinged; one that has said nothing (not even a pong) for three
/// such periods is closed as gone.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// `GET /v1/responses`: the key is checked on the upgrade request (refused with the HTTP error,
/// before upgrading); then the socket is served by its own task.
pub async fn upgrade(
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    payload: web::Payload,
) -> HttpResponse {
    let key = match client_key(&req, &state, D) {
        Ok(k) => k,
        Err(e) => return refuse(&req, &state, None, "", D, e),
    };
    let (resp, session, stream) = match actix_ws::handle(&req, payload) {
        Ok(v) => v,
        Err(_) => {
            let e = GatewayError::BadRequest(
                "`GET /v1/responses` is the Responses API over WebSocket: send a WebSocket upgrade \
                 (`Connection: Upgrade`, `Upgrade: websocket`), or `POST /v1/responses` over HTTP"
                    .into(),
            );
            return refuse(&req, &state, key.as_ref(), "", D, e);
        }
    };
    // A message is a request body: the same bound as `POST /v1/responses`.
    let limit = state.config.server.max_body_mib.saturating_mul(1024 * 1024);
    let stream = stream.max_frame_size(limit).aggregate_continuations().max_continuation_size(limit);
    let socket = Socket { req, state, exec, key, session, limit, last: None };
    actix_web::rt::spawn(socket.run(stream));
    resp
}

/// One client socket.
struct Socket {
    req: HttpRequest,
    state: web::Data<AppState>,
    exec: web::Data<Addr<ExecutorActor>>,
    key: Option<crate::keys::KeyInfo>,
    session: Session,
    limit: usize,
    /// The last completed response, for a continuation (`previous_response_id`).
    last: Option<Last>,
}

/// The client is gone (or the socket broke): stop.
struct Gone;

impl Socket {
    async fn run(mut self, mut stream: AggregatedMessageStream) {
        let mut turn: Option<Turn> = None;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        let mut heard = Instant::now();
        let mut drained = std::pin::pin!(drained(self.state.runtime.drain.subscribe()));
        let close: Option<CloseReason> = loop {
            tokio::select! {
                msg = stream.recv() => {
                    heard = Instant::now();
                    match msg {
                        None => break None,
                        Some(Err(e)) => break Some(protocol_close(&e)),
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            if self.on_text(&text, &mut turn).await.is_err() {
                                break None;
                            }
                        }
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            let e = GatewayError::BadRequest("send messages as JSON text, not binary".into());
                            if self.refuse(e).await.is_err() {
                                break None;
                            }
                        }
                        Some(Ok(AggregatedMessage::Ping(b))) => {
                            if self.session.pong(&b).await.is_err() {
                                break None;
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Close(reason))) => {
                            break Some(reason.unwrap_or_else(|| CloseCode::Normal.into()));
                        }
                    }
                }
                step = next_step(&mut turn), if turn.is_some() => match step {
                    Some(text) => {
                        if self.session.text(text).await.is_err() {
                            break None;
                        }
                    }
                    None => {
                        if let Some(t) = turn.take() {
                            self.last = t.tally.finish(t.input, t.session);
                        }
                    }
                },
                _ = beat.tick() => {
                    if heard.elapsed() > HEARTBEAT * 3 {
                        break Some(CloseReason { code: CloseCode::Away, description: Some("no answer to pings".into()) });
                    }
                    if self.session.ping(b"").await.is_err() {
                        break None;
                    }
                }
                () = &mut drained => {
                    break Some(CloseReason { code: CloseCode::Restart, description: Some("the gateway is shutting down".into()) });
                }
            }
        };
        // Dropping the turn drops the pipeline's body: the executor sees the client go, stops the
        // upstream call, frees the lease and records the request (499).
        drop(turn);
        let _ = self.session.close(close).await;
    }

    /// One text message: a new turn, an acknowledgement, or an error event.
    async fn on_text(&mut self, text: &str, turn: &mut Option<Turn>) -> Result<(), Gone> {
        let create = match message::read(text) {
            Ok(ClientMessage::Create(c)) => c,
            Ok(ClientMessage::Processed) => return Ok(()),
            Err(e) => return self.refuse(e).await,
        };
        if turn.is_some() {
            // Codex sends the next `response.create` only after `response.completed`: the socket
            // serves one response at a time (open another socket to run two).
            let e = GatewayError::BadRequest(
                "a response is already in progress on this socket; send the next `response.create` after \
                 its `response.completed`, or open another connection"
                    .into(),
            );
            return self.refuse(e).await;
        }
        match self.start(create) {
            Ok(Started::Turn(t)) => {
                *turn = Some(*t);
                Ok(())
            }
            Ok(Started::Warmup(events)) => {
                for ev in events {
                    self.send(&ev).await?;
                }
                Ok(())
            }
            Err((model, e)) => self.refuse_model(&model, e).await,
        }
    }

    /// Checks a `response.create` as `POST /v1/responses` would and starts its turn (or answers
    /// a warm-up). The error carries the model when it was read.
    fn start(&mut self, create: message::Create) -> Result<Started, (String, GatewayError)> {
        let mut body = create.body;
        shape::check(Surface::Generate(D), &body).map_err(|e| (String::new(), GatewayError::BadRequest(e)))?;
        shape::required(Surface::Generate(D), &body).map_err(|e| (String::new(), GatewayError::BadRequest(e)))?;
        let continued = message::expand(&mut body, self.last.as_ref()).map_err(|e| (String::new(), e))?;
        let input = message::input_items(&body).map_err(|e| (String::new(), e))?;
        let carried = if continued { self.last.as_ref().and_then(|l| l.session.clone()) } else { None };
        let bytes = bytes::Bytes::from(body.to_vec());
        if bytes.len() > self.limit {
            let e = GatewayError::PayloadTooLarge(format!(
                "the conversation this continuation makes exceeds {} MiB; start a new connection",
                self.limit / (1024 * 1024)
            ));
            return Err((String::new(), e));
        }
        let headers = message::without_ws_beta(crate::providers::call::forwardable(self.req.headers()));
        let thinking = self
            .req
            .headers()
            .get(crate::translate::thinking::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| super::common::echo(s, 32));
        let inp = Intake { key: self.key.clone(), body: bytes, object: body, headers, thinking };
        let model = inp.model().map_err(|e| (String::new(), e))?;
        if !create.generate {
            // Nothing is asked of an upstream: the model and key are checked, the state kept.
            permitted_targets(&self.state, self.key.as_ref(), &model).map_err(|e| (model.clone(), e))?;
            let id = crate::translate::canonical::new_id("resp_");
            let now = actors::clock::now_ms() / 1000;
            let events = message::warmup_events(&id, &model, now);
            self.last = Some(Last { id, input, output: Vec::new(), session: carried });
            return Ok(Started::Warmup(events));
        }
        // Each message is its own request: its own id, the socket's key, headers and session.
        let mut m = meta(&self.req, self.key.clone());
        m.request_id = uuid::Uuid::now_v7().to_string();
        // The upgrade's headers are the socket's: an idempotency key there names no one turn.
        (m.idempotency_key, m.client_request_id) = (None, false);
        m.session = m.session.or(carried);
        let plan = inp.plan(D, crate::pipeline::Op::Generate);
        let inbound = crate::pipeline::Inbound { model, stream: true, plan, pinned: None };
        let (state, exec) = (self.state.clone(), self.exec.clone());
        let serve: LocalBoxFuture<'static, HttpResponse> =
            Box::pin(async move { crate::pipeline::serve(&state, &exec, m, inbound).await });
        // A new turn forgets the last response: only the one it makes can be continued.
        self.last = None;
        Ok(Started::Turn(Box::new(Turn {
            serve: Some(serve),
            body: None,
            parser: SseParser::new(),
            pending: VecDeque::new(),
            tally: Tally::default(),
            input,
            session: None,
            done: false,
        })))
    }

    /// Answers a refused message with an error event (and its usage row, as over HTTP).
    async fn refuse(&mut self, e: GatewayError) -> Result<(), Gone> {
        self.refuse_model("", e).await
    }

    async fn refuse_model(&mut self, model: &str, e: GatewayError) -> Result<(), Gone> {
        let resp = refuse(&self.req, &self.state, self.key.as_ref(), model, D, e);
        let ev = error_of(resp).await;
        self.send(&ev).await
    }

    async fn send(&mut self, ev: &Value) -> Result<(), Gone> {
        self.session.text(ev.to_string()).await.map_err(|_| Gone)
    }
}

/// What a `response.create` started.
enum Started {
    /// A turn through the pipeline.
    Turn(Box<Turn>),
    /// A warm-up, answered at once.
    Warmup([Value; 2]),
}

/// One response in flight: the pipeline's future, then its SSE body, split into event messages.
struct Turn {
    serve: Option<LocalBoxFuture<'static, HttpResponse>>,
    body: Option<BoxBody>,
    parser: SseParser,
    pending: VecDeque<String>,
    tally: Tally,
    /// The whole input this turn answers (kept for a continuation).
    input: Vec<Value>,
    /// The session the pipeline served it under.
    session: Option<String>,
    done: bool,
}

/// The next message of the turn, `None` once it is over. Safe to cancel (the select loop drops it
/// when a client message arrives first): all progress lives in `Turn`.
async fn next_step(turn: &mut Option<Turn>) -> Option<String> {
    let t = turn.as_mut()?;
    loop {
        if let Some(s) = t.pending.pop_front() {
            return Some(s);
        }
        if t.done {
            return None;
        }
        if let Some(fut) = t.serve.as_mut() {
            let resp = fut.await;
            t.serve = None;
            t.session = resp.headers().get("x-omnigate-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            let streamed = resp
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("text/event-stream"));
            if resp.status().is_success() && streamed {
                t.body = Some(resp.into_body());
                continue;
            }
            let ev = if resp.status().is_success() {
                // A whole answer (no upstream streams here today): delivered as its completion.
                let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap_or_default();
                let response: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                serde_json::json!({"type": "response.completed", "response": response})
            } else {
                error_of(resp).await
            };
            t.tally.see(&ev);
            t.pending.push_back(ev.to_string());
            t.done = true;
            continue;
        }
        let Some(body) = t.body.as_mut() else {
            t.done = true;
            continue;
        };
        let chunk = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await;
        let mut events = Vec::new();
        match chunk {
            Some(Ok(bytes)) => t.parser.push(&bytes, &mut events),
            // The pipeline's body ends its stream with the dialect's terminal events itself; a
            // body error means it could not, and the turn is over.
            Some(Err(_)) | None => {
                t.parser.finish(&mut events);
                t.body = None;
                t.done = true;
            }
        }
        for ev in events {
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else { continue };
            t.tally.see(&v);
            // The event's JSON already carries its `type`: it is the message, as it came.
            t.pending.push_back(ev.data);
        }
    }
}

/// Resolves when the shutdown's grace is nearly over (never, if the signal is gone): sockets
/// close then, so clients reconnect to the next instance instead of being cut.
async fn drained(mut rx: tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// An HTTP error answer as the socket's error event.
async fn error_of(resp: HttpResponse) -> Value {
    let status = resp.status().as_u16();
    let mut headers: Vec<(&str, String)> = Vec::new();
    for name in ["retry-after", "x-should-retry", "x-request-id"] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.push((name, v.to_string()));
        }
    }
    let body = actix_web::body::to_bytes(resp.into_body()).await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    message::error_event(status, &body, &headers)
}

/// The close frame for a broken or oversized client frame.
fn protocol_close(e: &ProtocolError) -> CloseReason {
    match e {
        ProtocolError::Overflow => {
            CloseReason { code: CloseCode::Size, description: Some("the message exceeds the size limit".into()) }
        }
        ProtocolError::UnmaskedFrame
        | ProtocolError::MaskedFrame
        | ProtocolError::InvalidOpcode(_)
        | ProtocolError::InvalidLength(_)
        | ProtocolError::BadOpCode
        | ProtocolError::ContinuationNotStarted
        | ProtocolError::ContinuationStarted
        | ProtocolError::ContinuationFragment(_)
        | ProtocolError::Io(_) => CloseReason { code: CloseCode::Protocol, description: None },
    }
}

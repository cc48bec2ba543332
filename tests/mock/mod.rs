//! Our mock upstream: an actix-web server on 127.0.0.1:0 speaking the providers' dialects, with
//! scripted replies per credential (status + Retry-After, stalls, slow first byte, drop after N
//! events, malformed frames, delays), request recording, hit counts and cancelled-stream counts.
//! Shared by the integration tests and the benchmark.

#![allow(dead_code)]

pub mod media;
pub mod oauth;
pub mod strict;
pub mod subscription;
pub mod surfaces;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use serde_json::{Value, json};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A chat completion (stream or not, following the request) with this text.
    Text(String),
    /// A JSON body with a status.
    Json { status: u16, body: Value, retry_after: Option<String> },
    /// Raw SSE frames (each one write), `delay` between them, `first_delay` before the first,
    /// and optionally the connection dropped after `drop_after` frames.
    Sse { frames: Vec<String>, first_delay: Duration, delay: Duration, drop_after: Option<usize> },
    /// Never answer (until the client gives up).
    Stall,
    /// A redirect (`status` 3xx) to `location`.
    Redirect { status: u16, location: String },
    /// 200 with an empty body.
    Empty,
    /// The golden fixture of the request's dialect: `response_<kind>.json`, or
    /// `stream_<kind>.sse` sent one event per write with `delay` between events.
    Fixture { kind: &'static str, delay: Duration },
    /// Another reply with these response headers added (rate-limit headers, say).
    WithHeaders { headers: Vec<(String, String)>, reply: Box<Reply> },
    /// An error status whose message quotes the credential the request carried (as some
    /// upstreams do): what must never reach a client or a log unredacted.
    EchoAuth(u16),
    /// `whole` for a request that does not stream, `streamed` for one that does.
    ByStream { whole: Box<Reply>, streamed: Box<Reply> },
}

/// The dialect directory of an upstream path.
pub fn dialect_of(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    if path.contains(":generateContent") || path.contains(":streamGenerateContent") {
        "gemini"
    } else if path.ends_with("/messages") || path.ends_with("/messages/count_tokens") {
        "anthropic"
    } else if path.ends_with("/responses") {
        "openai-responses"
    } else {
        "openai-chat"
    }
}

/// Reads a golden fixture file.
pub fn fixture(dialect: &str, file: &str) -> String {
    let p = format!("{}/tests/fixtures/{dialect}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
}

/// Splits an SSE fixture into its events (each with its blank line).
pub fn sse_events(text: &str) -> Vec<String> {
    let sep = if text.contains("\r\n\r\n") { "\r\n\r\n" } else { "\n\n" };
    text.split(sep).filter(|e| !e.trim().is_empty()).map(|e| format!("{e}{sep}")).collect()
}

impl Reply {
    /// An error status with an OpenAI-shaped body.
    pub fn status(status: u16) -> Self {
        Reply::Json {
            status,
            body: json!({"error": {"message": format!("mock error {status}"), "type": "mock"}}),
            retry_after: None,
        }
    }

    /// A 429 with `Retry-After`.
    pub fn rate_limited(retry_after: &str) -> Self {
        Reply::Json {
            status: 429,
            body: json!({"error": {"message": "Rate limit reached", "type": "rate_limit"}}),
            retry_after: Some(retry_after.into()),
        }
    }

    /// OpenAI chat SSE frames for `words`, with usage.
    pub fn chat_frames(words: &[&str], with_usage: bool) -> Vec<String> {
        let mut f = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        for w in words {
            f.push(chunk(json!({"content": w}), None));
        }
        f.push(chunk(json!({}), Some("stop")));
        if with_usage {
            f.push(format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": "mock-model", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": words.len(), "total_tokens": 10 + words.len()}})
            ));
        }
        f.push("data: [DONE]\n\n".into());
        f
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": "mock-model", "x_mock_field": 1,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

/// A form-encoded body as a JSON object of its fields (token requests).
fn form(body: &[u8]) -> Value {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    let text = String::from_utf8_lossy(body);
    let fields: serde_json::Map<String, Value> = text
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), Value::String(decode(v)))
        })
        .collect();
    Value::Object(fields)
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The JSON body; for a multipart body, its text fields (`media::parse`).
    pub body: Value,
    /// A multipart body's files, byte for byte.
    pub files: Vec<media::FilePart>,
}

impl Recorded {
    /// The credential it carried (Bearer, x-api-key, x-goog-api-key or `?key=`).
    pub fn credential(&self) -> Option<String> {
        credential_of(&self.headers, &self.path)
    }
}

fn credential_of(headers: &HashMap<String, String>, path: &str) -> Option<String> {
    if let Some(a) = headers.get("authorization") {
        return a.strip_prefix("Bearer ").map(str::to_string);
    }
    if let Some(k) = headers.get("x-api-key").or_else(|| headers.get("x-goog-api-key")) {
        return Some(k.clone());
    }
    path.split_once("key=").map(|(_, k)| k.split('&').next().unwrap_or(k).to_string())
}

/// Shared state of a mock.
#[derive(Debug, Default)]
pub struct MockState {
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    always: Mutex<HashMap<String, Reply>>,
    requests: Mutex<Vec<Recorded>>,
    /// Requests received.
    pub hits: AtomicUsize,
    /// Streams whose client went away before the end.
    pub cancelled: AtomicUsize,
    /// Streams that ran to their end.
    pub completed: AtomicUsize,
    record: std::sync::atomic::AtomicBool,
    /// Refuse what the real APIs refuse (`strict.rs`).
    strict: std::sync::atomic::AtomicBool,
    /// Requests refused by the strict mode.
    pub refused: AtomicUsize,
    /// Replies for every request whose path starts with a prefix (whatever its credential).
    prefixed: Mutex<Vec<(String, Reply)>>,
}

/// A running mock upstream.
pub struct MockUpstream {
    pub addr: std::net::SocketAddr,
    pub state: Arc<MockState>,
    handle: ServerHandle,
}

impl MockUpstream {
    /// Starts a mock with `workers` threads (inside an actix System).
    pub async fn start_with(workers: usize, record: bool) -> Self {
        let state = Arc::new(MockState::default());
        state.record.store(record, Ordering::Relaxed);
        let s2 = Arc::clone(&state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(Arc::clone(&s2)))
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(handle))
        })
        .workers(workers)
        .disable_signals()
        // Notice a gateway that gives up on a request (it closes the connection).
        .h1_allow_half_closed(false)
        .backlog(4096)
        .max_connections(100_000)
        .bind(("127.0.0.1", 0))
        .expect("mock binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self { addr, state, handle }
    }

    /// A recording mock with one worker.
    pub async fn start() -> Self {
        Self::start_with(1, true).await
    }

    /// Base URL in OpenAI style (`.../v1`).
    pub fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replies for requests carrying `credential`, in order; afterwards the `always` reply (or
    /// the default text).
    pub fn script(&self, credential: &str, replies: Vec<Reply>) {
        self.state.script.lock().unwrap().entry(credential.to_string()).or_default().extend(replies);
    }

    /// The reply for every request carrying `credential` once the script is used up.
    pub fn always(&self, credential: &str, reply: Reply) {
        self.state.always.lock().unwrap().insert(credential.to_string(), reply);
    }

    /// The reply for every request whose path starts with `prefix`, when nothing is scripted for
    /// its credential (replacing an earlier one for the same prefix).
    pub fn always_prefix(&self, prefix: &str, reply: Reply) {
        let mut p = self.state.prefixed.lock().unwrap();
        p.retain(|(x, _)| x != prefix);
        p.push((prefix.to_string(), reply));
    }

    /// From now on, refuse what the real APIs refuse, with their status and error shape.
    pub fn strict(&self) {
        self.state.strict.store(true, Ordering::Relaxed);
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Hits so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

struct StreamGuard {
    state: Arc<MockState>,
    done: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let c = if self.done { &self.state.completed } else { &self.state.cancelled };
        c.fetch_add(1, Ordering::SeqCst);
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<MockState>>) -> HttpResponse {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let path = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let (json, files) = media::parse(&content_type, &body).unwrap_or_else(|| {
        if content_type.starts_with("application/x-www-form-urlencoded") {
            (form(&body), Vec::new())
        } else {
            (serde_json::from_slice(&body).unwrap_or(Value::Null), Vec::new())
        }
    });
    let cred = credential_of(&headers, &path).unwrap_or_default();
    let refusal = if state.strict.load(Ordering::Relaxed) { strict::check(&path, &json, &headers) } else { None };
    let refusal = refusal.or_else(|| subscription::check(&path, &headers, &json));
    if state.record.load(Ordering::Relaxed) {
        state.requests.lock().unwrap().push(Recorded { path: path.clone(), headers, body: json.clone(), files });
    }
    if let Some((status, body)) = refusal {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body);
    }
    let scripted = state.script.lock().unwrap().get_mut(&cred).and_then(VecDeque::pop_front);
    let scripted = scripted.or_else(|| state.always.lock().unwrap().get(&cred).cloned());
    let scripted = scripted.or_else(|| {
        state.prefixed.lock().unwrap().iter().find(|(p, _)| path.starts_with(p.as_str())).map(|(_, r)| r.clone())
    });
    if let Some(Reply::EchoAuth(status)) = scripted {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({"error": {"message": format!("token {cred} is not valid"), "type": "authentication_error"}}));
    }
    if scripted.is_none()
        && let Some(r) = subscription::default_reply(&path, &json, Arc::clone(&state))
    {
        return r;
    }
    let reply = scripted.unwrap_or_else(|| {
        if dialect_of(&path) == "openai-chat" {
            Reply::Text("Hello from mock".into())
        } else {
            Reply::Fixture { kind: "text", delay: Duration::ZERO }
        }
    });
    let stream = json.get("stream").and_then(Value::as_bool).unwrap_or(false) || path.contains("streamGenerateContent");
    respond(reply, &path, stream, &json, Arc::clone(&state)).await
}

async fn respond(reply: Reply, path: &str, stream: bool, req: &Value, state: Arc<MockState>) -> HttpResponse {
    // Routes are matched without the query (`?api-version=` on Azure, `?alt=sse` on Gemini).
    let path = path.split('?').next().unwrap_or(path);
    match reply {
        Reply::EchoAuth(status) => HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish(),
        Reply::ByStream { whole, streamed } => {
            Box::pin(respond(if stream { *streamed } else { *whole }, path, stream, req, state)).await
        }
        Reply::WithHeaders { headers, reply } => {
            let mut r = Box::pin(respond(*reply, path, stream, req, state)).await;
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    actix_web::http::header::HeaderName::from_bytes(k.as_bytes()),
                    actix_web::http::header::HeaderValue::from_str(&v),
                ) {
                    r.headers_mut().insert(k, v);
                }
            }
            r
        }
        Reply::Text(text) => {
            if let Some(r) = surfaces::reply(path, req, stream, &text, Arc::clone(&state)) {
                return r;
            }
            if path.ends_with("/embeddings") {
                return HttpResponse::Ok().json(
                    json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                    "model": req["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}, "x_mock_field": true}),
                );
            }
            if stream {
                let words: Vec<String> = text
                    .split(' ')
                    .enumerate()
                    .map(|(i, w)| if i == 0 { w.to_string() } else { format!(" {w}") })
                    .collect();
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                let with_usage = req["stream_options"]["include_usage"].as_bool().unwrap_or(false);
                let frames = Reply::chat_frames(&refs, with_usage);
                return sse(frames, Duration::ZERO, Duration::ZERO, None, state);
            }
            HttpResponse::Ok().json(json!({
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": req["model"], "x_mock_field": "kept",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13, "prompt_tokens_details": {"cached_tokens": 4}}
            }))
        }
        Reply::Json { status, body, retry_after } => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if let Some(ra) = retry_after {
                r.insert_header(("retry-after", ra));
            }
            r.json(body)
        }
        Reply::Sse { frames, first_delay, delay, drop_after } => sse(frames, first_delay, delay, drop_after, state),
        Reply::Stall => {
            // Counted as cancelled when the gateway gives up and the connection goes.
            let _guard = StreamGuard { state, done: false };
            actix_rt::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
        Reply::Empty => HttpResponse::Ok().content_type("application/json").finish(),
        Reply::Redirect { status, location } => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .insert_header(("location", location))
                .finish()
        }
        Reply::Fixture { kind, delay } => {
            if let Some(r) = surfaces::reply(path, req, stream, "Hello from mock", Arc::clone(&state)) {
                return r;
            }
            let dialect = dialect_of(path);
            if path.ends_with("/count_tokens") {
                return HttpResponse::Ok().json(json!({"input_tokens": 4242}));
            }
            if stream {
                let frames = sse_events(&fixture(dialect, &format!("stream_{kind}.sse")));
                sse(frames, Duration::ZERO, delay, None, state)
            } else {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(fixture(dialect, &format!("response_{kind}.json")))
            }
        }
    }
}

fn sse(
    frames: Vec<String>,
    first_delay: Duration,
    delay: Duration,
    drop_after: Option<usize>,
    state: Arc<MockState>,
) -> HttpResponse {
    let guard = StreamGuard { state, done: false };
    let frames: VecDeque<String> = frames.into();
    let body = futures_util::stream::unfold((frames, guard, 0usize), move |(mut frames, mut guard, i)| async move {
        if drop_after.is_some_and(|n| i >= n) {
            // The frames written so far reach the client before the connection goes.
            if !delay.is_zero() {
                actix_rt::time::sleep(delay).await;
            }
            guard.done = true;
            return Some((Err(std::io::Error::other("mock drops the connection")), (frames, guard, i + 1)));
        }
        let wait = if i == 0 { first_delay } else { delay };
        if !wait.is_zero() {
            actix_rt::time::sleep(wait).await;
        }
        match frames.pop_front() {
            Some(f) => Some((Ok::<_, std::io::Error>(Bytes::from(f)), (frames, guard, i + 1))),
            None => {
                guard.done = true;
                drop(guard);
                None
            }
        }
    });
    HttpResponse::Ok().content_type("text/event-stream").streaming(body)
}

//! A recorded answer (`Answer`: status, the headers worth replaying, the body as the client got
//! it, chunk by chunk) and the body wrapper that records one as it goes to the client (`Tap`).
//! A stream is kept as the very events sent, so a replay has the same framing and terminator.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::HttpResponse;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use bytes::Bytes;

/// Headers of the first answer a replay repeats (timing, attempts, cost and the request id are
/// this request's own).
const KEPT: &[&str] = &[
    "content-type",
    "cache-control",
    "x-accel-buffering",
    "retry-after",
    "x-should-retry",
    "x-omnigate-provider",
    "x-omnigate-account",
    "x-omnigate-transforms",
    "x-omnigate-session-id",
];

/// A whole answer as the client got it.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// The headers a replay repeats.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, in the chunks (a stream's events) it was sent in.
    pub chunks: Vec<Bytes>,
    /// Whether it was a stream.
    pub streamed: bool,
    /// Bytes of body.
    pub bytes: usize,
}

impl Answer {
    /// Whether it may be kept past its own request: a 2xx that ended cleanly.
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A new response repeating it, with `mark` (e.g. `x-omnigate-cache: hit`) and the request id.
    pub fn replay(&self, mark: (&'static str, &'static str), request_id: &str) -> HttpResponse {
        let mut b = HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK));
        for (k, v) in &self.headers {
            b.insert_header((k.clone(), v.clone()));
        }
        b.insert_header(mark);
        if let Ok(v) = HeaderValue::from_str(request_id) {
            b.insert_header((HeaderName::from_static("x-request-id"), v));
        }
        b.insert_header(("x-omnigate-attempts", "0"));
        if self.streamed {
            let chunks = self.chunks.clone();
            b.streaming(futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>)))
        } else {
            b.insert_header(("x-omnigate-cost-usd", "0")).insert_header(("x-omnigate-cost-source", "cache"));
            let mut whole = bytes::BytesMut::with_capacity(self.bytes);
            for c in &self.chunks {
                whole.extend_from_slice(c);
            }
            b.body(whole.freeze())
        }
    }
}

/// Told once how the recorded answer ended: `Some((answer, clean))` when its last byte went out
/// (`clean`: a stream without a break or error event), `None` when the client left first or the
/// answer outgrew the recording limit.
pub type Sink = Box<dyn FnOnce(Option<(Arc<Answer>, bool)>)>;

/// A response body that records what it sends.
struct Tap {
    body: BoxBody,
    status: u16,
    headers: Vec<(HeaderName, HeaderValue)>,
    streamed: bool,
    kept: Vec<Bytes>,
    bytes: usize,
    limit: usize,
    over: bool,
    clean: Option<Arc<AtomicBool>>,
    sink: Option<Sink>,
}

impl Tap {
    fn finish(&mut self) {
        let Some(sink) = self.sink.take() else { return };
        if self.over {
            return sink(None);
        }
        let clean = self.clean.as_ref().is_none_or(|f| f.load(Ordering::Acquire));
        let answer = Answer {
            status: self.status,
            headers: std::mem::take(&mut self.headers),
            chunks: std::mem::take(&mut self.kept),
            streamed: self.streamed,
            bytes: self.bytes,
        };
        sink(Some((Arc::new(answer), clean)));
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink(None);
        }
    }
}

impl MessageBody for Tap {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                if !this.over {
                    this.bytes += b.len();
                    if this.bytes > this.limit {
                        this.over = true;
                        this.kept = Vec::new();
                    } else {
                        this.kept.push(b.clone());
                    }
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // A body that failed is no answer to repeat.
                this.over = true;
                this.finish();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `resp` with its body recorded (up to `limit` bytes) for `sink`; `clean` is the executor's
/// flag of a stream that ended cleanly (`None`: a whole body, complete when it was sent).
pub fn record(resp: HttpResponse, limit: usize, clean: Option<Arc<AtomicBool>>, sink: Sink) -> HttpResponse {
    let status = resp.status().as_u16();
    let headers: Vec<(HeaderName, HeaderValue)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| KEPT.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let streamed = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
        || matches!(resp.body().size(), BodySize::Stream);
    resp.map_body(|_, body| {
        BoxBody::new(Tap {
            body,
            status,
            headers,
            streamed,
            kept: Vec::new(),
            bytes: 0,
            limit,
            over: false,
            clean,
            sink: Some(sink),
        })
    })
}

//! Close-delimited HTTP/1.1 responses (no `Content-Length`, no chunking, the body ends when the
//! server closes) are valid HTTP (RFC 9112 §6.3), and some hand-written SSE servers send them.
//! actix-http's client reads such a response as having no body, though it reads HTTP/1.0
//! responses to the end. This module owns the workaround and nothing else: a TCP connector for
//! plain-HTTP upstreams whose stream watches each response head and, for a close-delimited one,
//! turns `HTTP/1.1` into `HTTP/1.0` (one byte, same length) so the body is read until the close.
//! Everything else passes through untouched; TLS upstreams are not wrapped (their bytes are
//! ciphertext here, and they speak HTTP/2 or chunked in practice).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_rt::net::{ActixStream, Ready, TcpStream};
use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use awc::http::Uri;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A response head longer than this is not inspected (it is passed on as it is).
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a response head (held back until complete).
    Head,
    /// Passing a body through.
    Body,
}

/// A TCP stream that marks close-delimited HTTP/1.1 responses as HTTP/1.0.
#[derive(Debug)]
pub struct EofAware {
    inner: TcpStream,
    active: bool,
    state: State,
    /// Bytes read from the socket and not yet handed on.
    held: Vec<u8>,
    /// Next byte of `held` to hand on.
    pos: usize,
    /// Bytes of `held` before this index are final (heads already inspected, or body).
    ready: usize,
}

impl EofAware {
    /// Wraps a stream; `active` only for plain-HTTP upstreams.
    pub fn new(inner: TcpStream, active: bool) -> Self {
        Self { inner, active, state: State::Head, held: Vec::new(), pos: 0, ready: 0 }
    }
}

/// What a complete response head says.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// 1xx: another head follows.
    Informational,
    /// A final response (rewritten in place when close-delimited).
    Final,
}

/// Inspects one complete head (status line to blank line) and rewrites it when close-delimited.
fn inspect(head: &mut [u8]) -> Head {
    if !head.starts_with(b"HTTP/1.1 ") {
        return Head::Final;
    }
    let status: u16 =
        std::str::from_utf8(head.get(9..12).unwrap_or_default()).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    if (100..200).contains(&status) {
        return Head::Informational;
    }
    if status == 204 || status == 304 {
        return Head::Final;
    }
    let framed = head.split(|b| *b == b'\n').skip(1).any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with(b"content-length:") || lower.starts_with(b"transfer-encoding:")
    });
    if !framed {
        head[7] = b'0';
    }
    Head::Final
}

impl EofAware {
    /// Scans held bytes for complete heads while in `Head`.
    fn scan(&mut self) {
        while self.state == State::Head {
            let Some(at) = memchr::memmem::find(&self.held[self.ready..], b"\r\n\r\n") else {
                if self.held.len() - self.ready > MAX_HEAD {
                    self.state = State::Body;
                }
                break;
            };
            let end = self.ready + at + 4;
            let kind = inspect(&mut self.held[self.ready..end]);
            self.ready = end;
            if kind == Head::Final {
                self.state = State::Body;
            }
        }
        if self.state == State::Body {
            self.ready = self.held.len();
        }
    }
}

impl AsyncRead for EofAware {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.ready {
                let n = buf.remaining().min(this.ready - this.pos);
                buf.put_slice(&this.held[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.held.len() {
                    this.held.clear();
                    this.pos = 0;
                    this.ready = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if !this.active || (this.state == State::Body && this.held.is_empty()) {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    // The server closed: hand on whatever is held, then the end.
                    this.state = State::Body;
                    this.ready = this.held.len();
                    if this.pos == this.ready {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(())) => {
                    this.held.extend_from_slice(rb.filled());
                    this.scan();
                }
            }
        }
    }
}

impl AsyncWrite for EofAware {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // The client writes its next request only once the previous response was read to its
        // end (it never pipelines), so a write after a body begins a new exchange.
        if this.active && this.state == State::Body && this.held.is_empty() {
            this.state = State::Head;
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl ActixStream for EofAware {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        if self.pos < self.ready {
            return Poll::Ready(Ok(Ready::READABLE));
        }
        ActixStream::poll_read_ready(&self.inner, cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_write_ready(&self.inner, cx)
    }
}

/// The TCP connector for the upstream client: the default one, with plain-HTTP streams wrapped.
#[derive(Clone)]
pub struct EofAwareConnector(ConnectorService);

impl std::fmt::Debug for EofAwareConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EofAwareConnector")
    }
}

impl Default for EofAwareConnector {
    fn default() -> Self {
        Self(actix_tls::connect::Connector::new(actix_tls::connect::Resolver::default()).service())
    }
}

impl Service<ConnectInfo<Uri>> for EofAwareConnector {
    type Response = Connection<Uri, EofAware>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<ConnectInfo<Uri>>::poll_ready(&self.0, cx)
    }

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let active = req.request().scheme_str() == Some("http");
        let fut = self.0.call(req);
        Box::pin(async move {
            let conn = fut.await?;
            let (io, req) = conn.into_parts();
            Ok(Connection::new(req, EofAware::new(io, active)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> (String, Head) {
        let mut b = text.as_bytes().to_vec();
        let kind = inspect(&mut b);
        (String::from_utf8_lossy(&b).into_owned(), kind)
    }

    #[test]
    fn only_unframed_final_http11_heads_are_rewritten() {
        let (h, k) = head("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
        assert!(h.starts_with("HTTP/1.0 200") && k == Head::Final);
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").0.starts_with("HTTP/1.1"));
        assert!(head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").0.starts_with("HTTP/1.1"));
        assert!(head("HTTP/1.1 204 No Content\r\n\r\n").0.starts_with("HTTP/1.1"));
        assert_eq!(
            head("HTTP/1.1 100 Continue\r\n\r\n"),
            ("HTTP/1.1 100 Continue\r\n\r\n".into(), Head::Informational)
        );
        assert!(head("HTTP/1.0 200 OK\r\n\r\n").0.starts_with("HTTP/1.0"));
    }
}

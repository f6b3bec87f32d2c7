//! The client connection, wrapped: what actix-http cannot bound by itself.
//!
//! - **Pipelining.** actix-http decodes every request head in its 128 KiB
//!   read buffer before the first is answered, at several KiB each: a client
//!   that pipelines small requests without reading the answers made it hold
//!   about 20 MB per connection. [`EdgeIo`] frames the incoming bytes with
//!   actix-http's own codec, so it splits requests exactly as actix will,
//!   and hands actix at most [`AHEAD`] requests the app has not started yet;
//!   the rest wait in the socket (TCP flow control pushes back on the client).
//! - **Slow requests.** actix bounds the first request's head only. Here
//!   every request, head and body, must arrive within the client timeout of
//!   its first byte, or the connection is dropped; so must every write that
//!   the client blocks by not reading.
//!
//! The app tells the wrapper when it starts a request through the
//! connection's [`ConnShared`], which [`crate::startup`] puts in each
//! request's connection data.

use actix_codec::Decoder as _;
use actix_http::h1::{Codec, Message, MessageType};
use bytes::{Buf as _, BytesMut};
use std::cell::Cell;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Sleep, sleep};

/// Requests decoded ahead that the app has not started, at most.
const AHEAD: u64 = 2;
/// The longest request head accepted (actix's own limit is 128 KiB; ours are
/// under 2 KiB, a token at most 4 KiB). Past it the connection gets a 431
/// and is closed: a partial head is held here, so this bounds what a slow
/// client can make the server keep for it.
const MAX_HEAD: usize = 16 * 1024;
/// What a client whose head passes [`MAX_HEAD`] is told before the close.
const HEAD_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
content-type: application/problem+json\r\nconnection: close\r\ncontent-length: 148\r\n\r\n\
{\"type\":\"tag:wxauth,2026:problem:invalid_request\",\"title\":\"Invalid request\",\"status\":431,\"detail\":\"request head too large\",\"code\":\"invalid_request\"}";
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// What a connection's requests tell its wrapper.
#[derive(Default)]
pub struct ConnShared {
    started: Cell<u64>,
    waker: Cell<Option<Waker>>,
}

impl ConnShared {
    /// The app started a request on this connection: let one more in.
    pub fn request_started(&self) {
        self.started.set(self.started.get().saturating_add(1));
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// A client connection as actix-http reads and writes it; see the module.
pub struct EdgeIo {
    io: TcpStream,
    shared: std::rc::Rc<ConnShared>,
    /// A second copy of actix's codec, framing what actix will see.
    codec: Codec,
    /// Received bytes the codec has not framed yet.
    shadow: BytesMut,
    /// Received bytes actix has not read yet; the first `cleared` it may.
    out: BytesMut,
    cleared: usize,
    /// Heads framed so far.
    heads: u64,
    in_body: bool,
    /// The codec hit a parse error or the client closed: actix answers and
    /// closes, so pass the rest through untouched.
    passthrough: bool,
    timeout: Duration,
    request_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl EdgeIo {
    /// Wraps `io`; every request must arrive, and every write complete,
    /// within `timeout`.
    pub fn new(io: TcpStream, timeout: Duration) -> Self {
        Self {
            io,
            shared: std::rc::Rc::default(),
            codec: Codec::default(),
            shadow: BytesMut::new(),
            out: BytesMut::new(),
            cleared: 0,
            heads: 0,
            in_body: false,
            passthrough: false,
            timeout,
            request_deadline: None,
            write_deadline: None,
        }
    }

    /// The handle the app signals through.
    pub fn shared(&self) -> std::rc::Rc<ConnShared> {
        std::rc::Rc::clone(&self.shared)
    }

    fn timed_out() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "the client was too slow")
    }

    /// Frames what was received, clearing it for actix, until the client is
    /// [`AHEAD`] requests ahead of the app (then Pending until the app starts
    /// one) or the bytes run out.
    fn frame(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // In a body, decode even with nothing buffered: a Content-Length body
        // reports its end only on the call after its last byte.
        while !self.passthrough && (self.in_body || !self.shadow.is_empty()) {
            if !self.in_body && self.heads >= self.shared.started.get().saturating_add(AHEAD) {
                // Held back by us, not slow: the deadline waits too.
                self.request_deadline = None;
                self.shared.waker.set(Some(cx.waker().clone()));
                return if self.cleared > 0 {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            let before = self.shadow.len();
            let decoded = self.codec.decode(&mut self.shadow);
            self.cleared += before - self.shadow.len();
            match decoded {
                Ok(Some(Message::Item(_))) => {
                    self.heads += 1;
                    self.in_body = self.codec.message_type() != MessageType::None;
                    if !self.in_body {
                        self.request_deadline = None;
                    }
                }
                Ok(Some(Message::Chunk(Some(_)))) => {}
                Ok(Some(Message::Chunk(None))) => {
                    self.in_body = false;
                    self.request_deadline = None;
                }
                Ok(None) if before != self.shadow.len() => {}
                Ok(None) => {
                    if !self.in_body && self.shadow.len() > MAX_HEAD {
                        // Best effort: the socket takes these bytes at once
                        // or the client does not get them.
                        let _ = self.io.try_write(HEAD_TOO_LARGE);
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "request head too large",
                        )));
                    }
                    break;
                }
                Err(_) => self.passthrough = true,
            }
        }
        if self.passthrough {
            self.cleared = self.out.len();
            self.shadow = BytesMut::new();
        }
        // Give back what a large request grew once it is all handed over.
        if self.shadow.is_empty() && self.shadow.capacity() > READ_CHUNK * 4 {
            self.shadow = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining()).min(this.out.len());
                buf.put_slice(this.out.get(..n).unwrap_or_default());
                this.out.advance(n);
                this.cleared -= n;
                if this.out.is_empty() && this.out.capacity() > READ_CHUNK * 4 {
                    this.out = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            match this.frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            if this.cleared > 0 {
                continue;
            }
            // Waiting for the client: an unfinished request runs against
            // its deadline.
            if this.request_deadline.is_none() && (this.in_body || !this.shadow.is_empty()) {
                this.request_deadline = Some(Box::pin(sleep(this.timeout)));
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    // The client closed: actix sees what is left, then EOF.
                    this.passthrough = true;
                    this.cleared = this.out.len();
                    this.shadow.clear();
                    if this.cleared == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(())) => {
                    if this.request_deadline.is_none() && !this.passthrough {
                        this.request_deadline = Some(Box::pin(sleep(this.timeout)));
                    }
                    this.out.extend_from_slice(read.filled());
                    if this.passthrough {
                        this.cleared = this.out.len();
                    } else {
                        this.shadow.extend_from_slice(read.filled());
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if let Some(deadline) = this.request_deadline.as_mut()
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(result) => {
                this.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = this
                    .write_deadline
                    .get_or_insert_with(|| Box::pin(sleep(timeout)));
                if deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(Self::timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// What every connection of the process shares: the edge's part of
/// accepting one. The server calls [`Connections::accept`] on each socket
/// before actix-http reads from it.
#[derive(Debug)]
pub struct Connections {
    /// `WXAUTH_CLIENT_TIMEOUT`.
    client_timeout: Duration,
}

impl Connections {
    /// Connections whose every request must arrive, and every write
    /// complete, within `client_timeout`.
    pub fn new(client_timeout: Duration) -> Self {
        Self { client_timeout }
    }

    /// Wraps a newly accepted socket; an error closes it unanswered.
    pub fn accept(
        &self,
        io: TcpStream,
    ) -> Result<(EdgeIo, Option<std::net::SocketAddr>), actix_http::error::DispatchError> {
        let peer = io.peer_addr().ok();
        Ok((EdgeIo::new(io, self.client_timeout), peer))
    }
}

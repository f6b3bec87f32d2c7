//! The client connection, wrapped: what actix-http cannot bound by itself.
//!
//! - **Unfinished requests, held once.** Received bytes wait in one buffer
//!   until [`EdgeIo`] has framed them with actix-http's own codec (so it
//!   splits requests exactly as actix will); only whole request heads, and
//!   body bytes as they come, are handed to actix. The buffer is charged to
//!   the process-wide budget of the connection table ([`super::table`]), and
//!   given back as soon as it is empty. Between polls the buffer is kept in
//!   the connection's slot, so that shedding the connection frees it at
//!   once, not when its task next runs. A head longer than [`MAX_HEAD`] gets
//!   a 431, whatever the pieces it arrives in.
//! - **Pipelining.** actix-http decodes every request head in its read
//!   buffer before the first is answered; the wrapper hands actix at most
//!   [`AHEAD`] requests the app has not started yet, the rest wait in the
//!   socket (TCP flow control pushes back on the client).
//! - **Slow clients.** Every request, head and body, must arrive within the
//!   client timeout of its first byte, and every answer must be taken by the
//!   client within the client timeout of the write that first found the
//!   socket full, or the connection is dropped. The kernel send buffer is
//!   capped at [`SEND_BUFFER`] (`SO_SNDBUF`, socket(7)); what actix could not
//!   write yet is charged to the budget too.
//! - **Answers.** Nothing is written after an answer that says
//!   `connection: close`, and a `100 Continue` is not sent for a body the
//!   edge will refuse by its declared length ([`super::answer`]).
//!
//! The app tells the wrapper when it starts a request through the
//! connection's [`ConnShared`], which [`crate::server`] puts in each
//! request's connection data.

use super::answer::{Answers, Asked};
use super::table::{BUDGET, Slot, Table};
use actix_codec::Decoder as _;
use actix_http::h1::{Codec, Message, MessageType};
use actix_web::http::header::CONTENT_LENGTH;
use bytes::{Buf as _, BytesMut};
use std::cell::Cell;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Sleep, sleep};

/// Requests decoded ahead that the app has not started, at most.
const AHEAD: u64 = 2;
/// The longest request head accepted (actix's own limit is 128 KiB; ours are
/// under 2 KiB, a token at most 4 KiB). Past it the connection gets a 431
/// and is closed.
pub const MAX_HEAD: usize = 16 * 1024;
/// What a client whose head passes [`MAX_HEAD`] is told before the close.
const HEAD_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
content-type: application/problem+json\r\nconnection: close\r\ncontent-length: 148\r\n\r\n\
{\"type\":\"tag:wxauth,2026:problem:invalid_request\",\"title\":\"Invalid request\",\"status\":431,\"detail\":\"request head too large\",\"code\":\"invalid_request\"}";
/// Body bytes past the route's limit after which the connection is cut:
/// a route that reads its body refuses it at the limit (413) long before;
/// this stops the body of a route that does not read it (actix would
/// otherwise drain it for as long as the client sends).
const BODY_SLACK: usize = 64 * 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;
/// `SO_SNDBUF` of every connection (Linux doubles it for its bookkeeping):
/// our answers are a few KiB, the OpenAPI document is the largest.
pub const SEND_BUFFER: usize = 16 * 1024;
/// What a connection whose answer the client does not take is charged
/// beyond the bytes it did not take: actix-http's buffers for it (the write
/// buffer grown for the answer, the read buffer, the requests decoded
/// ahead). The pipelining attack of tests/abuse measures about 90 KiB in all
/// for a 32 KiB answer.
const BLOCKED: usize = 64 * 1024;
/// How long a connection that was answered `connection: close` may still
/// send before it is dropped (its bytes are read and discarded, so the
/// close is not a reset that could destroy the answer).
const LINGER: Duration = Duration::from_secs(1);

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

/// Whether `bytes` hold the end of a request head (an empty line, CRLF or
/// bare LF as actix's parser accepts; RFC 9112 section 2.2).
fn whole_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|pair| pair == b"\n\n")
        || bytes.windows(3).any(|triple| triple == b"\n\r\n")
}

/// A client connection as actix-http reads and writes it; see the module.
pub struct EdgeIo {
    io: TcpStream,
    shared: std::rc::Rc<ConnShared>,
    table: Arc<Table>,
    slot: Arc<Slot>,
    /// The body limit of a path, for `Expect: 100-continue`.
    limits: Arc<dyn Fn(&str) -> usize + Send + Sync>,
    /// A second copy of actix's codec, framing what actix will see.
    codec: Codec,
    /// Received bytes actix has not read yet; the first `cleared` are
    /// framed, and actix may read them.
    buf: BytesMut,
    cleared: usize,
    /// What is charged to the budget now.
    charged: usize,
    /// Bytes actix offered to the last write that could not take them all
    /// (plus [`BLOCKED`]); 0 once a write takes all it is offered.
    unsent: usize,
    /// Heads framed so far.
    heads: u64,
    in_body: bool,
    /// Body bytes of the current request, and what they may reach.
    body_seen: usize,
    body_cap: usize,
    /// A body past its cap: nothing more is handed to actix.
    discarding: bool,
    linger_deadline: Option<Pin<Box<Sleep>>>,
    /// The codec hit a parse error or the client closed: actix answers and
    /// closes, so pass the rest through untouched.
    passthrough: bool,
    answers: Answers,
    timeout: Duration,
    request_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl EdgeIo {
    /// The handle the app signals through.
    pub fn shared(&self) -> std::rc::Rc<ConnShared> {
        std::rc::Rc::clone(&self.shared)
    }

    fn timed_out() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "the client was too slow")
    }

    fn shed() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "closed by the edge to bound the memory held for clients",
        )
    }

    /// Charges what the connection holds now to the budget; `Err` when the
    /// connection was shed for it.
    fn charge(&mut self) -> io::Result<()> {
        let held = self.buf.capacity().saturating_add(self.unsent);
        if held != self.charged {
            self.charged = held;
            if !self.table.hold(&self.slot, held) {
                return Err(Self::shed());
            }
        }
        if self.slot.evicted() {
            return Err(Self::shed());
        }
        Ok(())
    }

    fn head_too_large(&mut self) -> io::Error {
        // Best effort: the socket takes these bytes at once or the client
        // does not get them.
        let _ = self.io.try_write(HEAD_TOO_LARGE);
        io::Error::new(io::ErrorKind::InvalidData, "request head too large")
    }

    /// Frames what was received, clearing it for actix, until the client is
    /// [`AHEAD`] requests ahead of the app (then Pending until the app starts
    /// one) or the bytes run out.
    fn frame(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // In a body, decode even with nothing buffered: a Content-Length body
        // reports its end only on the call after its last byte.
        while !self.passthrough && (self.in_body || self.buf.len() > self.cleared) {
            if !self.in_body && self.heads >= self.shared.started.get().saturating_add(AHEAD) {
                // Held back by us, not slow: the deadline waits too.
                self.request_deadline = None;
                self.slot.busy();
                self.shared.waker.set(Some(cx.waker().clone()));
                return if self.cleared > 0 {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            if !self.in_body
                && whole_head(self.buf.get(self.cleared..).unwrap_or_default())
                && !self.table.admit(&self.slot, cx.waker())
            {
                // No room in the budget for another answer: the request
                // waits for connections being shed to close. Nothing of it
                // has reached the app, so, unless an earlier request is
                // still being answered, the table may evict it (after
                // every connection waiting on its client): a client's
                // thousand connections waiting here must not fill the table
                // against newcomers.
                if self.heads <= self.answers.done() {
                    self.slot.waiting_for_room();
                } else {
                    self.slot.busy();
                }
                return if self.cleared > 0 {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            // The codec consumes what it decodes: it works on a copy of the
            // unframed bytes, which live only for this call.
            let mut unframed = BytesMut::from(self.buf.get(self.cleared..).unwrap_or_default());
            let before = unframed.len();
            let decoded = self.codec.decode(&mut unframed);
            let consumed = before - unframed.len();
            self.cleared += consumed;
            match decoded {
                Ok(Some(Message::Item(request))) => {
                    if consumed > MAX_HEAD {
                        return Poll::Ready(Err(self.head_too_large()));
                    }
                    self.heads += 1;
                    let head = request.head();
                    let url = actix_web::dev::Url::new(head.uri.clone());
                    let limit = (self.limits)(url.path());
                    self.body_seen = 0;
                    self.body_cap = limit.saturating_add(BODY_SLACK);
                    let no_continue = head.expect()
                        && head
                            .headers
                            .get(CONTENT_LENGTH)
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| value.parse::<usize>().ok())
                            .is_some_and(|length| length > limit);
                    self.answers.asked(Asked {
                        head: head.method == actix_web::http::Method::HEAD,
                        no_continue,
                    });
                    self.in_body = self.codec.message_type() != MessageType::None;
                    if !self.in_body {
                        self.request_deadline = None;
                        self.slot.busy();
                    }
                }
                Ok(Some(Message::Chunk(Some(chunk)))) => {
                    self.body_seen = self.body_seen.saturating_add(chunk.len());
                    if self.body_seen > self.body_cap {
                        // Nothing more for actix: the rest is drained and
                        // dropped, briefly, as after an answer that closes.
                        self.discarding = true;
                        return Poll::Ready(Ok(()));
                    }
                }
                Ok(Some(Message::Chunk(None))) => {
                    self.in_body = false;
                    self.request_deadline = None;
                    self.slot.busy();
                }
                Ok(None) if consumed > 0 => {}
                Ok(None) => {
                    if !self.in_body && before > MAX_HEAD {
                        return Poll::Ready(Err(self.head_too_large()));
                    }
                    break;
                }
                Err(_) => self.passthrough = true,
            }
        }
        if self.passthrough {
            self.cleared = self.buf.len();
        }
        Poll::Ready(Ok(()))
    }

    /// Reads what the client sent into the buffer: at most what a head may
    /// still grow by, so the head cap is exact and the buffer no larger than
    /// it. `Ok(false)`: the client closed.
    fn receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let unframed = self.buf.len() - self.cleared;
        let want = if self.passthrough || self.in_body {
            READ_CHUNK
        } else {
            READ_CHUNK
                .min((MAX_HEAD + 1).saturating_sub(unframed))
                .max(1)
        };
        let mut chunk = [0u8; READ_CHUNK];
        let mut read = ReadBuf::new(chunk.get_mut(..want).unwrap_or_default());
        match Pin::new(&mut self.io).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Ok(false)),
            Poll::Ready(Ok(())) => {
                let filled = read.filled();
                if self.buf.capacity() - self.buf.len() < filled.len() {
                    // Grow by doubling (few copies for a slow head), never
                    // past what the head cap allows.
                    let len = self.buf.len();
                    let capacity = (len + filled.len())
                        .max(len * 2)
                        .max(512)
                        .min((MAX_HEAD + 1).max(len + filled.len()));
                    let mut grown = BytesMut::with_capacity(capacity);
                    grown.extend_from_slice(&self.buf);
                    self.buf = grown;
                }
                self.buf.extend_from_slice(filled);
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Receives the connection's first request head before actix-http sees
    /// the connection at all: a connection that never sends one (idle, or a
    /// slow head) costs its buffer here and no HTTP state.
    fn poll_first_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.leased(|this| this.first_head(cx))
    }

    /// Runs `poll` with the connection's buffer at hand. Between polls the
    /// buffer is kept in the connection's slot, where shedding the
    /// connection frees it at once ([`super::table`]).
    fn leased<R>(&mut self, poll: impl FnOnce(&mut Self) -> R) -> R {
        self.buf = self.slot.take_buffer();
        let result = poll(self);
        self.slot.keep_buffer(std::mem::take(&mut self.buf));
        result
    }

    fn first_head(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.slot.register(cx.waker());
        loop {
            self.charge()?;
            match self.frame(cx) {
                Poll::Ready(Ok(())) if self.cleared > 0 || self.passthrough => {
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Waiting for room in the budget, the deadline running.
                    if let Some(deadline) = self.request_deadline.as_mut()
                        && deadline.as_mut().poll(cx).is_ready()
                    {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(())) => {}
            }
            self.slot.waiting();
            match self.receive(cx) {
                Poll::Ready(Ok(false)) => {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let timeout = self.timeout;
                    let deadline = self
                        .request_deadline
                        .get_or_insert_with(|| Box::pin(sleep(timeout)));
                    if deadline.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// After an answer that closes: read and discard until the client
    /// closes too, for at most [`LINGER`].
    fn linger(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.buf.is_empty() {
            self.buf = BytesMut::new();
            self.cleared = 0;
        }
        let deadline = self
            .linger_deadline
            .get_or_insert_with(|| Box::pin(sleep(LINGER)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Self::timed_out()));
        }
        loop {
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.leased(|this| this.read_into(cx, buf))
    }
}

impl EdgeIo {
    /// [`AsyncRead::poll_read`], with the buffer at hand.
    fn read_into(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self;
        this.slot.register(cx.waker());
        loop {
            this.charge()?;
            if this.answers.closed() || this.discarding {
                return this.linger(cx);
            }
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining()).min(this.buf.len());
                buf.put_slice(this.buf.get(..n).unwrap_or_default());
                this.buf.advance(n);
                this.cleared -= n;
                if this.buf.is_empty() {
                    // Nothing held between requests.
                    this.buf = BytesMut::new();
                }
                this.charge()?;
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
            // its deadline, and the table may take an idle connection back.
            let unfinished = !this.passthrough && (this.in_body || !this.buf.is_empty());
            if unfinished || this.heads <= this.answers.done() {
                this.slot.waiting();
            }
            if this.request_deadline.is_none() && unfinished {
                this.request_deadline = Some(Box::pin(sleep(this.timeout)));
            }
            match this.receive(cx) {
                Poll::Ready(Ok(false)) => {
                    // The client closed: actix sees what is left, then EOF.
                    this.passthrough = true;
                    this.cleared = this.buf.len();
                    if this.cleared == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(true)) => {
                    if this.request_deadline.is_none() && !this.passthrough {
                        this.request_deadline = Some(Box::pin(sleep(this.timeout)));
                    }
                    if this.passthrough {
                        this.cleared = this.buf.len();
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
        // The buffer at hand, so that what is charged counts it.
        self.leased(|this| this.write_from(cx, data))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl EdgeIo {
    /// [`AsyncWrite::poll_write`], with the buffer at hand.
    fn write_from(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self;
        this.slot.register(cx.waker());
        if this.slot.evicted() {
            return Poll::Ready(Err(Self::shed()));
        }
        if let Some(deadline) = this.write_deadline.as_mut()
            && deadline.is_elapsed()
        {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let mut offset = 0;
        loop {
            let rest = data.get(offset..).unwrap_or_default();
            let plan = this.answers.plan(rest);
            if let Some((0, end)) = plan.skip {
                // A `100 Continue` for a body that will be refused.
                this.answers.wrote(rest.get(..end).unwrap_or_default());
                offset += end;
                continue;
            }
            let allowed = plan.skip.map_or(plan.allowed, |(start, _)| start);
            if allowed == 0 {
                // After an answer that closes: nothing more goes out.
                this.unsent = 0;
                this.write_deadline = None;
                return Poll::Ready(Ok(data.len()));
            }
            let offered = rest.get(..allowed).unwrap_or_default();
            return match Pin::new(&mut this.io).poll_write(cx, offered) {
                Poll::Ready(Ok(n)) => {
                    this.answers.wrote(offered.get(..n).unwrap_or_default());
                    let written = offset + n;
                    this.unsent = match data.len() - written {
                        0 => 0,
                        left => left.saturating_add(BLOCKED),
                    };
                    if this.unsent == 0 || this.answers.closed() {
                        this.unsent = 0;
                        this.write_deadline = None;
                    } else if this.write_deadline.is_none() {
                        this.write_deadline = Some(Box::pin(sleep(this.timeout)));
                    }
                    this.charge()?;
                    Poll::Ready(Ok(if this.answers.closed() {
                        data.len()
                    } else {
                        written
                    }))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending if offset > 0 => Poll::Ready(Ok(offset)),
                Poll::Pending => {
                    this.unsent = data.len().saturating_add(BLOCKED);
                    this.charge()?;
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
            };
        }
    }
}

impl Drop for EdgeIo {
    fn drop(&mut self) {
        self.table.close(&self.slot);
    }
}

/// What every connection of the process shares: the edge's part of
/// accepting one. The server calls [`Connections::accept`] on each socket
/// before actix-http reads from it.
pub struct Connections {
    /// `WXAUTH_CLIENT_TIMEOUT`.
    client_timeout: Duration,
    table: Arc<Table>,
    limits: Arc<dyn Fn(&str) -> usize + Send + Sync>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("client_timeout", &self.client_timeout)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The listen backlog (listen(2); the kernel caps it at `somaxconn`). Rust's
/// standard library listens with 128: under a storm of connections the
/// queue overflows, and a client whose SYN is dropped waits a second for
/// its retransmission before the server even sees it.
pub const BACKLOG: i32 = 4096;

/// Gives `listener` the [`BACKLOG`] (listening again on a listening socket
/// only changes its backlog).
pub fn set_backlog(listener: &std::net::TcpListener) -> io::Result<()> {
    socket2::SockRef::from(listener).listen(BACKLOG)
}

impl Connections {
    /// Connections of `edge` (its client timeout and body limits), at most
    /// `max_connections` counted at once.
    pub fn new(edge: &super::Edge, max_connections: usize) -> Self {
        let limits = edge.limits.clone();
        Self {
            client_timeout: edge.client_timeout,
            table: Arc::new(Table::new(max_connections, BUDGET)),
            limits: Arc::new(move |path: &str| super::body_limit(&limits, path)),
        }
    }

    /// Wraps a newly accepted socket, and resolves once its first request
    /// head is in (within the client timeout); an error closes it
    /// unanswered.
    pub async fn accept(
        &self,
        io: TcpStream,
    ) -> Result<(EdgeIo, Option<std::net::SocketAddr>), actix_http::error::DispatchError> {
        let (mut wrapped, peer) = self.wrap(io)?;
        std::future::poll_fn(|cx| wrapped.poll_first_head(cx))
            .await
            .map_err(actix_http::error::DispatchError::Io)?;
        Ok((wrapped, peer))
    }

    fn wrap(
        &self,
        io: TcpStream,
    ) -> Result<(EdgeIo, Option<std::net::SocketAddr>), actix_http::error::DispatchError> {
        let peer = io.peer_addr().ok();
        let slot = self
            .table
            .open(super::table::group(peer.map(|addr| addr.ip())))
            .ok_or(actix_http::error::DispatchError::Io(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "every connection is busy",
            )))?;
        // Best effort: a socket that refuses the cap keeps the system's.
        let _ = socket2::SockRef::from(&io).set_send_buffer_size(SEND_BUFFER);
        Ok((
            EdgeIo {
                io,
                shared: std::rc::Rc::default(),
                table: Arc::clone(&self.table),
                slot,
                limits: Arc::clone(&self.limits),
                codec: Codec::default(),
                buf: BytesMut::new(),
                cleared: 0,
                charged: 0,
                unsent: 0,
                heads: 0,
                in_body: false,
                body_seen: 0,
                body_cap: 0,
                discarding: false,
                linger_deadline: None,
                passthrough: false,
                answers: Answers::new(),
                timeout: self.client_timeout,
                request_deadline: None,
                write_deadline: None,
            },
            peer,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::whole_head;

    #[test]
    fn only_a_whole_head_waits_for_room_in_the_budget() {
        assert!(whole_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(whole_head(b"GET / HTTP/1.1\nHost: x\n\n"));
        assert!(whole_head(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{"));
        // Unfinished heads go on to the codec (and its deadline and cap).
        assert!(!whole_head(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!whole_head(b"GET / HTTP/1.1\r\nX-Pad: aaaa"));
        assert!(!whole_head(b""));
    }
}

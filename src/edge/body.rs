//! A request body that stops at the route's limit, counting the bytes that
//! arrive (a chunked body declares no length). How long the body may take
//! is the connection's business ([`super::EdgeIo`]).

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The body of one request, within its limit.
pub struct LimitedBody {
    inner: Payload,
    remaining: usize,
    over: bool,
}

impl LimitedBody {
    /// `inner`, refused past `limit` bytes.
    pub fn new(inner: Payload, limit: usize) -> Self {
        Self {
            inner,
            remaining: limit,
            over: false,
        }
    }
}

impl Stream for LimitedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.over {
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            match self.remaining.checked_sub(chunk.len()) {
                Some(remaining) => self.remaining = remaining,
                None => {
                    self.over = true;
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
            }
        }
        next
    }
}

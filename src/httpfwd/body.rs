//! Body types for proxying: [`ReplayBody`] re-sends the bytes read while looking for the SOAP
//! action and then streams the rest of the client's body; [`ProxyBody`] is what triage answers
//! with (a server's streamed body, or a small body of its own such as a SOAP Fault).

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Already-read frames first (data and, at the end, trailers), then the rest of the incoming
/// body, without buffering it.
#[derive(Debug)]
pub struct ReplayBody {
    prefix: VecDeque<Frame<Bytes>>,
    rest: Option<Incoming>,
}

impl ReplayBody {
    pub fn new(prefix: Vec<Frame<Bytes>>, rest: Option<Incoming>) -> Self {
        Self {
            prefix: prefix.into(),
            rest,
        }
    }

    /// An empty body (also for requests without one).
    pub fn empty() -> Self {
        Self::new(Vec::new(), None)
    }

    /// Whether part of the body may still be unread in the client's socket.
    pub fn unread(&self) -> bool {
        self.rest.as_ref().is_some_and(|r| !r.is_end_stream())
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(f) = self.prefix.pop_front() {
            return Poll::Ready(Some(Ok(f)));
        }
        match self.rest.as_mut() {
            Some(r) => Pin::new(r).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let pre: u64 = self
            .prefix
            .iter()
            .filter_map(|f| f.data_ref())
            .map(|b| b.len() as u64)
            .sum();
        let mut h = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |r| r.size_hint());
        let lower = h.lower() + pre;
        match h.upper() {
            Some(u) if u + pre == lower => h = SizeHint::with_exact(lower),
            Some(u) => {
                h.set_upper(u + pre);
                h.set_lower(lower);
            }
            None => h.set_lower(lower),
        }
        h
    }
}

/// A response body: streamed from a server, or a complete one made by triage.
#[derive(Debug)]
pub enum ProxyBody {
    /// A server's body, with what is held until it is done.
    Stream(Incoming, Held),
    Full(Option<Bytes>),
}

/// What a streamed response body holds until it is done: the lease (the server's connection
/// count) and, optionally, the server connection, which goes back to its pool at the end of
/// the body — without a task of its own when hyper already has it ready for the next request.
#[derive(Debug, Default)]
pub struct Held {
    pub lease: Option<crate::pool::Lease>,
    pub conn: Option<(
        std::sync::Arc<super::client::HttpBackends>,
        super::client::Sender,
    )>,
}

impl Held {
    fn body_done(&mut self) {
        if let Some((backends, sender)) = self.conn.take() {
            backends.recycle(sender);
        }
    }
}

/// A body dropped before its end (or one hyper never polled, such as an empty one): the
/// connection goes back only if hyper gets it ready, which it does not for a half-read one.
impl Drop for Held {
    fn drop(&mut self) {
        self.body_done();
    }
}

impl ProxyBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        ProxyBody::Full(Some(b.into()))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ProxyBody::Stream(i, held) => {
                let r = ready!(Pin::new(&mut *i).poll_frame(cx));
                if r.is_none() || i.is_end_stream() {
                    held.body_done();
                }
                Poll::Ready(r.map(|r| r.map_err(Into::into)))
            }
            ProxyBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Stream(i, _) => i.is_end_stream(),
            ProxyBody::Full(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Stream(i, _) => i.size_hint(),
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

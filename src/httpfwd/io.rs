//! [`IdleIo`]: a socket wrapper for the HTTP legs that fails a read or write which has been
//! waiting on the peer for longer than the idle limit (`client_timeout` on the client leg,
//! `server_timeout` on the server leg), and optionally counts the bytes moved. Only waiting
//! counts: a leg that hyper does not poll (back-pressure from the other side) never times out,
//! so a slow peer on one side does not cut the other.
//!
//! On the client leg only writes are limited ([`IdleIo::writes_only`]): hyper keeps a read
//! pending on the client while the server prepares its answer (to notice a client that goes
//! away), and a slow server must not look like an idle client. Client reads are bounded
//! elsewhere: the request head by hyper's header timeout, the SOAP header by the handshake
//! timeout, and a body that stalls by the server leg, which then sees nothing either.

use crate::relay::Traffic;
use crate::timer;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Which counters of a service's [`Traffic`] this leg feeds: bytes read are `up` (client to
/// server) and bytes written are `down` when it is the client leg.
#[derive(Clone, Debug)]
pub struct Meter(pub Arc<crate::service::ServiceStats>);

pub struct IdleIo<T> {
    inner: T,
    limit: Duration,
    /// When the current wait on the peer began (meaningful while `waiting`).
    since: Instant,
    /// A read or write is pending since `since`; cleared by progress. The clock is read when
    /// a wait begins, not on every read and write that goes through at once (hyper makes
    /// several per request; most never wait).
    waiting: bool,
    timer: Pin<Box<Sleep>>,
    /// A pending read or write polled again by the same task is answered from the timer's
    /// state, without polling it.
    registered: timer::Registered,
    meter: Option<Meter>,
    /// Whether pending reads time out too.
    reads: bool,
}

impl<T> std::fmt::Debug for IdleIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleIo")
            .field("limit", &self.limit)
            .finish()
    }
}

impl<T> IdleIo<T> {
    pub fn new(inner: T, limit: Duration, meter: Option<Meter>) -> Self {
        let now = Instant::now();
        Self {
            inner,
            limit,
            since: now,
            waiting: false,
            timer: Box::pin(tokio::time::sleep_until(timer::after(now, limit))),
            registered: timer::Registered::default(),
            meter,
            reads: true,
        }
    }

    /// Like [`new`](Self::new), but a pending read never times out.
    pub fn writes_only(inner: T, limit: Duration, meter: Option<Meter>) -> Self {
        Self {
            reads: false,
            ..Self::new(inner, limit, meter)
        }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }

    fn traffic(&self) -> Option<&Traffic> {
        self.meter.as_ref().map(|m| &m.0.traffic)
    }

    /// Called when the inner I/O is pending: an error once this wait has lasted longer than
    /// the limit. A new wait notes the time; the timer is moved lazily (only when it fires
    /// before the wait's deadline), so progress costs neither a clock read nor a timer update.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if !self.waiting {
            self.waiting = true;
            self.since = Instant::now();
        }
        // The timer is armed no later than this wait's deadline (waits only start later), so
        // a timer that holds this task's waker needs no poll; otherwise it is polled, and moved
        // on when it fires before the deadline ([`timer::poll_deadline`]). Asked here, before
        // the deadline is computed, though `poll_deadline` asks again on a miss: leaving it to
        // `poll_deadline` alone cost ≈220 instructions more per ITI-18 request (callgrind).
        if self.registered.holds(&self.timer, cx) {
            return Poll::Pending;
        }
        let due = timer::after(self.since, self.limit);
        self.registered
            .poll_deadline(self.timer.as_mut(), due, cx)
            .map(|()| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("peer idle for {:?}", self.limit),
                )
            })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                me.waiting = false;
                if let Some(t) = me.traffic() {
                    t.up.fetch_add(n, Relaxed);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if me.reads => me.check(cx).map(Err),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_write(cx, b) {
            Poll::Ready(Ok(n)) => {
                me.waiting = false;
                if let Some(t) = me.traffic() {
                    t.down.fetch_add(n as u64, Relaxed);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => me.check(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                me.waiting = false;
                if let Some(t) = me.traffic() {
                    t.down.fetch_add(n as u64, Relaxed);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => me.check(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn silent_peer_times_out_and_traffic_keeps_it_alive() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = IdleIo::new(a, Duration::from_secs(10), None);
        let mut buf = [0u8; 8];
        // Bytes every 6 s: never idle for 10 s.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            b.write_all(b"x").await.unwrap();
            assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        }
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn progress_either_way_starts_a_new_wait() {
        let (a, _b) = tokio::io::duplex(1024);
        let mut io = IdleIo::new(a, Duration::from_secs(10), None);
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            // A read waits for the peer (nothing comes) while writes go through every 6 s:
            // 18 s of waiting in all, but never 10 s without progress.
            let mut rb = ReadBuf::new(&mut buf);
            let r =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut io).poll_read(cx, &mut rb)))
                    .await;
            assert!(r.is_pending());
            tokio::time::sleep(Duration::from_secs(6)).await;
            io.write_all(b"x").await.unwrap();
        }
        // Then silence: the wait that begins now ends in an error after the limit.
        let start = Instant::now();
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed().as_secs(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_only_waits_for_reads_but_not_for_a_peer_that_stops_reading() {
        let (a, mut b) = tokio::io::duplex(16);
        let mut io = IdleIo::writes_only(a, Duration::from_secs(10), None);
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(60), io.read(&mut buf)).await;
        assert!(read.is_err(), "a silent peer is waited for when reading");
        // The peer reads nothing: the 16-byte pipe fills and the write times out.
        let e = io.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let mut got = [0u8; 64];
        assert_eq!(b.read(&mut got).await.unwrap(), 16);
    }
}

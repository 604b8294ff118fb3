//! An MLLP connection to a server: send one framed message, read frames until the answer
//! (an HL7 payload) arrives. MLLP release 2 commit ACKs are skipped; a commit NAK is an error.
//! The whole exchange (write and read) runs under one timeout, so a server that stops reading
//! cannot hold a message forever either.

use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;
use triage_hl7::{MllpDecoder, MllpFrame};

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("write failed: {0}")]
    Write(std::io::Error),
    #[error("read failed: {0}")]
    Read(std::io::Error),
    #[error("connection closed before the acknowledgement")]
    Closed,
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
    #[error("bad MLLP framing from server: {0}")]
    Framing(triage_hl7::MllpError),
    #[error("server sent an MLLP commit NAK")]
    CommitNak,
}

impl ExchangeError {
    /// True when the failure looks like a connection the server had already given up (closed
    /// or reset while idle in the pool): worth one more try on a fresh connection.
    pub fn stale_connection(&self) -> bool {
        matches!(
            self,
            ExchangeError::Write(_) | ExchangeError::Read(_) | ExchangeError::Closed
        )
    }
}

/// Runs `f` for at most `wait`, like [`tokio::time::timeout`] (`None`: time ran out), on a
/// timer kept by the caller: re-arming a registered timer to a later deadline does not touch
/// the runtime's timer wheel, creating and dropping one per message does.
pub async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    wait: Duration,
    f: F,
) -> Option<F::Output> {
    let now = tokio::time::Instant::now();
    // As tokio::time::timeout does for a duration too large to add: about 30 years.
    let deadline = now
        .checked_add(wait)
        .unwrap_or_else(|| now + Duration::from_secs(86400 * 365 * 30));
    timer.as_mut().reset(deadline);
    tokio::select! {
        biased;
        v = f => Some(v),
        _ = timer.as_mut() => None,
    }
}

/// A timer for [`within`] (armed far ahead; [`within`] sets the real deadline).
pub fn timer() -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(Duration::from_secs(86400)))
}

/// A framed connection to one server.
#[derive(Debug)]
pub struct MllpConn {
    pub stream: TcpStream,
    buf: BytesMut,
    dec: MllpDecoder,
    /// The framed message being sent (kept to reuse its allocation).
    out: BytesMut,
    /// The acknowledgement timeout of [`MllpConn::exchange`], re-armed for each message.
    timer: Pin<Box<Sleep>>,
}

impl MllpConn {
    pub fn new(stream: TcpStream, max_frame: usize) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            dec: MllpDecoder::new(max_frame),
            out: BytesMut::new(),
            timer: timer(),
        }
    }

    /// Whether nothing beyond the last answer is buffered (no system call: what is still in
    /// the socket is for [`MllpConn::reusable`] to find).
    pub fn clean(&self) -> bool {
        self.buf.is_empty() && self.dec.pending_junk() == 0
    }

    /// Whether the connection still looks usable for another message: nothing buffered, and
    /// the socket has neither unread bytes (a late or unsolicited frame), nor an EOF, nor an
    /// error pending.
    ///
    /// When the last read drained the socket, `read_message` cleared its read readiness: if
    /// the runtime has seen no readiness event since, nothing arrived and no system call is
    /// needed. Otherwise (an event came, or the readiness could not be cleared) the kernel is
    /// asked with a non-blocking `MSG_PEEK` (consumes nothing). Either way a frame arriving
    /// after this check is caught by the MSA-2 check of the next exchange, never matched.
    pub fn reusable(&self) -> bool {
        if !self.clean() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        if self.stream.poll_read_ready(&mut cx).is_pending() {
            return true; // drained by the last read, no event since
        }
        let mut b = [MaybeUninit::<u8>::uninit(); 1];
        matches!(
            socket2::SockRef::from(&self.stream).peek(&mut b),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        )
    }

    /// Sends `payload` framed and returns the answer's payload, all within `timeout`.
    pub async fn exchange(
        &mut self,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Bytes, ExchangeError> {
        let Self {
            stream,
            buf,
            dec,
            out,
            timer,
        } = self;
        out.clear();
        out.reserve(payload.len() + 3);
        triage_hl7::encode(payload, out);
        let work = async {
            stream.write_all(out).await.map_err(ExchangeError::Write)?;
            read_message(stream, buf, dec).await
        };
        match within(timer, timeout, work).await {
            Some(r) => r,
            None => Err(ExchangeError::Timeout(timeout)),
        }
    }

    /// Reads the next HL7 payload.
    pub async fn read_message(&mut self) -> Result<Bytes, ExchangeError> {
        read_message(&mut self.stream, &mut self.buf, &mut self.dec).await
    }
}

/// Reads the next HL7 payload from `stream` (`buf` and `dec`: the connection's).
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    dec: &mut MllpDecoder,
) -> Result<Bytes, ExchangeError> {
    loop {
        match dec.decode(buf).map_err(ExchangeError::Framing)? {
            Some(item) => match item.frame {
                MllpFrame::Message(p) => return Ok(p),
                MllpFrame::CommitAck => continue,
                MllpFrame::CommitNak => return Err(ExchangeError::CommitNak),
            },
            None => {
                buf.reserve(4096);
                let room = buf.capacity() - buf.len();
                stream.readable().await.map_err(ExchangeError::Read)?;
                // After a short read the socket's readiness is cleared (drained), so that
                // [`MllpConn::reusable`] can tell from the runtime alone that nothing arrived.
                let n =
                    match crate::relay::try_read_drained(stream, room, || stream.try_read_buf(buf))
                    {
                        Some(r) => r.map_err(ExchangeError::Read)?,
                        None => continue,
                    };
                if n == 0 {
                    if let Ok(Some(item)) = dec.decode_eof(buf) {
                        if let MllpFrame::Message(p) = item.frame {
                            return Ok(p);
                        }
                    }
                    return Err(ExchangeError::Closed);
                }
            }
        }
    }
}

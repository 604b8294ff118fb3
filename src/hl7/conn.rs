//! An MLLP connection to a server: send one framed message, read frames until the answer
//! (an HL7 payload) arrives. MLLP release 2 commit ACKs are skipped; a commit NAK is an error.
//! The whole exchange (write and read) runs under one timeout, so a server that stops reading
//! cannot hold a message forever either.

use bytes::{Bytes, BytesMut};
use std::mem::MaybeUninit;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

/// A framed connection to one server.
#[derive(Debug)]
pub struct MllpConn {
    pub stream: TcpStream,
    buf: BytesMut,
    dec: MllpDecoder,
}

impl MllpConn {
    pub fn new(stream: TcpStream, max_frame: usize) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            dec: MllpDecoder::new(max_frame),
        }
    }

    /// Whether the connection still looks usable for another message: nothing buffered, and
    /// the socket has neither unread bytes (a late or unsolicited frame), nor an EOF, nor an
    /// error pending. Asks the kernel with a non-blocking `MSG_PEEK` (consumes nothing and does
    /// not depend on the runtime having seen the readiness event yet).
    pub fn reusable(&self) -> bool {
        if !self.buf.is_empty() || self.dec.pending_junk() > 0 {
            return false;
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
        let mut framed = BytesMut::with_capacity(payload.len() + 3);
        triage_hl7::encode(payload, &mut framed);
        let work = async {
            self.stream
                .write_all(&framed)
                .await
                .map_err(ExchangeError::Write)?;
            self.read_message().await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(ExchangeError::Timeout(timeout)),
        }
    }

    /// Reads the next HL7 payload.
    pub async fn read_message(&mut self) -> Result<Bytes, ExchangeError> {
        loop {
            match self
                .dec
                .decode(&mut self.buf)
                .map_err(ExchangeError::Framing)?
            {
                Some(item) => match item.frame {
                    MllpFrame::Message(p) => return Ok(p),
                    MllpFrame::CommitAck => continue,
                    MllpFrame::CommitNak => return Err(ExchangeError::CommitNak),
                },
                None => {
                    self.buf.reserve(4096);
                    let n = self
                        .stream
                        .read_buf(&mut self.buf)
                        .await
                        .map_err(ExchangeError::Read)?;
                    if n == 0 {
                        if let Ok(Some(item)) = self.dec.decode_eof(&mut self.buf) {
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
}

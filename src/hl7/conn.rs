//! An MLLP connection to a server: send one framed message, read frames until the answer
//! (an HL7 payload) arrives. MLLP release 2 commit ACKs are skipped; a commit NAK is an error.

use bytes::{Bytes, BytesMut};
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
    /// True when the server surely did not receive the message (the write failed).
    pub fn not_sent(&self) -> bool {
        matches!(self, ExchangeError::Write(_))
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
        Self { stream, buf: BytesMut::with_capacity(4096), dec: MllpDecoder::new(max_frame) }
    }

    /// Whether the connection still looks usable for another message: no stray bytes
    /// buffered and the server has not closed it (a non-blocking peek).
    pub fn reusable(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 1];
        matches!(self.stream.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Sends `payload` framed and returns the answer's payload.
    pub async fn exchange(&mut self, payload: &[u8], timeout: Duration) -> Result<Bytes, ExchangeError> {
        let mut framed = BytesMut::with_capacity(payload.len() + 3);
        triage_hl7::encode(payload, &mut framed);
        self.stream.write_all(&framed).await.map_err(ExchangeError::Write)?;
        match tokio::time::timeout(timeout, self.read_message()).await {
            Ok(r) => r,
            Err(_) => Err(ExchangeError::Timeout(timeout)),
        }
    }

    /// Reads the next HL7 payload.
    pub async fn read_message(&mut self) -> Result<Bytes, ExchangeError> {
        loop {
            match self.dec.decode(&mut self.buf).map_err(ExchangeError::Framing)? {
                Some(item) => match item.frame {
                    MllpFrame::Message(p) => return Ok(p),
                    MllpFrame::CommitAck => continue,
                    MllpFrame::CommitNak => return Err(ExchangeError::CommitNak),
                },
                None => {
                    self.buf.reserve(4096);
                    let n = self.stream.read_buf(&mut self.buf).await.map_err(ExchangeError::Read)?;
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

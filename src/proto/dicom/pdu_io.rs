//! Reading one whole upper-layer PDU from a socket: the 6-byte header is checked (type, and the
//! declared length against a cap, PS3.8 §9.3.1) before a single body byte is buffered.

use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use triage_dicom::{DicomError, PduDecoder, RawPdu, PDU_HEADER_LEN};

/// Why no PDU could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("peer closed the connection")]
    Closed,
    #[error("connection closed after {0} bytes of a PDU (truncated)")]
    Truncated(usize),
    #[error("no complete PDU within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Invalid(#[from] DicomError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one PDU of at most `max` body bytes within `limit`.
pub async fn read_pdu(s: &mut TcpStream, max: u32, limit: Duration) -> Result<RawPdu, ReadError> {
    match tokio::time::timeout(limit, read_inner(s, max)).await {
        Ok(r) => r,
        Err(_) => Err(ReadError::Timeout(limit)),
    }
}

async fn read_inner(s: &mut TcpStream, max: u32) -> Result<RawPdu, ReadError> {
    let mut head = [0u8; PDU_HEADER_LEN];
    let mut got = 0;
    while got < head.len() {
        match s.read(&mut head[got..]).await? {
            0 if got == 0 => return Err(ReadError::Closed),
            0 => return Err(ReadError::Truncated(got)),
            n => got += n,
        }
    }
    let dec = PduDecoder::new(max);
    let header = triage_dicom::peek_header(&head).ok_or(ReadError::Truncated(got))?;
    dec.check_header(&header)?;
    let body_len = header.length as usize;
    let mut buf = Vec::with_capacity(PDU_HEADER_LEN + body_len);
    buf.extend_from_slice(&head);
    buf.resize(PDU_HEADER_LEN + body_len, 0);
    let mut off = PDU_HEADER_LEN;
    while off < buf.len() {
        match s.read(&mut buf[off..]).await? {
            0 => return Err(ReadError::Truncated(off)),
            n => off += n,
        }
    }
    Ok(RawPdu::from_bytes(buf.into())?)
}

/// Longest wait for the peer's close after a final A-ASSOCIATE-RJ or A-ABORT.
const MAX_LINGER: Duration = Duration::from_secs(5);

/// Sends a final PDU (A-ASSOCIATE-RJ or A-ABORT), then waits for the peer to close, discarding
/// whatever it still sends, at most `artim` (capped at [`MAX_LINGER`]) — PS3.8 §9.2 actions
/// AE-8/AA-1: send the PDU, start ARTIM, close when the peer closes or ARTIM expires. Closing
/// at once with unread input would make the kernel send a reset, and a reset can make the
/// peer's stack drop the PDU before the application read it.
pub async fn send_final(s: &TcpStream, pdu: &[u8], artim: Duration) {
    if crate::relay::write_all(s, pdu).await.is_err() {
        return;
    }
    let _ = socket2::SockRef::from(s).shutdown(std::net::Shutdown::Write);
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            if s.readable().await.is_err() {
                return;
            }
            match s.try_read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(artim.min(MAX_LINGER), drain).await;
}

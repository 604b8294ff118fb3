//! Reading one whole upper-layer PDU from a socket: the 6-byte header is checked (type, and the
//! declared length against a cap, PS3.8 §9.3.1) before a single body byte is buffered.

use crate::timer::Timer;
use std::time::Duration;
use tokio::net::TcpStream;
use triage_dicom::{DicomError, PduDecoder, PduType, RawPdu, PDU_HEADER_LEN};

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
    let mut buf = Vec::with_capacity(PDU_HEADER_LEN);
    let (_, total) = read_header(s, &mut buf, PDU_HEADER_LEN, max).await?;
    read_to(s, &mut buf, total).await?;
    Ok(RawPdu::from_bytes(buf.into())?)
}

/// Reads into `buf` (at most `upto` bytes in all) until it holds a PDU header, checks the
/// header (type, and the declared length against `max`) and returns the PDU's type and whole
/// length.
async fn read_header(
    s: &TcpStream,
    buf: &mut Vec<u8>,
    upto: usize,
    max: u32,
) -> Result<(PduType, usize), ReadError> {
    while buf.len() < PDU_HEADER_LEN {
        let room = upto - buf.len();
        match read_more(s, buf, room).await? {
            0 if buf.is_empty() => return Err(ReadError::Closed),
            0 => return Err(ReadError::Truncated(buf.len())),
            _ => {}
        }
    }
    let header = triage_dicom::peek_header(buf).ok_or(ReadError::Truncated(buf.len()))?;
    let pdu_type = PduDecoder::new(max).check_header(&header)?;
    Ok((pdu_type, PDU_HEADER_LEN + header.length as usize))
}

/// Bytes asked for by the first read of [`read_pdu_ahead`]: a modality's whole A-ASSOCIATE-RQ
/// (storescu's 128 presentation contexts: 9.6 KiB) and the server's A-ASSOCIATE-AC (4 KiB for
/// them) usually come in with it. The buffer is one of [`crate::bufpool`]'s PDU buffers, lives
/// only until the PDU is forwarded, and goes back to the pool then ([`crate::bufpool::give_vec`]).
const AHEAD: usize = crate::bufpool::VEC_SIZE;

/// One PDU read by [`read_pdu_ahead`], with whatever the peer sent right after it.
#[derive(Debug)]
pub struct Ahead {
    /// The PDU's type (checked).
    pub pdu_type: PduType,
    /// The PDU (`len` bytes, header included, as received), then the bytes that followed it.
    pub bytes: Vec<u8>,
    /// Length of the PDU in `bytes`.
    pub len: usize,
}

impl Ahead {
    /// The PDU alone.
    pub fn pdu(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }

    /// What came after the PDU (a server's first P-DATA after its AC; from a client waiting
    /// for its answer, nothing).
    pub fn after(&self) -> &[u8] {
        self.bytes.get(self.len..).unwrap_or(&[])
    }
}

/// Like [`read_pdu`] (within `limit`, on the association's `timer`), but header and body come
/// in one read when they fit in [`AHEAD`] bytes (one system call per PDU instead of two), into
/// a pooled buffer. Bytes the peer sent after the PDU stay behind it, untouched, for the caller
/// to pass on (a server's first P-DATA after its AC) or to judge (a client that sent on after
/// its A-ASSOCIATE-RQ without waiting for the answer).
pub async fn read_pdu_ahead(
    s: &mut TcpStream,
    max: u32,
    timer: &mut Timer<'_>,
    limit: Duration,
) -> Result<Ahead, ReadError> {
    let read = std::pin::pin!(ahead_inner(s, max));
    match timer.within(limit, read).await {
        Some(r) => r,
        None => Err(ReadError::Timeout(limit)),
    }
}

async fn ahead_inner(s: &mut TcpStream, max: u32) -> Result<Ahead, ReadError> {
    let mut buf = crate::bufpool::take_vec();
    let (pdu_type, total) = read_header(s, &mut buf, AHEAD, max).await?;
    // The cap was checked: this reads (and allocates) at most `max` more bytes.
    read_to(s, &mut buf, total).await?;
    Ok(Ahead {
        pdu_type,
        bytes: buf,
        len: total,
    })
}

/// Reads until `buf` holds `total` bytes; the peer closing before is a truncated PDU.
async fn read_to(s: &TcpStream, buf: &mut Vec<u8>, total: usize) -> Result<(), ReadError> {
    while buf.len() < total {
        let room = total - buf.len();
        if read_more(s, buf, room).await? == 0 {
            return Err(ReadError::Truncated(buf.len()));
        }
    }
    Ok(())
}

/// One read of at most `room` bytes appended to `buf`, into its spare capacity (not zeroed
/// first), through [`crate::relay::try_read_drained`]: after a short read, the next wait on
/// the socket (the relay, or the watch on the client while servers are tried) costs no
/// system call that only hears "would block".
async fn read_more(s: &TcpStream, buf: &mut Vec<u8>, room: usize) -> std::io::Result<usize> {
    buf.reserve(room);
    loop {
        crate::relay::read_ready(s).await?;
        let r = crate::relay::try_read_drained(s, room, || {
            s.try_read_buf(&mut bytes::BufMut::limit(&mut *buf, room))
        });
        if let Some(r) = r {
            return r;
        }
    }
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
        loop {
            if s.readable().await.is_err() {
                return;
            }
            // Not held across the await: the buffer stays on the stack, out of the future
            // (which every association's task would otherwise carry while it is open).
            let mut buf = [0u8; 4096];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::test_pair as pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const AC: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_echo_associate_ac.bin");
    const RP: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_release_rp.bin");

    /// [`read_pdu_ahead`] within 5 s, on a timer of its own.
    async fn read_ahead(rx: &mut TcpStream, max: u32) -> Result<Ahead, ReadError> {
        let limit = Duration::from_secs(5);
        let sleep = std::pin::pin!(tokio::time::sleep(limit));
        read_pdu_ahead(rx, max, &mut Timer::new(sleep), limit).await
    }

    #[tokio::test]
    async fn read_ahead_returns_the_pdu_and_what_followed_it() {
        let (mut tx, mut rx) = pair().await;
        let mut wire = AC.to_vec();
        wire.extend_from_slice(RP);
        tx.write_all(&wire).await.unwrap();
        let pdu = read_ahead(&mut rx, 1 << 20).await.unwrap();
        assert_eq!(pdu.pdu(), AC);
        assert_eq!(pdu.pdu_type, PduType::AssociateAc);
        // The read may return before the RP is in; then it is still in the socket.
        let mut tail = pdu.after().to_vec();
        while tail.len() < RP.len() {
            let mut b = [0u8; 64];
            let n = rx.read(&mut b).await.unwrap();
            assert!(n > 0, "RP lost");
            tail.extend_from_slice(&b[..n]);
        }
        assert_eq!(tail, RP);
    }

    #[tokio::test]
    async fn read_ahead_assembles_a_pdu_sent_in_pieces_and_checks_the_cap() {
        let (mut tx, mut rx) = pair().await;
        let sender = tokio::spawn(async move {
            for piece in AC.chunks(5) {
                tx.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tx
        });
        let pdu = read_ahead(&mut rx, 1 << 20).await.unwrap();
        assert_eq!(pdu.pdu(), AC);
        assert!(pdu.after().is_empty());
        let mut tx = sender.await.unwrap();
        tx.write_all(AC).await.unwrap();
        let e = read_ahead(&mut rx, 16).await.unwrap_err();
        assert!(matches!(e, ReadError::Invalid(_)), "{e:?}");
        drop(tx);
    }
}

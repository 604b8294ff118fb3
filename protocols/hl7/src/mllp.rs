//! MLLP framing (HL7 v2 Transport Specification: MLLP release 1 and 2).
//!
//! A block is `<SB=0x0B> payload <EB=0x1C> <CR=0x0D>` (MLLP r1 §1, "Block
//! format"). Release 2 adds commit acknowledgements: a block whose payload is
//! exactly `<ACK=0x06>` (commit accepted) or `<NAK=0x15>` (commit refused).
//!
//! Tolerances, chosen for real-world senders:
//! * Bytes before a start block (between frames) are skipped and reported in
//!   [`MllpItem::junk_skipped`]. A start block seen *inside* an unfinished
//!   frame means the sender abandoned that frame: its bytes count as junk and
//!   decoding restarts at the new start block.
//! * A missing final CR is tolerated: `0x1C` followed by any byte other than
//!   `0x0D` ends the frame and that byte is left for the next frame (junk or
//!   `0x0B`). `0x1C` as the very last buffered byte is ambiguous (the CR may
//!   still be in flight), so [`MllpDecoder::decode`] answers "need more";
//!   [`MllpDecoder::decode_eof`] (peer closed) accepts it as a frame end.
//! * A payload larger than `max_frame` fails with
//!   [`MllpError::FrameTooLarge`] as soon as the excess is buffered; the
//!   decoder then discards bytes up to the next `0x0B`, so the connection
//!   remains usable.
//!
//! Unlike the decoders of the other codec crates, `Ok(None)` may consume
//! junk bytes from the buffer (so junk cannot grow without bound); their
//! count is carried into the next item. The framing parse uses `nom`
//! streaming combinators; a scan offset kept between calls makes buffering a
//! large frame in small reads linear rather than quadratic.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::branch::alt;
use nom::bytes::{complete, streaming};
use nom::combinator::peek;
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// Start block character (MLLP r1: `<SB>`, vertical tab).
pub const SB: u8 = 0x0B;
/// End block character (MLLP r1: `<EB>`, file separator).
pub const EB: u8 = 0x1C;
/// Carriage return that closes a block (MLLP r1: `<CR>`).
pub const CR: u8 = 0x0D;
/// MLLP release 2 positive commit acknowledgement payload (`<ACK>`).
pub const COMMIT_ACK: u8 = 0x06;
/// MLLP release 2 negative commit acknowledgement payload (`<NAK>`).
pub const COMMIT_NAK: u8 = 0x15;

/// Errors raised by [`MllpDecoder`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MllpError {
    /// The payload in progress exceeded the configured maximum. The decoder
    /// has dropped it and now skips to the next start block (`0x0B`).
    #[error(
        "MLLP frame payload of {size} bytes (so far) exceeds max_frame {max}; \
         dropping it and resyncing at the next start block 0x0B"
    )]
    FrameTooLarge {
        /// Payload bytes seen when the cap was hit (a lower bound).
        size: usize,
        /// The configured `max_frame`.
        max: usize,
    },
    /// The peer closed the connection inside a frame (no end block `0x1C`).
    #[error(
        "connection closed inside an MLLP frame after {size} payload bytes (no end block 0x1C)"
    )]
    Truncated {
        /// Payload bytes received before the close.
        size: usize,
    },
}

/// What one MLLP block carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MllpFrame {
    /// An HL7 message payload (without framing bytes). May be empty.
    Message(Bytes),
    /// MLLP release 2 commit acknowledgement (payload `0x06`).
    CommitAck,
    /// MLLP release 2 negative commit acknowledgement (payload `0x15`).
    CommitNak,
}

/// One decoded block plus the count of junk bytes skipped before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MllpItem {
    /// The block's content.
    pub frame: MllpFrame,
    /// Bytes discarded since the previous item: junk outside frames and
    /// abandoned partial frames (not bytes dropped after a `FrameTooLarge`).
    pub junk_skipped: usize,
}

impl MllpItem {
    /// The HL7 payload, if this block is a message (not a commit ack).
    pub fn payload(&self) -> Option<&Bytes> {
        match &self.frame {
            MllpFrame::Message(p) => Some(p),
            _ => None,
        }
    }
}

/// Incremental MLLP block decoder. Feed it the same `BytesMut` each time
/// more bytes arrive.
#[derive(Debug, Clone)]
pub struct MllpDecoder {
    /// Largest accepted payload in bytes (see [`crate::DEFAULT_MAX_FRAME`]).
    pub max_frame: usize,
    /// Payload bytes of the frame at the buffer head already known to hold
    /// neither `SB` nor `EB` (so they are not scanned again).
    scanned: usize,
    /// After `FrameTooLarge`: drop bytes until the next `SB`.
    discarding: bool,
    /// Junk skipped but not yet reported in an item.
    junk: usize,
}

impl Default for MllpDecoder {
    fn default() -> Self {
        Self::new(crate::DEFAULT_MAX_FRAME)
    }
}

type In<'a> = &'a [u8];

/// Bytes up to (not including) the next start block; all of them if none.
fn junk(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    complete::take_till(|b| b == SB).parse(i)
}

/// Payload bytes up to the next `SB` or `EB`; `Incomplete` if neither is
/// buffered yet.
fn payload_run(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    streaming::take_till(|b| b == SB || b == EB).parse(i)
}

/// `EB CR`, or `EB` followed by any other byte (missing CR, byte left
/// unconsumed); `Incomplete` when `EB` is the last buffered byte.
fn trailer(i: In<'_>) -> IResult<In<'_>, In<'_>> {
    preceded(
        streaming::tag(&[EB][..]),
        alt((streaming::tag(&[CR][..]), peek(streaming::take(1usize)))),
    )
    .parse(i)
}

impl MllpDecoder {
    /// A decoder with the given payload cap.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            scanned: 0,
            discarding: false,
            junk: 0,
        }
    }

    /// Junk bytes skipped and not yet reported (e.g. trailing junk at close).
    pub fn pending_junk(&self) -> usize {
        self.junk
    }

    /// Decode the next block. `Ok(None)`: need more bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<MllpItem>, MllpError> {
        self.decode_inner(buf, false)
    }

    /// Decode after the peer closed its side: a trailing `0x1C` without CR
    /// ends the frame, and an unfinished frame is [`MllpError::Truncated`].
    /// Call it repeatedly until `Ok(None)`.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<MllpItem>, MllpError> {
        self.decode_inner(buf, true)
    }

    fn decode_inner(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Result<Option<MllpItem>, MllpError> {
        loop {
            if self.discarding {
                match buf.iter().position(|&b| b == SB) {
                    Some(at) => {
                        buf.advance(at);
                        self.discarding = false;
                    }
                    None => {
                        buf.clear();
                        return Ok(None);
                    }
                }
            }
            // Junk before the start block.
            let skipped = junk(&buf[..]).map(|(_, j)| j.len()).unwrap_or(0);
            if skipped > 0 {
                buf.advance(skipped);
                self.junk = self.junk.saturating_add(skipped);
                self.scanned = 0;
            }
            if buf.is_empty() {
                return Ok(None);
            }
            // buf[0] == SB. Resume the scan where the previous call stopped;
            // rescan if the buffer shrank (the caller swapped buffers).
            if 1 + self.scanned > buf.len() {
                self.scanned = 0;
            }
            let start = 1 + self.scanned;
            let (delim_at, delim) = match payload_run(&buf[start..]) {
                Ok((rest, run)) => (start + run.len(), rest.first().copied()),
                Err(_) => (buf.len(), None),
            };
            let size = delim_at - 1;
            if size > self.max_frame {
                let max = self.max_frame;
                buf.advance(delim_at);
                self.scanned = 0;
                self.discarding = true;
                return Err(MllpError::FrameTooLarge { size, max });
            }
            match delim {
                None => {
                    self.scanned = size;
                    if eof {
                        buf.clear();
                        self.scanned = 0;
                        return Err(MllpError::Truncated { size });
                    }
                    return Ok(None);
                }
                Some(SB) => {
                    // Sender restarted mid-frame: the partial frame is junk.
                    buf.advance(delim_at);
                    self.junk = self.junk.saturating_add(delim_at);
                    self.scanned = 0;
                }
                Some(_) => {
                    let trailer_len = match trailer(&buf[delim_at..]) {
                        Ok((rest, _)) => buf.len() - delim_at - rest.len(),
                        Err(_) if eof => 1,
                        Err(_) => {
                            self.scanned = size;
                            return Ok(None);
                        }
                    };
                    buf.advance(1);
                    let payload = buf.split_to(size).freeze();
                    buf.advance(trailer_len);
                    self.scanned = 0;
                    let frame = match &payload[..] {
                        [COMMIT_ACK] => MllpFrame::CommitAck,
                        [COMMIT_NAK] => MllpFrame::CommitNak,
                        _ => MllpFrame::Message(payload),
                    };
                    let junk_skipped = std::mem::take(&mut self.junk);
                    return Ok(Some(MllpItem {
                        frame,
                        junk_skipped,
                    }));
                }
            }
        }
    }
}

/// Frame `payload` as one MLLP block: `0x0B payload 0x1C 0x0D`. The payload
/// must not itself contain `0x0B` or `0x1C` (HL7 text never does).
pub fn encode(payload: &[u8], out: &mut BytesMut) {
    out.reserve(payload.len() + 3);
    out.put_u8(SB);
    out.put_slice(payload);
    out.put_u8(EB);
    out.put_u8(CR);
}

/// Frame an MLLP release 2 commit acknowledgement: `ok` gives `<ACK>`
/// (0x06), otherwise `<NAK>` (0x15).
pub fn encode_commit(ok: bool, out: &mut BytesMut) {
    encode(&[if ok { COMMIT_ACK } else { COMMIT_NAK }], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_variants() {
        assert!(trailer(&[EB]).is_err());
        assert_eq!(trailer(&[EB, CR, SB]).unwrap().0, &[SB]);
        assert_eq!(trailer(&[EB, SB]).unwrap().0, &[SB]);
    }

    #[test]
    fn payload_run_needs_delimiter() {
        assert!(matches!(payload_run(b"abc"), Err(nom::Err::Incomplete(_))));
        assert_eq!(payload_run(b"ab\x1c").unwrap().1, b"ab");
    }
}

//! Protocol `mllp`: HL7 v2 per-message balancing with ACK-verified delivery (HL7 v2.5.1 ch. 2:
//! §2.9.2 original-mode and §2.9.3 enhanced-mode acknowledgement; MLLP release 1 framing).
//! For each message: de-frame, read MSH (§2.14.9), route by MSH-9 / MSH-4, pick a server, send
//! over a pooled connection, wait for the ACK, check MSA-2 = MSH-10 (§2.14.8), and only then
//! return the server's ACK to the sender ([`deliver`]). If a server fails before
//! acknowledging, the same message goes to the next one; if none can take it, the sender gets
//! an AE NAK (retryable), never silence. One message in flight per client connection keeps
//! the sender's order.
//!
//! Bad input gets an AR NAK (with an ERR segment, §2.14.5, from v2.5 on) and the connection
//! stays usable: an unreadable MSH, an oversized frame (`max_request_bytes`, the decoder then
//! resyncs at the next start block), a frame cut by the close, and bytes outside MLLP
//! framing. Junk is answered once the sender pauses ([`JUNK_GRACE`]) without starting a frame,
//! so that junk just before a frame, or whitespace such as a CR LF after the end block, does
//! not add an answer the sender would pair with its next message. Logs carry the control id
//! and the reason, never the message body.

mod backends;
mod deliver;
mod meters;

use super::{Conn, Handler, Refusal};
use crate::health::BoxFuture;
use crate::hl7::conn::within;
use crate::pool::PickKey;
use crate::route::RouteKey;
use crate::service::Service;
use crate::upstream::ConnectOpts;
use backends::Backends;
use bytes::{Bytes, BytesMut};
use deliver::{deliver, Limits};
use meters::Meters;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage_hl7::mllp::SB;
use triage_hl7::{self as codec, AckCode, AckError, ErrorCode, MllpDecoder, MllpError, MllpFrame};

/// Default time a server has to acknowledge a message (`handshake_timeout` overrides it).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a sender must pause after bytes outside MLLP framing before they get an AR NAK.
pub const JUNK_GRACE: Duration = Duration::from_millis(50);

#[derive(Default)]
pub struct MllpHandler {
    backends: Arc<Backends>,
}

impl Handler for MllpHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        Box::pin(serve(conn, self.backends.clone()))
    }

    fn refuse(&self, conn: Conn, why: Refusal) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let nak = nak_without_msh(ErrorCode::ApplicationInternalError, why.as_str(), "");
            let _ = send_frame(&mut { conn.stream }, &nak).await;
        })
    }
}

/// A fresh MSH-10 for a NAK triage builds itself.
fn nak_id() -> String {
    format!("TRIAGE{:010}", rand::random::<u32>())
}

/// MSH-7 of the NAKs triage builds (the current time, UTC).
fn now_ts() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    codec::hl7_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// AR NAK for input without a usable MSH: its own new MSH-10, MSA-2 = `acked` (a salvaged
/// control id, or empty), ERR-3 = `code`.
fn nak_without_msh(code: ErrorCode, reason: &str, acked: &str) -> Vec<u8> {
    let err = AckError::new(code, reason);
    codec::build_nak_without_msh_at(AckCode::AR, &err, &nak_id(), acked, &now_ts())
}

async fn send_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    send_frame_with(s, &mut BytesMut::new(), payload).await
}

/// [`send_frame`] framing into `out` (a connection's buffer, reused for every answer).
async fn send_frame_with(
    s: &mut TcpStream,
    out: &mut BytesMut,
    payload: &[u8],
) -> std::io::Result<()> {
    out.clear();
    out.reserve(payload.len() + 3);
    codec::encode(payload, out);
    s.write_all(out).await
}

/// Tracks bytes outside MLLP frames ahead of the decoder, which skips them silently.
#[derive(Debug, Default)]
struct JunkWatch {
    /// After a `FrameTooLarge` the decoder drops bytes up to the next start block: those are
    /// the rest of the oversized frame, not junk.
    discarding: bool,
    /// Junk other than whitespace/NUL seen since the last frame or NAK.
    text: bool,
}

impl JunkWatch {
    /// Looks at the bytes the decoder is about to skip (call before each decode).
    fn scan(&mut self, buf: &[u8]) {
        let mut from = 0;
        if self.discarding {
            match buf.iter().position(|&b| b == SB) {
                Some(at) => {
                    self.discarding = false;
                    from = at;
                }
                None => return,
            }
        }
        let rest = &buf[from..];
        let end = rest.iter().position(|&b| b == SB).unwrap_or(rest.len());
        if rest[..end]
            .iter()
            .any(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
        {
            self.text = true;
        }
    }
}

async fn serve(conn: Conn, backends: Arc<Backends>) {
    let svc = conn.service.clone();
    let mut client = conn.stream;
    let max = max_frame(&svc);
    let mut dec = MllpDecoder::new(max);
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = BytesMut::new();
    let mut timer = crate::hl7::conn::timer();
    let mut meters = Meters::new(svc.name());
    let mut junk = JunkWatch::default();
    let key = PickKey::new(conn.peer, conn.local);
    let opts = svc.connect_opts(conn.peer, conn.local);
    let mut eof = false;
    loop {
        junk.scan(&buf);
        let item = if eof {
            dec.decode_eof(&mut buf)
        } else {
            dec.decode(&mut buf)
        };
        let item = match item {
            Ok(Some(item)) => item,
            Ok(None) => {
                let waiting_junk = junk.text && buf.is_empty();
                if eof {
                    if waiting_junk {
                        let _ = answer_junk(&svc, &mut client, &dec).await;
                    }
                    return;
                }
                buf.reserve(4096);
                let wait = if waiting_junk {
                    JUNK_GRACE
                } else {
                    svc.spec.client_timeout
                };
                match within(&mut timer, wait, client.read_buf(&mut buf)).await {
                    Some(Ok(0)) => eof = true,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return tracing::debug!(error = %e, "client read failed"),
                    None if waiting_junk => {
                        junk.text = false;
                        if answer_junk(&svc, &mut client, &dec).await.is_err() {
                            return;
                        }
                    }
                    None => return tracing::info!("client idle timeout; closing"),
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "bad MLLP framing from client; AR NAK");
                junk.discarding = matches!(e, MllpError::FrameTooLarge { .. });
                count(&svc, "unknown", "AR");
                let nak = nak_without_msh(ErrorCode::SegmentSequence, &e.to_string(), "");
                if send_frame(&mut client, &nak).await.is_err() || eof {
                    return;
                }
                continue;
            }
        };
        junk.text = false;
        if item.junk_skipped > 0 {
            tracing::warn!(
                bytes = item.junk_skipped,
                "skipped bytes outside MLLP frames before a frame"
            );
        }
        let MllpFrame::Message(payload) = item.frame else {
            continue;
        };
        let answer = handle_message(&svc, &backends, &mut meters, key, &opts, payload).await;
        if send_frame_with(&mut client, &mut out, &answer)
            .await
            .is_err()
        {
            return;
        }
    }
}

fn max_frame(svc: &Service) -> usize {
    svc.spec
        .max_request_bytes
        .map_or(codec::DEFAULT_MAX_FRAME, |m| m as usize)
}

/// AR NAK for bytes outside MLLP framing that no frame followed.
async fn answer_junk(
    svc: &Service,
    client: &mut TcpStream,
    dec: &MllpDecoder,
) -> std::io::Result<()> {
    let n = dec.pending_junk();
    tracing::warn!(bytes = n, "bytes outside MLLP framing; AR NAK");
    count(svc, "unknown", "AR");
    let reason = format!("{n} bytes outside MLLP framing (expected 0x0B message 0x1C 0x0D)");
    send_frame(
        client,
        &nak_without_msh(ErrorCode::SegmentSequence, &reason, ""),
    )
    .await
}

/// Delivers one message and returns the payload to send back (the server's ACK, unchanged and
/// not copied, or our NAK).
async fn handle_message(
    svc: &Service,
    backends: &Arc<Backends>,
    meters: &mut Meters,
    key: PickKey,
    opts: &ConnectOpts,
    payload: Bytes,
) -> Bytes {
    let msh = match codec::parse_msh_fields(&payload) {
        Ok(m) => m,
        Err(e) => {
            let control = codec::salvage_control_id(&payload).unwrap_or_default();
            tracing::warn!(control_id = %control, bytes = payload.len(), error = %e, "unreadable MSH; AR NAK");
            count(svc, "unknown", "AR");
            return match e.partial_msh() {
                Some(m) => {
                    let err = AckError::new(e.error_code(), e.to_string());
                    codec::build_ack_at(m, AckCode::AR, &nak_id(), Some(&err), &now_ts()).into()
                }
                None => nak_without_msh(e.error_code(), &e.to_string(), &control).into(),
            };
        }
    };
    let mtype = msh.message_type_full();
    let rkey = RouteKey {
        message_type: Some(&mtype),
        sending_facility: Some(msh.sending_facility),
        ..Default::default()
    };
    let pool = svc.route_pool(&rkey);
    let Some(pool) = pool else {
        tracing::warn!(control_id = %msh.control_id, message_type = %mtype, "no route for message type; AR NAK");
        count(svc, &mtype, "AR");
        let err = AckError::new(
            ErrorCode::UnsupportedMessageType,
            format!("no route for {mtype}"),
        );
        return nak_for(&payload, AckCode::AR, &err);
    };
    let limits = Limits {
        ack_timeout: svc.spec.handshake_timeout.unwrap_or(DEFAULT_ACK_TIMEOUT),
        max_frame: max_frame(svc),
        idle: svc.spec.server_timeout,
    };
    let start = Instant::now();
    let (outcome, redeliveries) = deliver(backends, pool, key, opts, limits, &payload, &msh).await;
    crate::hl7::stats::add_redeliveries(svc.name(), u64::from(redeliveries));
    if redeliveries > 0 {
        let labels = crate::metrics::ServiceLabels {
            service: svc.name().to_string(),
        };
        crate::metrics::global()
            .hl7_redeliveries
            .get_or_create(&labels)
            .inc_by(u64::from(redeliveries));
    }
    meters.ack_seconds(start.elapsed().as_secs_f64());
    match outcome {
        Ok(d) => {
            tracing::info!(control_id = %msh.control_id, message_type = %mtype, bytes = payload.len(), server = %d.server, ack = %d.code, redeliveries, ms = start.elapsed().as_millis() as u64, "message acknowledged");
            meters.count(&mtype, d.code.as_str());
            d.ack
        }
        Err(reason) => {
            tracing::warn!(control_id = %msh.control_id, message_type = %mtype, redeliveries, reason = %reason, "no server acknowledged; AE NAK");
            meters.count(&mtype, "AE");
            let err = AckError::new(ErrorCode::ApplicationInternalError, reason);
            nak_for(&payload, AckCode::AE, &err)
        }
    }
}

/// A NAK addressed from the header of `payload` (whose [`codec::parse_msh_fields`] succeeded,
/// so the full read does too).
fn nak_for(payload: &[u8], code: AckCode, err: &AckError) -> Bytes {
    match codec::parse_msh(payload) {
        Ok(msh) => codec::build_ack_at(&msh, code, &nak_id(), Some(err), &now_ts()).into(),
        Err(e) => nak_without_msh(e.error_code(), &err.reason, "").into(),
    }
}

fn count(svc: &Service, message_type: &str, ack: &str) {
    let labels = crate::metrics::Hl7Labels {
        service: svc.name().to_string(),
        message_type: message_type.to_string(),
        ack: ack.to_string(),
    };
    crate::metrics::global()
        .hl7_messages
        .get_or_create(&labels)
        .inc();
}

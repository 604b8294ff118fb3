//! Protocol `mllp`: HL7 v2 per-message balancing with ACK-verified delivery (HL7 v2.5.1 ch. 2,
//! MLLP). For each message: de-frame, read MSH, route by MSH-9 / MSH-4, pick a server, send over
//! a pooled connection, wait for the ACK, check MSA-2 = MSH-10, and only then return the
//! server's ACK to the sender. If a server fails before acknowledging, the same message goes to
//! the next one; if none can take it, the sender gets an AE NAK (retryable), never silence.
//! Bad framing or an unreadable MSH gets an AR NAK and the connection stays usable. One message
//! in flight per client connection keeps the sender's order.

mod backends;

use super::{Conn, Handler, Refusal};
use crate::health::BoxFuture;
use crate::hl7::conn::{ExchangeError, MllpConn};
use crate::pool::{PickKey, Pool};
use crate::route::{route, RouteKey};
use crate::service::Service;
use crate::upstream::{self, Attempts};
use backends::Backends;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage_hl7::{self as codec, AckCode, AckError, ErrorCode, MllpDecoder, MllpFrame, Msh};

/// Default time a server has to acknowledge a message (`handshake_timeout` overrides it).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(30);

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
            let nak = codec::build_nak_without_msh(AckCode::AR, why.as_str(), &nak_id());
            let _ = send_frame(&mut { conn.stream }, &nak).await;
        })
    }
}

fn nak_id() -> String {
    format!("TRIAGE{:010}", rand::random::<u32>())
}

async fn send_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut out = BytesMut::with_capacity(payload.len() + 3);
    codec::encode(payload, &mut out);
    s.write_all(&out).await
}

async fn serve(conn: Conn, backends: Arc<Backends>) {
    let svc = conn.service.clone();
    let mut client = conn.stream;
    let max = svc.spec.max_request_bytes.map_or(codec::DEFAULT_MAX_FRAME, |m| m as usize);
    let mut dec = MllpDecoder::new(max);
    let mut buf = BytesMut::with_capacity(4096);
    let key = PickKey { client: conn.peer.ip(), local_port: conn.local.port() };
    let opts = svc.connect_opts(conn.peer, conn.local);
    let mut eof = false;
    loop {
        let item = if eof { dec.decode_eof(&mut buf) } else { dec.decode(&mut buf) };
        let item = match item {
            Ok(Some(item)) => item,
            Ok(None) if eof => return,
            Ok(None) => {
                buf.reserve(4096);
                match tokio::time::timeout(svc.spec.client_timeout, client.read_buf(&mut buf)).await {
                    Ok(Ok(0)) => eof = true,
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return tracing::debug!(error = %e, "client read failed"),
                    Err(_) => return tracing::info!("client idle timeout; closing"),
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "bad MLLP framing from client; AR NAK");
                let nak = codec::build_nak_without_msh(AckCode::AR, &e.to_string(), &nak_id());
                if send_frame(&mut client, &nak).await.is_err() || eof {
                    return;
                }
                continue;
            }
        };
        if item.junk_skipped > 0 {
            tracing::warn!(bytes = item.junk_skipped, "skipped bytes outside MLLP frames");
        }
        let MllpFrame::Message(payload) = item.frame else { continue };
        let answer = handle_message(&svc, &backends, key, &opts, payload).await;
        if send_frame(&mut client, &answer).await.is_err() {
            return;
        }
    }
}

/// Delivers one message and returns the payload to send back (the server's ACK or our NAK).
async fn handle_message(svc: &Service, backends: &Backends, key: PickKey, opts: &upstream::ConnectOpts, payload: Bytes) -> Vec<u8> {
    let msh = match codec::parse_msh(&payload) {
        Ok(m) => m,
        Err(e) => {
            let control = codec::salvage_control_id(&payload).unwrap_or_default();
            tracing::warn!(control_id = %control, bytes = payload.len(), error = %e, "unreadable MSH; AR NAK");
            count(svc, "unknown", "AR");
            let err = AckError::new(e.error_code(), e.to_string());
            return match e.partial_msh() {
                Some(m) => codec::build_ack(m, AckCode::AR, &nak_id(), Some(&err)),
                None => codec::build_nak_without_msh(AckCode::AR, &e.to_string(), &control),
            };
        }
    };
    let mtype = msh.message_type_full();
    let rkey = RouteKey { message_type: Some(&mtype), sending_facility: Some(&msh.sending_facility), ..Default::default() };
    let pool = match route(&svc.spec.routes, &rkey) {
        Some(name) => svc.pool_named(name),
        None => svc.pool.as_ref(),
    };
    let Some(pool) = pool else {
        tracing::warn!(control_id = %msh.control_id, message_type = %mtype, "no route for message type; AR NAK");
        count(svc, &mtype, "AR");
        let err = AckError::new(ErrorCode::UnsupportedMessageType, format!("no route for {mtype}"));
        return codec::build_ack(&msh, AckCode::AR, &nak_id(), Some(&err));
    };
    let start = Instant::now();
    match deliver(svc, backends, pool, key, opts, &payload, &msh).await {
        Ok((ack, code, server, tries)) => {
            tracing::info!(control_id = %msh.control_id, message_type = %mtype, bytes = payload.len(), server = %server, ack = %code, redeliveries = tries, ms = start.elapsed().as_millis() as u64, "message acknowledged");
            count(svc, &mtype, &code);
            ack.to_vec()
        }
        Err(reason) => {
            tracing::warn!(control_id = %msh.control_id, message_type = %mtype, reason = %reason, "no server acknowledged; AE NAK");
            count(svc, &mtype, "AE");
            let err = AckError::new(ErrorCode::ApplicationInternalError, reason);
            codec::build_ack(&msh, AckCode::AE, &nak_id(), Some(&err))
        }
    }
}

fn count(svc: &Service, message_type: &str, ack: &str) {
    let labels = crate::metrics::Hl7Labels { service: svc.name().to_string(), message_type: message_type.to_string(), ack: ack.to_string() };
    crate::metrics::global().hl7_messages.get_or_create(&labels).inc();
}

/// Tries servers until one acknowledges: (ACK payload, MSA-1, server, re-deliveries).
async fn deliver(
    svc: &Service,
    backends: &Backends,
    pool: &Pool,
    key: PickKey,
    opts: &upstream::ConnectOpts,
    payload: &[u8],
    msh: &Msh,
) -> Result<(Bytes, String, String, u32), String> {
    let ack_timeout = svc.spec.handshake_timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
    let max = svc.spec.max_request_bytes.map_or(codec::DEFAULT_MAX_FRAME, |m| m as usize);
    let mut attempts = Attempts::new(pool, key, opts.retries);
    while let Some(lease) = attempts.next() {
        let pooled = backends.take(lease.addr, svc.spec.server_timeout);
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(c) => c,
            None => match upstream::dial(&lease, opts).await {
                Ok(s) => MllpConn::new(s, max),
                Err(e) => {
                    attempts.failed(lease, e);
                    continue;
                }
            },
        };
        let mut r = conn.exchange(payload, ack_timeout).await;
        if reused && matches!(r, Err(ExchangeError::Closed | ExchangeError::Write(_))) {
            // A pooled connection the server had closed meanwhile: one fresh try, same server.
            match upstream::dial(&lease, opts).await {
                Ok(s) => {
                    conn = MllpConn::new(s, max);
                    r = conn.exchange(payload, ack_timeout).await;
                }
                Err(e) => {
                    attempts.failed(lease, e);
                    continue;
                }
            }
        }
        let err = match r {
            Ok(ack) => match codec::parse_ack(&ack) {
                Ok((_, msa)) if msa.control_id == msh.control_id => {
                    let server = lease.server().name().to_string();
                    backends.put(lease.addr, conn);
                    return Ok((ack, msa.code.as_str().to_string(), server, attempts.attempts()));
                }
                Ok((_, msa)) => format!("ACK for {:?} does not match MSH-10 {:?}", msa.control_id, msh.control_id),
                Err(e) => format!("unreadable ACK: {e}"),
            },
            Err(e) => e.to_string(),
        };
        // The connection is dropped (never reused): a late ACK must not meet the next message.
        attempts.failed(lease, crate::error::GatewayError::ServerIo(std::io::Error::other(err)));
    }
    Err(attempts.into_error().to_string())
}

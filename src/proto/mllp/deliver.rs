//! Delivery of one message to the servers of a pool, with no loss: the message is sent to a
//! server and counts as delivered only when an acknowledgement with MSA-2 = the message's
//! MSH-10 comes back (HL7 v2.5.1 ch. 2 §2.9.2 original mode, §2.14.8 MSA). Any other outcome
//! (connect failure, write/read error, close, timeout, unreadable or mismatched ACK, MLLP
//! commit NAK) drops that backend connection, so a late ACK can never be matched to the next
//! message, and the same message goes to the next server within the retry budget.
//!
//! A pooled connection that fails as if the server had closed it while idle gets one more try
//! on a fresh connection to the same server. Every send after the first counts as a
//! re-delivery (the server may have got the message before failing: delivery is at least
//! once, as with any MLLP sender that retransmits).
//!
//! Enhanced mode (§2.9.3, MSH-15/16 valued): the first answer, normally the accept ACK (CA),
//! is passed back without waiting for the application ACK; as the server may then send that
//! application ACK on the same connection, such a connection is not pooled again (unless
//! MSH-16 is `NE`). Limitation: with MSH-15 `NE` the server sends no accept ACK, so triage waits
//! for the application ACK (MSH-16) and, when neither is wanted, times out.

use super::backends::{BackendKey, Backends};
use crate::error::GatewayError;
use crate::hl7::conn::MllpConn;
use crate::pool::{Lease, PickKey, Pool};
use crate::upstream::{self, Attempts, ConnectOpts};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use triage_hl7::{self as codec, AckCode, MshFields};

/// What a server's acknowledgement looked like.
#[derive(Debug)]
pub struct Delivered {
    /// The server's answer payload, passed back unchanged.
    pub ack: Bytes,
    pub code: AckCode,
    pub server: String,
}

/// Limits of one delivery.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time a server has to acknowledge (write and read).
    pub ack_timeout: Duration,
    /// Largest answer frame accepted from a server.
    pub max_frame: usize,
    /// How long an idle pooled connection is kept.
    pub idle: Duration,
}

/// Tries servers until one acknowledges. Returns the outcome and the number of re-deliveries
/// (sends after the first); the error text says why no server acknowledged.
pub async fn deliver(
    backends: &Arc<Backends>,
    pool: &Pool,
    key: PickKey,
    opts: &ConnectOpts,
    limits: Limits,
    payload: &[u8],
    msh: &MshFields<'_>,
) -> (Result<Delivered, String>, u32) {
    let mut sends = 0u32;
    let mut attempts = Attempts::new(pool, key, opts.retries);
    while let Some(lease) = attempts.next() {
        let bkey = BackendKey {
            addr: lease.addr,
            proxy: opts.proxy.map(|(_, src, dst)| (src, dst)),
        };
        match try_server(
            backends, &bkey, &lease, opts, limits, payload, msh, &mut sends,
        )
        .await
        {
            Ok((ack, code, conn)) => {
                let app_ack_may_follow =
                    code.is_commit() && msh.application_ack_type.map(str::trim) != Some("NE");
                if !app_ack_may_follow {
                    backends.put(bkey, conn, limits.idle);
                }
                let server = lease.server().name().to_string();
                return (Ok(Delivered { ack, code, server }), sends.saturating_sub(1));
            }
            // The connection (if any) was dropped inside `try_server`.
            Err(e) => attempts.failed(lease, e),
        }
    }
    (
        Err(attempts.into_error().to_string()),
        sends.saturating_sub(1),
    )
}

/// One server: a pooled connection if there is one (a fresh one if that turns out stale),
/// else a new one. Returns the ACK and the connection, which is clean to reuse.
#[allow(clippy::too_many_arguments)]
async fn try_server(
    backends: &Backends,
    bkey: &BackendKey,
    lease: &Lease,
    opts: &ConnectOpts,
    limits: Limits,
    payload: &[u8],
    msh: &MshFields<'_>,
    sends: &mut u32,
) -> Result<(Bytes, AckCode, MllpConn), GatewayError> {
    let mut pooled = backends.take(bkey);
    loop {
        let reused = pooled.is_some();
        let mut conn = match pooled.take() {
            Some(c) => c,
            None => MllpConn::new(upstream::dial(lease, opts).await?, limits.max_frame),
        };
        *sends += 1;
        let why = match conn.exchange(payload, limits.ack_timeout).await {
            Err(e) if reused && e.stale_connection() => {
                tracing::debug!(server = lease.server().name(), error = %e, "pooled connection was stale; sending again on a new one");
                continue;
            }
            Err(e) => e.to_string(),
            Ok(ack) => match codec::parse_msa(&ack) {
                Ok(msa) if msa.control_id == msh.control_id => {
                    return Ok((ack, msa.code, conn));
                }
                Ok(msa) => format!(
                    "ACK for MSA-2 {:?} does not match MSH-10 {:?}",
                    msa.control_id, msh.control_id
                ),
                Err(e) => format!("unreadable ACK: {e}"),
            },
        };
        return Err(GatewayError::ServerIo(std::io::Error::other(why)));
    }
}

//! Forwarding an A-ASSOCIATE-RQ to the servers of a pool until one accepts (PS3.8 §9.3.2–§9.3.4).
//!
//! Each attempt: connect (connect timeout), send the request (called AE rewritten to the
//! server's own if configured, every other byte as the client sent it), read the answer within
//! the ARTIM interval (PS3.8 §9.1.5). Connection refused, connect timeout, no or garbled answer,
//! A-ABORT, or a rejected-transient A-ASSOCIATE-RJ move on to the next server (bounded by the
//! service's `retries`); a rejected-permanent RJ is final and goes back to the client as is.
//!
//! The client is watched meanwhile: in state Sta5 (awaiting the AC, PS3.8 §9.2) it may only
//! abort or close. If it does either, or sends anything else, the attempt stops at once, the
//! server (if it already has the request) gets an A-ABORT, and nothing more is tried.

use super::pdu_io::read_pdu_ahead;
use crate::error::GatewayError;
use crate::pool::Lease;
use crate::relay::write_all;
use crate::timer::Timer;
use crate::upstream::{self, Attempts, ConnectOpts};
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;
use triage_dicom::{self as codec, AssociateRj, PduType, AE_TITLE_LEN, CALLED_AE_OFFSET};

/// Cap for a server's answer (an A-ASSOCIATE-AC carries about the same items as the RQ).
const MAX_AC: u32 = 1024 * 1024;

/// How forwarding ended.
#[derive(Debug)]
pub enum Outcome {
    /// A server accepted; `ac` is ready for the client (called AE restored), followed by what
    /// the server sent right after it; a pooled buffer.
    Accepted {
        server: TcpStream,
        lease: Lease,
        ac: Vec<u8>,
    },
    /// A server rejected permanently; the RJ PDU as it sent it.
    Rejected {
        rj: AssociateRj,
        pdu: Vec<u8>,
        server: String,
    },
    /// No server accepted (none up, all failed, or the retry budget ran out).
    NoServer(GatewayError),
    /// The client closed, aborted or broke protocol while waiting.
    ClientGone(ClientEvent),
}

/// What the client did while it should have been waiting for the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Transport closed or reset.
    Closed,
    /// Sent an A-ABORT (allowed in Sta5).
    Aborted,
    /// Sent some other PDU (protocol violation: it gets an A-ABORT).
    Unexpected,
}

impl ClientEvent {
    /// What sending a PDU starting with `first` means while the answer is awaited: A-ABORT is
    /// the one PDU allowed then (PS3.8 §9.2, Sta5).
    pub fn sent(first: u8) -> Self {
        if first == PduType::Abort.as_u8() {
            ClientEvent::Aborted
        } else {
            ClientEvent::Unexpected
        }
    }
}

/// Tries the servers of `attempts` for this request, `connected` (a server connection made
/// beforehand, `preconnect`) first; connect timeouts and ARTIM on the association's `timer`.
/// The request is rewritten in place for each server (no copy of a modality's many-context
/// request per attempt); the client's called-AE field is kept aside to restore it for the next
/// server and in the AC.
pub async fn forward(
    client: &TcpStream,
    mut attempts: Attempts<'_>,
    mut connected: Option<(TcpStream, Lease)>,
    opts: &ConnectOpts,
    rq: &mut [u8],
    artim: Duration,
    timer: &mut Timer<'_>,
) -> Outcome {
    let called = CALLED_AE_OFFSET..CALLED_AE_OFFSET + AE_TITLE_LEN;
    let mut original = [0u8; AE_TITLE_LEN];
    if let Some(f) = rq.get(called.clone()) {
        original.copy_from_slice(f);
    }
    loop {
        let (mut server, lease) = match connected.take() {
            Some(c) => c,
            None => {
                let Some(lease) = attempts.next() else { break };
                tokio::select! {
                    r = upstream::dial_on(&lease, opts, timer) => match r {
                        Ok(s) => (s, lease),
                        Err(e) => {
                            attempts.failed(lease, e);
                            continue;
                        }
                    },
                    ev = client_event(client) => return Outcome::ClientGone(ev),
                }
            }
        };
        if let Some(f) = rq.get_mut(called.clone()) {
            f.copy_from_slice(&original);
        }
        let rewritten = match &lease.server().spec.ae_title {
            Some(ae) => rewrite_if_different(rq, ae),
            None => false,
        };
        if let Err(e) = write_all(&server, rq).await {
            attempts.failed(lease, GatewayError::ServerIo(e));
            continue;
        }
        let answer = tokio::select! {
            r = read_pdu_ahead(&mut server, MAX_AC, timer, artim) => r,
            ev = client_event(client) => {
                abort(&server).await;
                return Outcome::ClientGone(ev);
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                attempts.failed(lease, server_err(format!("no association answer: {e}")));
                continue;
            }
        };
        match answer.pdu_type {
            PduType::AssociateAc => {
                // What the server sent right after its AC goes to the client right after it:
                // the buffer holds both, in order.
                let mut ac = answer.bytes;
                if rewritten {
                    restore_called_ae(&mut ac, &original);
                }
                return Outcome::Accepted { server, lease, ac };
            }
            PduType::AssociateRj => {
                let rj = AssociateRj::parse(answer.pdu()).unwrap_or(AssociateRj::no_reason());
                if rj.is_transient() {
                    attempts.failed(lease, server_err(format!("association rejected: {rj}")));
                    continue;
                }
                return Outcome::Rejected {
                    rj,
                    pdu: answer.pdu().to_vec(),
                    server: lease.server().name().to_string(),
                };
            }
            PduType::Abort => {
                attempts.failed(
                    lease,
                    server_err("association aborted by the server".into()),
                );
            }
            other => {
                abort(&server).await;
                attempts.failed(
                    lease,
                    server_err(format!("unexpected {other:?} in answer to A-ASSOCIATE-RQ")),
                );
            }
        }
    }
    Outcome::NoServer(attempts.into_error())
}

fn server_err(text: String) -> GatewayError {
    GatewayError::ServerIo(io::Error::other(text))
}

/// Sends an A-ABORT (service-provider, reason not specified, PS3.8 §9.3.8), ignoring errors.
pub async fn abort(s: &TcpStream) {
    let pdu = codec::encode_abort(
        codec::ABORT_SOURCE_SERVICE_PROVIDER,
        codec::ABORT_REASON_NOT_SPECIFIED,
    );
    let _ = write_all(s, &pdu).await;
}

/// Rewrites the called AE of `rq` to `ae` unless it already says so (compared trimmed, as AE
/// titles are, PS3.5 §6.2); true if rewritten.
fn rewrite_if_different(rq: &mut [u8], ae: &str) -> bool {
    let same = rq
        .get(CALLED_AE_OFFSET..CALLED_AE_OFFSET + AE_TITLE_LEN)
        .is_some_and(|f| codec::ae_field_is(f, ae));
    !same && codec::rewrite_called_ae(rq, ae).is_ok()
}

/// Copies the request's called-AE field (`field`, as the client sent it), byte for byte, into
/// the AC (PS3.8 §9.3.3: the AC's called AE is "identical to the value received" in the RQ,
/// padding included).
fn restore_called_ae(ac: &mut [u8], field: &[u8; AE_TITLE_LEN]) {
    if let Some(dst) = ac.get_mut(CALLED_AE_OFFSET..CALLED_AE_OFFSET + AE_TITLE_LEN) {
        dst.copy_from_slice(field);
    }
}

/// Resolves when the client does anything while it should be waiting: closes, aborts, sends.
/// Nothing is consumed from the socket. Waits through the socket's reader slot (`poll_peek`)
/// rather than a waiter of tokio's list (`peek()`), which costs a lock when dropped.
pub(super) async fn client_event(client: &TcpStream) -> ClientEvent {
    let mut b = [0u8; 1];
    let mut buf = tokio::io::ReadBuf::new(&mut b);
    match std::future::poll_fn(|cx| client.poll_peek(cx, &mut buf)).await {
        Ok(0) | Err(_) => ClientEvent::Closed,
        Ok(_) => buf
            .filled()
            .first()
            .map_or(ClientEvent::Closed, |&b| ClientEvent::sent(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_associate_rq.bin");
    const AC: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_echo_associate_ac.bin");

    #[test]
    fn rewrite_and_restore_keep_every_other_byte() {
        let mut out = RQ.to_vec();
        assert!(
            !rewrite_if_different(&mut out, "ARCHIVE"),
            "same AE: untouched"
        );
        assert_eq!(out, RQ);
        assert!(rewrite_if_different(&mut out, "PACS1"));
        assert_eq!(&out[10..26], b"PACS1           ");
        let diff: Vec<usize> = (0..RQ.len()).filter(|&i| out[i] != RQ[i]).collect();
        assert!(diff.iter().all(|i| (10..26).contains(i)), "{diff:?}");
        let mut ac = AC.to_vec();
        ac[10..26].copy_from_slice(b"PACS1           ");
        let field: [u8; AE_TITLE_LEN] = RQ[10..26].try_into().unwrap();
        restore_called_ae(&mut ac, &field);
        assert_eq!(ac, AC);
        // A short (broken) AC is left alone rather than panicking.
        let mut short = vec![2u8, 0, 0, 0, 0, 4, 0, 1, 0, 0];
        restore_called_ae(&mut short, &field);
        assert_eq!(short, [2u8, 0, 0, 0, 0, 4, 0, 1, 0, 0]);
    }
}

//! The gateway's own AE title (`[[service]] ae_title`): triage answers C-ECHO itself — success
//! while at least one server of the service's default pool is up, A-ASSOCIATE-RJ otherwise.
//! This is the "verification" front door modalities are configured against (PS3.7 §9.1.5,
//! Verification SOP Class PS3.4 Annex A).

use super::meter::count;
use super::pdu_io::{read_pdu, send_final, ReadError};
use crate::relay::write_all;
use crate::service::Service;
use std::time::Duration;
use tokio::net::TcpStream;
use triage_dicom::{self as codec, AssociateRj, PduType};

/// Processing failure (PS3.7 §C.4.1): the C-ECHO status once every server went down
/// mid-association.
const STATUS_PROCESSING_FAILURE: u16 = 0x0110;

/// Serves an association addressed to the gateway itself. Counts it in
/// `triage_dicom_associations_total` (before answering) and returns the result label:
/// `local-accepted` once the AC goes out (however the association ends), `local-rejected`, or
/// `aborted` if no AC could be built.
/// No server up: RJ rejected-transient local-limit-exceeded; Verification not proposed: RJ
/// rejected-permanent no-reason-given (PS3.8 §9.3.4).
pub async fn serve(
    mut s: TcpStream,
    rq: &[u8],
    svc: &Service,
    called: &str,
    max: u32,
    artim: Duration,
) -> &'static str {
    let our_ae = svc.spec.ae_title.as_deref().unwrap_or("TRIAGE");
    if up_count(svc) == 0 {
        tracing::info!("local C-ECHO refused: no server of the default pool is up");
        count(svc, called, "local-rejected");
        send_final(&s, &AssociateRj::local_limit_exceeded().encode(), artim).await;
        return "local-rejected";
    }
    if !codec::proposes_verification(rq) {
        tracing::info!("local association refused: Verification SOP Class not proposed");
        count(svc, called, "local-rejected");
        send_final(&s, &AssociateRj::no_reason().encode(), artim).await;
        return "local-rejected";
    }
    let ac = match codec::build_verification_ac(rq, our_ae) {
        Ok(ac) => ac,
        Err(e) => {
            tracing::warn!(error = %e, "cannot answer the association request; aborting");
            count(svc, called, "aborted");
            abort(&s, codec::ABORT_REASON_INVALID_PARAMETER, artim).await;
            return "aborted";
        }
    };
    count(svc, called, "local-accepted");
    if write_all(&s, &ac).await.is_err() {
        return "local-accepted";
    }
    let end = session(&mut s, svc, max, artim).await;
    tracing::debug!(end, "local association over");
    "local-accepted"
}

fn up_count(svc: &Service) -> usize {
    svc.pool.as_ref().map_or(0, |p| p.up_count())
}

/// Sends an A-ABORT (service-provider source, PS3.8 §9.3.8) and closes.
async fn abort(s: &TcpStream, reason: u8, artim: Duration) {
    let pdu = codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, reason);
    send_final(s, &pdu, artim).await;
}

/// Answers C-ECHO-RQs until the release (PS3.8 §9.3.6/§9.3.7); returns how it ended.
async fn session(s: &mut TcpStream, svc: &Service, max: u32, artim: Duration) -> &'static str {
    // The AC announced AC_MAX_PDU_LENGTH; the peer must not send more.
    let cap = max.max(codec::AC_MAX_PDU_LENGTH + 64);
    let idle = svc.spec.client_timeout.min(Duration::from_secs(300));
    loop {
        let pdu = match read_pdu(s, cap, idle).await {
            Ok(p) => p,
            Err(ReadError::Closed) => return "closed without release",
            Err(e) => {
                tracing::info!(error = %e, "local association: bad or missing PDU; aborting");
                abort(s, codec::ABORT_REASON_NOT_SPECIFIED, artim).await;
                return "aborted by triage";
            }
        };
        match pdu.pdu_type {
            PduType::PData => match echo_answer(&pdu.bytes, svc) {
                Some(rsp) => {
                    if write_all(s, &rsp).await.is_err() {
                        return "client gone";
                    }
                }
                None => {
                    tracing::info!("local association: only C-ECHO is served here; aborting");
                    abort(s, codec::ABORT_REASON_UNEXPECTED_PDU, artim).await;
                    return "aborted by triage";
                }
            },
            PduType::ReleaseRq => {
                let _ = write_all(s, &codec::encode_release_rp()).await;
                return "released";
            }
            PduType::Abort => return "aborted by the client",
            _ => {
                abort(s, codec::ABORT_REASON_UNEXPECTED_PDU, artim).await;
                return "aborted by triage";
            }
        }
    }
}

/// The C-ECHO-RSP for a P-DATA carrying a whole C-ECHO-RQ command; `None` for anything else.
fn echo_answer(pdata: &[u8], svc: &Service) -> Option<Vec<u8>> {
    let pdvs = codec::parse_pdata(pdata).ok()?;
    let pdv = pdvs.iter().find(|p| p.is_command && p.is_last)?;
    let cmd = codec::parse_command(&pdv.data).ok()?;
    if cmd.command_field != codec::C_ECHO_RQ {
        return None;
    }
    let status = if up_count(svc) > 0 {
        codec::STATUS_SUCCESS
    } else {
        STATUS_PROCESSING_FAILURE
    };
    Some(codec::build_echo_rsp_pdata(
        pdv.context_id,
        cmd.message_id.unwrap_or(1),
        status,
    ))
}

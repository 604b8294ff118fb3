//! The gateway's own AE title (`[[service]] ae_title`): triage answers C-ECHO itself — success
//! while at least one server of the service's default pool is up, A-ASSOCIATE-RJ otherwise.
//! This is the "verification" front door modalities are configured against (PS3.7 §9.1.5).

use super::pdu_io::{read_pdu, ReadError};
use crate::relay::write_all;
use crate::service::Service;
use std::time::Duration;
use tokio::net::TcpStream;
use triage_dicom::{self as codec, AssociateRj, PduType};

/// Serves an association addressed to the gateway itself; returns the result label for metrics.
pub async fn serve(mut s: TcpStream, rq: &[u8], svc: &Service, max: u32) -> &'static str {
    let our_ae = svc.spec.ae_title.as_deref().unwrap_or("TRIAGE");
    let up = svc.pool.as_ref().map_or(0, |p| p.up_count());
    if up == 0 {
        tracing::info!("local C-ECHO refused: no server of the default pool is up");
        let _ = write_all(&s, &AssociateRj::local_limit_exceeded().encode()).await;
        return "rejected";
    }
    if !codec::proposes_verification(rq) {
        let _ = write_all(&s, &AssociateRj::no_reason().encode()).await;
        return "rejected";
    }
    let ac = match codec::build_verification_ac(rq, our_ae) {
        Ok(ac) => ac,
        Err(e) => {
            tracing::warn!(error = %e, "cannot answer the association request; aborting");
            let _ = write_all(&s, &codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, codec::ABORT_REASON_INVALID_PARAMETER)).await;
            return "aborted";
        }
    };
    if write_all(&s, &ac).await.is_err() {
        return "aborted";
    }
    let idle = svc.spec.client_timeout.min(Duration::from_secs(300));
    loop {
        let pdu = match read_pdu(&mut s, max.max(codec::AC_MAX_PDU_LENGTH + 64), idle).await {
            Ok(p) => p,
            Err(ReadError::Closed) => return "accepted",
            Err(e) => {
                tracing::info!(error = %e, "local association ended");
                let _ = write_all(&s, &codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, codec::ABORT_REASON_NOT_SPECIFIED)).await;
                return "aborted";
            }
        };
        match pdu.pdu_type {
            PduType::PData => {
                let answer = echo_answer(&pdu.bytes, svc);
                match answer {
                    Some(rsp) => {
                        if write_all(&s, &rsp).await.is_err() {
                            return "aborted";
                        }
                    }
                    None => {
                        let _ = write_all(&s, &codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, codec::ABORT_REASON_UNEXPECTED_PDU)).await;
                        return "aborted";
                    }
                }
            }
            PduType::ReleaseRq => {
                let _ = write_all(&s, &codec::encode_release_rp()).await;
                return "accepted";
            }
            _ => return "aborted",
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
    let up = svc.pool.as_ref().map_or(0, |p| p.up_count());
    // 0x0110 = Processing failure (PS3.7 §C.4.1) once every server went down mid-association.
    let status = if up > 0 { codec::STATUS_SUCCESS } else { 0x0110 };
    Some(codec::build_echo_rsp_pdata(pdv.context_id, cmd.message_id.unwrap_or(1), status))
}

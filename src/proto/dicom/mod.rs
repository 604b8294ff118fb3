//! Protocol `dicom`: association-aware balancing (PS3.8). triage reads the A-ASSOCIATE-RQ
//! (length capped, ARTIM-style timeout), routes by called/calling AE, rewrites the called AE to
//! the server's own if configured, tries servers until one accepts (connection refused, connect
//! timeout, A-ABORT or a transient A-ASSOCIATE-RJ move on to the next), restores the called AE
//! in the A-ASSOCIATE-AC, then relays bytes untouched. No server: the client gets a proper
//! A-ASSOCIATE-RJ, never a bare reset; garbage or an oversized PDU: A-ABORT.

mod local;
mod pdu_io;

use super::{Conn, Handler, Refusal};
use crate::health::BoxFuture;
use crate::pool::PickKey;
use crate::relay::{self, write_all};
use crate::route::{route, RouteKey};
use crate::service::Service;
use crate::upstream::{self, Attempts};
use pdu_io::{read_pdu, ReadError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use triage_dicom::{self as codec, AssociateRj, PduType};

/// ARTIM default (PS3.8 §9.1.5): time allowed for the A-ASSOCIATE-RQ.
pub const DEFAULT_ARTIM: Duration = Duration::from_secs(30);
/// Cap for the server's answer (A-ASSOCIATE-AC carries the same items as the RQ).
const MAX_AC: u32 = 1024 * 1024;

pub struct DicomHandler;

impl Handler for DicomHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        Box::pin(serve(conn))
    }

    fn refuse(&self, conn: Conn, why: Refusal) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut s = conn.stream;
            let svc = conn.service;
            // Read the request first so the peer is in the state where it expects an answer.
            let _ = read_pdu(&mut s, max_rq(&svc), Duration::from_secs(5)).await;
            let rj = match why {
                Refusal::NotAllowed => AssociateRj::calling_ae_not_recognized(),
                Refusal::TooManyConnections => AssociateRj::local_limit_exceeded(),
            };
            let _ = write_all(&s, &rj.encode()).await;
        })
    }
}

fn max_rq(svc: &Service) -> u32 {
    svc.spec.max_request_bytes.unwrap_or(codec::DEFAULT_MAX_ASSOC_RQ)
}

async fn abort(s: &TcpStream, reason: u8) {
    let _ = write_all(s, &codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, reason)).await;
}

async fn serve(conn: Conn) {
    let svc = conn.service.clone();
    let mut client = conn.stream;
    let artim = svc.spec.handshake_timeout.unwrap_or(DEFAULT_ARTIM);
    let rq = match read_pdu(&mut client, max_rq(&svc), artim).await {
        Ok(p) if p.pdu_type == PduType::AssociateRq => p,
        Ok(p) => {
            tracing::warn!(pdu = ?p.pdu_type, "expected A-ASSOCIATE-RQ; aborting");
            return abort(&client, codec::ABORT_REASON_UNEXPECTED_PDU).await;
        }
        Err(ReadError::Closed) => return,
        Err(e @ ReadError::Invalid(_)) => {
            tracing::warn!(error = %e, "bad PDU from client; aborting");
            return abort(&client, codec::ABORT_REASON_INVALID_PARAMETER).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "no association request; aborting");
            return abort(&client, codec::ABORT_REASON_NOT_SPECIFIED).await;
        }
    };
    let info = match codec::parse_associate_rq(&rq.bytes) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "unparseable A-ASSOCIATE-RQ; aborting");
            return abort(&client, codec::ABORT_REASON_INVALID_PARAMETER).await;
        }
    };
    let span = tracing::Span::current();
    span.record("calling_ae", info.calling_ae.as_str());
    tracing::debug!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, contexts = info.presentation_contexts, "association requested");

    if svc.spec.ae_title.as_deref() == Some(info.called_ae.as_str()) {
        let result = local::serve(client, &rq.bytes, &svc, max_rq(&svc)).await;
        tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, result, "local verification association");
        return;
    }

    let key = RouteKey { called_ae: Some(&info.called_ae), calling_ae: Some(&info.calling_ae), ..Default::default() };
    let pool = match route(&svc.spec.routes, &key) {
        Some(name) => svc.pool_named(name),
        None => svc.pool.as_ref(),
    };
    let Some(pool) = pool else {
        tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, "no route for called AE: rejected");
        let _ = write_all(&client, &AssociateRj::called_ae_not_recognized().encode()).await;
        return;
    };

    let start = Instant::now();
    let opts = svc.connect_opts(conn.peer, conn.local);
    let mut attempts = Attempts::new(pool, PickKey { client: conn.peer.ip(), local_port: conn.local.port() }, opts.retries);
    let mut permanent_rj: Option<Vec<u8>> = None;
    while let Some(lease) = attempts.next() {
        let mut server = match upstream::dial(&lease, &opts).await {
            Ok(s) => s,
            Err(e) => {
                attempts.failed(lease, e);
                continue;
            }
        };
        // Rewrite the called AE in a copy; every other byte stays as the client sent it.
        let mut out = rq.bytes.to_vec();
        let rewritten = match &lease.server().spec.ae_title {
            Some(ae) if *ae != info.called_ae => codec::rewrite_called_ae(&mut out, ae).is_ok(),
            _ => false,
        };
        if let Err(e) = write_all(&server, &out).await {
            attempts.failed(lease, crate::error::GatewayError::ServerIo(e));
            continue;
        }
        let answer = match read_pdu(&mut server, MAX_AC, artim).await {
            Ok(a) => a,
            Err(e) => {
                attempts.failed(lease, crate::error::GatewayError::ServerIo(std::io::Error::other(format!("no association answer: {e}"))));
                continue;
            }
        };
        match answer.pdu_type {
            PduType::AssociateAc => {
                let mut ac = answer.bytes.to_vec();
                if rewritten {
                    // Restore the called AE the client asked for (PS3.8 §9.3.3: same value as the RQ).
                    let _ = codec::rewrite_called_ae(&mut ac, &info.called_ae);
                }
                if write_all(&client, &ac).await.is_err() {
                    return;
                }
                let server_name = lease.server().name().to_string();
                tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, server = %server_name, contexts = info.presentation_contexts, "association accepted");
                let r = tokio::select! {
                    r = relay::relay(&client, &server, svc.idle(), &svc.stats.traffic) => r,
                    _ = lease.server().retired.cancelled() => return,
                };
                let ms = start.elapsed().as_millis() as u64;
                match r {
                    Ok(t) => tracing::info!(server = %server_name, up = t.up, down = t.down, ms, "association ended"),
                    Err(e) => tracing::info!(server = %server_name, error = %e, side = e.side().as_str(), ms, "association ended"),
                }
                return;
            }
            PduType::AssociateRj => {
                let rj = AssociateRj::parse(&answer.bytes).unwrap_or(AssociateRj::no_reason());
                if rj.is_transient() {
                    attempts.failed(lease, crate::error::GatewayError::ServerIo(std::io::Error::other(format!("association rejected: {rj}"))));
                    continue;
                }
                tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, server = lease.server().name(), reason = %rj, "association rejected by server");
                permanent_rj = Some(answer.bytes.to_vec());
                break;
            }
            other => {
                let e = std::io::Error::other(format!("unexpected {other:?} in answer to A-ASSOCIATE-RQ"));
                attempts.failed(lease, crate::error::GatewayError::ServerIo(e));
                continue;
            }
        }
    }
    let rj = match permanent_rj {
        Some(bytes) => bytes,
        None => {
            let e = attempts.into_error();
            tracing::warn!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, error = %e, "no server accepted the association: rejected");
            AssociateRj::local_limit_exceeded().encode()
        }
    };
    let _ = write_all(&client, &rj).await;
}

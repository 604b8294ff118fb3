//! Protocol `dicom`: association-aware balancing (PS3.8). triage reads the A-ASSOCIATE-RQ
//! (PS3.8 §9.3.2; length capped before buffering, within the ARTIM interval of §9.1.5), routes
//! by called/calling AE, then [`forward`] tries servers until one accepts (called AE rewritten to
//! the server's own if configured and restored in the AC), and [`relay`] moves bytes untouched
//! until either side closes. What the client sees when triage says no:
//! - no route (service without a default pool): A-ASSOCIATE-RJ rejected-permanent,
//!   called-AE-title-not-recognized (PS3.8 §9.3.4, Table 9-21);
//! - no server accepted: A-ASSOCIATE-RJ rejected-transient, local-limit-exceeded (a client may
//!   retry later); a server's permanent RJ is passed on as the server sent it;
//! - source not allowed: RJ calling-AE-title-not-recognized; connection limit: RJ
//!   local-limit-exceeded;
//! - garbage, an oversized or truncated PDU, a PDU other than the RQ, or no complete RQ within
//!   ARTIM: A-ABORT (PS3.8 §9.3.8, service-provider source) and close, never a bare reset.
//!
//! Every association request counts in `triage_dicom_associations_total{service,called_ae,
//! result}` and ends with one log line: calling AE, called AE, server, presentation-context
//! count, bytes each way, duration.
//!
//! Cost per association (measured by `cargo bench --bench load_dicom`): the request is read by
//! its item headers only (`triage_dicom::summarize_associate_rq`: AE titles and context count;
//! a full parse of a modality's 128-context request would take ~50 µs, the walk well under one),
//! and an open association holds neither the request, its summary's parse nor the AC, only the
//! relay's state.
//!
//! With `preconnect` (the default for services without routes, own AE or PROXY header) a server
//! of the default pool is connected while the request is being read, as a TCP proxy connects on
//! accept: one connect round trip less per association. The server's application does not see
//! that connection before the request: the socket saves the handshake's last ACK for the first
//! bytes ([`ConnectOpts::client_first`]), so the server holds it half-open until the request
//! is forwarded; a request that is refused, or does not come within [`EARLY_WINDOW`] of the
//! connection, or whose client aborts or closes before it was forwarded (also while the connect
//! is still under way), makes triage withdraw it with a reset (a half-open connection reset is
//! dropped by the server's kernel unseen), and a late request gets a connection of its own
//! afterwards.
//! With a PROXY header (written at connect) the default is off; `preconnect = true` then lets
//! the server see early connections, reset when the request is refused or late.

mod forward;
mod local;
mod meter;
mod pdu_io;
mod relay;

use super::{Conn, Handler, Refusal};
use crate::health::BoxFuture;
use crate::pool::{Lease, PickKey};
use crate::relay::write_all;
use crate::route::RouteKey;
use crate::service::Service;
use crate::timer::Timer;
use crate::upstream::{Attempts, ConnectOpts};
use forward::{ClientEvent, Outcome};
use meter::count;
use pdu_io::{read_pdu_ahead, send_final, ReadError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use triage_dicom::{self as codec, AssociateRj, PduType};

/// ARTIM default (PS3.8 §9.1.5): time allowed for the A-ASSOCIATE-RQ, and for a server's answer.
pub const DEFAULT_ARTIM: Duration = Duration::from_secs(30);
/// A refused connection gets at most this long to send its request before the RJ.
const REFUSE_WAIT: Duration = Duration::from_secs(5);

pub struct DicomHandler;

impl Handler for DicomHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        Box::pin(serve(conn))
    }

    fn refuse(&self, conn: Conn, why: Refusal) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut s = conn.stream;
            let svc = conn.service;
            // Read the request first: the peer then expects an answer and reports the RJ.
            let wait = artim(&svc).min(REFUSE_WAIT);
            let sleep = std::pin::pin!(tokio::time::sleep(wait));
            let mut timer = Timer::new(sleep);
            let Some(Rq { info, .. }) = read_rq(&mut s, &svc, &mut timer, wait).await else {
                return;
            };
            let rj = match why {
                Refusal::NotAllowed => AssociateRj::calling_ae_not_recognized(),
                Refusal::TooManyConnections => AssociateRj::local_limit_exceeded(),
            };
            tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, reason = %rj, refusal = why.as_str(), "association rejected");
            count(&svc, &info.called_ae, "rejected");
            send_final(&s, &rj.encode(), artim(&svc)).await;
        })
    }
}

fn max_rq(svc: &Service) -> u32 {
    svc.spec
        .max_request_bytes
        .unwrap_or(codec::DEFAULT_MAX_ASSOC_RQ)
}

fn artim(svc: &Service) -> Duration {
    svc.spec.handshake_timeout.unwrap_or(DEFAULT_ARTIM)
}

/// Sends an A-ABORT (service-provider source, PS3.8 §9.3.8) and closes (see [`send_final`]).
async fn abort(s: &TcpStream, reason: u8, svc: &Service) {
    let pdu = codec::encode_abort(codec::ABORT_SOURCE_SERVICE_PROVIDER, reason);
    send_final(s, &pdu, artim(svc)).await;
}

/// The client closed, aborted or broke protocol before it had its answer: logged, counted, and
/// a protocol break answered with an A-ABORT.
async fn client_gone(client: &TcpStream, svc: &Service, info: &codec::RqSummary, ev: ClientEvent) {
    tracing::info!(calling_ae = %info.calling_ae, called_ae = %info.called_ae, contexts = info.presentation_contexts, event = ?ev, "client gave up before the association answer");
    count(svc, &info.called_ae, "aborted");
    if ev == ClientEvent::Unexpected {
        abort(client, codec::ABORT_REASON_UNEXPECTED_PDU, svc).await;
    }
}

/// A received A-ASSOCIATE-RQ: its bytes (a pooled buffer), its summary, and what the client
/// did after it without waiting for the answer (sent more, aborted or closed), if anything.
struct Rq {
    bytes: Vec<u8>,
    info: codec::RqSummary,
    gone: Option<ClientEvent>,
}

/// Reads and parses the A-ASSOCIATE-RQ (header and body usually in one read) within `limit`
/// on the association's `timer`. On anything else
/// the client gets an A-ABORT (unless it simply closed without a byte) and `None` comes back;
/// the failure is logged and counted.
async fn read_rq(
    client: &mut TcpStream,
    svc: &Service,
    timer: &mut Timer<'_>,
    limit: Duration,
) -> Option<Rq> {
    let (reason, why) = match read_pdu_ahead(client, max_rq(svc), timer, limit).await {
        Ok(p) if p.pdu_type == PduType::AssociateRq => {
            match codec::summarize_associate_rq(p.pdu()) {
                Ok(info) => {
                    let gone = p.after().first().map(|&b| ClientEvent::sent(b));
                    let mut bytes = p.bytes;
                    bytes.truncate(p.len);
                    return Some(Rq { bytes, info, gone });
                }
                Err(e) => (
                    codec::ABORT_REASON_INVALID_PARAMETER,
                    format!("unparseable A-ASSOCIATE-RQ: {e}"),
                ),
            }
        }
        Ok(p) => (
            codec::ABORT_REASON_UNEXPECTED_PDU,
            format!("expected A-ASSOCIATE-RQ, got {:?}", p.pdu_type),
        ),
        Err(ReadError::Closed) => return None,
        Err(ReadError::Invalid(e @ codec::DicomError::UnknownPduType { .. })) => (
            codec::ABORT_REASON_UNRECOGNIZED_PDU,
            format!("not DICOM: {e}"),
        ),
        Err(ReadError::Invalid(e)) => (
            codec::ABORT_REASON_INVALID_PARAMETER,
            format!("bad PDU: {e}"),
        ),
        Err(e) => (
            codec::ABORT_REASON_NOT_SPECIFIED,
            format!("no association request: {e}"),
        ),
    };
    tracing::warn!(reason = %why, "aborting the connection");
    count(svc, "", "aborted");
    abort(client, reason, svc).await;
    None
}

/// How long a server connection made on accept (`preconnect`) waits for the client's request
/// once it is up. Well inside the 200 ms Linux waits before it sends a handshake's last ACK on
/// its own when the socket asked to save it ([`ConnectOpts::client_first`]): until then the
/// server holds the connection half-open, its application has not seen it, and a reset
/// withdraws it unseen. Modalities send the request right after their connect, so it is
/// there long before.
const EARLY_WINDOW: Duration = Duration::from_millis(50);

/// [`read_rq`] while connecting to a server of `attempts` (`preconnect`, with its own connect
/// timeout: both wait at once). The connection is the request's if the request comes within
/// [`EARLY_WINDOW`] of it; otherwise, or if the request is refused, it is withdrawn with a
/// reset while the server's application has not seen it yet, and the attempt it used goes back
/// to `attempts`. A client that gives up before the request is forwarded (`Rq::gone`, also
/// while the connect is still under way) leaves no connection either.
async fn read_rq_connecting(
    client: &mut TcpStream,
    svc: &Service,
    attempts: &mut Attempts<'_>,
    opts: &ConnectOpts,
    timer: &mut Timer<'_>,
) -> (Option<Rq>, Option<(TcpStream, Lease)>) {
    let (rq, connected, withdrawn) = {
        let mut dial = std::pin::pin!(Some(crate::upstream::connect_next(attempts, opts, None)));
        // Armed when the connection is up (a `Sleep` is registered only once polled).
        let mut window = std::pin::pin!(tokio::time::sleep(EARLY_WINDOW));
        let (mut connected, mut withdrawn) = (None, false);
        let mut rq = {
            let mut read = std::pin::pin!(read_rq(client, svc, timer, artim(svc)));
            loop {
                tokio::select! {
                    // The connect first: issued before the request is looked at, even when it
                    // is already there.
                    biased;
                    c = async {
                        match dial.as_mut().as_pin_mut() {
                            Some(d) => d.await,
                            None => std::future::pending().await,
                        }
                    }, if dial.is_some() => {
                        dial.set(None);
                        connected = c;
                        window.as_mut().reset(tokio::time::Instant::now() + EARLY_WINDOW);
                    }
                    rq = &mut read => break rq,
                    () = &mut window, if connected.is_some() => {
                        withdrawn = true;
                        withdraw(connected.take());
                    }
                }
            }
        };
        // A connect still under way is finished (its own timeout) rather than dropped:
        // dropping it after the kernel completed the handshake would close with a FIN, which
        // the server's application sees as an empty connection. The client is watched
        // meanwhile (PS3.8 §9.2, Sta5): if it gives up, the connection is withdrawn unseen
        // once made, instead of carrying the request to the server.
        if let Some(mut d) = dial.as_mut().as_pin_mut() {
            match rq.as_mut().filter(|r| r.gone.is_none()) {
                Some(r) => {
                    tokio::select! {
                        biased;
                        c = &mut d => connected = c,
                        ev = forward::client_event(client) => {
                            r.gone = Some(ev);
                            connected = d.await;
                        }
                    }
                }
                None => connected = d.await,
            }
        }
        (rq, connected, withdrawn)
    };
    if rq.as_ref().is_none_or(|r| r.gone.is_some()) {
        withdraw(connected);
        return (rq, None);
    }
    if withdrawn {
        attempts.give_back();
    }
    (rq, connected)
}

/// Closes an early server connection with a reset (SO_LINGER 0): to a server that has not had
/// the handshake's last ACK (see [`EARLY_WINDOW`]) it is a connection that never was.
fn withdraw(c: Option<(TcpStream, Lease)>) {
    if let Some((s, _lease)) = c {
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    }
}

async fn serve(conn: Conn) {
    let svc = conn.service.clone();
    let mut client = conn.stream;
    let start = Instant::now();
    let opts = svc.connect_opts(conn.peer, conn.local);
    // One timer for every wait of the association, armed for the earliest deadline any of
    // them can have (see crate::timer).
    let idle = svc.idle();
    let sleep = std::pin::pin!(crate::timer::first_sleep(
        tokio::time::Instant::from_std(start),
        &[artim(&svc), opts.timeout, idle.client, idle.server],
    ));
    let mut timer = Timer::new(sleep);
    let pick = PickKey::new(conn.peer, conn.local);
    let mut pre = svc
        .pool
        .as_deref()
        .filter(|_| svc.spec.preconnect)
        .map(|p| Attempts::new(p, pick, opts.retries));
    let (rq, connected) = match pre.as_mut() {
        Some(attempts) => read_rq_connecting(&mut client, &svc, attempts, &opts, &mut timer).await,
        None => (
            read_rq(&mut client, &svc, &mut timer, artim(&svc)).await,
            None,
        ),
    };
    let Some(Rq {
        bytes: mut rq,
        info,
        gone,
    }) = rq
    else {
        return;
    };
    tracing::Span::current().record("calling_ae", info.calling_ae.as_str());
    let (calling, called, contexts) = (
        info.calling_ae.as_str(),
        info.called_ae.as_str(),
        info.presentation_contexts,
    );
    tracing::debug!(
        calling_ae = calling,
        called_ae = called,
        contexts,
        "association requested"
    );

    // A client that sent on after its request without waiting for the answer (an A-ABORT, or
    // anything else, which breaks protocol and gets an A-ABORT (AA-8), as when it does so
    // while the servers are tried), or that closed meanwhile.
    if let Some(ev) = gone {
        client_gone(&client, &svc, &info, ev).await;
        return;
    }

    if svc.spec.ae_title.as_deref() == Some(called) {
        let result = local::serve(client, &rq, &svc, called, max_rq(&svc), artim(&svc)).await;
        let ms = start.elapsed().as_millis() as u64;
        tracing::info!(
            calling_ae = calling,
            called_ae = called,
            contexts,
            result,
            ms,
            "local verification association ended"
        );
        return;
    }

    let key = RouteKey {
        called_ae: Some(called),
        calling_ae: Some(calling),
        ..Default::default()
    };
    let pool = svc.route_pool(&key);
    let Some(pool) = pool else {
        let rj = AssociateRj::called_ae_not_recognized();
        tracing::info!(calling_ae = calling, called_ae = called, contexts, reason = %rj, "no route for the called AE: rejected");
        count(&svc, called, "rejected");
        send_final(&client, &rj.encode(), artim(&svc)).await;
        return;
    };

    // With preconnect the attempts started while the request was read (same pool: no routes).
    let attempts = pre.unwrap_or_else(|| Attempts::new(pool, pick, opts.retries));
    let forwarded = forward::forward(
        &client,
        attempts,
        connected,
        &opts,
        &mut rq,
        artim(&svc),
        &mut timer,
    );
    let (server, lease, ac) = match forwarded.await {
        Outcome::Accepted { server, lease, ac } => (server, lease, ac),
        Outcome::Rejected { rj, pdu, server } => {
            tracing::info!(calling_ae = calling, called_ae = called, contexts, server, reason = %rj, "association rejected by the server");
            count(&svc, called, "rejected");
            send_final(&client, &pdu, artim(&svc)).await;
            return;
        }
        Outcome::NoServer(e) => {
            let rj = AssociateRj::local_limit_exceeded();
            tracing::warn!(calling_ae = calling, called_ae = called, contexts, pool = pool.name(), error = %e, reason = %rj, "no server accepted the association: rejected");
            count(&svc, called, "no-server");
            send_final(&client, &rj.encode(), artim(&svc)).await;
            return;
        }
        Outcome::ClientGone(ev) => {
            client_gone(&client, &svc, &info, ev).await;
            return;
        }
    };
    // Held no longer than needed: an open association keeps neither PDU (their buffers go
    // back to the pool for the next association).
    crate::bufpool::give_vec(rq);
    let server_name = lease.server().name();
    let sent = write_all(&client, &ac).await;
    crate::bufpool::give_vec(ac);
    if let Err(e) = sent {
        tracing::info!(calling_ae = calling, called_ae = called, server = %server_name, error = %e, "client gone before the A-ASSOCIATE-AC");
        count(&svc, called, "aborted");
        forward::abort(&server).await;
        return;
    }
    count(&svc, called, "accepted");
    // Debug only: the one info line of an association is the one at its end (it carries
    // everything this one would, plus bytes and duration).
    tracing::debug!(calling_ae = calling, called_ae = called, server = %server_name, contexts, "association accepted");
    let ended = tokio::select! {
        biased;
        e = relay::relay(&client, &server, idle, artim(&svc), &svc.stats.traffic, &mut timer) => e,
        _ = crate::cancel::Cancelled::new(&lease.server().retired) => {
            tracing::info!(calling_ae = calling, called_ae = called, server = %server_name, "server removed by reload and drain time is over; closing");
            return;
        }
    };
    let (up, down) = (ended.transfer.up, ended.transfer.down);
    let ms = start.elapsed().as_millis() as u64;
    match ended.result {
        Ok(closer) => {
            tracing::info!(calling_ae = calling, called_ae = called, server = %server_name, contexts, up, down, ms, closed_by = closer.as_str(), "association ended")
        }
        Err(e) => {
            tracing::info!(calling_ae = calling, called_ae = called, server = %server_name, contexts, up, down, ms, error = %e, side = e.side().as_str(), "association ended")
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every open association carries its task's future: the relay's state plus whatever
    /// else `serve` keeps across an await. A 4 KiB drain buffer held across an await once made
    /// it 5.4 KiB (measured by the load_dicom harness as idle memory per association). The
    /// association's one timer (`crate::timer`) lives as long as it does: 2 704 → 3 152 bytes,
    /// 1.16 → 1.53 KiB idle per association beyond a TCP connection, for ≈1 400 instructions
    /// less per association; hence 3.25 KiB.
    #[test]
    fn the_association_task_stays_small() {
        fn future_size<A, F, G: Fn(A) -> F>(_: G) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(super::serve);
        assert!(size <= 3 * 1024 + 256, "serve future is {size} bytes");
    }
}

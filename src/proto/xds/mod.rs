//! Protocol `xds`: IHE XDS.b SOAP 1.2 over HTTP/1.1 (ITI TF-2 Appendix V; ITI-18 TF-2a §3.18,
//! ITI-41/42/43 TF-2b §3.41–3.43), with keep-alive. Each request is routed by its SOAP action:
//! the Content-Type `action` parameter when present, else `wsa:Action` read from the envelope
//! header (the root MIME part for MTOM, ITI TF-2 Appendix V §V.7) by peeking at the body — the
//! bytes read are kept and replayed, documents are never buffered. No route: a SOAP 1.2 Fault
//! `soap:Sender` (HTTP 400); no server: `soap:Receiver` (HTTP 503); no response within
//! `server_timeout`: `soap:Receiver` (HTTP 504); an unreadable envelope or one whose header is
//! over `max_request_bytes`: `soap:Sender` (HTTP 400) and the connection is closed. Non-POST
//! requests (e.g. a WSDL GET) go to the default pool.
//!
//! Timeouts: the request head (and idle keep-alive time) within `handshake_timeout` (default
//! 30 s, at most `client_timeout`), the SOAP header within `handshake_timeout` too; a client
//! that does not read the answer for `client_timeout` is cut, and so is a server leg silent for
//! `server_timeout` (no answer, or a stalled upload), see [`crate::httpfwd::io`].
//! A connection closed by triage is closed lingering: write side first, then what the client
//! still sends is read and dropped for a moment, so that it reads the Fault instead of a reset.
//! A client that half-closes after its request still gets the answer.

pub mod action;
mod deadline;
mod forward;
mod meters;

use super::{Conn, Handler};
use crate::health::BoxFuture;
use crate::httpfwd::body::{ProxyBody, ReplayBody};
use crate::httpfwd::client::HttpBackends;
use crate::httpfwd::io::{IdleIo, Meter};
use crate::route::RouteKey;
use crate::service::Service;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use triage_xds::{build_fault, subcode, FaultCode, Transaction};

/// Default time for a request head and its SOAP header (and idle keep-alive time).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// hyper's read buffer on the client leg: the largest request head, and the largest read of
/// an upload. 128 KiB rather than 64 KiB: an ITI-41 upload then moves in 128 KiB reads and
/// writes, half the system calls and peer wake-ups (about 20% less CPU per GiB in
/// `benches/load_xds.rs`).
const CLIENT_BUF: usize = 128 * 1024;
/// How long a closing connection keeps reading (and dropping) what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// At most this much is read while lingering.
const LINGER_BYTES: usize = 16 << 20;

#[derive(Default)]
pub struct XdsHandler {
    backends: Arc<HttpBackends>,
}

impl Handler for XdsHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        let backends = self.backends.clone();
        Box::pin(async move {
            let svc = conn.service.clone();
            let (peer, local) = (conn.peer, conn.local);
            let head_timeout = handshake_timeout(&svc).min(svc.spec.client_timeout);
            let meter = Meter(svc.stats.clone());
            // Answers go out whole (one write per head and body chunk): no Nagle delay.
            let _ = conn.stream.set_nodelay(true);
            let io = TokioIo::new(IdleIo::writes_only(
                conn.stream,
                svc.spec.client_timeout,
                Some(meter),
            ));
            let svc2 = svc.clone();
            let timer = deadline::ConnTimer::default();
            let per_conn = Arc::new(PerConn {
                timer: timer.clone(),
                meters: meters::Meters::new(svc.name()),
                memo: Default::default(),
            });
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (svc, backends, pc) = (svc2.clone(), backends.clone(), per_conn.clone());
                async move { Ok::<_, Infallible>(handle(&svc, &backends, &pc, peer, local, req).await) }
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            // A client that half-closes after its request still gets the answer (as HAProxy
            // without `abortonclose`): hyper would otherwise close on that end-of-stream and
            // throw the server's answer away. It also spares hyper's end-of-stream probe (a
            // read buffer allocated while the request's bytes are still in use).
            b.keep_alive(true)
                .half_close(true)
                .max_buf_size(CLIENT_BUF)
                .timer(timer)
                .header_read_timeout(head_timeout);
            match b.serve_connection(io, service).without_shutdown().await {
                Ok(parts) => linger(parts.io.into_inner().into_inner()).await,
                Err(e) => tracing::debug!(error = %e, "http connection ended with an error"),
            }
        })
    }
}

/// What the requests of one client connection share.
struct PerConn {
    /// The request-head and SOAP-header deadlines.
    timer: deadline::ConnTimer,
    meters: meters::Meters,
    /// The last SOAP header read on this connection (requests on it come one at a time).
    memo: std::sync::Mutex<triage_xds::HeaderMemo>,
}

fn handshake_timeout(svc: &Service) -> Duration {
    svc.spec.handshake_timeout.unwrap_or(HANDSHAKE_TIMEOUT)
}

/// Half-closes, then reads and drops what the client still sends (it may be mid-upload when
/// a Fault closed the connection) until it closes too, for at most [`LINGER`]: closing a socket
/// with unread bytes would reset the connection, and the client could lose the Fault.
async fn linger(mut s: tokio::net::TcpStream) {
    if s.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER, async {
        while left > 0 {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// A SOAP 1.2 Fault response (SOAP 1.2 Part 1 §5.4; `Connection: close` when `close`).
fn fault(
    status: StatusCode,
    code: FaultCode,
    sub: Option<&str>,
    reason: &str,
    relates_to: Option<&str>,
    close: bool,
) -> Response<ProxyBody> {
    let body = build_fault(code, reason, relates_to, sub);
    let mut r = Response::new(ProxyBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=utf-8"),
    );
    if close {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// The metric label of an action: the known XDS.b transactions and the actions the service
/// routes on are named; anything else a client invents is `other` (bounded label set).
fn action_label<'a>(svc: &Service, action: Option<&'a str>) -> &'a str {
    match action {
        None => "-",
        Some(a) if Transaction::from_request_action(a).is_some() => a,
        Some(a)
            if svc
                .spec
                .routes
                .iter()
                .any(|r| r.action.as_deref() == Some(a)) =>
        {
            a
        }
        Some(_) => "other",
    }
}

async fn handle(
    svc: &Service,
    backends: &Arc<HttpBackends>,
    pc: &PerConn,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let budget = svc
        .spec
        .max_request_bytes
        .map_or(triage_xds::DEFAULT_HEADER_BUDGET, |b| b as usize);
    // The head stays here while the body is looked at: one request value, built once.
    let (parts, body) = req.into_parts();
    let (found, body) = if parts.method == Method::POST {
        let limit = handshake_timeout(svc);
        // Pinned here: the deadline's future holds a pointer to it, not a moved copy.
        let find = std::pin::pin!(action::find(&parts.headers, body, budget, Some(&pc.memo)));
        match pc.timer.within(limit, find).await {
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                if e.client_gone {
                    tracing::debug!(error = %e.reason, "client body failed before the SOAP header");
                } else {
                    tracing::warn!(error = %e.reason, "unreadable SOAP request; Fault");
                }
                pc.meters.count("-", 400);
                return fault(
                    StatusCode::BAD_REQUEST,
                    FaultCode::Sender,
                    None,
                    &e.reason,
                    None,
                    true,
                );
            }
            None => {
                let reason = format!("no SOAP header within {limit:?}");
                tracing::warn!("{reason}; Fault");
                pc.meters.count("-", 400);
                return fault(
                    StatusCode::BAD_REQUEST,
                    FaultCode::Sender,
                    None,
                    &reason,
                    None,
                    true,
                );
            }
        }
    } else {
        (
            action::Found::default(),
            ReplayBody::new(Vec::new(), Some(body)),
        )
    };
    let action = found.action.as_deref();
    let relates = found.message_id.as_deref();
    // A Fault sent before the body was read closes the connection (the rest of the body would
    // otherwise be taken for the next request).
    let req = Request::from_parts(parts, body);
    let unread = req.body().unread();
    let pool = svc.route_pool(&RouteKey {
        action,
        ..Default::default()
    });
    let label = action_label(svc, action);
    let Some(pool) = pool else {
        tracing::warn!(
            action = action.unwrap_or("-"),
            "no route for SOAP action; Fault"
        );
        pc.meters.count(label, 400);
        let reason = format!("no route for action {}", action.unwrap_or("(none)"));
        return fault(
            StatusCode::BAD_REQUEST,
            FaultCode::Sender,
            Some(subcode::ACTION_NOT_SUPPORTED),
            &reason,
            relates,
            unread,
        );
    };
    let resp = match forward::forward(svc, backends, pool, peer, local, req).await {
        Ok((r, server)) => {
            tracing::info!(action = %label, message_id = relates.unwrap_or("-"), server = server.name(), status = r.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request forwarded");
            r
        }
        Err(forward::Failed::NoServer(e)) => {
            tracing::warn!(action = %label, error = %e, "no server took the request; Fault");
            let reason = format!("no server available: {e}");
            fault(
                StatusCode::SERVICE_UNAVAILABLE,
                FaultCode::Receiver,
                Some(subcode::ENDPOINT_UNAVAILABLE),
                &reason,
                relates,
                unread,
            )
        }
        Err(forward::Failed::Timeout(server, after)) => {
            tracing::warn!(action = %label, server = %server, "no response within {after:?}; Fault");
            let reason = format!("server {server} sent no response within {after:?}");
            fault(
                StatusCode::GATEWAY_TIMEOUT,
                FaultCode::Receiver,
                None,
                &reason,
                relates,
                true,
            )
        }
        Err(forward::Failed::Server(server, e)) => {
            tracing::warn!(action = %label, server = %server, error = %e, "server failed; Fault");
            let reason = format!("server {server} failed: {e}");
            fault(
                StatusCode::BAD_GATEWAY,
                FaultCode::Receiver,
                None,
                &reason,
                relates,
                true,
            )
        }
        Err(forward::Failed::Client(e)) => {
            tracing::debug!(action = %label, error = %e, "client body failed during the upload");
            fault(
                StatusCode::BAD_REQUEST,
                FaultCode::Sender,
                None,
                "the request body was cut off",
                relates,
                true,
            )
        }
    };
    pc.meters.count(label, resp.status().as_u16());
    pc.meters.seconds(start.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    /// hyper moves each request's future into its dispatcher, a copy of its whole size per
    /// request, and futures that await others carry their room: 3 456 bytes before the request
    /// head stayed in `handle` and `forward` became one loop (3 096 after).
    #[test]
    fn the_request_future_stays_small() {
        fn future_size<A, B, C, D, E, G, F, H: Fn(A, B, C, D, E, G) -> F>(_: &H) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(&super::handle);
        assert!(size <= 3200, "handle future is {size} bytes");
    }
}

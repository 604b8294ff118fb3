//! Protocol `xds`: IHE XDS.b SOAP 1.2 over HTTP/1.1 (ITI TF-2 Appendix V), with keep-alive.
//! Each request is routed by its SOAP action: the Content-Type `action` parameter when present,
//! else `wsa:Action` read from the envelope header (the root MIME part for MTOM) by peeking at
//! the body — the bytes read are kept and replayed, documents are never buffered. No route: a
//! SOAP 1.2 Fault `soap:Sender` (HTTP 400); no server: `soap:Receiver` (HTTP 503). Non-POST
//! requests (e.g. a WSDL GET) go to the default pool.

pub mod action;

use super::{Conn, Handler};
use crate::health::BoxFuture;
use crate::httpfwd::body::{ProxyBody, ReplayBody};
use crate::httpfwd::client::HttpBackends;
use crate::pool::{PickKey, Pool};
use crate::route::{route, RouteKey};
use crate::service::Service;
use crate::upstream::Attempts;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use triage_xds::{build_fault, FaultCode};

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
            let io = TokioIo::new(conn.stream);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (svc, backends) = (svc.clone(), backends.clone());
                async move { Ok::<_, Infallible>(handle(&svc, &backends, peer, local, req).await) }
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            b.keep_alive(true).max_buf_size(64 * 1024);
            if let Err(e) = b.serve_connection(io, service).await {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
        })
    }
}

/// A SOAP 1.2 Fault response (`Connection: close` when `close`).
fn fault(status: StatusCode, code: FaultCode, reason: &str, relates_to: Option<&str>, close: bool) -> Response<ProxyBody> {
    let body = build_fault(code, reason, relates_to, None);
    let mut r = Response::new(ProxyBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/soap+xml; charset=utf-8"));
    if close {
        r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

fn count(svc: &Service, action: &str, status: StatusCode) {
    let labels = crate::metrics::XdsLabels { service: svc.name().to_string(), action: action.to_string(), status: status.as_u16().to_string() };
    crate::metrics::global().xds_requests.get_or_create(&labels).inc();
}

async fn handle(svc: &Service, backends: &Arc<HttpBackends>, peer: SocketAddr, local: SocketAddr, req: Request<Incoming>) -> Response<ProxyBody> {
    let start = Instant::now();
    let budget = svc.spec.max_request_bytes.map_or(triage_xds::DEFAULT_HEADER_BUDGET, |b| b as usize);
    let (found, req) = if req.method() == Method::POST {
        match action::find(req, budget).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e.reason, "unreadable SOAP request; Fault");
                count(svc, "-", StatusCode::BAD_REQUEST);
                return fault(StatusCode::BAD_REQUEST, FaultCode::Sender, &e.reason, None, true);
            }
        }
    } else {
        let (parts, body) = req.into_parts();
        (action::Found::default(), Request::from_parts(parts, ReplayBody::new(Vec::new(), Some(body))))
    };
    let action = found.action.as_deref();
    let pool = match action {
        Some(a) => match route(&svc.spec.routes, &RouteKey { action: Some(a), ..Default::default() }) {
            Some(name) => svc.pool_named(name),
            None => svc.pool.as_ref(),
        },
        None => svc.pool.as_ref(),
    };
    let label = action.unwrap_or("-").to_string();
    let Some(pool) = pool else {
        tracing::warn!(action = %label, "no route for SOAP action; Fault");
        count(svc, &label, StatusCode::BAD_REQUEST);
        let reason = format!("no route for action {label}");
        return fault(StatusCode::BAD_REQUEST, FaultCode::Sender, &reason, found.message_id.as_deref(), false);
    };
    let resp = forward(svc, backends, pool, peer, local, req).await;
    let resp = match resp {
        Ok((r, server)) => {
            tracing::info!(action = %label, message_id = found.message_id.as_deref().unwrap_or("-"), server = %server, status = r.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request forwarded");
            r
        }
        Err(e) => {
            tracing::warn!(action = %label, error = %e, "no server took the request; Fault");
            let reason = format!("no server available: {e}");
            fault(StatusCode::SERVICE_UNAVAILABLE, FaultCode::Receiver, &reason, found.message_id.as_deref(), false)
        }
    };
    count(svc, &label, resp.status());
    resp
}

/// Sends the request to a server of `pool` (another one if connecting fails) and returns the
/// streamed response with the server's name.
async fn forward(
    svc: &Service,
    backends: &Arc<HttpBackends>,
    pool: &Pool,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<ReplayBody>,
) -> Result<(Response<ProxyBody>, String), crate::error::GatewayError> {
    let opts = svc.connect_opts(peer, local);
    let mut attempts = Attempts::new(pool, PickKey { client: peer.ip(), local_port: local.port() }, opts.retries);
    let (mut parts, body) = req.into_parts();
    crate::httpfwd::strip_hop_by_hop(&mut parts.headers);
    let mut body = Some(body);
    while let Some(lease) = attempts.next() {
        let mut sender = match backends.sender(&lease, &opts).await {
            Ok(s) => s,
            Err(e) => {
                attempts.failed(lease, e);
                continue;
            }
        };
        let Some(b) = body.take() else { break };
        let mut out = Request::from_parts(parts.clone(), b);
        *out.version_mut() = hyper::Version::HTTP_11;
        let r = sender.send_request(out).await;
        let server = lease.server().name().to_string();
        backends.recycle(lease.addr, sender);
        return match r {
            Ok(resp) => {
                let (mut rp, rb) = resp.into_parts();
                crate::httpfwd::strip_hop_by_hop(&mut rp.headers);
                // The lease (connection count) lives until the response body is done.
                Ok((Response::from_parts(rp, ProxyBody::Stream(rb, Some(lease))), server))
            }
            Err(e) => Err(crate::error::GatewayError::ServerIo(std::io::Error::other(e))),
        };
    }
    Err(attempts.into_error())
}

//! Protocol `http`: an HTTP/1.1 reverse proxy (hyper) for PACS web portals, with keep-alive on
//! both sides. Every request is balanced on its own (a new connection and each further request
//! on it); server connections are pooled per server ([`HttpBackends`]), bodies are streamed.
//!
//! With `balance_per = "connection"` only the first request of a client connection is
//! balanced (cookie and source-IP persistence decide it as usual); the connection is then
//! pinned to that server and its later requests go there, whatever cookie they carry (a
//! differing cookie is replaced by the pinned server's). A pinned server in Drain keeps the
//! connection; one that is halted, down, full or refuses the connect is left: the request is
//! re-picked like a first one and the connection is pinned to the new server from then on (the
//! client sees no error; with cookie persistence it gets the new server's cookie). The fallback
//! server is never pinned. Server counters count requests in both modes.
//!
//! Persistence `cookie+source-ip`: the response names the server in a cookie (default
//! `SERVERID`) whose value is a hash of pool and server name, never its address. A later request
//! carrying it goes to that server while it may keep persistent clients (not halted, healthy;
//! Drain is fine); an unknown or stale value, or a server that is down or halted, is re-picked
//! and the cookie replaced. Without the cookie the client's source IP decides (the pool's stick
//! table), so clients that refuse cookies still stick. The cookie is removed from the request
//! before it is forwarded. With `forwarded_for = true` the client's address is appended to
//! `X-Forwarded-For`.
//!
//! No server: HTTP 503 from triage; a server that fails after the request was sent: HTTP 502.
//! A failed connect moves to the next server (the request has not been sent yet); a bodiless
//! GET/HEAD whose pooled server connection turned out closed is sent again once.

use super::{Conn, Handler};
use crate::config::{BalancePer, PersistKind};
use crate::health::BoxFuture;
use crate::httpfwd::body::{Held, ProxyBody, ReplayBody};
use crate::httpfwd::client::HttpBackends;
use crate::pool::{Lease, PickKey, Pool, Server};
use crate::service::Service;
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The server a `balance_per = "connection"` client connection is pinned to (by name).
type Pin = Arc<Mutex<Option<String>>>;

#[derive(Default)]
pub struct HttpHandler {
    backends: Arc<HttpBackends>,
}

impl Handler for HttpHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        let backends = self.backends.clone();
        Box::pin(async move {
            let svc = conn.service.clone();
            let (peer, local) = (conn.peer, conn.local);
            let io = TokioIo::new(conn.stream);
            let pin: Option<Pin> = (svc.spec.balance_per == BalancePer::Connection)
                .then(|| Arc::new(Mutex::new(None)));
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (svc, backends, pin) = (svc.clone(), backends.clone(), pin.clone());
                async move {
                    Ok::<_, Infallible>(
                        handle(&svc, &backends, pin.as_ref(), peer, local, req).await,
                    )
                }
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            // A client that half-closes after its request still gets the answer (as HAProxy
            // without `abortonclose`): hyper would otherwise close on that end-of-stream.
            b.keep_alive(true).half_close(true).max_buf_size(64 * 1024);
            if let Err(e) = b.serve_connection(io, service).await {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
        })
    }
}

/// The persistence cookie value for a server: a hash of pool and server name (stable across
/// restarts and triage instances; reveals no address).
pub fn cookie_value(pool: &str, server: &str) -> String {
    let mut b = Vec::with_capacity(pool.len() + server.len() + 1);
    b.extend_from_slice(pool.as_bytes());
    b.push(0);
    b.extend_from_slice(server.as_bytes());
    format!("{:016x}", crate::pool::select::fnv1a(&b))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn find_cookie(h: &hyper::HeaderMap, name: &str) -> Option<String> {
    h.get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// Removes cookie `name` from the `Cookie` headers (the server has no use for it).
fn strip_cookie(h: &mut hyper::HeaderMap, name: &str) {
    let rest: Vec<String> = h
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.split_once('=').is_none_or(|(n, _)| n.trim() != name))
        .map(str::to_string)
        .collect();
    h.remove(COOKIE);
    if !rest.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&rest.join("; ")) {
            h.insert(COOKIE, v);
        }
    }
}

fn append_forwarded_for(h: &mut hyper::HeaderMap, client: std::net::IpAddr) {
    const XFF: &str = "x-forwarded-for";
    let ip = match client {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, std::net::IpAddr::V4),
        v4 => v4,
    };
    let prev: Vec<&str> = h
        .get_all(XFF)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let v = if prev.is_empty() {
        ip.to_string()
    } else {
        format!("{}, {ip}", prev.join(", "))
    };
    if let Ok(v) = HeaderValue::from_str(&v) {
        h.insert(XFF, v);
    }
}

fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::full(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The cookie persistence of a pool: the cookie name, if the pool uses `cookie+source-ip`.
fn cookie_name(pool: &Pool) -> Option<&str> {
    pool.spec
        .persistence
        .as_ref()
        .filter(|p| p.kind == PersistKind::CookieSourceIp)
        .map(|p| p.cookie.as_str())
}

/// The server a cookie value names, if any server of the pool has that value.
fn server_for_cookie<'p>(pool: &'p Pool, value: &str) -> Option<&'p Arc<Server>> {
    pool.servers
        .iter()
        .find(|s| cookie_value(pool.name(), s.name()) == value)
}

/// The server a connection is pinned to, while it may still take the connection's requests.
fn pinned_server(pool: &Pool, pin: Option<&Pin>) -> Option<String> {
    let name = pin?.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    pool.server(&name)
        .filter(|s| s.keeps_persistent())
        .map(|s| s.name().to_string())
}

/// Pins the connection to the server that answered (never to the fallback).
fn repin(pin: Option<&Pin>, server: &str, fallback: bool) {
    let Some(pin) = pin else { return };
    let mut p = pin.lock().unwrap_or_else(|e| e.into_inner());
    let new = (!fallback).then(|| server.to_string());
    if p.is_some() && *p != new {
        tracing::info!(
            from = p.as_deref().unwrap_or("-"),
            to = server,
            "client connection moved to another server"
        );
    }
    *p = new;
}

async fn handle(
    svc: &Service,
    backends: &Arc<HttpBackends>,
    pin: Option<&Pin>,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let Some(pool) = svc.pool.clone() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no pool configured");
    };
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (mut parts, body) = req.into_parts();
    let cookie = cookie_name(&pool).map(|n| (n.to_string(), find_cookie(&parts.headers, n)));
    crate::httpfwd::strip_hop_by_hop(&mut parts.headers);
    if let Some((name, _)) = &cookie {
        strip_cookie(&mut parts.headers, name);
    }
    if svc.spec.forwarded_for {
        append_forwarded_for(&mut parts.headers, peer.ip());
    }
    // The server the connection is pinned to, else the one a valid cookie names: tried first.
    let wanted = pinned_server(&pool, pin).or_else(|| {
        cookie
            .as_ref()
            .and_then(|(_, v)| v.as_deref())
            .and_then(|v| server_for_cookie(&pool, v))
            .map(|s| s.name().to_string())
    });
    let sent_cookie = cookie.as_ref().and_then(|(_, v)| v.clone());
    match forward(
        svc,
        backends,
        &pool,
        wanted.as_deref(),
        peer,
        local,
        parts,
        body,
    )
    .await
    {
        Ok((mut resp, lease)) => {
            let server = lease.server().name().to_string();
            repin(pin, &server, lease.fallback);
            if let (Some((name, _)), false) = (&cookie, lease.fallback) {
                let value = cookie_value(pool.name(), &server);
                if sent_cookie.as_deref() != Some(value.as_str()) {
                    let c = format!("{name}={value}; Path=/; HttpOnly");
                    if let Ok(v) = HeaderValue::from_str(&c) {
                        resp.headers_mut().append(SET_COOKIE, v);
                    }
                }
            }
            tracing::info!(method = %method, path = %path, server = %server, status = resp.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request forwarded");
            let (rp, rb) = resp.into_parts();
            let body = match rb {
                ProxyBody::Stream(i, mut held) => {
                    held.lease = Some(lease);
                    ProxyBody::Stream(i, held)
                }
                other => other,
            };
            Response::from_parts(rp, body)
        }
        Err((status, e)) => {
            tracing::warn!(method = %method, path = %path, error = %e, status = status.as_u16(), "request failed");
            let mut r = plain(status, &format!("triage: {e}"));
            if status == StatusCode::BAD_GATEWAY {
                r.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            r
        }
    }
}

type Forwarded = (Response<ProxyBody>, Lease);

/// Sends the request to the cookie's server if it may take it, else to a server of the pool
/// (another one if connecting fails). Returns the response (body streamed) and the lease, which
/// the caller keeps with the body.
#[allow(clippy::too_many_arguments)]
async fn forward(
    svc: &Service,
    backends: &Arc<HttpBackends>,
    pool: &Pool,
    wanted: Option<&str>,
    peer: SocketAddr,
    local: SocketAddr,
    parts: hyper::http::request::Parts,
    body: Incoming,
) -> Result<Forwarded, (StatusCode, String)> {
    let opts = svc.connect_opts(peer, local);
    let key = PickKey::new(peer, local);
    // Bodiless GET/HEAD may be sent again when a pooled connection was found closed.
    let resendable = body.is_end_stream() && matches!(parts.method, Method::GET | Method::HEAD);
    let mut body = Some(body);
    let mut tried: Vec<Arc<Server>> = Vec::new();
    let mut budget = opts.retries.saturating_add(1);
    let mut resends = 1u32;
    let mut last = String::from("no server available");
    let mut first = true;
    while budget > 0 {
        let lease = match wanted.filter(|_| first) {
            Some(name) => pool
                .pick_named(name, &key, &tried)
                .or_else(|| pool.pick(&key, &tried)),
            None => pool.pick(&key, &tried),
        };
        first = false;
        let Some(lease) = lease else { break };
        budget -= 1;
        let mut sender = match backends.sender(&lease, &opts).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(server = lease.server().name(), addr = %lease.addr, error = %e, "server attempt failed, trying next");
                last = e.to_string();
                tried.push(lease.server().clone());
                continue;
            }
        };
        let b = match body.take() {
            Some(b) => ReplayBody::new(Vec::new(), Some(b)),
            None if resendable => ReplayBody::new(Vec::new(), None),
            None => break,
        };
        let mut out = Request::from_parts(parts.clone(), b);
        *out.version_mut() = hyper::Version::HTTP_11;
        let r = tokio::time::timeout(svc.spec.server_timeout, sender.send_request(out)).await;
        // A response takes the connection along (back to the pool at the end of its body); a
        // failed exchange hands it to the pool's waiting path, which drops a broken one.
        let conn = if matches!(r, Ok(Ok(_))) {
            Some((backends.clone(), sender))
        } else {
            backends.recycle(sender);
            None
        };
        match r {
            Ok(Ok(resp)) => {
                let (mut rp, rb) = resp.into_parts();
                crate::httpfwd::strip_hop_by_hop(&mut rp.headers);
                let held = Held { lease: None, conn };
                return Ok((Response::from_parts(rp, ProxyBody::Stream(rb, held)), lease));
            }
            Ok(Err(e))
                if resendable && resends > 0 && (e.is_canceled() || e.is_incomplete_message()) =>
            {
                // A pooled connection the server had closed: same server, once more.
                resends -= 1;
                budget += 1;
                tried.retain(|s| !Arc::ptr_eq(s, lease.server()));
                first = wanted.is_some_and(|w| w == lease.server().name());
                tracing::debug!(server = lease.server().name(), error = %e, "server connection was closed; sending again");
                continue;
            }
            Ok(Err(e)) => {
                return Err((
                    StatusCode::BAD_GATEWAY,
                    format!("server {}: {e}", lease.server().name()),
                ))
            }
            Err(_) => {
                return Err((
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "server {} sent no response within {:?}",
                        lease.server().name(),
                        svc.spec.server_timeout
                    ),
                ))
            }
        }
    }
    Err((StatusCode::SERVICE_UNAVAILABLE, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_and_stripped() {
        let mut h = hyper::HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; SERVERID=abc"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(find_cookie(&h, "SERVERID").as_deref(), Some("abc"));
        assert_eq!(find_cookie(&h, "SERVER"), None);
        strip_cookie(&mut h, "SERVERID");
        assert_eq!(h.get(COOKIE).unwrap(), "a=1; b=2");
        strip_cookie(&mut h, "a");
        strip_cookie(&mut h, "b");
        assert!(h.get(COOKIE).is_none());
    }

    #[test]
    fn cookie_value_hides_the_address_and_is_stable() {
        let v = cookie_value("web", "pacs1");
        assert_eq!(v, cookie_value("web", "pacs1"));
        assert_ne!(v, cookie_value("web", "pacs2"));
        assert_ne!(v, cookie_value("web2", "pacs1"));
        assert_eq!(v.len(), 16);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = hyper::HeaderMap::new();
        append_forwarded_for(&mut h, "10.0.0.1".parse().unwrap());
        assert_eq!(h.get("x-forwarded-for").unwrap(), "10.0.0.1");
        append_forwarded_for(&mut h, "::ffff:10.0.0.2".parse().unwrap());
        assert_eq!(h.get("x-forwarded-for").unwrap(), "10.0.0.1, 10.0.0.2");
    }
}

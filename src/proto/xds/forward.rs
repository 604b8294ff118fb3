//! Sending one routed XDS request to a server of its pool (ITI TF-2 Appendix V: SOAP 1.2 over
//! HTTP/1.1, bodies streamed both ways). Headers go as the client sent them (WS-Security
//! signatures cover the envelope, and nothing here touches it) except the hop-by-hop ones, plus
//! `X-Forwarded-For` when the service has `forwarded_for = true`.
//!
//! A failed connect moves to the next server (the request has not been sent). A pooled
//! connection that the server closed before it took the request gets the same request on a
//! new connection to the same server (hyper hands an unsent request back). Once the request was
//! sent, a failure is final: the body cannot be replayed. The server's silence is bounded by
//! `server_timeout` on its leg (see [`crate::httpfwd::io`]). The lease (the server's connection
//! count) is held until the response body has been passed on, or dropped.

use crate::error::GatewayError;
use crate::httpfwd::body::{Held, ProxyBody, ReplayBody};
use crate::httpfwd::client::{HttpBackends, Sender};
use crate::pool::{PickKey, Pool, Server};
use crate::service::Service;
use crate::upstream::Attempts;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a request got no response from a server.
#[derive(Debug)]
pub enum Failed {
    /// No server could be connected (none up, or every attempt failed).
    NoServer(GatewayError),
    /// The server (by name) was silent for this long after taking the request.
    Timeout(String, Duration),
    /// The server (by name) failed after taking the request.
    Server(String, hyper::Error),
    /// The client's body failed while it was being sent (the client went away).
    Client(hyper::Error),
}

/// What became of one attempt on one connection.
enum Outcome {
    Done(Response<Incoming>),
    /// Not sent: the connection was already closed.
    Unsent(Request<ReplayBody>, hyper::Error),
    Failed(hyper::Error),
}

async fn send(sender: &mut Sender, req: Request<ReplayBody>) -> Outcome {
    match sender.try_send_request(req).await {
        Ok(r) => Outcome::Done(r),
        Err(mut e) => match e.take_message() {
            Some(req) => Outcome::Unsent(req, e.into_error()),
            None => Outcome::Failed(e.into_error()),
        },
    }
}

fn timed_out(e: &hyper::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        src = s.source();
    }
    false
}

/// Sends the request (its head as the client sent it) to a server of `pool` and returns the
/// streamed response with the server that answered. On each server: the request on a pooled
/// or new connection, and once more on a new connection if the pooled one was found closed.
/// The response comes with its connection, which goes back to the pool once the response body
/// has been passed on.
///
/// One loop, no helper future per server: each `async fn` keeps room for its arguments (here
/// the request and the connection) to its end, and every future awaiting it carries that room
/// and copies it when moved (once per request into hyper's dispatcher).
pub async fn forward(
    svc: &Service,
    backends: &Arc<HttpBackends>,
    pool: &Pool,
    peer: SocketAddr,
    local: SocketAddr,
    mut req: Request<ReplayBody>,
) -> Result<(Response<ProxyBody>, Arc<Server>), Failed> {
    let opts = svc.connect_opts(peer, local);
    let idle = svc.spec.server_timeout;
    let key = PickKey::new(peer, local);
    let mut attempts = Attempts::new(pool, key, opts.retries);
    crate::httpfwd::strip_hop_by_hop(req.headers_mut());
    if svc.spec.forwarded_for {
        crate::httpfwd::append_forwarded_for(req.headers_mut(), peer.ip());
    }
    *req.version_mut() = hyper::Version::HTTP_11;
    let unsent = |e: hyper::Error| GatewayError::ServerIo(std::io::Error::other(e));
    while let Some(lease) = attempts.next() {
        let mut sender = match backends.sender_idle(&lease, &opts, idle).await {
            Ok(s) => s,
            Err(e) => {
                attempts.failed(lease, e);
                continue;
            }
        };
        let mut outcome = send(&mut sender, req).await;
        if let Outcome::Unsent(back, e) = outcome {
            if !sender.reused {
                req = back;
                attempts.failed(lease, unsent(e));
                continue;
            }
            tracing::debug!(server = lease.server().name(), error = %e, "pooled server connection was closed; new connection");
            // Boxed, as in `sender_idle`: a rare path.
            sender = match Box::pin(backends.connect(&lease, &opts, idle)).await {
                Ok(s) => s,
                Err(e) => {
                    req = back;
                    attempts.failed(lease, e);
                    continue;
                }
            };
            outcome = send(&mut sender, back).await;
        }
        let server = || lease.server().name().to_string();
        let resp = match outcome {
            Outcome::Done(resp) => resp,
            Outcome::Unsent(back, e) => {
                req = back;
                attempts.failed(lease, unsent(e));
                continue;
            }
            Outcome::Failed(e) if e.is_user() => return Err(Failed::Client(e)),
            Outcome::Failed(e) if timed_out(&e) => return Err(Failed::Timeout(server(), idle)),
            Outcome::Failed(e) => return Err(Failed::Server(server(), e)),
        };
        let answered = lease.server().clone();
        let (mut rp, rb) = resp.into_parts();
        crate::httpfwd::strip_hop_by_hop(&mut rp.headers);
        let held = Held {
            lease: Some(lease),
            conn: Some((backends.clone(), sender)),
        };
        return Ok((
            Response::from_parts(rp, ProxyBody::Stream(rb, held)),
            answered,
        ));
    }
    Err(Failed::NoServer(attempts.into_error()))
}

//! Accept loops, one per listen address. Each accepted connection is checked against the
//! service's allow list and connection limit, then served by the service's protocol handler in
//! its own task with one tracing span (service, protocol, peer). The loop looks the service up
//! in the current snapshot at every accept, so a reload applies to new connections at once while
//! the socket itself stays open.

use crate::proto::{Conn, Refusal};
use crate::runtime::Shared;
use crate::service::Service;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Key of a listener across reloads: the address; for port 0 also the owning service (each
/// port-0 listen gets its own socket).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListenKey {
    pub addr: SocketAddr,
    pub owner: Option<String>,
}

impl ListenKey {
    pub fn new(addr: SocketAddr, service: &str) -> Self {
        Self {
            addr,
            owner: (addr.port() == 0).then(|| service.to_string()),
        }
    }
}

/// Binds with SO_REUSEADDR (restart right after a stop) and a deep backlog. The client leg's
/// TCP_NODELAY and keepalive ([`crate::upstream::tune`]) are set here, once: accepted sockets
/// inherit them from the listener (Linux copies the listener's options into each accepted
/// socket; a unit test checks), which saves three system calls per connection.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = crate::upstream::socket_for(addr)?;
    s.set_reuseaddr(true)?;
    s.set_nodelay(true)?;
    crate::upstream::tune_keepalive(&socket2::SockRef::from(&s));
    s.bind(addr)?;
    s.listen(1024)
}

pub async fn accept_loop(
    l: TcpListener,
    key: ListenKey,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    // The address connections arrive on: the listener's own, unless it listens on every
    // address (then each connection's, one getsockname per accept).
    let bound = l.local_addr().unwrap_or(key.addr);
    let per_conn_local = bound.ip().is_unspecified();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(listen = %key.addr, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(svc) = shared.current.load().by_listen.get(&key).cloned() else {
            continue;
        };
        let local = if per_conn_local {
            stream.local_addr().unwrap_or(bound)
        } else {
            bound
        };
        dispatch(
            Conn {
                stream,
                peer,
                local,
                service: svc,
            },
            &shared,
        );
    }
}

/// Counts a connection in a service while it lives.
struct Active(Arc<Service>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.stats.active.fetch_sub(1, Ordering::Relaxed);
    }
}

fn dispatch(conn: Conn, shared: &Shared) {
    let svc = conn.service.clone();
    let span = tracing::info_span!("conn", service = %svc.name(), protocol = svc.spec.protocol.as_str(), peer = %crate::logging::Addr(conn.peer), calling_ae = tracing::field::Empty);
    let refusal = if !svc.allows(conn.peer.ip()) {
        Some(Refusal::NotAllowed)
    } else if svc.stats.active() >= svc.spec.max_connections {
        Some(Refusal::TooManyConnections)
    } else {
        None
    };
    if let Some(why) = refusal {
        svc.stats.refused.fetch_add(1, Ordering::Relaxed);
        let _e = span.enter();
        tracing::warn!(reason = why.as_str(), "connection refused");
        let fut = svc.handler.refuse(conn, why);
        shared.tracker.spawn(fut.instrument(span.clone()));
        return;
    }
    svc.stats.active.fetch_add(1, Ordering::Relaxed);
    svc.stats.total.fetch_add(1, Ordering::Relaxed);
    let active = Active(svc.clone());
    let hard_stop = shared.hard_stop.clone();
    let fut = svc.handler.handle(conn);
    shared.tracker.spawn(
        async move {
            let _active = active;
            let svc = &_active.0;
            // One token for both reasons to close (`retired` is a child of `hard_stop`): the
            // connection's future is polled first and one cancellation future after it.
            tokio::select! {
                biased;
                _ = fut => {}
                _ = crate::cancel::Cancelled::new(&svc.retired) => if hard_stop.is_cancelled() {
                    tracing::info!("drain timeout over at shutdown; closing")
                } else {
                    tracing::info!("service removed by reload and drain time is over; closing")
                },
            }
        }
        .instrument(span),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`bind`] relies on: an accepted socket inherits TCP_NODELAY and keepalive (with its
    /// idle time) from the listener, so the accept loop need not set them again.
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay_and_keepalive() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert!(s.nodelay().unwrap(), "TCP_NODELAY not inherited");
        let r = socket2::SockRef::from(&s);
        assert!(r.keepalive().unwrap(), "SO_KEEPALIVE not inherited");
        assert_eq!(r.tcp_keepalive_time().unwrap(), Duration::from_secs(60));
    }
}

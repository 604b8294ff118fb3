//! Pooled HTTP/1.1 keep-alive connections to servers. A connection returns to the pool only
//! once hyper says it is ready for the next request, which it is only after the previous request
//! body was sent and the response read to its end: a connection whose response body was
//! dropped half-read, or whose request body failed (the client went away mid-upload), is closed
//! by hyper and never reused. Connections that sent a PROXY protocol header carry one client's
//! address and are only reused for that same client connection (the pool key includes it).

use super::body::ReplayBody;
use super::io::IdleIo;
use crate::error::GatewayError;
use crate::fasthash::FastMap;
use crate::pool::Lease;
use crate::upstream::{self, ConnectOpts};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept per server (and PROXY header).
const KEEP_PER_SERVER: usize = 64;
/// Idle limit of server connections when the caller gives none.
const NO_IDLE_LIMIT: Duration = Duration::from_secs(86400 * 365);

/// Where an idle connection may be reused: the server address and, with a PROXY header, the
/// (client, service) addresses that header announced.
type Key = (SocketAddr, Option<(SocketAddr, SocketAddr)>);

/// A connection's request sender; dereferences to hyper's [`SendRequest`].
#[derive(Debug)]
pub struct Sender {
    inner: SendRequest<ReplayBody>,
    key: Key,
    /// Taken from the pool (it may have been closed by the server in the meantime) rather
    /// than connected just now.
    pub reused: bool,
}

impl Deref for Sender {
    type Target = SendRequest<ReplayBody>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Sender {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

#[derive(Debug, Default)]
pub struct HttpBackends {
    idle: Mutex<Idle>,
}

/// The idle connections by key, and the number of keys after the last sweep.
#[derive(Debug, Default)]
struct Idle {
    map: FastMap<Key, Vec<SendRequest<ReplayBody>>>,
    swept: usize,
}

impl Idle {
    /// Drops closed connections and empty keys once the map has doubled since the last
    /// sweep: with PROXY headers every client connection has its own key, whose connection
    /// the server closes some time after the client left (amortised O(1) per `keep`).
    fn sweep_if_grown(&mut self) {
        if self.map.len() > 2 * self.swept + 16 {
            self.map.retain(|_, l| {
                l.retain(|s| !s.is_closed());
                !l.is_empty()
            });
            self.swept = self.map.len();
        }
    }
}

fn key(lease: &Lease, opts: &ConnectOpts) -> Key {
    (lease.addr, opts.proxy.map(|(_, src, dst)| (src, dst)))
}

impl HttpBackends {
    fn take(&self, k: &Key) -> Option<SendRequest<ReplayBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let m = &mut idle.map;
        let list = m.get_mut(k)?;
        let mut found = None;
        while let Some(s) = list.pop() {
            if s.is_ready() && !s.is_closed() {
                found = Some(s);
                break;
            }
        }
        // An empty list goes: keys with a PROXY header's client address would pile up.
        if list.is_empty() {
            m.remove(k);
        }
        found
    }

    /// A ready sender to the lease's server: pooled, or a new connection (connect timeout,
    /// PROXY header, HTTP/1 handshake) without an idle limit.
    pub async fn sender(&self, lease: &Lease, opts: &ConnectOpts) -> Result<Sender, GatewayError> {
        self.sender_idle(lease, opts, NO_IDLE_LIMIT).await
    }

    /// Like [`sender`](Self::sender); a new connection fails its pending read or write once
    /// the server has been silent for `idle` (`server_timeout`), which also ends idle pooled
    /// connections.
    pub async fn sender_idle(
        &self,
        lease: &Lease,
        opts: &ConnectOpts,
        idle: Duration,
    ) -> Result<Sender, GatewayError> {
        let k = key(lease, opts);
        if let Some(inner) = self.take(&k) {
            return Ok(Sender {
                inner,
                key: k,
                reused: true,
            });
        }
        // Boxed: the usual request finds a pooled connection, and every future that waits
        // on this one would otherwise carry the connect's room (and copy it when moved).
        Box::pin(self.connect(lease, opts, idle)).await
    }

    /// A new connection, never a pooled one.
    pub async fn connect(
        &self,
        lease: &Lease,
        opts: &ConnectOpts,
        idle: Duration,
    ) -> Result<Sender, GatewayError> {
        let stream = upstream::dial(lease, opts).await?;
        let io = TokioIo::new(IdleIo::new(stream, idle, None));
        let (inner, conn) = http1::handshake(io)
            .await
            .map_err(|e| GatewayError::Connect {
                server: lease.server().name().to_string(),
                addr: lease.addr,
                source: std::io::Error::other(e),
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "server connection ended with an error");
            }
        });
        Ok(Sender {
            inner,
            key: key(lease, opts),
            reused: false,
        })
    }

    /// Puts the sender back once its current exchange is over (request body sent, response
    /// body read to its end): at once when hyper has it ready already (the usual case at the
    /// end of a response body), else from a task that waits for that; a connection that hyper
    /// closes instead is dropped.
    pub fn recycle(self: &Arc<Self>, s: Sender) {
        let Sender {
            inner: mut s,
            key: k,
            ..
        } = s;
        if s.is_ready() {
            self.keep(k, s);
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            if s.ready().await.is_ok() {
                me.keep(k, s);
            }
        });
    }

    fn keep(&self, k: Key, s: SendRequest<ReplayBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.map.entry(k).or_default();
        list.retain(|s| !s.is_closed());
        if list.len() < KEEP_PER_SERVER {
            list.push(s);
        }
        idle.sweep_if_grown();
    }

    /// Idle pooled connections (for tests and status).
    pub fn idle_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.map
            .values()
            .map(|l| l.iter().filter(|s| !s.is_closed()).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    /// The server address in the keys (the connections themselves go to test listeners).
    const SERVER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

    /// A ready sender on a loopback connection, and the server's side of it.
    async fn sender() -> (SendRequest<ReplayBody>, TcpStream) {
        let (c, server_side) = crate::relay::test_pair().await;
        let (mut s, conn) = http1::handshake(TokioIo::new(c)).await.unwrap();
        tokio::spawn(conn);
        // As `recycle` keeps it: ready for a request.
        s.ready().await.unwrap();
        (s, server_side)
    }

    /// The key of a connection that sent a PROXY header for client port `client_port`.
    fn proxied(client_port: u16) -> Key {
        let client = SocketAddr::from(([10, 0, 0, 1], client_port));
        (SERVER, Some((client, SERVER)))
    }

    /// One kept connection per client port; returns the server sides (dropping one ends it).
    async fn keep_clients(b: &HttpBackends, ports: std::ops::Range<u16>) -> Vec<TcpStream> {
        let mut server_sides = Vec::new();
        for port in ports {
            let (s, server_side) = sender().await;
            b.keep(proxied(port), s);
            server_sides.push(server_side);
        }
        server_sides
    }

    fn keys(b: &HttpBackends) -> usize {
        b.idle.lock().unwrap().map.len()
    }

    #[tokio::test]
    async fn a_key_goes_when_its_last_connection_is_taken() {
        let b = HttpBackends::default();
        let _server = keep_clients(&b, 40000..40001).await;
        assert_eq!((keys(&b), b.idle_count()), (1, 1));
        assert!(b.take(&proxied(40000)).is_some());
        assert_eq!(keys(&b), 0);
        assert!(b.take(&proxied(40000)).is_none());
    }

    #[tokio::test]
    async fn keys_of_closed_connections_are_swept_as_the_map_grows() {
        let b = HttpBackends::default();
        // One client connection each (a PROXY header's client address), then they all end.
        let server_sides = keep_clients(&b, 40000..40040).await;
        assert_eq!(b.idle_count(), 40);
        drop(server_sides);
        while b.idle_count() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Swept at 17 keys (all alive then), not since: the 40 dead keys are still there.
        assert_eq!(keys(&b), 40);
        // New clients: the map sweeps the dead keys instead of growing without end.
        let _live = keep_clients(&b, 40100..40200).await;
        assert_eq!(b.idle_count(), 100);
        assert_eq!(keys(&b), 100, "dead keys kept");
    }
}

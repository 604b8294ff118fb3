//! Protocol `udp`: datagram forwarding (e.g. the NetBIOS name service on 137, next to a `tcp`
//! service on the same address). The runtime binds one UDP socket per listen address and runs
//! [`serve`] on it; there is no TCP listener for a `udp` service.
//!
//! A **flow** is one client address (IP and port). Its first datagram picks a server of the
//! pool like a TCP connection would (so source-IP persistence, with the pool's persistence
//! timeout, sends a client back to the same server; without persistence each flow is balanced
//! on its own) and opens a socket connected to that server; the flow holds a connection slot of
//! the server (it shows as an active connection) while it lives. Later datagrams of the client
//! go the same way; what the server sends back is relayed to the client from the service's
//! socket (bind the service address itself, not 0.0.0.0, for replies to come from exactly that
//! address on a multi-homed host).
//!
//! A flow ends when nothing moved either way for `min(client_timeout, 60 s)` ([`MAX_FLOW_IDLE`]:
//! datagram flows are short request/response exchanges, and an idle flow keeps a socket open),
//! when its server is halted or marked down by the pool's health check, or when a reload removed
//! or changed the server (no drain time: a datagram may go anywhere); the next datagram of that
//! client then picks again. A flow on the fallback moves
//! back as soon as a server of the pool is up. At most [`MAX_FLOWS`] flows per socket; past
//! that new clients' datagrams are dropped until flows expire. Clients outside the service's
//! `allow` list are dropped silently. PROXY protocol does not apply to UDP.

use super::{Conn, Handler};
use crate::health::BoxFuture;
use crate::listener::ListenKey;
use crate::pool::{Lease, PickKey};
use crate::runtime::Shared;
use crate::service::{Service, ServiceStats};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest idle time of a flow, whatever `client_timeout` says.
pub const MAX_FLOW_IDLE: Duration = Duration::from_secs(60);
/// Most flows per service socket.
pub const MAX_FLOWS: usize = 65_536;
/// Largest datagram relayed.
const MAX_DATAGRAM: usize = 65_535;

/// The handler registered for `udp` services. They have no TCP listener, so it never gets a
/// connection; should one arrive it is closed.
pub struct UdpHandler;

impl Handler for UdpHandler {
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()> {
        drop(conn);
        Box::pin(async {})
    }
}

/// Binds a service's UDP socket.
pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

/// The idle limit of a flow of `svc`.
pub fn flow_idle(svc: &Service) -> Duration {
    svc.spec.client_timeout.min(MAX_FLOW_IDLE)
}

struct Flow {
    upstream: Arc<UdpSocket>,
    lease: Lease,
    /// Milliseconds since the serve loop's epoch at the last datagram either way.
    last: Arc<AtomicU64>,
    idle_ms: u64,
    reply: JoinHandle<()>,
    stats: Arc<ServiceStats>,
}

impl Flow {
    fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last.load(Ordering::Relaxed)) > self.idle_ms
    }

    /// Whether the client's next datagram may still go this way: not idle too long, and the
    /// server is still one of the service's pool (a reload may have removed or changed it),
    /// not halted, healthy; a flow on the fallback moves back once a server is up.
    fn usable(&self, now_ms: u64, svc: &Service) -> bool {
        let s = self.lease.server();
        let Some(pool) = svc.pool.as_ref() else {
            return false;
        };
        let in_pool = pool
            .servers
            .iter()
            .chain(pool.fallback.iter())
            .any(|p| Arc::ptr_eq(p, s));
        let server_ok = s.state() != crate::config::ServerState::Halt && s.healthy();
        let back_from_fallback = self.lease.fallback && pool.up_count() > 0;
        !self.expired(now_ms) && in_pool && server_ok && !back_from_fallback
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.reply.abort();
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(server = self.lease.server().name(), "udp flow closed");
    }
}

fn now_ms(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

/// Serves one UDP listen address until `stop` is cancelled. The service is looked up in the
/// current snapshot for every datagram, so a reload applies at once while the socket stays.
pub async fn serve(sock: UdpSocket, key: ListenKey, shared: Arc<Shared>, stop: CancellationToken) {
    let sock = Arc::new(sock);
    let local = sock.local_addr().unwrap_or(key.addr);
    let epoch = Instant::now();
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sweep = tokio::time::interval(Duration::from_millis(250));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut full_warned = false;
    loop {
        let (n, client) = tokio::select! {
            _ = stop.cancelled() => return,
            _ = sweep.tick() => {
                let now = now_ms(epoch);
                flows.retain(|_, f| !f.expired(now));
                continue;
            }
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(listen = %local, error = %e, "udp receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Some(svc) = shared.current.load().udp_by_listen.get(&key).cloned() else {
            continue;
        };
        let now = now_ms(epoch);
        if !flows.get(&client).is_some_and(|f| f.usable(now, &svc)) {
            flows.remove(&client);
            if !svc.allows(client.ip()) {
                svc.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(service = %svc.name(), %client, "udp datagram from a source not allowed; dropped");
                continue;
            }
            if flows.len() >= MAX_FLOWS {
                flows.retain(|_, f| !f.expired(now));
            }
            if flows.len() >= MAX_FLOWS {
                if !full_warned {
                    tracing::warn!(service = %svc.name(), max = MAX_FLOWS, "udp flow table full; dropping new clients' datagrams");
                    full_warned = true;
                }
                continue;
            }
            full_warned = false;
            match open_flow(&svc, &sock, client, local, epoch).await {
                Some(f) => {
                    flows.insert(client, f);
                }
                None => continue,
            }
        }
        let Some(f) = flows.get(&client) else {
            continue;
        };
        f.last.store(now, Ordering::Relaxed);
        match f.upstream.send(&buf[..n]).await {
            Ok(_) => {
                svc.stats.traffic.up.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::debug!(service = %svc.name(), server = f.lease.server().name(), error = %e, "udp send to server failed");
            }
        }
    }
}

/// Picks a server for a new client and starts relaying its replies.
async fn open_flow(
    svc: &Arc<Service>,
    sock: &Arc<UdpSocket>,
    client: SocketAddr,
    local: SocketAddr,
    epoch: Instant,
) -> Option<Flow> {
    let pool = svc.pool.as_ref()?;
    let key = PickKey::new(client, local);
    let Some(lease) = pool.pick(&key, &[]) else {
        tracing::warn!(service = %svc.name(), pool = pool.name(), %client, "no server available; udp datagram dropped");
        return None;
    };
    let any: SocketAddr = if lease.addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let up = match UdpSocket::bind(any).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a udp socket towards the server");
            return None;
        }
    };
    if let Err(e) = up.connect(lease.addr).await {
        tracing::warn!(server = lease.server().name(), addr = %lease.addr, error = %e, "cannot reach the server over udp");
        return None;
    }
    let up = Arc::new(up);
    let last = Arc::new(AtomicU64::new(now_ms(epoch)));
    let stats = svc.stats.clone();
    stats.active.fetch_add(1, Ordering::Relaxed);
    stats.total.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(service = %svc.name(), %client, server = lease.server().name(), addr = %lease.addr, "udp flow opened");
    let reply = tokio::spawn(relay_replies(
        up.clone(),
        sock.clone(),
        client,
        last.clone(),
        epoch,
        stats.clone(),
    ));
    Some(Flow {
        upstream: up,
        lease,
        last,
        idle_ms: flow_idle(svc).as_millis() as u64,
        reply,
        stats,
    })
}

/// Relays what the server sends to the client, from the service socket.
async fn relay_replies(
    up: Arc<UdpSocket>,
    sock: Arc<UdpSocket>,
    client: SocketAddr,
    last: Arc<AtomicU64>,
    epoch: Instant,
    stats: Arc<ServiceStats>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match up.recv(&mut buf).await {
            Ok(n) => {
                last.store(now_ms(epoch), Ordering::Relaxed);
                stats.traffic.down.fetch_add(n as u64, Ordering::Relaxed);
                if let Err(e) = sock.send_to(&buf[..n], client).await {
                    tracing::debug!(%client, error = %e, "udp reply to client failed");
                }
            }
            // E.g. ECONNREFUSED after an ICMP port unreachable: keep the flow, do not spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

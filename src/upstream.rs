//! Connecting to servers: one attempt per server not tried yet, each with the connect timeout,
//! bounded by the retry budget; a failed attempt moves to the next server before the client is
//! given up. Protocol handlers that must look at the server's first answer (DICOM's A-ASSOCIATE
//! response) drive [`Attempts`] themselves; plain TCP uses [`connect`].

use crate::config::ProxyProtocol;
use crate::error::GatewayError;
use crate::pool::{Lease, PickKey, Pool, Server};
use crate::proxy_protocol;
use crate::timer::Timer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// How to reach a server for one client connection.
#[derive(Clone, Debug)]
pub struct ConnectOpts {
    pub timeout: Duration,
    /// Further servers to try after the first failure.
    pub retries: u32,
    /// Send a PROXY header for (client address, service address).
    pub proxy: Option<(ProxyProtocol, SocketAddr, SocketAddr)>,
    /// The protocol's client always speaks first (DICOM's A-ASSOCIATE-RQ), so the handshake's
    /// last ACK may wait for the first bytes (see `open`). Set for `dicom` services only.
    pub client_first: bool,
}

/// The servers tried for one client connection.
#[derive(Debug)]
pub struct Attempts<'a> {
    pool: &'a Pool,
    key: PickKey,
    tried: Vec<Arc<Server>>,
    budget: u32,
    last: Option<GatewayError>,
}

impl<'a> Attempts<'a> {
    pub fn new(pool: &'a Pool, key: PickKey, retries: u32) -> Self {
        Self {
            pool,
            key,
            tried: Vec::new(),
            budget: retries.saturating_add(1),
            last: None,
        }
    }

    /// The next server to try, if the budget and the pool allow. (Not an `Iterator`: callers
    /// report each failure through [`Attempts::failed`] between calls.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Lease> {
        if self.budget == 0 {
            return None;
        }
        let l = self.pool.pick(&self.key, &self.tried)?;
        self.budget -= 1;
        Some(l)
    }

    /// An attempt taken with [`Attempts::next`] and withdrawn before the server saw it (a
    /// DICOM connection made ahead of a request that came late): not counted in the budget.
    pub fn give_back(&mut self) {
        self.budget = self.budget.saturating_add(1);
    }

    /// Records a failure of `lease`'s server; it is not tried again for this connection.
    pub fn failed(&mut self, lease: Lease, err: GatewayError) {
        tracing::warn!(pool = self.pool.name(), server = lease.server().name(), addr = %lease.addr, error = %err, "server attempt failed, trying next");
        self.tried.push(lease.server().clone());
        self.last = Some(err);
    }

    pub fn attempts(&self) -> u32 {
        self.tried.len() as u32
    }

    /// The error to report once no attempt is left.
    pub fn into_error(self) -> GatewayError {
        let pool = self.pool.name().to_string();
        match self.last {
            None => GatewayError::NoServer { pool },
            Some(last) => GatewayError::Exhausted {
                pool,
                attempts: self.tried.len() as u32,
                last: Box::new(last),
            },
        }
    }
}

/// Connects to the lease's server (connect timeout), tunes the socket and sends the PROXY
/// header if configured.
pub async fn dial(lease: &Lease, opts: &ConnectOpts) -> Result<TcpStream, GatewayError> {
    let c = tokio::time::timeout(opts.timeout, open(lease.addr, opts.client_first)).await;
    finish_dial(lease, opts, c.ok()).await
}

/// [`dial`] with the connect timeout on the connection's [`Timer`] (no timer of its own).
pub async fn dial_on(
    lease: &Lease,
    opts: &ConnectOpts,
    timer: &mut Timer<'_>,
) -> Result<TcpStream, GatewayError> {
    let connect = std::pin::pin!(open(lease.addr, opts.client_first));
    let c = timer.within(opts.timeout, connect).await;
    finish_dial(lease, opts, c).await
}

/// A TCP connection to `addr`. With `client_first` the socket leaves quick-ACK mode before it
/// connects, so that Linux sends the handshake's last ACK with the first bytes written rather
/// than on its own (`tcp_rcv_synsent_state_process`, "Save one ACK"; the socket enters
/// quick-ACK mode again at once, and if nothing is written the ACK leaves after the delayed-ACK
/// time, ≤ 200 ms): one segment less per connection, and the server's accept wakes once, with
/// the request already there. Only for protocols whose client speaks first: a server that
/// greets first would wait for that ACK.
async fn open(addr: SocketAddr, client_first: bool) -> std::io::Result<TcpStream> {
    if !client_first {
        return TcpStream::connect(addr).await;
    }
    let s = socket_for(addr)?;
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(&s).set_tcp_quickack(false);
    s.connect(addr).await
}

/// A TCP socket of `addr`'s family (for a connect or a listener).
pub(crate) fn socket_for(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
}

/// What follows the connect (`None`: timed out): errors with the server named, the socket
/// tuned, the PROXY header sent.
async fn finish_dial(
    lease: &Lease,
    opts: &ConnectOpts,
    connected: Option<std::io::Result<TcpStream>>,
) -> Result<TcpStream, GatewayError> {
    let server = || lease.server().name().to_string();
    let addr = lease.addr;
    let s = match connected {
        Some(Ok(s)) => s,
        Some(Err(source)) => {
            return Err(GatewayError::Connect {
                server: server(),
                addr,
                source,
            })
        }
        None => {
            return Err(GatewayError::ConnectTimeout {
                server: server(),
                addr,
                timeout: opts.timeout,
            })
        }
    };
    tune(&s);
    if let Some((v, src, dst)) = opts.proxy {
        let h = proxy_protocol::header(v, src, dst);
        crate::relay::write_all(&s, &h)
            .await
            .map_err(|source| GatewayError::Connect {
                server: server(),
                addr,
                source,
            })?;
    }
    Ok(s)
}

/// Connects to the first server that answers, trying others on failure.
pub async fn connect(
    pool: &Pool,
    key: PickKey,
    opts: &ConnectOpts,
    timer: &mut Timer<'_>,
) -> Result<(TcpStream, Lease), GatewayError> {
    let mut a = Attempts::new(pool, key, opts.retries);
    match connect_next(&mut a, opts, Some(timer)).await {
        Some(c) => Ok(c),
        None => Err(a.into_error()),
    }
}

/// Connects to the next server of `attempts` that answers (failures recorded in `attempts`,
/// which the caller may go on with); `None` once no attempt is left. Connect timeouts on
/// `timer` if given (the connection's, [`dial_on`]), else each its own ([`dial`]).
pub async fn connect_next(
    attempts: &mut Attempts<'_>,
    opts: &ConnectOpts,
    mut timer: Option<&mut Timer<'_>>,
) -> Option<(TcpStream, Lease)> {
    while let Some(lease) = attempts.next() {
        let r = match timer.as_deref_mut() {
            Some(t) => dial_on(&lease, opts, t).await,
            None => dial(&lease, opts).await,
        };
        match r {
            Ok(s) => return Some((s, lease)),
            Err(e) => attempts.failed(lease, e),
        }
    }
    None
}

/// TCP_NODELAY (relayed request/response traffic must not wait for Nagle) and keepalive, so a
/// dead peer behind a silent firewall is noticed on long-lived connections.
/// Accepted client sockets get the same from their listener ([`crate::listener::bind`]).
pub fn tune(s: &TcpStream) {
    let _ = s.set_nodelay(true);
    tune_keepalive(&socket2::SockRef::from(s));
}

/// SO_KEEPALIVE + TCP_KEEPIDLE 60 s only (two syscalls per socket; probe interval and count
/// keep the kernel's defaults): connection set-up cost is measured by the load harness.
pub fn tune_keepalive(s: &socket2::SockRef<'_>) {
    let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(60));
    let _ = s.set_tcp_keepalive(&ka);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::open;
    use std::io::{ErrorKind, Read};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;

    /// The listener's next connection, waiting up to ≈2 s for it.
    async fn accept_soon(l: &TcpListener) -> TcpStream {
        for _ in 0..2000 {
            match l.accept() {
                Ok((s, _)) => return s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    tokio::time::sleep(Duration::from_millis(1)).await
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        panic!("no connection to accept");
    }

    /// With `client_first` the server cannot accept the connection before the client's first
    /// bytes (the handshake's last ACK travels with them), and then finds them there; without,
    /// it can at once. A round where more than 100 ms passed between connect and the accept
    /// attempt (the kernel's delayed ACK may have gone out on its own) proves nothing and is
    /// tried again.
    #[tokio::test]
    async fn client_first_sends_the_last_handshake_ack_with_the_first_bytes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let mut decided = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let mut c = open(addr, true).await.unwrap();
            let early = l.accept();
            if t.elapsed() > Duration::from_millis(100) {
                continue;
            }
            match early {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("accept before the client wrote: {other:?}"),
            }
            c.write_all(b"RQ").await.unwrap();
            let mut s = accept_soon(&l).await;
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 2];
            assert_eq!(
                s.read(&mut b).unwrap(),
                2,
                "the first bytes came with the ACK"
            );
            decided += 1;
        }
        assert!(decided > 0, "every round too slow to tell");
        // Without: the server accepts before anything is written.
        let _c = open(addr, false).await.unwrap();
        accept_soon(&l).await;
    }
}

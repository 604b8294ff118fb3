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
    let c = tokio::time::timeout(opts.timeout, TcpStream::connect(lease.addr)).await;
    finish_dial(lease, opts, c.ok()).await
}

/// [`dial`] with the connect timeout on the connection's [`Timer`] (no timer of its own).
pub async fn dial_on(
    lease: &Lease,
    opts: &ConnectOpts,
    timer: &mut Timer<'_>,
) -> Result<TcpStream, GatewayError> {
    let connect = std::pin::pin!(TcpStream::connect(lease.addr));
    let c = timer.within(opts.timeout, connect).await;
    finish_dial(lease, opts, c).await
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

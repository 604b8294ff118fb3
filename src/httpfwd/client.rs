//! Pooled HTTP/1.1 keep-alive connections to servers, per target address. A connection returns
//! to the pool only once hyper says it is ready for the next request (the previous response was
//! read to its end); closed ones are dropped.

use super::body::ReplayBody;
use crate::error::GatewayError;
use crate::pool::Lease;
use crate::upstream::{self, ConnectOpts};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const KEEP_PER_SERVER: usize = 64;

pub type Sender = SendRequest<ReplayBody>;

#[derive(Debug, Default)]
pub struct HttpBackends {
    idle: Mutex<HashMap<SocketAddr, Vec<Sender>>>,
}

impl HttpBackends {
    fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let mut m = self.idle.lock().ok()?;
        let list = m.get_mut(&addr)?;
        while let Some(s) = list.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// A ready sender to the lease's server: pooled, or a new connection (connect timeout,
    /// PROXY header, HTTP/1 handshake).
    pub async fn sender(&self, lease: &Lease, opts: &ConnectOpts) -> Result<Sender, GatewayError> {
        if let Some(s) = self.take(lease.addr) {
            return Ok(s);
        }
        let stream = upstream::dial(lease, opts).await?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| GatewayError::Connect {
            server: lease.server().name().to_string(),
            addr: lease.addr,
            source: std::io::Error::other(e),
        })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Puts the sender back once its current response has been fully read.
    pub fn recycle(self: &Arc<Self>, addr: SocketAddr, mut s: Sender) {
        let me = self.clone();
        tokio::spawn(async move {
            if s.ready().await.is_ok() {
                if let Ok(mut m) = me.idle.lock() {
                    let list = m.entry(addr).or_default();
                    if list.len() < KEEP_PER_SERVER {
                        list.push(s);
                    }
                }
            }
        });
    }
}

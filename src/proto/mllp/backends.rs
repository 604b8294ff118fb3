//! Pooled MLLP connections to servers, per target address. A connection goes back to the pool
//! only after a clean exchange (its ACK matched); one that failed is dropped, so a late ACK can
//! never be matched to the next message. Idle ones are closed after the server timeout.

use crate::hl7::conn::MllpConn;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most idle connections kept per server.
const KEEP_PER_SERVER: usize = 64;

#[derive(Debug, Default)]
pub struct Backends {
    idle: Mutex<HashMap<SocketAddr, Vec<(MllpConn, Instant)>>>,
}

impl Backends {
    /// A pooled connection to `addr` that is still usable, if any.
    pub fn take(&self, addr: SocketAddr, max_idle: Duration) -> Option<MllpConn> {
        let mut m = self.idle.lock().ok()?;
        let list = m.get_mut(&addr)?;
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < max_idle && c.reusable() {
                return Some(c);
            }
        }
        None
    }

    /// Returns a connection after a clean exchange.
    pub fn put(&self, addr: SocketAddr, c: MllpConn) {
        if let Ok(mut m) = self.idle.lock() {
            let list = m.entry(addr).or_default();
            if list.len() < KEEP_PER_SERVER {
                list.push((c, Instant::now()));
            }
        }
    }
}

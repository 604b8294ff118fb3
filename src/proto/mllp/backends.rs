//! Pooled MLLP connections to servers. A connection goes back to the pool only after a clean
//! exchange (its ACK matched, nothing else buffered); one that failed is dropped, and one with
//! unread bytes, an EOF or an error pending on its socket is never taken again, so a late ACK
//! can never be matched to the next message. Idle connections are closed after the service's
//! server timeout by a reaper task (which also drops those the server closed meanwhile), and
//! checked once more when taken.
//!
//! With a PROXY protocol header configured, the header describes one client connection, so a
//! pooled connection only serves the client connection it was opened for.

use crate::hl7::conn::MllpConn;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Most idle connections kept per key.
const KEEP_PER_SERVER: usize = 64;
/// Bounds of the reaper's period (half the smallest idle timeout seen).
const REAP_MIN: Duration = Duration::from_millis(10);
const REAP_MAX: Duration = Duration::from_secs(1);

/// What a pooled connection is good for: the server address, plus the (client, service)
/// addresses when a PROXY header was sent on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackendKey {
    pub addr: SocketAddr,
    pub proxy: Option<(SocketAddr, SocketAddr)>,
}

#[derive(Debug)]
struct Idle {
    conn: MllpConn,
    /// Closed at this instant if still idle (put time + server timeout).
    until: Instant,
}

#[derive(Debug, Default)]
struct State {
    idle: HashMap<BackendKey, Vec<Idle>>,
    /// The reaper's period; `None` while no reaper runs.
    period: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Backends {
    state: Mutex<State>,
}

impl Backends {
    /// A pooled connection for `key` that is still usable, if any (most recently used first).
    pub fn take(&self, key: &BackendKey) -> Option<MllpConn> {
        let mut st = self.state.lock().ok()?;
        let list = st.idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(i) = list.pop() {
            if i.until > now && i.conn.reusable() {
                return Some(i.conn);
            }
        }
        None
    }

    /// Returns a connection after a clean exchange; it is closed if still idle after
    /// `max_idle`. Starts the reaper if needed (must run inside a tokio runtime). Only what
    /// is buffered is checked here; the socket itself is checked by [`Backends::take`] (and
    /// the reaper), one system call per message rather than two.
    pub fn put(self: &Arc<Self>, key: BackendKey, conn: MllpConn, max_idle: Duration) {
        if max_idle.is_zero() || !conn.clean() {
            return;
        }
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let list = st.idle.entry(key).or_default();
        if list.len() >= KEEP_PER_SERVER {
            return;
        }
        list.push(Idle {
            conn,
            until: Instant::now() + max_idle,
        });
        let want = (max_idle / 2).clamp(REAP_MIN, REAP_MAX);
        match st.period {
            Some(p) if p <= want => {}
            Some(_) => st.period = Some(want),
            None => {
                st.period = Some(want);
                tokio::spawn(reap(Arc::downgrade(self)));
            }
        }
    }

    /// Closes expired and dead idle connections; returns the period until the next run, or
    /// `None` (the reaper stops) when nothing is left.
    fn reap_once(&self) -> Option<Duration> {
        let mut st = self.state.lock().ok()?;
        let now = Instant::now();
        st.idle.retain(|_, list| {
            list.retain(|i| i.until > now && i.conn.reusable());
            !list.is_empty()
        });
        if st.idle.is_empty() {
            st.period = None;
        }
        st.period
    }

    /// Idle connections held (all servers).
    #[cfg(test)]
    pub fn idle_count(&self) -> usize {
        self.state
            .lock()
            .map_or(0, |st| st.idle.values().map(Vec::len).sum())
    }
}

/// Runs until the pool is empty or the handler (and with it the pool) is gone.
async fn reap(pool: Weak<Backends>) {
    let mut period = REAP_MIN;
    loop {
        tokio::time::sleep(period).await;
        let Some(p) = pool.upgrade() else { return };
        match p.reap_once() {
            Some(next) => period = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    async fn pair() -> (MllpConn, TcpStream) {
        let (c, s) = crate::relay::test_pair().await;
        (MllpConn::new(c, 1024), s)
    }

    /// A connection after one exchange (the server read the message and sent one ACK).
    async fn exchanged() -> (MllpConn, TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut c, mut server_side) = pair().await;
        let answer = tokio::spawn(async move {
            let mut got = [0u8; 64];
            let _ = server_side.read(&mut got).await.unwrap();
            server_side.write_all(b"\x0bACK\x1c\r").await.unwrap();
            server_side
        });
        let ack = c.exchange(b"MSG", Duration::from_secs(5)).await.unwrap();
        assert_eq!(&ack[..], b"ACK");
        (c, answer.await.unwrap())
    }

    fn key(c: &MllpConn) -> BackendKey {
        BackendKey {
            addr: c.stream.peer_addr().unwrap(),
            proxy: None,
        }
    }

    #[tokio::test]
    async fn idle_connections_are_closed_after_the_timeout() {
        let b = Arc::new(Backends::default());
        let (c, mut server_side) = pair().await;
        let k = key(&c);
        b.put(k, c, Duration::from_millis(100));
        assert_eq!(b.idle_count(), 1);
        // The server sees the close (EOF) once the reaper ran.
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut server_side, &mut buf),
        )
        .await
        .expect("closed by the reaper")
        .unwrap();
        assert_eq!(n, 0);
        assert_eq!(b.idle_count(), 0);
        assert!(b.take(&k).is_none());
    }

    /// After an exchange whose read drained the socket (its readiness cleared, so reuse needs
    /// no system call), a frame or an EOF arriving later still keeps the connection out.
    #[tokio::test]
    async fn a_late_frame_after_a_drained_exchange_is_seen() {
        use tokio::io::AsyncWriteExt;
        for late in [&b"\x0blate\x1c\r"[..], b""] {
            let b = Arc::new(Backends::default());
            let (c, mut server_side) = exchanged().await;
            let k = key(&c);
            b.put(k, c, Duration::from_secs(60));
            // EOF: the server closes; a frame: it stays open with only the frame pending.
            let _open = if late.is_empty() {
                drop(server_side);
                None
            } else {
                server_side.write_all(late).await.unwrap();
                Some(server_side)
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(b.take(&k).is_none(), "pending {late:?} not seen");
        }
    }

    #[tokio::test]
    async fn a_drained_exchange_leaves_the_connection_reusable() {
        let b = Arc::new(Backends::default());
        let (c, _server_side) = exchanged().await;
        let k = key(&c);
        b.put(k, c, Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(b.take(&k).is_some());
    }

    #[tokio::test]
    async fn closed_or_dirty_connections_are_never_reused() {
        let b = Arc::new(Backends::default());
        let (c, server_side) = pair().await;
        let k = key(&c);
        b.put(k, c, Duration::from_secs(60));
        drop(server_side);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(b.take(&k).is_none(), "server closed it");

        let (c, mut server_side) = pair().await;
        let k = key(&c);
        b.put(k, c, Duration::from_secs(60));
        tokio::io::AsyncWriteExt::write_all(&mut server_side, b"\x0blate\x1c\r")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(b.take(&k).is_none(), "unsolicited bytes pending");

        let (c, _server_side) = pair().await;
        let k = key(&c);
        b.put(k, c, Duration::from_secs(60));
        assert!(b.take(&k).is_some());
        let other = BackendKey {
            proxy: Some((k.addr, k.addr)),
            ..k
        };
        assert!(
            b.take(&other).is_none(),
            "keys with a PROXY peer are separate"
        );
    }
}

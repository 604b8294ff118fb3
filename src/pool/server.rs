//! A real server at run time: its spec plus the mutable facts (state, health, connection
//! counters, last check) kept in atomics so the hot path takes no lock. A `Server` outlives
//! reloads when its spec is unchanged, which is how health and state carry over.

use crate::config::{ServerSpec, ServerState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// The result of one health probe, as shown to operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    pub detail: String,
    pub rtt: Duration,
    pub at: SystemTime,
}

#[derive(Debug)]
pub struct Server {
    pub spec: ServerSpec,
    /// The pool this server belongs to (for logs and metrics).
    pub pool: String,
    state: AtomicU8,
    healthy: AtomicBool,
    /// Connection counters, shared with the server's successors across reloads.
    counts: Arc<Counts>,
    last_check: Mutex<Option<CheckResult>>,
    last_flip: Mutex<Instant>,
    /// Cancelled (after the drain timeout) when a reload removes this server.
    pub retired: CancellationToken,
}

/// Connections of a server: shared by a server and its successors (see [`Server::successor`]),
/// so connections still running on the old object count against the new one.
#[derive(Debug, Default)]
struct Counts {
    active: AtomicU32,
    total: AtomicU64,
}

fn state_to_u8(s: ServerState) -> u8 {
    match s {
        ServerState::Online => 0,
        ServerState::Drain => 1,
        ServerState::Halt => 2,
    }
}

impl Server {
    pub fn new(pool: &str, spec: ServerSpec) -> Arc<Server> {
        Arc::new(Server {
            state: AtomicU8::new(state_to_u8(spec.state)),
            spec,
            pool: pool.to_string(),
            healthy: AtomicBool::new(true),
            counts: Arc::new(Counts::default()),
            last_check: Mutex::new(None),
            last_flip: Mutex::new(Instant::now()),
            retired: CancellationToken::new(),
        })
    }

    /// Whether `spec` names the same server: same name and address (weight, limits, backup,
    /// state may differ). A reload keeps a server's identity when only its settings change.
    pub fn same_identity(&self, spec: &ServerSpec) -> bool {
        self.spec.name == spec.name && self.spec.address == spec.address
    }

    /// The server that replaces `prev` when a reload changed its settings but not its identity:
    /// it starts with `prev`'s health and last check, shares its connection counters (so
    /// connections still running on `prev` are counted) and its retirement token (removing the
    /// server later also ends those connections after the drain time).
    pub fn successor(prev: &Server, spec: ServerSpec) -> Arc<Server> {
        Arc::new(Server {
            state: AtomicU8::new(state_to_u8(spec.state)),
            spec,
            pool: prev.pool.clone(),
            healthy: AtomicBool::new(prev.healthy()),
            counts: prev.counts.clone(),
            last_check: Mutex::new(prev.last_check()),
            last_flip: Mutex::new(
                prev.last_flip
                    .lock()
                    .map_or_else(|_| Instant::now(), |t| *t),
            ),
            retired: prev.retired.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn state(&self) -> ServerState {
        match self.state.load(Ordering::Relaxed) {
            0 => ServerState::Online,
            1 => ServerState::Drain,
            _ => ServerState::Halt,
        }
    }

    /// Changes the administrative state (Online / Drain / Halt); logged by the caller.
    pub fn set_state(&self, s: ServerState) {
        self.state.store(state_to_u8(s), Ordering::Relaxed);
    }

    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Sets health; returns true if it flipped.
    pub fn set_healthy(&self, up: bool) -> bool {
        let flipped = self.healthy.swap(up, Ordering::Relaxed) != up;
        if flipped {
            if let Ok(mut t) = self.last_flip.lock() {
                *t = Instant::now();
            }
        }
        flipped
    }

    /// Time since health last flipped (or since the server was created).
    pub fn since_flip(&self) -> Duration {
        self.last_flip
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    pub fn record_check(&self, r: CheckResult) {
        if let Ok(mut c) = self.last_check.lock() {
            *c = Some(r);
        }
    }

    pub fn last_check(&self) -> Option<CheckResult> {
        self.last_check.lock().ok().and_then(|c| c.clone())
    }

    pub fn active(&self) -> u32 {
        self.counts.active.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.counts.total.load(Ordering::Relaxed)
    }

    /// Takes a connection slot unless `max_connections` (non-zero) is reached.
    pub(crate) fn try_acquire(&self) -> bool {
        let max = self.spec.max_connections;
        let ok = self
            .counts
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| {
                (max == 0 || a < max).then_some(a + 1)
            })
            .is_ok();
        if ok {
            self.counts.total.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    pub(crate) fn release(&self) {
        self.counts.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// May take new clients: Online, healthy, weight > 0, below its connection limit.
    pub fn takes_new(&self) -> bool {
        self.state() == ServerState::Online
            && self.healthy()
            && self.spec.weight > 0
            && !self.full()
    }

    /// May keep a persistent client: like `takes_new`, but Drain and weight 0 are fine.
    pub fn keeps_persistent(&self) -> bool {
        self.state() != ServerState::Halt && self.healthy() && !self.full()
    }

    fn full(&self) -> bool {
        self.spec.max_connections != 0 && self.active() >= self.spec.max_connections
    }

    /// The address to connect to for a client that connected to `local_port`.
    pub fn target(&self, local_port: u16) -> SocketAddr {
        with_port(self.spec.address, local_port)
    }
}

/// Port 0 means "the port the client connected to".
pub fn with_port(mut a: SocketAddr, local_port: u16) -> SocketAddr {
    if a.port() == 0 {
        a.set_port(local_port);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max: u32) -> ServerSpec {
        ServerSpec {
            name: "s".into(),
            address: "127.0.0.1:0".parse().unwrap(),
            weight: 100,
            max_connections: max,
            backup: false,
            state: ServerState::Online,
            ae_title: None,
        }
    }

    #[test]
    fn connection_limit() {
        let s = Server::new("p", spec(2));
        assert!(s.try_acquire() && s.try_acquire());
        assert!(!s.try_acquire());
        assert!(!s.takes_new());
        s.release();
        assert!(s.takes_new());
        assert_eq!(s.total(), 2);
    }

    #[test]
    fn port_zero_takes_client_port() {
        let s = Server::new("p", spec(0));
        assert_eq!(s.target(11112).port(), 11112);
    }

    #[test]
    fn successor_keeps_health_counters_and_retirement() {
        let s = Server::new("p", spec(0));
        assert!(s.try_acquire());
        s.set_healthy(false);
        let mut changed = spec(5);
        changed.weight = 7;
        assert!(s.same_identity(&changed));
        let n = Server::successor(&s, changed);
        assert!(!n.healthy());
        assert_eq!((n.active(), n.total()), (1, 1));
        s.release(); // a connection that started on the old object ends
        assert_eq!(n.active(), 0);
        n.retired.cancel();
        assert!(s.retired.is_cancelled());
        let mut moved = spec(0);
        moved.address = "127.0.0.2:0".parse().unwrap();
        assert!(!s.same_identity(&moved));
    }

    #[test]
    fn drain_keeps_persistent_only() {
        let s = Server::new("p", spec(0));
        s.set_state(ServerState::Drain);
        assert!(!s.takes_new());
        assert!(s.keeps_persistent());
        s.set_state(ServerState::Halt);
        assert!(!s.keeps_persistent());
    }
}

//! Pools of real servers: selection (with persistence, backups and the fallback server) and
//! the lease that counts a connection in and out of a server.

pub mod persist;
pub mod select;
pub mod server;

pub use server::{CheckResult, Server};

use crate::config::{PersistKind, PoolSpec, ServerSpec, ServerState};
use persist::StickTable;
use select::{fnv1a, Candidate, Select};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// What selection knows about the client.
#[derive(Clone, Copy, Debug)]
pub struct PickKey {
    pub client: IpAddr,
    /// The port the client connected to (for servers and fallbacks with port 0).
    pub local_port: u16,
}

impl PickKey {
    /// The key of a client `peer` that connected to `local`.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        PickKey {
            client: peer.ip(),
            local_port: local.port(),
        }
    }
}

/// A chosen server with its connection counted; dropping the lease counts it out, so no error
/// path can leak a connection slot.
#[derive(Debug)]
pub struct Lease {
    server: Arc<Server>,
    /// Where to connect.
    pub addr: SocketAddr,
    /// True when this is the pool's fallback server.
    pub fallback: bool,
}

impl Lease {
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.server.release();
    }
}

#[derive(Debug)]
pub struct Pool {
    pub spec: PoolSpec,
    pub servers: Vec<Arc<Server>>,
    pub fallback: Option<Arc<Server>>,
    pub sticky: Option<Arc<StickTable>>,
    selector: Box<dyn Select>,
    id_hashes: Vec<u64>,
}

impl Pool {
    /// Builds a pool; `reuse` returns the running `Server` for an unchanged spec (reload), and
    /// `sticky` an existing stick table to keep client affinity across reloads.
    pub fn new(
        spec: PoolSpec,
        reuse: impl Fn(&ServerSpec) -> Option<Arc<Server>>,
        sticky: Option<Arc<StickTable>>,
    ) -> Arc<Pool> {
        let servers: Vec<Arc<Server>> = spec
            .servers
            .iter()
            .map(|s| reuse(s).unwrap_or_else(|| Server::new(&spec.name, s.clone())))
            .collect();
        let fallback = spec.fallback.map(|addr| {
            let fs = ServerSpec {
                name: "fallback".into(),
                address: addr,
                weight: 1,
                max_connections: 0,
                backup: true,
                state: ServerState::Online,
                ae_title: None,
            };
            reuse(&fs).unwrap_or_else(|| Server::new(&spec.name, fs))
        });
        let sticky = match &spec.persistence {
            Some(p) if p.kind != PersistKind::None => Some(
                sticky
                    .filter(|t| t.timeout() == p.timeout)
                    .unwrap_or_else(|| Arc::new(StickTable::new(p.timeout))),
            ),
            _ => None,
        };
        let id_hashes = servers.iter().map(|s| fnv1a(s.name().as_bytes())).collect();
        let selector = select::selector(spec.balance, servers.len());
        Arc::new(Pool {
            spec,
            servers,
            fallback,
            sticky,
            selector,
            id_hashes,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.name() == name)
    }

    /// Servers that are healthy and not halted (what the gateway's own C-ECHO reports on).
    pub fn up_count(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.healthy() && s.state() != ServerState::Halt)
            .count()
    }

    /// Chooses a server for a new connection, skipping `exclude` (servers that already failed
    /// for this connection). Order: the persistent server if it may keep the client; else the
    /// balance algorithm over non-backup servers, then over backups; else the fallback.
    pub fn pick(&self, key: &PickKey, exclude: &[Arc<Server>]) -> Option<Lease> {
        let excluded = |s: &Arc<Server>| exclude.iter().any(|e| Arc::ptr_eq(e, s));
        // The clock only matters to the stick table.
        let now = self.sticky.as_ref().map(|_| Instant::now());
        if let (Some(t), Some(now)) = (&self.sticky, now) {
            if let Some(s) = t
                .lookup(key.client, now)
                .and_then(|name| self.server(&name))
            {
                if !excluded(s) && s.keeps_persistent() && s.try_acquire() {
                    t.record(key.client, s.name(), now);
                    return Some(self.lease(s, key, false));
                }
            }
        }
        let mut busy: Vec<usize> = Vec::new();
        // Candidates on the stack for pools of up to STACK_CANDIDATES servers (no allocation
        // per pick), in a Vec beyond.
        let mut stack = [Candidate::default(); STACK_CANDIDATES];
        let mut heap: Vec<Candidate> = Vec::new();
        for _ in 0..=self.servers.len() {
            let busy_now: &[usize] = &busy;
            let eligible = |i: usize, s: &Arc<Server>, backup: bool| {
                s.spec.backup == backup && s.takes_new() && !excluded(s) && !busy_now.contains(&i)
            };
            let mut chosen = None;
            for backup in [false, true] {
                let it = self
                    .servers
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| eligible(*i, s, backup))
                    .map(|(i, s)| Candidate {
                        index: i,
                        weight: s.spec.weight,
                        active: s.active(),
                        id_hash: self.id_hashes[i],
                    });
                let cands: &[Candidate] = if self.servers.len() <= STACK_CANDIDATES {
                    let mut n = 0;
                    for c in it {
                        stack[n] = c;
                        n += 1;
                    }
                    &stack[..n]
                } else {
                    heap.clear();
                    heap.extend(it);
                    &heap
                };
                if !cands.is_empty() {
                    chosen = self.selector.choose(cands, key.client);
                    break;
                }
            }
            // No candidate, or the selector chose none.
            let Some(i) = chosen else {
                break;
            };
            let s = &self.servers[i];
            if s.try_acquire() {
                if let (Some(t), Some(now)) = (&self.sticky, now) {
                    t.record(key.client, s.name(), now);
                }
                return Some(self.lease(s, key, false));
            }
            busy.push(i);
        }
        let f = self.fallback.as_ref()?;
        (!excluded(f) && f.try_acquire()).then(|| self.lease(f, key, true))
    }

    /// Chooses the server named `name` for a persistent client (e.g. an HTTP persistence
    /// cookie): only if it may keep persistent clients (not halted, healthy, below its limit)
    /// and is not in `exclude`. Refreshes the client's source-IP entry. `None`: pick anew.
    pub fn pick_named(&self, name: &str, key: &PickKey, exclude: &[Arc<Server>]) -> Option<Lease> {
        let s = self.server(name)?;
        if exclude.iter().any(|e| Arc::ptr_eq(e, s)) || !s.keeps_persistent() || !s.try_acquire() {
            return None;
        }
        if let Some(t) = &self.sticky {
            t.record(key.client, s.name(), Instant::now());
        }
        Some(self.lease(s, key, false))
    }

    fn lease(&self, s: &Arc<Server>, key: &PickKey, fallback: bool) -> Lease {
        Lease {
            server: s.clone(),
            addr: s.target(key.local_port),
            fallback,
        }
    }
}

/// Pools up to this size pick without allocating.
const STACK_CANDIDATES: usize = 16;

#[cfg(test)]
mod tests;

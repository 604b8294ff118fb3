//! The running gateway: an immutable snapshot of services and pools swapped atomically on
//! reload, the listeners (kept open across reloads when their address stays), the simulators
//! and the health checks. Servers and services whose identity is unchanged carry their state,
//! health and counters into the new snapshot; removed ones get `drain_timeout` to finish.

use crate::config::{Config, ConfigErrors, ServerState, SimulatorSpec};
use crate::listener::{self, ListenKey};
use crate::pool::{Pool, Server};
use crate::service::{Service, ServiceStats};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One generation of configuration, as connections see it.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Arc<Config>,
    pub services: Vec<Arc<Service>>,
    pub pools: Vec<Arc<Pool>>,
    /// Looked up at every accept: a [`FastMap`](crate::fasthash::FastMap) (SipHash over the
    /// key was ≈280 instructions per connection under callgrind, `benches/load_dicom.rs`).
    pub by_listen: crate::fasthash::FastMap<ListenKey, Arc<Service>>,
    /// `udp` services by listen address (a UDP socket each; may share an address with TCP).
    pub udp_by_listen: crate::fasthash::FastMap<ListenKey, Arc<Service>>,
    health_stop: CancellationToken,
}

impl Snapshot {
    pub fn pool(&self, name: &str) -> Option<&Arc<Pool>> {
        self.pools.iter().find(|p| p.name() == name)
    }
    pub fn service(&self, name: &str) -> Option<&Arc<Service>> {
        self.services.iter().find(|s| s.name() == name)
    }
}

/// What accept loops and connection tasks share with the runtime.
#[derive(Debug)]
pub struct Shared {
    pub current: ArcSwap<Snapshot>,
    pub tracker: TaskTracker,
    /// Cancelled when the shutdown drain time is over: remaining connections are cut.
    pub hard_stop: CancellationToken,
}

#[derive(Debug)]
struct Bound {
    local: SocketAddr,
    stop: CancellationToken,
}

/// Why a start or reload failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

#[derive(Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<ListenKey, Bound>>,
    /// UDP sockets of `udp` services, kept across reloads like the TCP listeners.
    udp: Mutex<HashMap<ListenKey, Bound>>,
    sims: Mutex<HashMap<SimulatorSpec, (SocketAddr, CancellationToken)>>,
    path: Option<PathBuf>,
    reload_lock: tokio::sync::Mutex<()>,
    /// The admin HTTP server (`[admin]`), kept across reloads while its address stays.
    admin: Mutex<Option<crate::admin::AdminServer>>,
    /// Handed to the admin server, which must not keep the runtime alive.
    me: Weak<Runtime>,
    started: Instant,
}

impl Runtime {
    /// Starts simulators, listeners and health checks for `config`. `path` is the file that
    /// `reload` re-reads (none for the embedded default).
    pub async fn start(config: Config, path: Option<PathBuf>) -> Result<Arc<Runtime>, StartError> {
        let hard_stop = CancellationToken::new();
        let snap = build(config, None, &hard_stop)?;
        let rt = Arc::new_cyclic(|me| Runtime {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(Snapshot {
                    config: snap.config.clone(),
                    services: Vec::new(),
                    pools: Vec::new(),
                    by_listen: Default::default(),
                    udp_by_listen: Default::default(),
                    health_stop: CancellationToken::new(),
                }),
                tracker: TaskTracker::new(),
                hard_stop,
            }),
            listeners: Mutex::new(HashMap::new()),
            udp: Mutex::new(HashMap::new()),
            sims: Mutex::new(HashMap::new()),
            path,
            reload_lock: tokio::sync::Mutex::new(()),
            admin: Mutex::new(None),
            me: me.clone(),
            started: Instant::now(),
        });
        rt.apply(snap).await?;
        Ok(rt)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.current.load_full()
    }

    pub fn config_path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The address the admin API is bound to (port 0 resolved), if `[admin]` is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        let a = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        a.as_ref().map(|a| a.local)
    }

    /// The addresses a service actually listens on (port 0 resolved).
    pub fn listen_addrs(&self, service: &str) -> Vec<SocketAddr> {
        let snap = self.snapshot();
        let Some(svc) = snap.service(service) else {
            return Vec::new();
        };
        let l = if svc.spec.protocol == crate::config::Protocol::Udp {
            self.udp.lock()
        } else {
            self.listeners.lock()
        };
        let l = l.unwrap_or_else(|e| e.into_inner());
        svc.spec
            .listen
            .iter()
            .filter_map(|a| l.get(&ListenKey::new(*a, service)).map(|b| b.local))
            .collect()
    }

    /// Sets a server's state (Online / Drain / Halt) in the running snapshot.
    pub fn set_server_state(
        &self,
        pool: &str,
        server: &str,
        state: ServerState,
    ) -> Result<(), String> {
        let snap = self.snapshot();
        let p = snap.pool(pool).ok_or_else(|| format!("no pool {pool:?}"))?;
        let s = p
            .server(server)
            .ok_or_else(|| format!("no server {server:?} in pool {pool:?}"))?;
        let was = s.state();
        s.set_state(state);
        tracing::info!(
            pool,
            server,
            from = was.as_str(),
            to = state.as_str(),
            "server state changed"
        );
        Ok(())
    }

    /// Re-reads the config file and applies it; on any error the running config stays.
    pub async fn reload(&self) -> Result<(), StartError> {
        let Some(path) = &self.path else {
            return Err(StartError::Other(
                "running the embedded default: there is no config file to reload".into(),
            ));
        };
        let config = Config::load(path)?;
        self.reload_with(config).await
    }

    /// Applies a new validated config.
    pub async fn reload_with(&self, config: Config) -> Result<(), StartError> {
        let prev = self.snapshot();
        let snap = build(config, Some(&prev), &self.shared.hard_stop)?;
        self.apply(snap).await?;
        tracing::info!(source = %self.snapshot().config.source, "configuration reloaded");
        Ok(())
    }

    /// Starts what the new snapshot needs, swaps it in, then stops and retires what it dropped.
    async fn apply(&self, snap: Snapshot) -> Result<(), StartError> {
        let _g = self.reload_lock.lock().await;
        let prev = self.snapshot();
        self.start_simulators(&snap.config.simulators).await?;
        // Bind every new address first; on failure close what was just bound and keep the old.
        let mut fresh: Vec<(ListenKey, tokio::net::TcpListener)> = Vec::new();
        {
            let have = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            for key in snap.by_listen.keys() {
                if have.contains_key(key) || fresh.iter().any(|(k, _)| k == key) {
                    continue;
                }
                match listener::bind(key.addr) {
                    Ok(l) => fresh.push((key.clone(), l)),
                    Err(source) => {
                        return Err(StartError::Bind {
                            addr: key.addr,
                            source,
                        })
                    }
                }
            }
        }
        let fresh_udp = self.bind_udp(&snap)?;
        let admin = self.bind_admin(&snap).await?;
        let drain = snap.config.defaults.drain_timeout;
        let keep: Vec<ListenKey> = snap.by_listen.keys().cloned().collect();
        let keep_udp: Vec<ListenKey> = snap.udp_by_listen.keys().cloned().collect();
        for p in &snap.pools {
            crate::health::spawn_pool(p, &snap.health_stop);
        }
        prev.health_stop.cancel();
        retire(&prev, &snap, drain);
        let want_admin = snap.config.admin.as_ref().map(|a| a.listen);
        self.shared.current.store(Arc::new(snap));
        self.swap_admin(want_admin, admin);
        let mut have = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for (key, l) in fresh {
            let local = l.local_addr().unwrap_or(key.addr);
            let stop = CancellationToken::new();
            tracing::info!(listen = %local, "listening");
            tokio::spawn(listener::accept_loop(
                l,
                key.clone(),
                self.shared.clone(),
                stop.clone(),
            ));
            have.insert(key, Bound { local, stop });
        }
        have.retain(|k, b| {
            let stays = keep.contains(k);
            if !stays {
                tracing::info!(listen = %b.local, "listener closed (no longer configured)");
                b.stop.cancel();
            }
            stays
        });
        drop(have);
        self.start_udp(fresh_udp, &keep_udp);
        Ok(())
    }

    /// Binds the UDP sockets the new snapshot needs and does not have yet.
    fn bind_udp(
        &self,
        snap: &Snapshot,
    ) -> Result<Vec<(ListenKey, tokio::net::UdpSocket)>, StartError> {
        let have = self.udp.lock().unwrap_or_else(|e| e.into_inner());
        let mut fresh: Vec<(ListenKey, tokio::net::UdpSocket)> = Vec::new();
        for key in snap.udp_by_listen.keys() {
            if have.contains_key(key) || fresh.iter().any(|(k, _)| k == key) {
                continue;
            }
            let s = crate::proto::udp::bind(key.addr).map_err(|source| StartError::Bind {
                addr: key.addr,
                source,
            })?;
            fresh.push((key.clone(), s));
        }
        Ok(fresh)
    }

    /// Starts serving freshly bound UDP sockets and closes those no longer configured.
    fn start_udp(&self, fresh: Vec<(ListenKey, tokio::net::UdpSocket)>, keep: &[ListenKey]) {
        let mut have = self.udp.lock().unwrap_or_else(|e| e.into_inner());
        for (key, s) in fresh {
            let local = s.local_addr().unwrap_or(key.addr);
            let stop = CancellationToken::new();
            tracing::info!(listen = %local, "listening (udp)");
            tokio::spawn(crate::proto::udp::serve(
                s,
                key.clone(),
                self.shared.clone(),
                stop.clone(),
            ));
            have.insert(key, Bound { local, stop });
        }
        have.retain(|k, b| {
            let stays = keep.contains(k);
            if !stays {
                tracing::info!(listen = %b.local, "udp socket closed (no longer configured)");
                b.stop.cancel();
            }
            stays
        });
    }

    /// Binds the admin address if the new snapshot needs a different one than is running.
    async fn bind_admin(
        &self,
        snap: &Snapshot,
    ) -> Result<Option<tokio::net::TcpListener>, StartError> {
        let Some(spec) = snap.config.admin.as_ref() else {
            return Ok(None);
        };
        let want = spec.listen;
        // Validation refuses this already; checked again for configs built in code.
        if !want.ip().is_loopback() && spec.token.is_none() && !spec.insecure {
            return Err(StartError::Other(format!(
                "admin listen {want} is not loopback: set [admin] token (or insecure = true)"
            )));
        }
        let unchanged = {
            let running = self.admin.lock().unwrap_or_else(|e| e.into_inner());
            running.as_ref().is_some_and(|a| a.configured == want)
        };
        if unchanged {
            return Ok(None);
        }
        crate::admin::bind(want)
            .await
            .map(Some)
            .map_err(|source| StartError::Bind { addr: want, source })
    }

    /// Starts the admin server on a freshly bound listener (replacing the old one), or stops
    /// it when `[admin]` is gone; an unchanged address keeps the running server.
    fn swap_admin(&self, want: Option<SocketAddr>, fresh: Option<tokio::net::TcpListener>) {
        let mut slot = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        match (want, fresh) {
            (Some(addr), Some(l)) => {
                *slot = Some(crate::admin::serve(l, addr, self.me.clone()));
            }
            (None, _) => {
                if slot.take().is_some() {
                    tracing::info!("admin API closed (no longer configured)");
                }
            }
            (Some(_), None) => {}
        }
    }

    async fn start_simulators(&self, want: &[SimulatorSpec]) -> Result<(), StartError> {
        let running: Vec<SimulatorSpec> = self
            .sims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for spec in want.iter().filter(|s| !running.contains(s)) {
            let stop = CancellationToken::new();
            let addr = crate::sim::start(spec, stop.clone())
                .await
                .map_err(|source| StartError::Bind {
                    addr: spec.listen,
                    source,
                })?;
            self.sims
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.clone(), (addr, stop));
        }
        self.sims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s, (_, stop)| {
                let stays = want.contains(s);
                if !stays {
                    stop.cancel();
                }
                stays
            });
        Ok(())
    }

    /// Stops accepting, lets connections finish up to `drain_timeout`, then cuts the rest.
    pub async fn shutdown(&self) {
        let drain = self.snapshot().config.defaults.drain_timeout;
        for (_, b) in self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            b.stop.cancel();
        }
        for (_, b) in self.udp.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            b.stop.cancel();
        }
        let tracker = &self.shared.tracker;
        tracker.close();
        let open = tracker.len();
        if open > 0 {
            tracing::info!(
                connections = open,
                ?drain,
                "shutting down: waiting for connections to finish"
            );
        }
        if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
            tracing::warn!(
                connections = tracker.len(),
                "drain timeout over: closing remaining connections"
            );
            self.shared.hard_stop.cancel();
            tracker.wait().await;
        }
        self.snapshot().health_stop.cancel();
        self.admin.lock().unwrap_or_else(|e| e.into_inner()).take();
        for (_, (_, stop)) in self.sims.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            stop.cancel();
        }
    }

    /// Open client connections (all services).
    pub fn open_connections(&self) -> usize {
        self.shared.tracker.len()
    }
}

/// Builds a snapshot, reusing unchanged servers, stick tables, service counters and tokens.
/// A new service's `retired` token is a child of `hard_stop`, so that one token tells a
/// connection to close for either reason.
fn build(
    config: Config,
    prev: Option<&Snapshot>,
    hard_stop: &CancellationToken,
) -> Result<Snapshot, StartError> {
    // An unchanged server is reused as is; one whose settings changed (weight, limits...) but
    // not its identity gets a successor that keeps its health, counters and connections.
    let prev_server = |pool: &str, spec: &crate::config::ServerSpec| -> Option<Arc<Server>> {
        let p = prev?.pool(pool)?;
        let all = || p.servers.iter().chain(p.fallback.iter());
        if let Some(s) = all().find(|s| s.spec == *spec) {
            return Some(s.clone());
        }
        all()
            .find(|s| s.same_identity(spec))
            .map(|s| Server::successor(s, spec.clone()))
    };
    let pools: Vec<Arc<Pool>> = config
        .pools
        .iter()
        .map(|ps| {
            let sticky = prev
                .and_then(|p| p.pool(&ps.name))
                .and_then(|p| p.sticky.clone());
            Pool::new(ps.clone(), |s| prev_server(&ps.name, s), sticky)
        })
        .collect();
    let by_name: crate::fasthash::FastMap<String, Arc<Pool>> = pools
        .iter()
        .map(|p| (p.name().to_string(), p.clone()))
        .collect();
    let mut services = Vec::new();
    let mut by_listen = crate::fasthash::FastMap::default();
    let mut udp_by_listen = crate::fasthash::FastMap::default();
    for spec in &config.services {
        let handler = crate::proto::handler_for(spec.protocol).ok_or_else(|| {
            StartError::Other(format!(
                "protocol {:?} is not supported by this build",
                spec.protocol.as_str()
            ))
        })?;
        let pool = match spec.pool.as_str() {
            "" => None,
            name => Some(by_name.get(name).cloned().ok_or_else(|| {
                StartError::Other(format!("service {:?}: unknown pool {name:?}", spec.name))
            })?),
        };
        let old = prev.and_then(|p| p.service(&spec.name));
        let svc = Arc::new(Service {
            spec: spec.clone(),
            pool,
            pools: by_name.clone(),
            handler,
            stats: old.map_or_else(|| Arc::new(ServiceStats::default()), |o| o.stats.clone()),
            retired: old.map_or_else(|| hard_stop.child_token(), |o| o.retired.clone()),
        });
        let map = if spec.protocol == crate::config::Protocol::Udp {
            &mut udp_by_listen
        } else {
            &mut by_listen
        };
        for a in &spec.listen {
            map.insert(ListenKey::new(*a, &spec.name), svc.clone());
        }
        services.push(svc);
    }
    Ok(Snapshot {
        config: Arc::new(config),
        services,
        pools,
        by_listen,
        udp_by_listen,
        health_stop: CancellationToken::new(),
    })
}

/// Servers and services that the new snapshot dropped get `drain` to finish, then are cut.
fn retire(prev: &Snapshot, next: &Snapshot, drain: std::time::Duration) {
    let mut tokens = Vec::new();
    for p in &prev.pools {
        for s in p.servers.iter().chain(p.fallback.iter()) {
            // Kept as is or through a successor (same pool, name and address).
            let kept = next.pool(p.name()).is_some_and(|np| {
                np.servers
                    .iter()
                    .chain(np.fallback.iter())
                    .any(|n| n.same_identity(&s.spec))
            });
            if !kept {
                tokens.push(s.retired.clone());
            }
        }
    }
    for s in &prev.services {
        if next.service(s.name()).is_none() {
            tokens.push(s.retired.clone());
        }
    }
    if !tokens.is_empty() {
        tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            for t in tokens {
                t.cancel();
            }
        });
    }
}

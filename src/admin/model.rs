//! The status document: what `GET /api/v1/status` answers, what the page shows and what
//! `triage status` prints. One set of types serves the server (built from a snapshot) and the
//! client (deserialized), so the three cannot drift apart.

use crate::config::Balance;
use crate::pool::Server;
use crate::runtime::Runtime;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub services: Vec<ServiceStatus>,
    pub pools: Vec<PoolStatus>,
    /// Added: where the running config came from and the build version.
    #[serde(default)]
    pub gateway: GatewayStatus,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GatewayStatus {
    pub version: String,
    pub config: String,
    pub uptime_s: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub name: String,
    pub protocol: String,
    /// The addresses listened on (port 0 resolved to the bound port).
    pub listen: Vec<String>,
    /// The default pool.
    pub pool: String,
    /// Open client connections.
    pub connections: u32,
    #[serde(default)]
    pub connections_total: u64,
    #[serde(default)]
    pub refused: u64,
    #[serde(default)]
    pub bytes_to_server: u64,
    #[serde(default)]
    pub bytes_to_client: u64,
    /// Other pools reachable through `[[service.route]]`.
    #[serde(default)]
    pub route_pools: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PoolStatus {
    pub name: String,
    pub balance: String,
    pub servers: Vec<ServerStatus>,
    /// Added: the health check kind.
    #[serde(default)]
    pub health: String,
    /// Added: the fallback server, used when no server is up.
    #[serde(default)]
    pub fallback: Option<ServerStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServerStatus {
    pub name: String,
    pub address: String,
    /// `online`, `drain` or `halt`.
    pub state: String,
    pub healthy: bool,
    pub weight: u32,
    pub active: u32,
    pub total: u64,
    /// `null` until the first check has run (and always for health kind `none`).
    pub last_check: Option<LastCheck>,
    /// Seconds since health last flipped (or since the server was created).
    #[serde(default)]
    pub since_flip_s: u64,
    #[serde(default)]
    pub backup: bool,
    #[serde(default)]
    pub max_connections: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LastCheck {
    pub ok: bool,
    pub detail: String,
    pub rtt_ms: f64,
    /// Seconds since that check ran.
    #[serde(default)]
    pub age_s: u64,
}

/// Body of `PUT /api/v1/pools/{pool}/servers/{server}/state`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateChange {
    pub state: String,
}

/// Answer to a state change: the server after the change, and its state before.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateChanged {
    pub pool: String,
    pub previous: String,
    pub server: ServerStatus,
}

impl ServerStatus {
    pub fn of(s: &Server) -> Self {
        let now = std::time::SystemTime::now();
        ServerStatus {
            name: s.name().to_string(),
            address: s.spec.address.to_string(),
            state: s.state().as_str().to_string(),
            healthy: s.healthy(),
            weight: s.spec.weight,
            active: s.active(),
            total: s.total(),
            last_check: s.last_check().map(|c| LastCheck {
                ok: c.ok,
                detail: c.detail,
                rtt_ms: (c.rtt.as_secs_f64() * 1e5).round() / 100.0,
                age_s: now.duration_since(c.at).map_or(0, |d| d.as_secs()),
            }),
            since_flip_s: s.since_flip().as_secs(),
            backup: s.spec.backup,
            max_connections: s.spec.max_connections,
        }
    }
}

impl Status {
    /// The status of a running gateway, read from its current snapshot.
    pub fn of(rt: &Runtime) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let snap = rt.snapshot();
        let services = snap
            .services
            .iter()
            .map(|s| {
                let mut listen: Vec<String> = rt
                    .listen_addrs(s.name())
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                if listen.is_empty() {
                    listen = s.spec.listen.iter().map(ToString::to_string).collect();
                }
                let mut route_pools: Vec<String> = Vec::new();
                for r in &s.spec.routes {
                    if r.pool != s.spec.pool && !route_pools.contains(&r.pool) {
                        route_pools.push(r.pool.clone());
                    }
                }
                ServiceStatus {
                    name: s.name().to_string(),
                    protocol: s.spec.protocol.as_str().to_string(),
                    listen,
                    pool: s.spec.pool.clone(),
                    connections: s.stats.active(),
                    connections_total: s.stats.total.load(Relaxed),
                    refused: s.stats.refused.load(Relaxed),
                    bytes_to_server: s.stats.traffic.up.load(Relaxed),
                    bytes_to_client: s.stats.traffic.down.load(Relaxed),
                    route_pools,
                }
            })
            .collect();
        let pools = snap
            .pools
            .iter()
            .map(|p| PoolStatus {
                name: p.name().to_string(),
                balance: balance_name(p.spec.balance).to_string(),
                servers: p.servers.iter().map(|s| ServerStatus::of(s)).collect(),
                health: p.spec.health.kind.as_str().to_string(),
                fallback: p.fallback.as_ref().map(|s| ServerStatus::of(s)),
            })
            .collect();
        Status {
            services,
            pools,
            gateway: GatewayStatus {
                version: env!("CARGO_PKG_VERSION").to_string(),
                config: snap.config.source.clone(),
                uptime_s: rt.uptime().as_secs(),
            },
        }
    }

    pub fn pool(&self, name: &str) -> Option<&PoolStatus> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// Identifies the layout (services, their pools, the servers of each pool): the page
    /// re-renders its table when this changes, and only updates cells otherwise. The page's
    /// script computes the same string from the JSON.
    pub fn layout_signature(&self) -> String {
        let svcs: Vec<String> = self
            .services
            .iter()
            .map(|s| format!("{}>{}", s.name, s.pool))
            .collect();
        let pools: Vec<String> = self
            .pools
            .iter()
            .map(|p| {
                let names: Vec<&str> = p.servers.iter().map(|s| s.name.as_str()).collect();
                format!("{}:{}", p.name, names.join(","))
            })
            .collect();
        format!("{}|{}", svcs.join(";"), pools.join(";"))
    }
}

/// The config spelling of a balance algorithm.
pub fn balance_name(b: Balance) -> &'static str {
    match b {
        Balance::Roundrobin => "roundrobin",
        Balance::Leastconn => "leastconn",
        Balance::First => "first",
        Balance::Source => "source",
    }
}

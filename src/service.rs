//! A virtual service at run time: its spec, its pools, its protocol handler and its counters.
//! Counters and the retirement token carry over reloads by service name.

use crate::config::ServiceSpec;
use crate::pool::Pool;
use crate::proto::Handler;
use crate::relay::{Idle, Traffic};
use crate::upstream::ConnectOpts;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Counters of one service, kept across reloads.
#[derive(Debug, Default)]
pub struct ServiceStats {
    pub active: AtomicU32,
    pub total: AtomicU64,
    /// Connections refused (allow list, connection limit).
    pub refused: AtomicU64,
    pub traffic: Traffic,
}

impl ServiceStats {
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }
}

pub struct Service {
    pub spec: ServiceSpec,
    /// The default pool (none: routes only).
    pub pool: Option<Arc<Pool>>,
    /// Every pool of the snapshot, for routes.
    pub pools: crate::fasthash::FastMap<String, Arc<Pool>>,
    pub handler: Arc<dyn Handler>,
    pub stats: Arc<ServiceStats>,
    /// Cancelled (after the drain timeout) when a reload removes this service.
    pub retired: CancellationToken,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.spec.name)
            .field("protocol", &self.spec.protocol)
            .finish()
    }
}

impl Service {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The pool for a request: the first matching route's, else the default pool (none when the
    /// service has routes only and nothing matched).
    pub fn route_pool(&self, key: &crate::route::RouteKey<'_>) -> Option<&Arc<Pool>> {
        match crate::route::route(&self.spec.routes, key) {
            Some(name) => self.pool_named(name),
            None => self.pool.as_ref(),
        }
    }

    /// A pool by name (route targets are validated to exist).
    pub fn pool_named(&self, name: &str) -> Option<&Arc<Pool>> {
        self.pools.get(name)
    }

    pub fn connect_opts(&self, peer: SocketAddr, local: SocketAddr) -> ConnectOpts {
        ConnectOpts {
            timeout: self.spec.connect_timeout,
            retries: self.spec.retries,
            proxy: self.spec.proxy_protocol.map(|v| (v, peer, local)),
            client_first: self.spec.protocol == crate::config::Protocol::Dicom,
        }
    }

    pub fn idle(&self) -> Idle {
        Idle {
            client: self.spec.client_timeout,
            server: self.spec.server_timeout,
        }
    }

    /// Whether the allow list admits `ip` (no list = everyone).
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.spec.allow.is_empty() || self.spec.allow.iter().any(|n| n.contains(&ip))
    }
}

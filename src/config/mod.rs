//! Configuration: the TOML file model (`file`), its validation into the runtime model below
//! (`validate`), diagnostics with `FILE:LINE:COL` (`diag`) and the embedded default config.

mod diag;
pub mod duration;
pub mod file;
mod validate;
mod validate_pool;

pub use diag::{ConfigErrors, Diagnostic};
pub use file::{
    Balance, BalancePer, HealthKind, PersistKind, Protocol, ProxyProtocol, ServerState,
    SimulatorKind,
};

use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The embedded default: runs with no file at all, fronting built-in simulators on loopback.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");
/// How the embedded default is named in logs and diagnostics.
pub const EMBEDDED_NAME: &str = "<embedded default>";

/// A validated configuration, ready to be turned into a running snapshot.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where it came from: a file path or [`EMBEDDED_NAME`].
    pub source: String,
    pub admin: Option<AdminSpec>,
    pub defaults: Defaults,
    pub services: Vec<ServiceSpec>,
    pub pools: Vec<PoolSpec>,
    pub simulators: Vec<SimulatorSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSpec {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub insecure: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub connect_timeout: Duration,
    pub client_timeout: Duration,
    pub server_timeout: Duration,
    pub drain_timeout: Duration,
    pub max_connections: u32,
    pub retries: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(4),
            client_timeout: Duration::from_secs(3600),
            server_timeout: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            retries: 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: String,
    pub listen: Vec<SocketAddr>,
    pub protocol: Protocol,
    /// The default pool; empty when omitted (routes only, unmatched requests are refused).
    pub pool: String,
    pub ae_title: Option<String>,
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Allowed source networks; empty = everyone.
    pub allow: Vec<IpNet>,
    pub routes: Vec<RouteSpec>,
    pub connect_timeout: Duration,
    pub client_timeout: Duration,
    pub server_timeout: Duration,
    pub max_connections: u32,
    pub retries: u32,
    /// Protocol-specific cap on bytes buffered before routing; `None` = the protocol's default.
    pub max_request_bytes: Option<u32>,
    /// Time allowed for the routing handshake; `None` = the protocol's default.
    pub handshake_timeout: Option<Duration>,
    /// http, xds: append the client's address to `X-Forwarded-For`.
    pub forwarded_for: bool,
    /// http: balance each request (default) or each client connection (its first request
    /// picks the server, later requests on the connection follow it).
    pub balance_per: BalancePer,
    /// dicom: connect to a server of the default pool on accept, while the A-ASSOCIATE-RQ is
    /// being read, as a TCP proxy does (only for services without routes or own AE, whose pool
    /// does not depend on the request). Default: on for such services without a PROXY header
    /// (see `proto::dicom`: the server does not see the early connection before the request).
    pub preconnect: bool,
}

/// One `[[service.route]]`: every key that is set must match (globs allowed); `pool` if so.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteSpec {
    pub called_ae: Option<String>,
    pub calling_ae: Option<String>,
    pub message_type: Option<String>,
    pub sending_facility: Option<String>,
    pub action: Option<String>,
    pub pool: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistSpec {
    pub kind: PersistKind,
    pub timeout: Duration,
    pub cookie: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSpec {
    pub kind: HealthKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Ports to check instead of the server's own; all must pass. Empty = the server's port
    /// (or, for a server with port 0, the first listen port of a service using the pool).
    pub ports: Vec<u16>,
    pub command: Option<String>,
    pub calling_ae: Option<String>,
    pub called_ae: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    pub message: Option<String>,
}

impl HealthSpec {
    /// The default check: connect to the port every 10 s, rise 2, fall 3.
    pub fn connect() -> Self {
        Self {
            kind: HealthKind::Connect,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            rise: 2,
            fall: 3,
            ports: Vec::new(),
            command: None,
            calling_ae: None,
            called_ae: None,
            method: None,
            path: None,
            expect_status: None,
            expect_body: None,
            message: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub name: String,
    pub balance: Balance,
    pub persistence: Option<PersistSpec>,
    /// Used when no server is up; port 0 = the port the client connected to.
    pub fallback: Option<SocketAddr>,
    pub health: HealthSpec,
    pub servers: Vec<ServerSpec>,
    /// Port to check for servers with port 0 when the health check names none.
    pub default_check_port: Option<u16>,
}

/// A real server. Its identity across reloads is the whole spec plus the pool name: a server
/// whose spec did not change keeps its state, health and counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    pub name: String,
    /// Port 0 = the port the client connected to.
    pub address: SocketAddr,
    pub weight: u32,
    pub max_connections: u32,
    pub backup: bool,
    pub state: ServerState,
    pub ae_title: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimulatorSpec {
    pub kind: SimulatorKind,
    pub listen: SocketAddr,
    pub name: String,
}

impl Config {
    /// Parses and validates config text; `name` is used in diagnostics.
    pub fn parse(name: &str, text: &str) -> Result<Config, ConfigErrors> {
        validate::parse_and_validate(name, text)
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&name, &text),
            Err(e) => Err(ConfigErrors {
                file: name,
                text: String::new(),
                diags: vec![Diagnostic::global(format!("cannot read config file: {e}"))],
            }),
        }
    }

    /// The embedded default config.
    pub fn embedded() -> Config {
        match Self::parse(EMBEDDED_NAME, EMBEDDED_DEFAULT) {
            Ok(c) => c,
            // The embedded default is checked by a unit test; this cannot happen in a release.
            Err(e) => panic!("embedded default config is invalid:\n{e}"),
        }
    }

    /// One-line summary, as `triage check-config` prints it.
    pub fn summary(&self) -> String {
        let listeners: usize = self.services.iter().map(|s| s.listen.len()).sum();
        let servers: usize = self.pools.iter().map(|p| p.servers.len()).sum();
        format!(
            "{}: ok: {} services ({} listeners), {} pools, {} servers, {} simulators",
            self.source,
            self.services.len(),
            listeners,
            self.pools.len(),
            servers,
            self.simulators.len()
        )
    }

    pub fn pool(&self, name: &str) -> Option<&PoolSpec> {
        self.pools.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::embedded();
        assert!(!c.services.is_empty());
        assert!(!c.simulators.is_empty());
    }
}

//! The gateway's error: which side failed (client, server or triage itself) and whether the
//! attempt may be retried on another server. That decides between redispatch, a protocol-level
//! refusal and a log line.

use std::net::SocketAddr;
use std::time::Duration;

/// Which leg of a proxied connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
    Internal,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
            Side::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no server available in pool {pool:?}")]
    NoServer { pool: String },
    #[error("server {server} ({addr}): connect failed: {source}")]
    Connect {
        server: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server {server} ({addr}): connect timed out after {timeout:?}")]
    ConnectTimeout {
        server: String,
        addr: SocketAddr,
        timeout: Duration,
    },
    #[error("all {attempts} connect attempts failed in pool {pool:?}; last: {last}")]
    Exhausted {
        pool: String,
        attempts: u32,
        last: Box<GatewayError>,
    },
    #[error("client: {0}")]
    ClientIo(std::io::Error),
    #[error("server: {0}")]
    ServerIo(std::io::Error),
    #[error("{side} idle for {after:?}", side = .side.as_str())]
    Idle { side: Side, after: Duration },
}

impl GatewayError {
    pub fn side(&self) -> Side {
        match self {
            GatewayError::NoServer { .. } => Side::Internal,
            GatewayError::Connect { .. }
            | GatewayError::ConnectTimeout { .. }
            | GatewayError::Exhausted { .. }
            | GatewayError::ServerIo(_) => Side::Server,
            GatewayError::ClientIo(_) => Side::Client,
            GatewayError::Idle { side, .. } => *side,
        }
    }

    /// True when nothing reached a server yet, so the same request may go to another one.
    pub fn retry_allowed(&self) -> bool {
        matches!(
            self,
            GatewayError::Connect { .. } | GatewayError::ConnectTimeout { .. }
        )
    }
}

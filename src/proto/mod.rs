//! Protocol handlers: what happens to an accepted client connection. Each protocol owns its
//! handshake (or per-message exchange) and then hands over to the shared relay. A new protocol
//! is a file here plus a line in [`handler_for`] and [`is_supported`].

mod dicom;
pub mod http;
mod mllp;
mod tcp;
pub mod udp;
mod xds;

pub use xds::action::find as xds_find_action;

use crate::config::Protocol;
use crate::health::BoxFuture;
use crate::service::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

/// An accepted client connection.
#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The address the client connected to (service address and port).
    pub local: SocketAddr,
    pub service: Arc<Service>,
}

/// Why the listener refuses a connection before the handler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The source address is not in the service's `allow` list.
    NotAllowed,
    /// The service is at `max_connections`.
    TooManyConnections,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "source address not allowed",
            Refusal::TooManyConnections => "service connection limit reached",
        }
    }
}

/// A protocol handler.
pub trait Handler: Send + Sync {
    /// Serves one client connection to its end.
    fn handle(&self, conn: Conn) -> BoxFuture<'static, ()>;

    /// Refuses a connection the protocol's way (DICOM: A-ASSOCIATE-RJ; HL7: NAK). The default
    /// closes the socket.
    fn refuse(&self, conn: Conn, why: Refusal) -> BoxFuture<'static, ()> {
        let _ = why;
        drop(conn);
        Box::pin(async {})
    }
}

/// Whether this build serves a protocol.
pub fn is_supported(p: Protocol) -> bool {
    matches!(
        p,
        Protocol::Tcp
            | Protocol::Dicom
            | Protocol::Mllp
            | Protocol::Xds
            | Protocol::Http
            | Protocol::Udp
    )
}

/// The handler for a protocol, if this build has one.
pub fn handler_for(p: Protocol) -> Option<Arc<dyn Handler>> {
    match p {
        Protocol::Tcp => Some(Arc::new(tcp::TcpHandler)),
        Protocol::Dicom => Some(Arc::new(dicom::DicomHandler)),
        Protocol::Mllp => Some(Arc::new(mllp::MllpHandler::default())),
        Protocol::Xds => Some(Arc::new(xds::XdsHandler::default())),
        Protocol::Http => Some(Arc::new(http::HttpHandler::default())),
        // Datagrams are served by `udp::serve` on the runtime's UDP sockets; this handler only
        // exists so that the service has one (it never receives a TCP connection).
        Protocol::Udp => Some(Arc::new(udp::UdpHandler)),
    }
}

//! Built-in simulated backends (`[[simulator]]`), started by triage itself on loopback so that
//! the embedded default works out of the box and sites can run acceptance tests.

mod dicom;
mod echo;
mod hl7;
mod xds;

use crate::config::{SimulatorKind, SimulatorSpec};
use crate::health::BoxFuture;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Whether this build has a simulator kind.
pub fn is_supported(kind: SimulatorKind) -> bool {
    matches!(
        kind,
        SimulatorKind::TcpEcho | SimulatorKind::Dicom | SimulatorKind::Hl7 | SimulatorKind::Xds
    )
}

/// One simulated peer connection.
type Session = fn(TcpStream) -> BoxFuture<'static, ()>;

/// Binds and starts a simulator; it runs until `stop` is cancelled.
pub async fn start(
    spec: &SimulatorSpec,
    stop: CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let session: Session = match spec.kind {
        SimulatorKind::TcpEcho => |s| Box::pin(echo::session(s)),
        SimulatorKind::Dicom => |s| Box::pin(dicom::session(s)),
        SimulatorKind::Hl7 => |s| Box::pin(hl7::session(s)),
        SimulatorKind::Xds => |s| Box::pin(xds::session(s)),
    };
    let l = TcpListener::bind(spec.listen).await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        tokio::select! { _ = stop.cancelled() => {}, _ = accept_each(l, session) => {} }
    });
    tracing::info!(simulator = %spec.name, kind = spec.kind.as_str(), %addr, "simulator listening");
    Ok(addr)
}

/// Accepts forever, one task per connection (a failed accept backs off briefly).
async fn accept_each(l: TcpListener, session: Session) {
    loop {
        let Ok((s, _)) = l.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(session(s));
    }
}

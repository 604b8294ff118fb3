//! Built-in simulated backends (`[[simulator]]`), started by triage itself on loopback so that
//! the embedded default works out of the box and sites can run acceptance tests.

mod dicom;
mod echo;
mod hl7;
mod xds;

use crate::config::{SimulatorKind, SimulatorSpec};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Whether this build has a simulator kind.
pub fn is_supported(kind: SimulatorKind) -> bool {
    matches!(
        kind,
        SimulatorKind::TcpEcho | SimulatorKind::Dicom | SimulatorKind::Hl7 | SimulatorKind::Xds
    )
}

/// Binds and starts a simulator; it runs until `stop` is cancelled.
pub async fn start(
    spec: &SimulatorSpec,
    stop: CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let l = TcpListener::bind(spec.listen).await?;
    let addr = l.local_addr()?;
    let name = spec.name.clone();
    match spec.kind {
        SimulatorKind::TcpEcho => {
            tokio::spawn(async move {
                tokio::select! { _ = stop.cancelled() => {}, _ = echo::serve(l) => {} }
            });
        }
        SimulatorKind::Dicom => {
            tokio::spawn(async move {
                tokio::select! { _ = stop.cancelled() => {}, _ = dicom::serve(l) => {} }
            });
        }
        SimulatorKind::Hl7 => {
            tokio::spawn(async move {
                tokio::select! { _ = stop.cancelled() => {}, _ = hl7::serve(l) => {} }
            });
        }
        SimulatorKind::Xds => {
            tokio::spawn(async move {
                tokio::select! { _ = stop.cancelled() => {}, _ = xds::serve(l) => {} }
            });
        }
        #[allow(unreachable_patterns)]
        _ => {
            return Err(std::io::Error::other(format!(
                "simulator {name}: kind not supported by this build"
            )));
        }
    }
    tracing::info!(simulator = %name, kind = spec.kind.as_str(), %addr, "simulator listening");
    Ok(addr)
}

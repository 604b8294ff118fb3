//! The DICOM harness's backends and proxy configs. Backends: `storescp --ignore` (store), the
//! canned-answer acceptor of `dicom_canned.rs` (association rate and idle associations;
//! concurrent; with `--simulator` the triage DICOM simulator instead), and a TCP echo
//! (the idle-connection baseline). HAProxy gets one `listen` per backend in `mode tcp`; triage
//! one `dicom` service per DICOM backend, with the server's `ae_title` set so that the called-AE
//! rewrite (and its restore in the A-ASSOCIATE-AC) runs as in real deployments, and one `tcp`
//! service for the echo. Health checks off everywhere.

use crate::dicom_peers::StoreScp;
use crate::procs::{self, Proxy};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use tokio_util::sync::CancellationToken;
use triage::config::{SimulatorKind, SimulatorSpec};

/// The association backend's AE title as configured on triage's server (the canned acceptor
/// and the simulator both accept any).
const ASSOC_AE: &str = "SIMSCP";

/// One address per backend (the backends themselves, or a proxy's frontends for them).
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    pub store: SocketAddr,
    /// The association workloads' backend (canned answers, or the simulator).
    pub assoc: SocketAddr,
    pub echo: SocketAddr,
}

/// The running backends; dropping them stops them.
#[derive(Debug)]
pub struct Backends {
    pub addrs: Addrs,
    _scp: StoreScp,
    stop: CancellationToken,
}

impl Drop for Backends {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn sim(kind: SimulatorKind, name: &str, stop: &CancellationToken) -> io::Result<SocketAddr> {
    let spec = SimulatorSpec {
        kind,
        listen: "127.0.0.1:0".parse().map_err(io::Error::other)?,
        name: name.into(),
    };
    triage::sim::start(&spec, stop.clone()).await
}

/// Starts storescp (a child), the association backend (the triage DICOM simulator if
/// `simulator`, else the canned acceptor) and the echo (on the current runtime).
pub async fn start_backends(dir: &Path, simulator: bool) -> io::Result<Backends> {
    let scp = StoreScp::start(dir).await?;
    let stop = CancellationToken::new();
    let assoc = if simulator {
        sim(SimulatorKind::Dicom, "load-dicom-sim", &stop).await?
    } else {
        crate::dicom_canned::start(stop.clone()).await?
    };
    let addrs = Addrs {
        store: scp.addr,
        assoc,
        echo: sim(SimulatorKind::TcpEcho, "load-echo", &stop).await?,
    };
    Ok(Backends {
        addrs,
        _scp: scp,
        stop,
    })
}

fn front_addrs() -> io::Result<Addrs> {
    Ok(Addrs {
        store: procs::free_addr()?,
        assoc: procs::free_addr()?,
        echo: procs::free_addr()?,
    })
}

/// (name, frontend, backend, the server's AE title for a dicom service).
fn pairs(
    front: &Addrs,
    back: &Addrs,
) -> [(&'static str, SocketAddr, SocketAddr, Option<&'static str>); 3] {
    [
        (
            "store",
            front.store,
            back.store,
            Some(crate::dicom_peers::STORE_AE),
        ),
        ("assoc", front.assoc, back.assoc, Some(ASSOC_AE)),
        ("echo", front.echo, back.echo, None),
    ]
}

/// HAProxy in TCP mode, one thread, one `listen` per backend.
pub fn haproxy(bin: &Path, dir: &Path, back: &Addrs) -> io::Result<Proxy<Addrs>> {
    let front = front_addrs()?;
    let mut cfg = format!(
        "{}\ndefaults\n    mode tcp\n    timeout connect 4s\n    timeout client 1h\n    timeout server 1h\n{}",
        procs::HAPROXY_GLOBAL,
        procs::haproxy_tcpka()
    );
    for (name, f, b, _) in pairs(&front, back) {
        cfg.push_str(&format!(
            "\nlisten {name}\n    bind {f}\n    server s1 {b}\n"
        ));
    }
    procs::spawn_haproxy(bin, dir, &cfg, front)
}

/// triage with a `dicom` service per DICOM backend (server `ae_title` set: the called AE is
/// rewritten; `preconnect = false` if `no_preconnect`, else its default: on) and a `tcp` service for the echo; health checks off.
pub fn triage(
    bin: &Path,
    dir: &Path,
    back: &Addrs,
    rust_log: &str,
    no_preconnect: bool,
) -> io::Result<Proxy<Addrs>> {
    let front = front_addrs()?;
    let mut cfg = String::from(
        "[defaults]\nconnect_timeout = \"4s\"\nclient_timeout = \"1h\"\nserver_timeout = \"1h\"\n\
         drain_timeout = \"1s\"\nmax_connections = 5000\n",
    );
    for (name, f, b, ae) in pairs(&front, back) {
        let protocol = if ae.is_some() { "dicom" } else { "tcp" };
        cfg.push_str(&format!(
            "\n[[service]]\nname = \"{name}\"\nlisten = [\"{f}\"]\nprotocol = \"{protocol}\"\npool = \"{name}\"\n\
             \n[[pool]]\nname = \"{name}\"\nbalance = \"roundrobin\"\nhealth = {{ kind = \"none\" }}\n\
             \n  [[pool.server]]\n  name = \"{name}1\"\n  address = \"{b}\"\n"
        ));
        if let Some(ae) = ae {
            if no_preconnect {
                // Service keys come before the [[pool]] table the service text ends with.
                let at = cfg.rfind("\n[[pool]]").unwrap_or(cfg.len());
                cfg.insert_str(at, "preconnect = false\n");
            }
            cfg.push_str(&format!("  ae_title = \"{ae}\"\n"));
        }
    }
    procs::spawn_triage(bin, dir, &cfg, front, rust_log)
}

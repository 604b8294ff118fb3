//! Ports a test names before something binds them (a peer's listen address, a port where
//! nothing listens). They come from below the kernel's ephemeral range
//! (`net.ipv4.ip_local_port_range`), so no `bind(…:0)` and no outgoing connection anywhere on
//! the machine can take one between the choice and its use, as happened when a port freed by
//! `bind(0)` went to another test's backend a moment later. Each is tried once per process
//! and checked free for TCP (bound without SO_REUSEADDR, so a TIME_WAIT socket counts as taken)
//! and for UDP. The first port tried depends on the process id, so test binaries run one after
//! another do not start on the same one.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

/// Ports below this are left alone (well-known and registered services).
const FLOOR: u16 = 10_000;

/// A port on `ip` that is free now and that nothing else in this process is given: a cursor
/// walks the range once from a start that depends on the process id, so no port is tried twice.
pub fn unused_port(ip: IpAddr) -> u16 {
    static TRIED: AtomicU32 = AtomicU32::new(0);
    let (lo, hi) = range();
    let span = u32::from(hi - lo);
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    loop {
        let n = TRIED.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free port left in {lo}..{hi} on {ip}");
        let port = lo + ((start + n) % span) as u16;
        if is_free(SocketAddr::new(ip, port)) {
            return port;
        }
    }
}

/// `[FLOOR, first ephemeral port)`, or `[FLOOR, 32768)` when the range cannot be read.
fn range() -> (u16, u16) {
    let first = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&p| p > FLOOR + 1_000)
        .unwrap_or(32_768);
    (FLOOR, first)
}

/// Nothing is bound to `addr` for TCP (not even in TIME_WAIT) or UDP.
fn is_free(addr: SocketAddr) -> bool {
    let tcp = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    tcp.is_ok_and(|s| s.bind(addr).is_ok()) && std::net::UdpSocket::bind(addr).is_ok()
}

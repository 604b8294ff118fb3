//! The TCP harness's proxy configs: one HAProxy `listen` (`mode tcp`) and one triage `tcp`
//! service per backend (sink, responder, echo), health checks off.

use crate::procs::{self, Proxy};
use crate::work::Addrs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

fn front_addrs() -> io::Result<Addrs> {
    Ok(Addrs {
        sink: procs::free_addr()?,
        resp: procs::free_addr()?,
        echo: procs::free_addr()?,
    })
}

fn pairs(front: &Addrs, back: &Addrs) -> [(&'static str, SocketAddr, SocketAddr); 3] {
    [
        ("sink", front.sink, back.sink),
        ("resp", front.resp, back.resp),
        ("echo", front.echo, back.echo),
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
    for (name, f, b) in pairs(&front, back) {
        cfg.push_str(&format!(
            "\nlisten {name}\n    bind {f}\n    server s1 {b}\n"
        ));
    }
    procs::spawn_haproxy(bin, dir, &cfg, front)
}

/// triage with one `tcp` service and pool per backend, health checks off (`none`).
pub fn triage(bin: &Path, dir: &Path, back: &Addrs, rust_log: &str) -> io::Result<Proxy<Addrs>> {
    let front = front_addrs()?;
    let mut cfg = String::from(
        "[defaults]\nconnect_timeout = \"4s\"\nclient_timeout = \"1h\"\nserver_timeout = \"1h\"\n\
         drain_timeout = \"1s\"\nmax_connections = 5000\n",
    );
    for (name, f, b) in pairs(&front, back) {
        cfg.push_str(&format!(
            "\n[[service]]\nname = \"{name}\"\nlisten = [\"{f}\"]\nprotocol = \"tcp\"\npool = \"{name}\"\n\
             \n[[pool]]\nname = \"{name}\"\nbalance = \"roundrobin\"\nhealth = {{ kind = \"none\" }}\n\
             \n  [[pool.server]]\n  name = \"{name}1\"\n  address = \"{b}\"\n"
        ));
    }
    procs::spawn_triage(bin, dir, &cfg, front, rust_log)
}

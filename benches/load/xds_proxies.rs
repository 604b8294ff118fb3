//! The XDS harness's proxy configs. HAProxy: `mode http` with `option http-keep-alive`, one
//! `listen` per backend and no routing (what an HTTP balancer in front of a registry and a
//! repository does). triage: one `xds` service for both, routing by SOAP action (ITI-18 to the
//! registry pool, ITI-41 and ITI-43 to the repository pool), health checks off.

use crate::procs::{self, Proxy};
use crate::xds_back::{Addrs, ITI18, ITI41, ITI43};
use std::io;
use std::path::Path;

/// HAProxy in HTTP mode, one thread, one `listen` per backend.
pub fn haproxy(bin: &Path, dir: &Path, back: &Addrs) -> io::Result<Proxy<Addrs>> {
    let front = Addrs {
        registry: procs::free_addr()?,
        repository: procs::free_addr()?,
    };
    let mut cfg = format!(
        "{}\ndefaults\n    mode http\n    option http-keep-alive\n    timeout connect 4s\n    \
         timeout client 1h\n    timeout server 1h\n    timeout http-request 30s\n    \
         timeout http-keep-alive 1h\n{}",
        procs::HAPROXY_GLOBAL,
        procs::haproxy_tcpka()
    );
    for (name, f, b) in [
        ("registry", front.registry, back.registry),
        ("repository", front.repository, back.repository),
    ] {
        cfg.push_str(&format!(
            "\nlisten {name}\n    bind {f}\n    server s1 {b}\n"
        ));
    }
    procs::spawn_haproxy(bin, dir, &cfg, front)
}

/// triage with one `xds` service (both frontends are its one address), routes by action.
pub fn triage(bin: &Path, dir: &Path, back: &Addrs, rust_log: &str) -> io::Result<Proxy<Addrs>> {
    let f = procs::free_addr()?;
    let front = Addrs {
        registry: f,
        repository: f,
    };
    let cfg = format!(
        r#"[defaults]
connect_timeout = "4s"
client_timeout = "1h"
server_timeout = "1h"
drain_timeout = "1s"
max_connections = 5000

[[service]]
name = "xds"
listen = ["{f}"]
protocol = "xds"
pool = "registry"

  [[service.route]]
  action = "{ITI18}"
  pool = "registry"

  [[service.route]]
  action = "{ITI41}"
  pool = "repository"

  [[service.route]]
  action = "{ITI43}"
  pool = "repository"

[[pool]]
name = "registry"
balance = "roundrobin"
health = {{ kind = "none" }}

  [[pool.server]]
  name = "reg1"
  address = "{reg}"

[[pool]]
name = "repository"
balance = "roundrobin"
health = {{ kind = "none" }}

  [[pool.server]]
  name = "rep1"
  address = "{rep}"
"#,
        reg = back.registry,
        rep = back.repository,
    );
    procs::spawn_triage(bin, dir, &cfg, front, rust_log)
}

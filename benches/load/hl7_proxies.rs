//! The HL7 harness's proxy configs, both in front of the same two ACK responders: HAProxy in TCP
//! mode (`balance roundrobin`, which can only pin each client connection to one server) and a
//! triage `mllp` service (per message: route by MSH-9 to a pool of both responders, roundrobin,
//! health checks off).

use crate::procs::{self, Proxy};
use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// HAProxy in TCP mode, one thread, one `listen` with both responders.
pub fn haproxy(bin: &Path, dir: &Path, back: [SocketAddr; 2]) -> io::Result<Proxy<SocketAddr>> {
    let front = procs::free_addr()?;
    let cfg = format!(
        "{}\ndefaults\n    mode tcp\n    timeout connect 4s\n    timeout client 1h\n    timeout server 1h\n{}\
         \nlisten hl7\n    bind {front}\n    balance roundrobin\n    server s1 {}\n    server s2 {}\n",
        procs::HAPROXY_GLOBAL,
        procs::haproxy_tcpka(),
        back[0],
        back[1]
    );
    procs::spawn_haproxy(bin, dir, &cfg, front)
}

/// triage with one `mllp` service: ADT^A* goes to the pool of both responders (roundrobin per
/// message), anything else to a pool of the first one only.
pub fn triage(
    bin: &Path,
    dir: &Path,
    back: [SocketAddr; 2],
    rust_log: &str,
) -> io::Result<Proxy<SocketAddr>> {
    let front = procs::free_addr()?;
    let cfg = format!(
        r#"[defaults]
connect_timeout = "4s"
client_timeout = "1h"
server_timeout = "1h"
drain_timeout = "1s"
max_connections = 5000

[[service]]
name = "hl7"
listen = ["{front}"]
protocol = "mllp"
pool = "other"
  [[service.route]]
  message_type = "ADT^A*"
  pool = "adt"

[[pool]]
name = "adt"
balance = "roundrobin"
health = {{ kind = "none" }}
  [[pool.server]]
  name = "hl7a"
  address = "{a}"
  [[pool.server]]
  name = "hl7b"
  address = "{b}"

[[pool]]
name = "other"
balance = "roundrobin"
health = {{ kind = "none" }}
  [[pool.server]]
  name = "hl7a"
  address = "{a}"
"#,
        a = back[0],
        b = back[1]
    );
    procs::spawn_triage(bin, dir, &cfg, front, rust_log)
}

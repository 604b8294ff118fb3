//! [`Rewritten`]: an `examples/*.toml` file rewritten to loopback programmatically (parsed with
//! the `toml` crate, rewritten, serialized, then validated by `triage::Config::parse`), with
//! look-ups of what each original address became and a way to start it.
//!
//! Rewriting rules (see [`Rewritten::new`]):
//! - every IP address of the file (VIPs, servers, fallbacks; `0.0.0.0` too) gets its own
//!   `127.0.0.x`, in order of first appearance from `first_ip` on;
//! - listen ports and health-check ports share one map: each original port gets one fresh
//!   unprivileged port (free for TCP and UDP), so a multi-port service stays multi-port and a
//!   TCP and a UDP service on the same port stay on the same port;
//! - a server (or fallback) with port 0 keeps port 0 (its backends listen on the mapped IP and
//!   the mapped listen ports); one with a port gets `127.0.0.1` and a fresh port of its own
//!   (so dcmtk tools, which bind all addresses, can serve it);
//! - `[admin] listen` becomes `127.0.0.1:0`.

use super::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use toml::{Table, Value};

/// An example rewritten to loopback.
#[derive(Debug)]
pub struct Rewritten {
    pub value: Value,
    ips: BTreeMap<IpAddr, IpAddr>,
    ports: BTreeMap<u16, u16>,
    next_ip: u8,
}

impl Rewritten {
    /// Loads `examples/NAME` and rewrites it; mapped IPs are `127.0.0.FIRST_IP` and up.
    pub fn new(name: &str, first_ip: u8) -> Rewritten {
        let path = example_path(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let value: Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut rw = Rewritten {
            value: Value::Table(Table::new()),
            ips: BTreeMap::new(),
            ports: BTreeMap::new(),
            next_ip: first_ip,
        };
        let mut v = value;
        rw.rewrite(&mut v);
        rw.value = v;
        rw
    }

    fn map_ip(&mut self, ip: IpAddr) -> IpAddr {
        if let Some(m) = self.ips.get(&ip) {
            return *m;
        }
        let m = IpAddr::V4(Ipv4Addr::new(127, 0, 0, self.next_ip));
        self.next_ip = self.next_ip.checked_add(1).expect("too many addresses");
        self.ips.insert(ip, m);
        m
    }

    fn map_port(&mut self, p: u16) -> u16 {
        if p == 0 {
            return 0;
        }
        *self.ports.entry(p).or_insert_with(fresh_port)
    }

    /// `IP`, `IP:0` or `IP:PORT` of a server or fallback.
    fn server_address(&mut self, s: &str) -> String {
        let (ip, port) = match s.parse::<SocketAddr>() {
            Ok(a) => (a.ip(), a.port()),
            Err(_) => (
                s.parse::<IpAddr>()
                    .unwrap_or_else(|_| panic!("server address {s:?} is not an IP literal")),
                0,
            ),
        };
        if port == 0 {
            SocketAddr::new(self.map_ip(ip), 0).to_string()
        } else {
            self.map_ip(ip); // keep the numbering stable
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), fresh_port()).to_string()
        }
    }

    fn listen_address(&mut self, s: &str) -> String {
        let a: SocketAddr = s.parse().unwrap_or_else(|_| panic!("listen {s:?}"));
        SocketAddr::new(self.map_ip(a.ip()), self.map_port(a.port())).to_string()
    }

    fn rewrite(&mut self, v: &mut Value) {
        let t = v.as_table_mut().expect("a TOML table");
        if let Some(a) = t.get_mut("admin").and_then(Value::as_table_mut) {
            a.insert("listen".into(), Value::String("127.0.0.1:0".into()));
        }
        for s in t
            .get_mut("service")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let listen = s
                .get_mut("listen")
                .and_then(Value::as_array_mut)
                .expect("listen");
            for l in listen.iter_mut() {
                let new = self.listen_address(l.as_str().expect("listen string"));
                *l = Value::String(new);
            }
        }
        for p in t
            .get_mut("pool")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let p = p.as_table_mut().expect("pool table");
            let mut explicit_port = false;
            for s in p
                .get_mut("server")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let a = s.get_mut("address").expect("address");
                let orig = a.as_str().expect("address string").to_string();
                let new = self.server_address(&orig);
                explicit_port |= !new.ends_with(":0");
                *a = Value::String(new);
            }
            if let Some(f) = p.get_mut("fallback") {
                let new = self.server_address(f.as_str().expect("fallback string"));
                *f = Value::String(new);
            }
            if let Some(h) = p.get_mut("health").and_then(Value::as_table_mut) {
                let has_ports = h.contains_key("port") || h.contains_key("ports");
                assert!(
                    !(has_ports && explicit_port),
                    "the rewriter maps health ports like listen ports: only for servers with port 0"
                );
                if let Some(Value::Integer(port)) = h.get("port").cloned() {
                    let m = self.map_port(port as u16);
                    h.insert("port".into(), Value::Integer(i64::from(m)));
                }
                if let Some(Value::Array(ports)) = h.get("ports").cloned() {
                    let mapped = ports
                        .iter()
                        .map(|p| {
                            Value::Integer(i64::from(
                                self.map_port(p.as_integer().expect("port") as u16),
                            ))
                        })
                        .collect();
                    h.insert("ports".into(), Value::Array(mapped));
                }
            }
        }
    }

    /// The loopback IP an original IP was mapped to.
    pub fn ip(&self, orig: &str) -> IpAddr {
        let ip: IpAddr = orig.parse().expect("an IP");
        *self
            .ips
            .get(&ip)
            .unwrap_or_else(|| panic!("{orig} is not in the example"))
    }

    /// The fresh port an original listen (or check) port was mapped to.
    pub fn port(&self, orig: u16) -> u16 {
        *self
            .ports
            .get(&orig)
            .unwrap_or_else(|| panic!("port {orig} is not in the example"))
    }

    /// The rewritten form of an original listen address, e.g. `"10.20.0.100:80"`.
    pub fn addr(&self, orig: &str) -> SocketAddr {
        let a: SocketAddr = orig.parse().expect("IP:PORT");
        SocketAddr::new(self.ip(&a.ip().to_string()), self.port(a.port()))
    }

    fn array_item(&mut self, array: &str, name: &str) -> &mut Table {
        self.value
            .get_mut(array)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_table_mut)
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no [[{array}]] named {name:?}"))
    }

    pub fn pool_mut(&mut self, name: &str) -> &mut Table {
        self.array_item("pool", name)
    }

    pub fn service_mut(&mut self, name: &str) -> &mut Table {
        self.array_item("service", name)
    }

    /// The health table of a pool (created if the example has none).
    pub fn health_mut(&mut self, pool: &str) -> &mut Table {
        self.pool_mut(pool)
            .entry("health")
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .expect("health table")
    }

    /// The rewritten address of a server.
    pub fn server(&self, pool: &str, name: &str) -> SocketAddr {
        let p = self.value["pool"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(pool))
            .unwrap_or_else(|| panic!("no pool {pool}"));
        let s = p["server"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no server {pool}/{name}"));
        s["address"].as_str().unwrap().parse().unwrap()
    }

    /// Adds a `[[simulator]]` (built-in backend) listening on `listen`.
    pub fn add_simulator(&mut self, kind: &str, listen: SocketAddr) {
        let t = self.value.as_table_mut().unwrap();
        let sims = t
            .entry("simulator")
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .unwrap();
        let mut s = Table::new();
        s.insert("kind".into(), Value::String(kind.into()));
        s.insert("listen".into(), Value::String(listen.to_string()));
        sims.push(Value::Table(s));
    }

    pub fn text(&self) -> String {
        toml::to_string(&self.value).expect("serialize")
    }

    /// Validates the rewritten text with `triage::Config::parse`.
    pub fn config(&self) -> triage::Config {
        let text = self.text();
        triage::Config::parse("rewritten.toml", &text)
            .unwrap_or_else(|e| panic!("rewritten example refused:\n{e}\n---\n{text}"))
    }

    /// Starts a runtime with the rewritten config.
    pub async fn start(&self) -> Arc<triage::Runtime> {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .try_init();
        }
        triage::Runtime::start(self.config(), None)
            .await
            .unwrap_or_else(|e| panic!("start failed: {e}\n---\n{}", self.text()))
    }
}

//! Helpers for the `examples_*` tests: load an `examples/*.toml` file, rewrite its addresses and
//! ports to loopback programmatically (parsed with the `toml` crate, rewritten, serialized, then
//! validated by `triage::Config::parse`), and start real peers: dcmtk (`/usr/bin/storescp`,
//! `/usr/bin/wlmscpfs`, `/usr/bin/echoscu`, `/usr/bin/findscu` by absolute path: the names on
//! PATH may be pynetdicom's console scripts), `python3 -m http.server`, curl, and small
//! in-test UDP/TCP echo backends. Every wait is bounded so that a bug fails a test instead of
//! hanging it.
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
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};
use toml::{Table, Value};

/// Upper bound for an external tool run or a peer start.
pub const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// `examples/NAME`.
pub fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Every `examples/*.toml`.
pub fn all_examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
            .expect("examples/ exists")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
    v.sort();
    v
}

/// A fresh port free on 127.0.0.1 for both TCP and UDP, never handed out twice in this process.
pub fn fresh_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..200 {
        let Ok(t) = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(port) = t.local_addr().map(|a| a.port()) else {
            continue;
        };
        if std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        if given.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("no free port found")
}

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

/// Polls `f` every 20 ms until it holds; panics with `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `addr` accepts TCP connections.
pub async fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + TOOL_LIMIT;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not listening on {addr}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether all pool servers are healthy in the running snapshot.
pub fn all_up(rt: &triage::Runtime, pool: &str) -> bool {
    rt.snapshot()
        .pool(pool)
        .is_some_and(|p| p.servers.iter().all(|s| s.healthy()))
}

/// The outcome of an external tool.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    pub fn expect_ok(self, what: &str) -> Run {
        assert!(
            self.ok(),
            "{what} failed ({:?}):\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `prog ARGS` to its end (killed after [`TOOL_LIMIT`]).
pub async fn run(prog: impl AsRef<std::ffi::OsStr>, args: &[String]) -> Run {
    let prog = prog.as_ref().to_owned();
    let child = Command::new(&prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {prog:?}: {e}"));
    let out = match tokio::time::timeout(TOOL_LIMIT, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("{prog:?} {args:?}: {e}"),
        Err(_) => panic!("{prog:?} {args:?} still running after {TOOL_LIMIT:?}"),
    };
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A dcmtk tool by absolute path; panics naming the package when missing.
pub fn dcmtk(tool: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(tool);
    assert!(
        p.exists(),
        "{} missing: install the Debian package dcmtk",
        p.display()
    );
    p
}

/// `echoscu -aet TESTSCU -aec AEC host port` (with network timeouts).
pub async fn echoscu(addr: SocketAddr, aec: &str) -> Run {
    let mut v = strings(&[
        "-aet", "TESTSCU", "-aec", aec, "-to", "5", "-ta", "5", "-td", "10",
    ]);
    v.push(addr.ip().to_string());
    v.push(addr.port().to_string());
    run(dcmtk("echoscu"), &v).await
}

/// `findscu -W` (Modality Worklist) for today's scheduled procedures, verbose.
pub async fn findscu_worklist(addr: SocketAddr, aec: &str) -> Run {
    let mut v = strings(&[
        "-v",
        "-W",
        "-aet",
        "TESTSCU",
        "-aec",
        aec,
        "-to",
        "5",
        "-ta",
        "5",
        "-td",
        "10",
        "-k",
        "PatientName",
        "-k",
        "PatientID",
        "-k",
        "ScheduledProcedureStepSequence[0].Modality=CT",
        "-k",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    ]);
    v.push(addr.ip().to_string());
    v.push(addr.port().to_string());
    run(dcmtk("findscu"), &v).await
}

/// A child process killed on drop, with its output in a log file.
#[derive(Debug)]
pub struct Peer {
    pub what: String,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Peer {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn spawn(
        what: &str,
        prog: &Path,
        args: &[String],
        dir: TempDir,
        addr: SocketAddr,
    ) -> Peer {
        let log = dir.join("peer.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(prog)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({}): {e}", prog.display()));
        let mut p = Peer {
            what: what.to_string(),
            addr,
            child,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + TOOL_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return p;
            }
            if let Ok(Some(st)) = p.child.try_wait() {
                panic!(
                    "{what} exited ({st}) before listening on {addr}:\n{}",
                    p.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{what} not listening on {addr}:\n{}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// dcmtk `storescp` (Verification and Storage SCP) on `port`, all addresses; files go to a
    /// temp dir.
    pub async fn storescp(port: u16, ae: &str) -> Peer {
        let dir = TempDir::new("storescp");
        let args = vec![
            "-aet".into(),
            ae.into(),
            "-od".into(),
            dir.path().display().to_string(),
            port.to_string(),
        ];
        Self::spawn(
            "storescp",
            &dcmtk("storescp"),
            &args,
            dir,
            SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .await
    }

    /// dcmtk `wlmscpfs` (Modality Worklist SCP) on `port` answering for AE `ae` from an empty
    /// worklist directory (C-FIND succeeds with no match; other called AEs are refused).
    pub async fn wlmscpfs(port: u16, ae: &str) -> Peer {
        let dir = TempDir::new("wlmscpfs");
        std::fs::create_dir_all(dir.join(ae)).expect("worklist AE directory");
        // wlmscpfs locks this file while reading the worklist (no lockfile: OutOfResources).
        std::fs::write(dir.join(ae).join("lockfile"), b"").expect("lockfile");
        let args = vec![
            "-dfp".into(),
            dir.path().display().to_string(),
            "--single-process".into(),
            port.to_string(),
        ];
        Self::spawn(
            "wlmscpfs",
            &dcmtk("wlmscpfs"),
            &args,
            dir,
            SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .await
    }

    /// `python3 -m http.server --bind IP PORT` serving a directory whose `whoami.txt` says
    /// `name`.
    pub async fn http_server(addr: SocketAddr, name: &str) -> Peer {
        let dir = TempDir::new("http");
        std::fs::write(dir.join("whoami.txt"), name).expect("whoami.txt");
        let args = vec![
            "-m".into(),
            "http.server".into(),
            "--bind".into(),
            addr.ip().to_string(),
            "--directory".into(),
            dir.path().display().to_string(),
            addr.port().to_string(),
        ];
        Self::spawn(
            "python3 -m http.server",
            Path::new(&python()),
            &args,
            dir,
            addr,
        )
        .await
    }
}

/// The Python interpreter for `python3 -m http.server`: `TRIAGE_PYTHON` if set, else python3.
pub fn python() -> String {
    std::env::var("TRIAGE_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A UDP backend that answers every datagram with `NAME:` followed by the datagram.
#[derive(Debug)]
pub struct UdpEcho {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UdpEcho {
    pub async fn start(name: &str, addr: SocketAddr) -> UdpEcho {
        let s = UdpSocket::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("udp echo on {addr}: {e}"));
        let addr = s.local_addr().unwrap();
        let name = name.to_string();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, from)) = s.recv_from(&mut buf).await else {
                    continue;
                };
                let mut out = format!("{name}:").into_bytes();
                out.extend_from_slice(&buf[..n]);
                let _ = s.send_to(&out, from).await;
            }
        });
        UdpEcho { addr, task }
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends one datagram from a socket bound to `src` and waits (bounded) for the answer; returns
/// it with the address it came from.
pub async fn udp_ask(sock: &UdpSocket, to: SocketAddr, msg: &str) -> Option<(String, SocketAddr)> {
    sock.send_to(msg.as_bytes(), to).await.expect("udp send");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from)),
        _ => None,
    }
}

/// One curl request; `jar` is read and written as a cookie jar; `src` is the source address.
#[derive(Debug)]
pub struct CurlResult {
    pub status: u16,
    pub body: String,
    pub headers: String,
}

pub async fn curl(url: &str, src: IpAddr, jar: Option<&Path>, extra: &[&str]) -> CurlResult {
    let mut v = strings(&[
        "-sS",
        "--max-time",
        "10",
        "--interface",
        &src.to_string(),
        "-D",
        "-",
    ]);
    if let Some(j) = jar {
        v.extend(strings(&[
            "-b",
            &j.display().to_string(),
            "-c",
            &j.display().to_string(),
        ]));
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v.push(url.to_string());
    let r = run("curl", &v).await.expect_ok(&format!("curl {url}"));
    // -D - puts the headers first, then a blank line, then the body.
    let (headers, body) = r
        .stdout
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or((r.stdout.clone(), String::new()));
    let status = headers
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {headers:?}"));
    CurlResult {
        status,
        body,
        headers,
    }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "triage-examples-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `triage` binary.
pub fn triage_bin() -> &'static str {
    env!("CARGO_BIN_EXE_triage")
}

/// A TCP backend that writes `NAME\n` on accept, then echoes every byte; stops listening on
/// drop or [`TagServer::stop`] (accepted connections keep running).
#[derive(Debug)]
pub struct TagServer {
    pub name: String,
    pub addr: SocketAddr,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TagServer {
    pub async fn start(name: &str, addr: SocketAddr) -> TagServer {
        let t = TagServer {
            name: name.to_string(),
            addr,
            task: Mutex::new(None),
        };
        t.listen();
        t
    }

    fn listen(&self) {
        let s = tokio::net::TcpSocket::new_v4().expect("socket");
        s.set_reuseaddr(true).expect("reuseaddr");
        s.bind(self.addr)
            .unwrap_or_else(|e| panic!("tag server {} on {}: {e}", self.name, self.addr));
        let l = s.listen(128).expect("listen");
        let name = self.name.clone();
        let h = tokio::spawn(async move {
            loop {
                let Ok((mut c, _)) = l.accept().await else {
                    continue;
                };
                let name = name.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if c.write_all(format!("{name}\n").as_bytes()).await.is_ok() {
                        let (mut r, mut w) = c.split();
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(h);
    }

    /// Closes the listening socket.
    pub async fn stop(&self) {
        let h = self.task.lock().unwrap().take();
        if let Some(h) = h {
            h.abort();
            let _ = h.await;
        }
    }

    /// Listens again on the same address.
    pub fn restart(&self) {
        self.listen();
    }
}

impl Drop for TagServer {
    fn drop(&mut self) {
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

/// Connects from `src` to `dst` and reads the backend's tag line; the stream stays open.
pub async fn tag_from(
    src: IpAddr,
    dst: SocketAddr,
) -> Result<(tokio::net::TcpStream, String), String> {
    use tokio::io::AsyncReadExt;
    let s = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    s.bind(SocketAddr::new(src, 0)).map_err(|e| e.to_string())?;
    let mut c = tokio::time::timeout(Duration::from_secs(5), s.connect(dst))
        .await
        .map_err(|_| format!("connect to {dst} timed out"))?
        .map_err(|e| format!("connect to {dst}: {e}"))?;
    let mut line = Vec::new();
    let read = async {
        loop {
            let mut b = [0u8; 1];
            match c.read(&mut b).await {
                Ok(0) | Err(_) => {
                    return Err(format!("closed after {:?}", String::from_utf8_lossy(&line)))
                }
                Ok(_) if b[0] == b'\n' => return Ok(()),
                Ok(_) => line.push(b[0]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| format!("no tag from {dst} within 5 s"))??;
    Ok((c, String::from_utf8_lossy(&line).into_owned()))
}

/// The tag a new connection from `src` to `dst` reads (panics on failure).
pub async fn tag(src: IpAddr, dst: SocketAddr) -> String {
    tag_from(src, dst).await.unwrap_or_else(|e| panic!("{e}")).1
}

/// `127.0.0.last`.
pub fn lo(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

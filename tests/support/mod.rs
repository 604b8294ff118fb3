//! Helpers shared by the integration tests: start a runtime from TOML text with `{name}`
//! placeholders, tagging/echo backends on loopback, clients bound to a chosen 127.0.0.x source
//! address, reserved ports, a blackhole address, a polling `wait_until` with a deadline; temp
//! dirs and the `triage` binary as a child process are in `process.rs`. Every network operation
//! has a generous limit ([`STEP`]) so that a bug shows up as a failed assertion, never as a hung
//! test.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use triage::pool::Server;
use triage::runtime::StartError;
use triage::{Config, Runtime};

mod ports;
mod process;
pub use process::{Proc, TempDir};

/// Upper bound for one network step (connect, read a line): only there to avoid hangs.
pub const STEP: Duration = Duration::from_secs(5);

/// `127.0.0.last`.
pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// `127.0.0.last:port`.
pub fn sa(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(ip(last), port)
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn log() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
}

/// Replaces every `{key}` of `template`; panics if a `{word}` placeholder is left over (TOML
/// inline tables are written `{ kind = ... }`, with a space, and are not placeholders).
pub fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    let mut rest = s.as_str();
    while let Some(i) = rest.find('{') {
        let tail = &rest[i + 1..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if end > 0 && tail[end..].starts_with('}') {
            panic!("placeholder {{{}}} not filled in:\n{s}", &tail[..end]);
        }
        rest = tail;
    }
    s
}

/// Parses a config, panicking with the `FILE:LINE:COL` diagnostics if it is invalid.
pub fn parse(toml: &str) -> Config {
    Config::parse("test.toml", toml).unwrap_or_else(|e| panic!("config refused:\n{e}\n---\n{toml}"))
}

/// Starts a runtime (no config file) from TOML text.
pub async fn start(toml: &str) -> Arc<Runtime> {
    try_start(toml)
        .await
        .unwrap_or_else(|e| panic!("start failed: {e}"))
}

/// Like [`start`], returning the error.
pub async fn try_start(toml: &str) -> Result<Arc<Runtime>, StartError> {
    log();
    Runtime::start(parse(toml), None).await
}

/// Runs `attempt` again (up to 5 times) while it reports a port clash (`Err`): for tests that
/// need the same port number on two loopback addresses.
pub async fn retry_ports<T, F, Fut>(mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut last = String::new();
    for _ in 0..5 {
        match attempt().await {
            Ok(x) => return x,
            Err(e) => last = e,
        }
    }
    panic!("no usable port after 5 tries; last: {last}");
}

/// [`try_start`] for [`retry_ports`]: a bind failure is a clash, any other error a failure.
pub async fn start_or_clash(toml: &str) -> Result<Arc<Runtime>, String> {
    match try_start(toml).await {
        Ok(rt) => Ok(rt),
        Err(e @ StartError::Bind { .. }) => Err(e.to_string()),
        Err(e) => panic!("start failed: {e}"),
    }
}

/// The first actual listen address of a service.
pub fn listen(rt: &Runtime, service: &str) -> SocketAddr {
    *rt.listen_addrs(service)
        .first()
        .unwrap_or_else(|| panic!("service {service:?} listens nowhere"))
}

/// A server of the running snapshot.
pub fn server(rt: &Runtime, pool: &str, name: &str) -> Arc<Server> {
    rt.snapshot()
        .pool(pool)
        .and_then(|p| p.server(name))
        .cloned()
        .unwrap_or_else(|| panic!("no server {pool}/{name}"))
}

/// Binds a listener with SO_REUSEADDR (so a stopped backend can listen again at once).
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(backlog)
}

/// A port that is free on `ip` now and given to nobody else in this process (see `ports.rs`).
/// Nothing listens on it until the test binds it, so it also serves as a refusing address.
pub fn free_port(ip: IpAddr) -> u16 {
    ports::unused_port(ip)
}

/// A port held on an address: a socket bound with SO_REUSEADDR that never listens. Nobody else
/// can take the port, a connect to it is refused, and triage (which binds its listeners with
/// SO_REUSEADDR too) can still listen on it. Drop it once triage listens.
#[derive(Debug)]
pub struct Reserved {
    pub port: u16,
    _socket: TcpSocket,
}

impl Reserved {
    /// Reserves a free port on `ip`.
    pub fn any(ip: IpAddr) -> Reserved {
        Self::at(SocketAddr::new(ip, 0)).expect("reserve a port")
    }

    /// Reserves `addr` (fails if it is in use).
    pub fn at(addr: SocketAddr) -> io::Result<Reserved> {
        let s = TcpSocket::new_v4()?;
        s.set_reuseaddr(true)?;
        s.bind(addr)?;
        Ok(Reserved {
            port: s.local_addr()?.port(),
            _socket: s,
        })
    }
}

/// A test backend. With a name it "tags": writes `name\n` on accept, so the client learns which
/// server it reached; then (tagging or not) it echoes every byte until the client's FIN.
#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    /// Connections accepted (health probes included).
    pub accepted: Arc<AtomicUsize>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Backend {
    /// A tagging backend on 127.0.0.1, port 0.
    pub async fn tagging(name: &str) -> Backend {
        Self::tagging_at(name, sa(1, 0)).await
    }

    /// A tagging backend on a given address (port 0 = any).
    pub async fn tagging_at(name: &str, addr: SocketAddr) -> Backend {
        let l = bind(addr, 1024).unwrap_or_else(|e| panic!("backend {name} on {addr}: {e}"));
        let addr = l.local_addr().expect("local addr");
        let b = Backend {
            name: name.to_string(),
            addr,
            accepted: Arc::new(AtomicUsize::new(0)),
            task: Mutex::new(None),
        };
        b.serve(l);
        b
    }

    /// Like [`Backend::tagging_at`], returning the bind error.
    pub fn try_tagging_at(name: &str, addr: SocketAddr) -> io::Result<Backend> {
        let l = bind(addr, 1024)?;
        let b = Backend {
            name: name.to_string(),
            addr: l.local_addr()?,
            accepted: Arc::new(AtomicUsize::new(0)),
            task: Mutex::new(None),
        };
        b.serve(l);
        Ok(b)
    }

    /// A plain echo backend on 127.0.0.1, port 0.
    pub async fn echo() -> Backend {
        Self::tagging_at("", sa(1, 0)).await
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn serve(&self, l: TcpListener) {
        let name = self.name.clone();
        let accepted = self.accepted.clone();
        let h = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let name = name.clone();
                tokio::spawn(async move {
                    let _ = echo_conn(s, &name).await;
                });
            }
        });
        *self.task.lock().unwrap() = Some(h);
    }

    /// Closes the listening socket (accepted connections keep running).
    pub async fn stop_listening(&self) {
        let h = self.task.lock().unwrap().take();
        if let Some(h) = h {
            h.abort();
            let _ = h.await;
        }
    }

    /// Listens again on the same address.
    pub async fn listen_again(&self) {
        let l = bind(self.addr, 1024).expect("re-bind backend");
        self.serve(l);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

async fn echo_conn(mut s: TcpStream, name: &str) -> io::Result<()> {
    if !name.is_empty() {
        s.write_all(format!("{name}\n").as_bytes()).await?;
    }
    let (mut r, mut w) = s.split();
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await
}

/// A client socket bound to `src` (port 0) connected to `dst`. Linux routes all of 127/8 to lo.
pub async fn connect_from(src: IpAddr, dst: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(src, 0))?;
    match tokio::time::timeout(STEP, s.connect(dst)).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// Reads up to and without a `\n` (byte by byte: nothing after the line is consumed).
pub async fn read_line(s: &mut TcpStream) -> io::Result<String> {
    let mut out = Vec::new();
    let read = async {
        loop {
            let mut b = [0u8; 1];
            if s.read(&mut b).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed after {:?}", String::from_utf8_lossy(&out)),
                ));
            }
            if b[0] == b'\n' {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.push(b[0]);
        }
    };
    match tokio::time::timeout(STEP, read).await {
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// How an attempt to reach a backend through the proxy ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    /// The TCP connect to the proxy failed (e.g. refused).
    Connect(io::ErrorKind),
    /// The proxy closed (or reset) the connection before a tag arrived.
    Closed,
    /// Nothing happened within [`STEP`].
    Timeout,
}

/// Connects from `src` and reads the backend's tag; the stream stays open.
pub async fn open_from(src: IpAddr, dst: SocketAddr) -> Result<(TcpStream, String), Fail> {
    let mut s = connect_from(src, dst)
        .await
        .map_err(|e| Fail::Connect(e.kind()))?;
    match read_line(&mut s).await {
        Ok(t) => Ok((s, t)),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(Fail::Timeout),
        Err(_) => Err(Fail::Closed),
    }
}

/// Like [`open_from`] from 127.0.0.1, panicking on failure.
pub async fn open(dst: SocketAddr) -> (TcpStream, String) {
    open_from(ip(1), dst)
        .await
        .unwrap_or_else(|e| panic!("connect through {dst}: {e:?}"))
}

/// Which backend a new connection from `src` reaches (the connection is closed after).
pub async fn tag_from(src: IpAddr, dst: SocketAddr) -> String {
    open_from(src, dst)
        .await
        .unwrap_or_else(|e| panic!("connect from {src} through {dst}: {e:?}"))
        .1
}

/// Which backend a new connection from 127.0.0.1 reaches.
pub async fn tag(dst: SocketAddr) -> String {
    tag_from(ip(1), dst).await
}

/// Opens `n` sequential connections (each closed before the next) and counts the tags.
pub async fn tally(dst: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for _ in 0..n {
        *m.entry(tag(dst).await).or_insert(0) += 1;
    }
    m
}

/// Builds an expected tally from pairs.
pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Sends `msg\n` and checks the same line comes back.
pub async fn roundtrip(s: &mut TcpStream, msg: &str) -> io::Result<()> {
    s.write_all(format!("{msg}\n").as_bytes()).await?;
    let back = read_line(s).await?;
    if back != msg {
        return Err(io::Error::other(format!("sent {msg:?}, got {back:?}")));
    }
    Ok(())
}

/// Waits until the peer closes (EOF or reset); false if it stays open for [`STEP`].
pub async fn closes(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match tokio::time::timeout(STEP, s.read(&mut b)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Polls `f` every 10 ms until it holds; panics with `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A loopback address whose TCP handshake never completes: a listener with backlog 0 that never
/// accepts, its accept queue filled by one connection, so the kernel drops further SYNs and a
/// connect hangs until its timeout. Verified at creation (panics if this kernel behaves
/// otherwise).
#[derive(Debug)]
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: TcpListener,
    _filler: TcpStream,
}

impl Blackhole {
    pub async fn new() -> Blackhole {
        let l = bind(sa(1, 0), 0).expect("bind blackhole");
        let addr = l.local_addr().expect("local addr");
        let filler = TcpStream::connect(addr)
            .await
            .expect("fill the accept queue");
        let probe =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await;
        assert!(
            probe.is_err(),
            "a full accept queue did not make connects hang on this kernel: {probe:?}"
        );
        Blackhole {
            addr,
            _listener: l,
            _filler: filler,
        }
    }

    /// The listener and the connection that fills its queue: accepting that connection makes
    /// room, and a connect hanging on the blackhole then completes with its SYN's retransmission.
    pub fn into_parts(self) -> (TcpListener, TcpStream) {
        (self._listener, self._filler)
    }
}

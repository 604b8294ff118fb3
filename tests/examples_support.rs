//! Helpers for the `examples_*` tests (and a few others that include this module): load an
//! `examples/*.toml` file and rewrite it to loopback ([`Rewritten`], in `rewrite.rs`), start
//! real peers bound to the exact addresses the rewritten example expects ([`Peer`], in
//! `peers.rs`: dcmtk, PyPI HL7 servers, `python3 -m http.server`, `openssl s_server`), small
//! in-test TCP/UDP backends that name themselves (`backends.rs`), and the clients that talk
//! to the services (`clients.rs`: dcmtk SCUs, curl, MLLP). This file holds what they share:
//! ports, bounded waits, running tools, temp dirs. dcmtk tools are run by absolute path (the
//! names on PATH may be pynetdicom's console scripts). Every wait is bounded so that a bug
//! fails a test instead of hanging it.
#![allow(dead_code)]

#[path = "examples_support/backends.rs"]
mod backends;
#[path = "examples_support/clients.rs"]
mod clients;
#[path = "examples_support/peers.rs"]
mod peers;
#[path = "support/ports.rs"]
mod ports;
#[path = "examples_support/rewrite.rs"]
mod rewrite;
// Not every test that includes this module uses all of them.
#[allow(unused_imports)]
pub use {backends::*, clients::*, peers::*, rewrite::*};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::process::Command;

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

/// A port free on 127.0.0.1 for both TCP and UDP, never handed out twice in this process and
/// out of reach of `bind(0)` and outgoing connections (see `support/ports.rs`).
pub fn fresh_port() -> u16 {
    ports::unused_port(IpAddr::V4(Ipv4Addr::LOCALHOST))
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

/// The Python interpreter for `python3 -m http.server`: `TRIAGE_PYTHON` if set, else python3.
pub fn python() -> String {
    std::env::var("TRIAGE_PYTHON").unwrap_or_else(|_| "python3".into())
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

/// `127.0.0.last`.
pub fn lo(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

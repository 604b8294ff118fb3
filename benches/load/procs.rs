//! The processes the load harnesses run and watch: pinning itself (a re-exec under `taskset -c 1`
//! with a raised descriptor limit), the proxies (HAProxy and triage, each with a config the
//! harness writes, started under `taskset -c 0`, killed on drop), and what /proc says about
//! them (CPU time, resident memory). Shared by every `benches/load*.rs` harness; what a
//! harness's proxies front (`A`) and their configs are the harness's own.

// Shared by every harness; each uses a part of it.
#![allow(dead_code)]

use std::env;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set in the re-executed harness: "1" when it runs pinned to core 1.
const PINNED_ENV: &str = "TRIAGE_LOAD_PINNED";

/// Re-executes the harness under `taskset -c 1` (and `ulimit -n`) unless that already happened.
/// Returns the exit code of the re-executed run, or `None` to go on in this process.
pub fn pin_self() -> Option<ExitCode> {
    if env::var_os(PINNED_ENV).is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let has_taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if cores < 2 || !has_taskset {
        eprintln!("load: {cores} core(s), taskset present: {has_taskset}; running unpinned (figures are not comparable to pinned runs)");
        env::set_var(PINNED_ENV, "0");
        return None;
    }
    let exe = env::current_exe().ok()?;
    // Soft descriptor limit up to the hard one: thousands of idle connections, both ends.
    let script = "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec taskset -c 1 \"$@\"";
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(exe)
        .args(env::args_os().skip(1))
        .env(PINNED_ENV, "1")
        .status();
    match status {
        Ok(s) => Some(ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8)),
        Err(e) => {
            eprintln!("load: cannot re-exec under taskset ({e}); running unpinned");
            env::set_var(PINNED_ENV, "0");
            None
        }
    }
}

/// Whether the harness runs pinned (to core 1; proxies then go to [`proxy_core`]).
pub fn pinned() -> bool {
    env::var(PINNED_ENV).is_ok_and(|v| v == "1")
}

static PROXY_CORE: AtomicU8 = AtomicU8::new(0);

/// Puts the proxies started from now on onto `core` (0 by default; 1 = share the harness's
/// core, for latency "with client, proxy and backend on one core").
pub fn set_proxy_core(core: u8) {
    PROXY_CORE.store(core, Ordering::Relaxed);
}

/// The core proxies are pinned to when [`pinned`].
pub fn proxy_core() -> u8 {
    PROXY_CORE.load(Ordering::Relaxed)
}

/// A proxy child process, killed and reaped on drop; `A` names its frontends.
#[derive(Debug)]
pub struct Proxy<A> {
    pub name: &'static str,
    pub pid: u32,
    /// The proxy's frontends, one per backend.
    pub front: A,
    pub log: PathBuf,
    child: Child,
}

impl<A> Proxy<A> {
    /// `None` while running; the exit status once it stopped.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(s)) => Some(s.to_string()),
            Err(e) => Some(e.to_string()),
        }
    }

    /// The last lines of the proxy's output (for error messages).
    pub fn log_tail(&self) -> String {
        let t = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl<A> Drop for Proxy<A> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address that was free a moment ago (for a proxy's frontend).
pub fn free_addr() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn spawn<A>(
    name: &'static str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    front: A,
    dir: &Path,
) -> io::Result<Proxy<A>> {
    let log = dir.join(format!("{name}.log"));
    let out = fs::File::create(&log)?;
    let mut cmd = if pinned() {
        let mut c = Command::new("taskset");
        c.args(["-c", &proxy_core().to_string()]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
    // taskset execs the program: the pid is the proxy's own.
    Ok(Proxy {
        name,
        pid: child.id(),
        front,
        log,
        child,
    })
}

/// `haproxy -v`'s first line, or `None` if it cannot be run.
pub fn haproxy_version(bin: &Path) -> Option<String> {
    let o = Command::new(bin).arg("-v").output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout);
    s.lines().next().map(str::to_string)
}

/// The `global` section every harness gives HAProxy: one thread (as triage is measured on one
/// core), room for the idle connections.
pub const HAPROXY_GLOBAL: &str = "global\n    nbthread 1\n    maxconn 5000\n";

static HAPROXY_TCPKA: AtomicBool = AtomicBool::new(true);

/// `--haproxy-no-tcpka`: HAProxy without TCP keepalive (the baseline of earlier runs).
pub fn set_haproxy_tcpka(on: bool) {
    HAPROXY_TCPKA.store(on, Ordering::Relaxed);
}

/// Lines for HAProxy's `defaults`: the TCP keepalive triage's relay keeps on both legs
/// (SO_KEEPALIVE, TCP_KEEPIDLE 60 s; the spec's "TCP keepalive on both legs"), so that both
/// proxies do the same work per connection. Empty with `--haproxy-no-tcpka`.
pub fn haproxy_tcpka() -> &'static str {
    if HAPROXY_TCPKA.load(Ordering::Relaxed) {
        "    option tcpka\n    clitcpka-idle 60s\n    srvtcpka-idle 60s\n"
    } else {
        ""
    }
}

/// HAProxy in the foreground (`-db`) with the config text `cfg` (written to `dir`).
pub fn spawn_haproxy<A>(bin: &Path, dir: &Path, cfg: &str, front: A) -> io::Result<Proxy<A>> {
    let path = dir.join("haproxy.cfg");
    fs::write(&path, cfg)?;
    let p = path.to_string_lossy().into_owned();
    spawn("haproxy", bin, &["-db", "-f", &p], &[], front, dir)
}

/// triage `run -c` with the config text `cfg` (written to `dir`), logging at `rust_log`.
pub fn spawn_triage<A>(
    bin: &Path,
    dir: &Path,
    cfg: &str,
    front: A,
    rust_log: &str,
) -> io::Result<Proxy<A>> {
    let path = dir.join("triage.toml");
    fs::write(&path, cfg)?;
    let p = path.to_string_lossy().into_owned();
    spawn(
        "triage",
        bin,
        &["run", "-c", &p],
        &[("RUST_LOG", rust_log)],
        front,
        dir,
    )
}

/// The triage binary: `--triage PATH`, else `release/triage` next to this bench's target dir
/// (the bench runs from `<target>/release/deps/`), else `$CARGO_TARGET_DIR/release/triage`.
pub fn find_triage(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = flag {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("--triage {}: no such file", p.display()))
        };
    }
    let mut tried = Vec::new();
    if let Some(release) = env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(Path::to_path_buf))
    {
        tried.push(release.join("triage"));
    }
    if let Some(t) = env::var_os("CARGO_TARGET_DIR") {
        tried.push(PathBuf::from(t).join("release/triage"));
    }
    tried.push(PathBuf::from("target/release/triage"));
    tried.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "no triage binary at {}: build it first with `cargo build --release --bin triage` (same CARGO_TARGET_DIR) or pass --triage PATH",
            tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Clock ticks per second of /proc times (`getconf CLK_TCK`, 100 if that fails).
pub fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in seconds.
pub fn cpu_secs(pid: u32, tck: f64) -> io::Result<f64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> io::Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no field {}", i + 3)))
    };
    Ok((tick(11)? + tick(12)?) / tck)
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/status: no VmRSS")))
}

/// The 1-minute load average (how busy the machine was besides the harness).
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Time on CPU of a process in seconds, to the nanosecond: the sum of its threads' run times
/// (`/proc/PID/task/*/schedstat`, first field). `None` where the kernel has no schedstat.
/// utime + stime come in clock ticks (10 ms): over a phase of a few hundred milliseconds that
/// alone moved a proxy's CPU per association by ±4%. Threads of the proxy live as long as it
/// does, so none of its time is lost with an exited thread.
pub fn run_secs(pid: u32) -> Option<f64> {
    let mut ns = 0u64;
    for t in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let s = fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

/// CPU seconds of the proxy `pid` ([`run_secs`], else utime + stime); 0 when measuring direct
/// (`None`).
pub fn cpu_of(pid: Option<u32>, tck: f64) -> Result<f64, String> {
    pid.map_or(Ok(0.0), |p| match run_secs(p) {
        Some(s) => Ok(s),
        None => cpu_secs(p, tck).map_err(|e| e.to_string()),
    })
}

/// Waits until `addr` accepts a connection (a proxy or backend finished starting).
pub async fn accepts(addr: SocketAddr, within: std::time::Duration) -> bool {
    let end = std::time::Instant::now() + within;
    while std::time::Instant::now() < end {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// Waits until every one of `addrs` accepts; if one does not within `within`, says why (the
/// proxy's exit status and the tail of its log).
pub async fn await_ready<A>(
    proxy: Option<&mut Proxy<A>>,
    addrs: &[SocketAddr],
    within: std::time::Duration,
) -> Result<(), String> {
    for &a in addrs {
        if !accepts(a, within).await {
            let why = proxy.map(|p| {
                let st = p.exited().unwrap_or_else(|| "still running".into());
                format!(" ({st}; log:\n{})", p.log_tail())
            });
            return Err(format!(
                "{a} not accepting after {within:?}{}",
                why.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The harness's scratch folder (proxy configs and logs, test files), removed on drop.
#[derive(Debug)]
pub struct WorkDir(PathBuf);

impl WorkDir {
    /// `$TMPDIR/triage-<bench>-<pid>`, created.
    pub fn new(bench: &str) -> Result<Self, String> {
        let dir = env::temp_dir().join(format!("triage-{bench}-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("{bench}: {}: {e}", dir.display()))?;
        Ok(WorkDir(dir))
    }
}

impl std::ops::Deref for WorkDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Sockets in TIME_WAIT (IPv4 and IPv6), from /proc/net/tcp*: state `06`.
pub fn time_wait_count() -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .filter(|l| l.split_whitespace().nth(3) == Some("06"))
                .count()
        })
        .sum()
}

/// Waits until fewer than 1000 sockets are in TIME_WAIT, for at most `limit`: connection-rate
/// phases leave tens of thousands (60 s each), which make the next phase's connects dearer.
pub async fn settle(limit: std::time::Duration) {
    let start = std::time::Instant::now();
    let mut tw = time_wait_count();
    while tw >= 1000 && start.elapsed() < limit {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        tw = time_wait_count();
    }
    eprintln!(
        "settled {:.0} s: {tw} sockets in TIME_WAIT",
        start.elapsed().as_secs_f64()
    );
}

//! Processes and files for the integration tests: temp dirs removed on drop, and the `triage`
//! binary as a child process (log file, signals, exit status, killed on drop).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!(
            "triage-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
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

/// The `triage` binary running as a child process, output in a log file; killed on drop.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    pub log: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Runs `triage ARGS` in `cwd`, stdout and stderr to `cwd/triage.log`.
    pub fn spawn(args: &[&str], cwd: &Path) -> Proc {
        let log = cwd.join("triage.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn triage");
        Proc {
            child,
            log,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`"HUP"`, `"TERM"`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -s {sig} failed");
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for the exit (panics with the log after `limit`).
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.exited() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "triage did not exit within {limit:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `addr` accepts a connection; panics with the log if triage exits first.
    pub async fn wait_listening(&mut self, addr: SocketAddr, limit: Duration) {
        if let Err(e) = self.try_wait_listening(addr, limit).await {
            panic!("{e}");
        }
    }

    /// Waits until `addr` accepts a connection; if triage exits first, its log is the error.
    pub async fn try_wait_listening(
        &mut self,
        addr: SocketAddr,
        limit: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if TcpStream::connect(addr).await.is_ok() && self.exited().is_none() {
                return Ok(());
            }
            if let Some(s) = self.exited() {
                return Err(format!(
                    "triage exited ({s}) before listening on {addr}; log:\n{}",
                    self.log_text()
                ));
            }
            assert!(
                Instant::now() < deadline,
                "triage not listening on {addr} after {limit:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! Real peers for the `examples_*` tests, child processes killed on drop ([`Peer`]), each bound
//! to the exact address a rewritten example expects: dcmtk `storescp` (Storage SCP, files kept),
//! `wlmscpfs` (worklist SCP) and `dcmqrscp` (Query/Retrieve SCP, C-FIND on an empty database);
//! `python3 -m http.server`; the PyPI `hl7` / `hl7apy` MLLP servers of
//! `fixtures/hl7/peers/ack_server.py` (`--host`, `--port`, `--tag`: the tag is MSH-3 of every
//! ACK, every message is logged); `openssl s_server` as a TLS backend for passthrough services.
//!
//! dcmtk's servers (`storescp`, `wlmscpfs`, `dcmqrscp`) can only listen on every address, which
//! the port-0 layout rules out: all nodes of a pool share a port, each on its own 127.0.0.x,
//! and the virtual service listens on that same port on its own address. The `*_at`
//! constructors therefore start them with `LD_PRELOAD` of `bind_to.c` (compiled once per test
//! process with `cc`), which turns their bind to 0.0.0.0 into a bind to the node's address:
//! each node gets its own real dcmtk server. Python and OpenSSL peers bind the address
//! themselves.

use super::*;
use tokio::process::Child;

/// `bind_to.c` compiled into a shared object (once per process).
fn bind_shim() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/examples_support/bind_to.c");
        let out = std::env::temp_dir().join(format!("triage-bind-to-{}.so", std::process::id()));
        let o = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .arg("-ldl")
            .output()
            .unwrap_or_else(|e| panic!("cc (needed to build {}): {e}", src.display()));
        assert!(
            o.status.success(),
            "cc {}: {}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
}

/// The environment that makes a dcmtk server listen on `ip` only (none: every address), and
/// the address to wait on.
pub(super) fn bind_env(ip: Option<IpAddr>, port: u16) -> (Vec<(String, String)>, SocketAddr) {
    match ip {
        None => (Vec::new(), SocketAddr::from(([127, 0, 0, 1], port))),
        Some(ip) => (
            vec![
                ("LD_PRELOAD".into(), bind_shim().display().to_string()),
                ("BIND_TO_IPV4".into(), ip.to_string()),
            ],
            SocketAddr::new(ip, port),
        ),
    }
}

/// The Python with PyPI `hl7` and `hl7apy`: `TRIAGE_PYTHON`, else `target/peers-venv` (as
/// `.ci/run` creates it), else a panic saying how to get one.
pub fn hl7_python() -> String {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers-venv/bin/python");
    let py = std::env::var("TRIAGE_PYTHON").unwrap_or_else(|_| venv.display().to_string());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import hl7, hl7apy, hl7.mllp, hl7apy.mllp"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{py} lacks the PyPI packages hl7 and hl7apy: create the venv as .ci/run does \
         (python3 -m venv target/peers-venv; target/peers-venv/bin/pip install hl7 hl7apy \
         requests) or set TRIAGE_PYTHON"
    );
    py
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
        Self::spawn_env(what, prog, args, &[], dir, addr).await
    }

    /// Starts `prog ARGS` with extra environment `env` in `dir` and waits until it accepts
    /// TCP connections on `addr`.
    async fn spawn_env(
        what: &str,
        prog: &Path,
        args: &[String],
        env: &[(String, String)],
        dir: TempDir,
        addr: SocketAddr,
    ) -> Peer {
        let log = dir.join("peer.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(prog)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
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
    /// temp dir ([`Peer::stored`]).
    pub async fn storescp(port: u16, ae: &str) -> Peer {
        Self::storescp_bound(port, ae, None).await
    }

    /// `storescp` on `port`, on every address or (through the bind shim) only on `ip`.
    async fn storescp_bound(port: u16, ae: &str, ip: Option<IpAddr>) -> Peer {
        let dir = TempDir::new("storescp");
        let args = vec![
            "-aet".into(),
            ae.into(),
            "-od".into(),
            dir.path().display().to_string(),
            port.to_string(),
        ];
        let (env, addr) = peers::bind_env(ip, port);
        Self::spawn_env("storescp", &dcmtk("storescp"), &args, &env, dir, addr).await
    }

    /// dcmtk `wlmscpfs` (Modality Worklist SCP) on `port` answering for AE `ae` from an empty
    /// worklist directory (C-FIND succeeds with no match; other called AEs are refused).
    pub async fn wlmscpfs(port: u16, ae: &str) -> Peer {
        Self::wlmscpfs_bound(port, ae, None).await
    }

    /// `wlmscpfs` on `port`, on every address or (through the bind shim) only on `ip`.
    async fn wlmscpfs_bound(port: u16, ae: &str, ip: Option<IpAddr>) -> Peer {
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
        let (env, addr) = peers::bind_env(ip, port);
        Self::spawn_env("wlmscpfs", &dcmtk("wlmscpfs"), &args, &env, dir, addr).await
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

    /// dcmtk `storescp` on exactly `addr` (AE `ae`), storing into a temp dir
    /// ([`Peer::stored`]).
    pub async fn storescp_at(addr: SocketAddr, ae: &str) -> Peer {
        Self::storescp_bound(addr.port(), ae, Some(addr.ip())).await
    }

    /// dcmtk `wlmscpfs` on exactly `addr`, an empty worklist for AE `ae`.
    pub async fn wlmscpfs_at(addr: SocketAddr, ae: &str) -> Peer {
        Self::wlmscpfs_bound(addr.port(), ae, Some(addr.ip())).await
    }

    /// `ack_server.py --impl IMPL --host IP --port PORT --tag TAG` (IMPL `hl7` or `hl7apy`),
    /// acknowledging every message with AA; messages are logged (see [`Peer::hl7_messages`]).
    pub async fn hl7(addr: SocketAddr, imp: &str, tag: &str) -> Peer {
        let dir = TempDir::new("hl7");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hl7/peers/ack_server.py");
        let args = vec![
            script.display().to_string(),
            "--impl".into(),
            imp.into(),
            "--host".into(),
            addr.ip().to_string(),
            "--port".into(),
            addr.port().to_string(),
            "--tag".into(),
            tag.into(),
            "--log".into(),
            dir.join("messages.jsonl").display().to_string(),
        ];
        let what = format!("{imp} MLLP server {tag}");
        Self::spawn(&what, Path::new(&hl7_python()), &args, dir, addr).await
    }

    /// The MSH-10 of every HL7 message this peer received (connection events left out).
    pub fn hl7_messages(&self) -> Vec<String> {
        std::fs::read_to_string(self._dir.join("messages.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("event").is_none())
            .map(|v| v["control_id"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Files a `storescp` peer stored (its output directory, without the log).
    pub fn stored(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self._dir.path())
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "peer.log"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// dcmtk `dcmqrscp` (Query/Retrieve SCP) on exactly `addr`, serving AE `ae` from an empty
    /// database: C-FIND succeeds with no match, another called AE is refused. It forks per
    /// association (its `--single-process` mode crashes after one).
    pub async fn dcmqrscp_at(addr: SocketAddr, ae: &str) -> Peer {
        let port = addr.port();
        let dir = TempDir::new("dcmqrscp");
        let db = dir.join("db");
        std::fs::create_dir_all(&db).expect("database dir");
        let cfg = format!(
            "NetworkTCPPort  = {port}\nMaxPDUSize      = 16384\nMaxAssociations = 16\n\
             HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n\
             AETable BEGIN\n{ae}  {}  RW  (9, 1024mb)  ANY\nAETable END\n",
            db.display()
        );
        std::fs::write(dir.join("dcmqrscp.cfg"), cfg).expect("dcmqrscp.cfg");
        let args = vec!["-c".into(), dir.join("dcmqrscp.cfg").display().to_string()];
        let (env, addr) = bind_env(Some(addr.ip()), port);
        Self::spawn_env("dcmqrscp", &dcmtk("dcmqrscp"), &args, &env, dir, addr).await
    }

    /// `openssl s_server -WWW` on `addr` with a fresh self-signed certificate for CN `name`,
    /// serving `whoami.txt` (= `name`) over HTTPS.
    pub async fn tls_server(addr: SocketAddr, name: &str) -> Peer {
        let dir = TempDir::new("tls");
        std::fs::write(dir.join("whoami.txt"), name).expect("whoami.txt");
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        run(
            "openssl",
            &strings(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &key.display().to_string(),
                "-out",
                &cert.display().to_string(),
            ]),
        )
        .await
        .expect_ok("openssl req");
        let args = strings(&[
            "s_server",
            "-quiet",
            "-WWW",
            "-cert",
            &cert.display().to_string(),
            "-key",
            &key.display().to_string(),
            "-accept",
            &addr.to_string(),
        ]);
        Self::spawn("openssl s_server", Path::new("openssl"), &args, dir, addr).await
    }
}

//! Helpers for the HL7 tests: the real Python peers of `fixtures/hl7/peers/ack_server.py` (PyPI
//! `hl7` asyncio server and `hl7apy`'s MLLPServer) as child processes with their message logs,
//! the Python interpreter (`TRIAGE_PYTHON`, else `python3`; missing modules fail the test when
//! `CI=true` and skip it loudly otherwise), a small MLLP client and message builders.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage_hl7::{MllpDecoder, MllpFrame};

/// Limit for one step (a peer starting, an answer arriving): only there to avoid hangs.
pub const STEP: Duration = Duration::from_secs(10);

/// The repository's `fixtures/hl7/peers` directory.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hl7/peers")
}

/// The Python interpreter with `hl7` and `hl7apy`, or `None` (test skipped) when they are
/// missing outside CI. Panics under `CI=true`: CI must run these tests.
pub fn python() -> Option<String> {
    static PY: OnceLock<Result<String, String>> = OnceLock::new();
    let r = PY.get_or_init(|| {
        let py = std::env::var("TRIAGE_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let out = Command::new(&py)
            .args(["-c", "import hl7, hl7apy, hl7.mllp, hl7apy.mllp"])
            .output();
        match out {
            Ok(o) if o.status.success() => Ok(py),
            Ok(o) => Err(format!(
                "{py}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("{py}: {e}")),
        }
    });
    match r {
        Ok(py) => Some(py.clone()),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but the HL7 peers cannot run (pip install hl7 hl7apy; set TRIAGE_PYTHON): {e}")
        }
        Err(e) => {
            eprintln!(
                "\n***** SKIPPED: HL7 real-peer test needs Python with `hl7` and `hl7apy` \
                 (set TRIAGE_PYTHON): {e} *****\n"
            );
            None
        }
    }
}

/// Which PyPI server implementation a peer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// `hl7.mllp.start_hl7_server` (asyncio; keeps connections open).
    Hl7,
    /// `hl7apy.mllp.MLLPServer` (threaded; closes the connection after each answer).
    Hl7apy,
}

/// One message as a peer logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub conn: u64,
    /// Global sequence number within the peer (1-based).
    pub n: u64,
    /// CLOCK_MONOTONIC ns at reception.
    pub t: u64,
    pub control_id: String,
    pub body: Vec<u8>,
}

/// A Python MLLP peer; killed on drop.
#[derive(Debug)]
pub struct Peer {
    pub tag: String,
    pub addr: SocketAddr,
    log: PathBuf,
    child: Child,
}

impl Peer {
    /// Starts `ack_server.py --impl .. --mode .. --tag ..` on a free port, its log in `dir`.
    pub fn start(py: &str, imp: Impl, mode: &str, tag: &str, dir: &Path) -> Peer {
        let log = dir.join(format!("{tag}.jsonl"));
        let errf = std::fs::File::create(dir.join(format!("{tag}.stderr"))).expect("stderr file");
        let imp_name = match imp {
            Impl::Hl7 => "hl7",
            Impl::Hl7apy => "hl7apy",
        };
        let mut child = Command::new(py)
            .arg(peers_dir().join("ack_server.py"))
            .args([
                "--impl", imp_name, "--mode", mode, "--tag", tag, "--port", "0",
            ])
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(errf)
            .spawn()
            .expect("spawn python peer");
        let out = child.stdout.take().expect("peer stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(STEP * 2).unwrap_or_default();
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let err = std::fs::read_to_string(dir.join(format!("{tag}.stderr")));
                panic!("peer {tag} did not start: {line:?} {err:?}")
            });
        Peer {
            tag: tag.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            child,
        }
    }

    /// Messages received so far, in reception order.
    pub fn received(&self) -> Vec<Received> {
        self.lines()
            .into_iter()
            .filter(|v| v.get("event").is_none())
            .map(|v| Received {
                conn: v["conn"].as_u64().unwrap_or(0),
                n: v["n"].as_u64().unwrap_or(0),
                t: v["t"].as_u64().unwrap_or(0),
                control_id: v["control_id"].as_str().unwrap_or("").to_string(),
                body: unhex(v["body"].as_str().unwrap_or("")),
            })
            .collect()
    }

    /// Connection numbers the peer saw end (the `hl7` implementation logs them).
    pub fn closed_conns(&self) -> Vec<u64> {
        self.lines()
            .into_iter()
            .filter(|v| v.get("event").and_then(|e| e.as_str()) == Some("close"))
            .filter_map(|v| v["conn"].as_u64())
            .collect()
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A v2.5.1 message `mtype` (e.g. `ADT^A01^ADT_A01`) with MSH-10 `id`, segments ended by CR.
pub fn message(mtype: &str, id: &str) -> Vec<u8> {
    message_v(mtype, id, "2.5.1", "")
}

/// Like [`message`] with a version and extra MSH fields after MSH-12 (e.g. `|||AL|NE`).
pub fn message_v(mtype: &str, id: &str, version: &str, msh_tail: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|SENDER|SFAC|RECV|RFAC|20240102030405||{mtype}|{id}|P|{version}{msh_tail}\r\
         PID|1||T{id}^^^SYNTH^MR||SYNTHETIC^ALPHA||19000101|U\r"
    )
    .into_bytes()
}

/// An MLLP client connection.
#[derive(Debug)]
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    dec: MllpDecoder,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Client {
            stream,
            buf: BytesMut::new(),
            dec: MllpDecoder::default(),
        }
    }

    /// Writes bytes as they are (no framing).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Writes one framed message.
    pub async fn send_framed(&mut self, payload: &[u8]) {
        self.send_raw(&framed(payload)).await;
    }

    /// Sends one framed message and reads the answer's payload.
    pub async fn call(&mut self, payload: &[u8]) -> Bytes {
        self.send_framed(payload).await;
        self.recv().await
    }

    /// The next answer's payload (panics after [`STEP`] or on close).
    pub async fn recv(&mut self) -> Bytes {
        self.try_recv(STEP)
            .await
            .unwrap_or_else(|e| panic!("no answer: {e}"))
    }

    /// The next answer's payload, or why there is none within `limit`.
    pub async fn try_recv(&mut self, limit: Duration) -> Result<Bytes, String> {
        let read = async {
            loop {
                match self.dec.decode(&mut self.buf) {
                    Ok(Some(item)) => {
                        if let MllpFrame::Message(p) = item.frame {
                            return Ok(p);
                        }
                    }
                    Ok(None) => match self.stream.read_buf(&mut self.buf).await {
                        Ok(0) => return Err("closed".to_string()),
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    },
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        tokio::time::timeout(limit, read)
            .await
            .unwrap_or_else(|_| Err("timeout".to_string()))
    }
}

/// `0x0B payload 0x1C 0x0D`.
pub fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    triage_hl7::encode(payload, &mut out);
    out.to_vec()
}

/// An acknowledgement as the sender sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// MSA-1.
    pub code: String,
    /// MSA-2.
    pub acked: String,
    /// MSH-3 (the peers put their tag there).
    pub from: String,
    /// MSH-10 of the acknowledgement itself.
    pub control_id: String,
    /// Whether an ERR segment is present.
    pub err: bool,
}

/// Reads an acknowledgement (panics if it is not one).
pub fn ack(payload: &[u8]) -> Ack {
    let (msh, msa) = triage_hl7::parse_ack(payload)
        .unwrap_or_else(|e| panic!("not an ACK ({e}): {:?}", String::from_utf8_lossy(payload)));
    let err = triage_hl7::segments::segments(payload).any(|s| s.starts_with(b"ERR"));
    Ack {
        code: msa.code.as_str().to_string(),
        acked: msa.control_id,
        from: msh.sending_application,
        control_id: msh.control_id,
        err,
    }
}

/// The `triage` config of one mllp service `svc` with default pool `p` over `servers`
/// (name, address), balance `balance`, no health checks, and extra service keys.
pub fn one_pool_config(
    svc: &str,
    balance: &str,
    servers: &[(&str, SocketAddr)],
    service_extra: &str,
) -> String {
    let mut s = format!(
        "[[service]]\nname = \"{svc}\"\nlisten = [\"127.0.0.1:0\"]\nprotocol = \"mllp\"\n\
         pool = \"p\"\n{service_extra}\n\n[[pool]]\nname = \"p\"\nbalance = \"{balance}\"\n\
         health = {{ kind = \"none\" }}\n"
    );
    for (name, addr) in servers {
        s.push_str(&format!(
            "  [[pool.server]]\n  name = \"{name}\"\n  address = \"{addr}\"\n"
        ));
    }
    s
}

/// Parses payloads with the real `hl7` package: per payload [MSA-1, MSA-2, MSH-10, ERR count].
pub fn python_parse(py: &str, dir: &Path, payloads: &[Vec<u8>]) -> Vec<Vec<String>> {
    let file = dir.join("naks.bin");
    let mut all = Vec::new();
    for p in payloads {
        all.extend(framed(p));
    }
    std::fs::write(&file, all).unwrap();
    let script = r#"
import sys, hl7
data = open(sys.argv[1], "rb").read()
for block in data.split(b"\x1c\r"):
    block = block.lstrip(b"\x0b")
    if not block:
        continue
    m = hl7.parse(block.decode("utf-8"))
    msa = m.segment("MSA")
    errs = [s for s in m if str(s[0]) == "ERR"]
    print("\t".join([str(msa[1]), str(msa[2]), str(m.segment("MSH")[10]), str(len(errs))]))
"#;
    let out = std::process::Command::new(py)
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "hl7.parse failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

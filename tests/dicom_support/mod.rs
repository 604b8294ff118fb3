//! Real DICOM peers for the `dicom_*` integration tests: dcmtk's command-line tools (by absolute
//! path: `echoscu`/`storescp` on PATH may be pynetdicom's console scripts), `storescp` and
//! Orthanc backends as child processes killed on drop, DICOM files made with `dump2dcm` from
//! the committed dump `fixtures/dicom/files/secondary_capture.dump`, an in-process fake SCP
//! for fault injection (answers every request with a fixed PDU), raw-PDU helpers and a
//! metrics scrape. Every wait is bounded so that a bug fails a test instead of hanging it.
//!
//! Needs Debian packages `dcmtk` and `orthanc`.
#![allow(dead_code)]

mod orthanc;

#[allow(unused_imports)] // only dicom_orthanc.rs uses it
pub use orthanc::Orthanc;

use crate::support::{free_port, ip, sa, TempDir};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// Upper bound for one external tool run (a 20 MB C-STORE included).
pub const TOOL_LIMIT: Duration = Duration::from_secs(60);
/// Upper bound for a peer to start listening.
pub const START_LIMIT: Duration = Duration::from_secs(20);

/// echoscu's A-ASSOCIATE-RQ (calling ECHOSCU, called ARCHIVE), captured from dcmtk.
pub const ECHOSCU_RQ: &[u8] = include_bytes!("../../fixtures/dicom/echoscu_associate_rq.bin");

/// A dcmtk binary; panics with the package to install when missing.
pub fn dcmtk(tool: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(tool);
    assert!(
        p.exists(),
        "{} missing: install the Debian package dcmtk",
        p.display()
    );
    p
}

/// The outcome of an external tool: exit code and stdout + stderr.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub out: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the tool's output unless it exited 0.
    pub fn expect_ok(self, what: &str) -> Run {
        assert!(self.ok(), "{what} failed ({:?}):\n{}", self.code, self.out);
        self
    }

    /// For `echoscu` (verbose): panics unless the C-ECHO-RSP said success. dcmtk 3.6.7's
    /// echoscu exits 0 even when the echo itself failed (e.g. the peer aborted).
    pub fn expect_echo_ok(self, what: &str) -> Run {
        let ok = self.ok() && self.out.contains("Received Echo Response (Success)");
        assert!(ok, "{what} failed ({:?}):\n{}", self.code, self.out);
        self
    }

    /// For `storescu` (verbose): panics unless every C-STORE-RSP said success.
    pub fn expect_store_ok(self, what: &str) -> Run {
        let ok = self.ok()
            && self.out.contains("Received Store Response (Success)")
            && !self.out.contains("Received Store Response (Failure");
        assert!(ok, "{what} failed ({:?}):\n{}", self.code, self.out);
        self
    }

    /// Panics unless the tool failed and its output contains `needle`.
    pub fn expect_fail(self, what: &str, needle: &str) -> Run {
        assert!(!self.ok(), "{what} succeeded but must fail:\n{}", self.out);
        assert!(
            self.out.contains(needle),
            "{what}: output lacks {needle:?}:\n{}",
            self.out
        );
        self
    }
}

/// Runs `prog ARGS` to its end (killed after [`TOOL_LIMIT`]).
pub async fn run(prog: &Path, args: &[String]) -> Run {
    let child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    let out = match tokio::time::timeout(TOOL_LIMIT, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("{} {args:?}: {e}", prog.display()),
        Err(_) => panic!(
            "{} {args:?} still running after {TOOL_LIMIT:?}",
            prog.display()
        ),
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Run {
        code: out.status.code(),
        out: text,
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// dcmtk network timeouts: connect, ACSE (association), DIMSE; so no tool waits forever.
fn timeouts(v: &mut Vec<String>) {
    v.extend(args(&["-to", "5", "-ta", "5", "-td", "30"]));
}

fn host_port(v: &mut Vec<String>, addr: SocketAddr) {
    v.push(addr.ip().to_string());
    v.push(addr.port().to_string());
}

/// `echoscu -v -aet TESTSCU -aec AEC host port` (check with [`Run::expect_echo_ok`]).
pub async fn echoscu(addr: SocketAddr, aec: &str) -> Run {
    let mut v = args(&["-v", "-aet", "TESTSCU", "-aec", aec]);
    timeouts(&mut v);
    host_port(&mut v, addr);
    run(&dcmtk("echoscu"), &v).await
}

/// `storescu -v -aec AEC host port FILES` (one association for all files; check with
/// [`Run::expect_store_ok`]).
pub async fn storescu(addr: SocketAddr, aec: &str, files: &[&Path]) -> Run {
    let mut v = args(&["-v", "-aet", "TESTSCU", "-aec", aec]);
    timeouts(&mut v);
    host_port(&mut v, addr);
    v.extend(files.iter().map(|f| f.display().to_string()));
    run(&dcmtk("storescu"), &v).await
}

/// `findscu -S` (Study Root) at STUDY level with `-k` keys, verbose (responses printed).
pub async fn findscu(addr: SocketAddr, aec: &str, keys: &[&str]) -> Run {
    let mut v = args(&[
        "-v",
        "-S",
        "-aet",
        "TESTSCU",
        "-aec",
        aec,
        "-k",
        "QueryRetrieveLevel=STUDY",
    ]);
    timeouts(&mut v);
    for k in keys {
        v.push("-k".into());
        v.push(k.to_string());
    }
    host_port(&mut v, addr);
    run(&dcmtk("findscu"), &v).await
}

/// The committed dump every test file is made from.
fn dump_template() -> String {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dicom/files/secondary_capture.dump");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const TEMPLATE_SOP_UID: &str = "2.25.271828182845904523536028747135266249";

/// The SOP Instance UID of test file number `n`.
pub fn sop_uid(n: u32) -> String {
    format!(
        "2.25.{}",
        271828182845904523536028747135000000u128 + u128::from(n)
    )
}

/// Writes test image number `n` (unique SOP Instance UID) into `dir` with `dump2dcm`. With
/// `pixels`, the image is `pixels` bytes of 8-bit pixel data (rows × 1000 columns) instead of 4×4.
pub async fn dicom_file(dir: &Path, n: u32, pixels: Option<usize>) -> PathBuf {
    let mut dump = dump_template().replace(TEMPLATE_SOP_UID, &sop_uid(n));
    if let Some(len) = pixels {
        assert!(
            len % 1000 == 0 && len / 1000 <= 65535,
            "pixels must be rows × 1000"
        );
        let raw = dir.join(format!("pixels-{n}.raw"));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&raw, data).expect("write pixel data");
        let rows = len / 1000;
        dump = dump
            .lines()
            .map(|l| {
                if l.starts_with("(0028,0010)") {
                    format!("(0028,0010) US {rows}")
                } else if l.starts_with("(0028,0011)") {
                    "(0028,0011) US 1000".to_string()
                } else if l.starts_with("(7fe0,0010)") {
                    format!("(7fe0,0010) OB ={}", raw.display())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    let dump_path = dir.join(format!("image-{n}.dump"));
    let dcm = dir.join(format!("image-{n}.dcm"));
    std::fs::write(&dump_path, dump).expect("write dump");
    let v = vec![dump_path.display().to_string(), dcm.display().to_string()];
    run(&dcmtk("dump2dcm"), &v).await.expect_ok("dump2dcm");
    dcm
}

/// Polls until `addr` accepts TCP connections. `Err` with the log if the child exits first
/// (e.g. its port was taken meanwhile); panics with `what` after [`START_LIMIT`].
pub(crate) async fn wait_port(
    addr: SocketAddr,
    child: &mut Child,
    what: &str,
    log: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!(
                "{what} exited ({st}) before listening on {addr}:\n{}",
                read(log)
            ));
        }
        assert!(
            Instant::now() < deadline,
            "{what} not listening on {addr}:\n{}",
            read(log)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Attempts for a child that must bind a free port: between picking the port and the child's
/// bind, another test's outgoing connection may take it as its ephemeral port.
pub(crate) const PORT_ATTEMPTS: usize = 5;

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub(crate) fn log_file(p: &Path) -> (Stdio, Stdio) {
    let f = std::fs::File::create(p).expect("log file");
    (f.try_clone().expect("log file").into(), f.into())
}

/// dcmtk `storescp` writing received objects into its own temp dir; killed on drop.
#[derive(Debug)]
pub struct StoreScp {
    pub addr: SocketAddr,
    pub dir: TempDir,
    child: Child,
}

impl StoreScp {
    /// Starts `storescp -aet AE -od DIR PORT` on a free port.
    pub async fn start(ae: &str) -> StoreScp {
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(ae, sa(1, free_port(ip(1)))).await {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("storescp did not start: {last}");
    }

    async fn try_start(ae: &str, addr: SocketAddr) -> Result<StoreScp, String> {
        let dir = TempDir::new(&format!("storescp-{ae}"));
        let out = dir.join("in");
        std::fs::create_dir_all(&out).expect("output dir");
        let log = dir.join("storescp.log");
        let (o, e) = log_file(&log);
        let mut child = Command::new(dcmtk("storescp"))
            .args(["-aet", ae, "-od"])
            .arg(&out)
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(o)
            .stderr(e)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn storescp");
        wait_port(addr, &mut child, "storescp", &log).await?;
        Ok(StoreScp { addr, dir, child })
    }

    /// The files received so far.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join("in"))
            .expect("read output dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        v
    }

    pub fn log(&self) -> String {
        read(&self.dir.join("storescp.log"))
    }
}

/// An in-process fake SCP: reads each A-ASSOCIATE-RQ and answers it with a fixed PDU (e.g. a
/// rejected-transient A-ASSOCIATE-RJ); then either closes at once or records what the peer
/// sends until it closes (at most 5 s).
#[derive(Debug)]
pub struct FakeScp {
    pub addr: SocketAddr,
    /// Association requests received.
    pub requests: Arc<AtomicUsize>,
    /// Bytes received after the answer, all connections together.
    pub after: Arc<Mutex<Vec<u8>>>,
    /// The called-AE field (16 bytes, as received) of each association request.
    pub called: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl FakeScp {
    /// Answers, then records what follows until the peer closes.
    pub async fn answering(pdu: Vec<u8>) -> FakeScp {
        Self::start(pdu, false).await
    }

    /// Answers, then closes the connection at once.
    pub async fn answering_then_closing(pdu: Vec<u8>) -> FakeScp {
        Self::start(pdu, true).await
    }

    async fn start(pdu: Vec<u8>, close: bool) -> FakeScp {
        let l = TcpListener::bind(sa(1, 0)).await.expect("bind fake SCP");
        let addr = l.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let after = Arc::new(Mutex::new(Vec::new()));
        let called = Arc::new(Mutex::new(Vec::new()));
        let (n, rec, aes) = (requests.clone(), after.clone(), called.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    continue;
                };
                let (n, rec, aes, pdu) = (n.clone(), rec.clone(), aes.clone(), pdu.clone());
                tokio::spawn(async move {
                    let Some(rq) = read_pdu(&mut s).await.filter(|rq| rq[0] == 1) else {
                        return;
                    };
                    if let Some(f) = rq.get(10..26) {
                        aes.lock().unwrap().push(f.to_vec());
                    }
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(&pdu).await;
                    if close {
                        return;
                    }
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                    let mut buf = [0u8; 4096];
                    while let Ok(Ok(k)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await
                    {
                        if k == 0 {
                            break;
                        }
                        rec.lock().unwrap().extend_from_slice(&buf[..k]);
                    }
                });
            }
        });
        FakeScp {
            addr,
            requests,
            after,
            called,
            task,
        }
    }

    /// Answers every request with A-ASSOCIATE-RJ (result, source, reason), PS3.8 §9.3.4.
    pub async fn rejecting(result: u8, source: u8, reason: u8) -> FakeScp {
        Self::answering(vec![3, 0, 0, 0, 0, 4, 0, result, source, reason]).await
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn after(&self) -> Vec<u8> {
        self.after.lock().unwrap().clone()
    }

    pub fn called_aes(&self) -> Vec<Vec<u8>> {
        self.called.lock().unwrap().clone()
    }
}

impl Drop for FakeScp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one whole PDU (header + body, at most 1 MiB) within 5 s; `None` on close, reset,
/// timeout or an absurd length.
pub async fn read_pdu(s: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut head = [0u8; 6];
        s.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
        if len > 1 << 20 {
            return None;
        }
        let mut pdu = head.to_vec();
        pdu.resize(6 + len, 0);
        s.read_exact(&mut pdu[6..]).await.ok()?;
        Some(pdu)
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// True if the peer closes (EOF or reset) within 5 s without sending anything more.
pub async fn closes_quietly(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// `triage_dicom_associations_total{service,called_ae,result}` as scraped now (0 if absent).
pub fn associations(rt: &triage::Runtime, service: &str, called_ae: &str, result: &str) -> u64 {
    let text = triage::metrics::encode(rt.snapshot()).expect("encode metrics");
    let prefix = format!(
        "triage_dicom_associations_total{{service=\"{service}\",called_ae=\"{called_ae}\",result=\"{result}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| {
            v.trim().parse().unwrap_or_else(|e| panic!("{v:?}: {e}"))
        })
}

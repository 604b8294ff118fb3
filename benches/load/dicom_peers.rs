//! The DICOM harness's own peers, on the harness's core: a dcmtk `storescp --ignore` (receives
//! every C-STORE, stores nothing) as the store backend, `storescu` as the store client, the test
//! image (a Secondary Capture made with `dump2dcm`), and a raw association client that replays
//! real dcmtk PDUs (PS3.8 §9.3; the fixtures captured from `echoscu`/`storescu`): associate,
//! C-ECHO, release (or a modality's 128-context association, released at once) for the
//! association rate, and associate-then-hold for idle memory. The raw
//! client checks every answer's PDU type and the C-ECHO-RSP status, but costs the harness far
//! less than a full DICOM stack, so that the proxies rather than the client set the rate.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The echoscu A-ASSOCIATE-RQ (1 context: Verification), called AE "ARCHIVE".
const ECHO_RQ: &[u8] = include_bytes!("../../fixtures/dicom/echoscu_associate_rq.bin");
/// The storescu A-ASSOCIATE-RQ (128 contexts, 9615 bytes), called AE "ARCHIVE": what a
/// modality's association costs a proxy while it is held.
pub const STORE_RQ: &[u8] = include_bytes!("../../fixtures/dicom/storescu_associate_rq.bin");
/// C-ECHO-RQ on context 1, message 1.
const ECHO_PDATA: &[u8] = include_bytes!("../../fixtures/dicom/echoscu_echo_rq_pdata.bin");
const RELEASE_RQ: &[u8] = include_bytes!("../../fixtures/dicom/echoscu_release_rq.bin");
/// Status (0000,0900), US, length 2, value 0x0000 (success), implicit VR little endian.
const STATUS_SUCCESS: [u8; 10] = [0, 0, 0, 9, 2, 0, 0, 0, 0, 0];
/// Cap for an answer PDU the client reads (an AC for 128 contexts is about 4 KiB).
const MAX_PDU: usize = 1 << 20;
/// The called AE every client asks for (triage rewrites it to the server's own).
pub const CALLED_AE: &str = "ARCHIVE";
/// storescp's own AE title.
pub const STORE_AE: &str = "STORESCP";

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

fn dcmtk(tool: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(tool);
    if p.is_file() {
        p
    } else {
        PathBuf::from(tool)
    }
}

/// `storescp --ignore` on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct StoreScp {
    pub addr: SocketAddr,
    _child: Child,
}

impl StoreScp {
    pub async fn start(dir: &Path) -> io::Result<StoreScp> {
        let addr = crate::procs::free_addr()?;
        let log = std::fs::File::create(dir.join("storescp.log"))?;
        let mut child = Command::new(dcmtk("storescp"))
            .args(["--ignore", "-aet", STORE_AE, "-ta", "30", "-td", "60"])
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| other(format!("storescp: {e} (apt-get install -y dcmtk)")))?;
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Some(st) = child.try_wait()? {
                return Err(other(format!("storescp exited at start: {st}")));
            }
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(StoreScp {
                    addr,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(other(format!("storescp not listening on {addr}")))
    }
}

/// Writes a Secondary Capture image with `pixels` bytes of pixel data (rows × 1000 columns,
/// 8 bit) into `dir` with `dump2dcm`, from the tests' committed dump (no patient data).
pub async fn make_image(dir: &Path, pixels: usize) -> io::Result<PathBuf> {
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dicom/files/secondary_capture.dump");
    let dump = std::fs::read_to_string(&template)
        .map_err(|e| other(format!("{}: {e}", template.display())))?;
    let raw = dir.join("pixels.raw");
    let data: Vec<u8> = (0..pixels).map(|i| (i % 251) as u8).collect();
    std::fs::write(&raw, data)?;
    let rows = pixels / 1000;
    let dump: Vec<String> = dump
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
        .collect();
    let (dump_path, dcm) = (dir.join("image.dump"), dir.join("image.dcm"));
    std::fs::write(&dump_path, dump.join("\n"))?;
    let out = Command::new(dcmtk("dump2dcm"))
        .arg(&dump_path)
        .arg(&dcm)
        .output()
        .await
        .map_err(|e| other(format!("dump2dcm: {e} (apt-get install -y dcmtk)")))?;
    if !out.status.success() {
        return Err(other(format!(
            "dump2dcm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(dcm)
}

/// `storescu` sends `file` `n` times on one association (called AE [`CALLED_AE`]); fails
/// unless it exits 0 with `n` successful C-STORE responses. Returns the wall time.
pub async fn storescu(addr: SocketAddr, file: &Path, n: usize) -> io::Result<Duration> {
    let mut cmd = Command::new(dcmtk("storescu"));
    cmd.args(["-v", "-aet", "LOADSCU", "-aec", CALLED_AE])
        .args(["-to", "5", "-ta", "30", "-td", "60"])
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string());
    for _ in 0..n {
        cmd.arg(file);
    }
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let start = Instant::now();
    let out = cmd
        .output()
        .await
        .map_err(|e| other(format!("storescu: {e}")))?;
    let elapsed = start.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = text.matches("Received Store Response (Success)").count();
    if !out.status.success() || ok != n {
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        return Err(other(format!(
            "storescu: {} , {ok} of {n} stored; last lines: {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok(elapsed)
}

/// Reads one PDU (header and body; the body capped at [`MAX_PDU`]).
async fn read_pdu(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 6];
    s.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
    if len > MAX_PDU {
        return Err(other(format!("PDU of {len} bytes")));
    }
    let mut pdu = vec![0u8; 6 + len];
    pdu[..6].copy_from_slice(&head);
    s.read_exact(&mut pdu[6..]).await?;
    Ok(pdu)
}

/// Reads one PDU and checks its type (PS3.8 §9.3.1).
async fn expect(s: &mut TcpStream, pdu_type: u8, what: &str) -> io::Result<Vec<u8>> {
    let p = read_pdu(s).await?;
    if p[0] != pdu_type {
        return Err(other(format!(
            "expected {what} (type {pdu_type:#04x}), got type {:#04x}",
            p[0]
        )));
    }
    Ok(p)
}

/// Connects and sends `rq`; returns the stream once the A-ASSOCIATE-AC is in.
async fn associate(addr: SocketAddr, rq: &[u8]) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(rq).await?;
    expect(&mut s, 0x02, "A-ASSOCIATE-AC").await?;
    Ok(s)
}

/// One association: associate, C-ECHO (status must be success), release, close.
pub async fn echo_once(addr: SocketAddr) -> io::Result<()> {
    let mut s = associate(addr, ECHO_RQ).await?;
    s.write_all(ECHO_PDATA).await?;
    let rsp = expect(&mut s, 0x04, "P-DATA-TF (C-ECHO-RSP)").await?;
    if !rsp
        .windows(STATUS_SUCCESS.len())
        .any(|w| w == STATUS_SUCCESS)
    {
        return Err(other("C-ECHO-RSP without status success".into()));
    }
    s.write_all(RELEASE_RQ).await?;
    expect(&mut s, 0x06, "A-RELEASE-RP").await?;
    Ok(())
}

/// One association as a modality opens it (storescu's 128 proposed contexts), released at
/// once: what the association set-up itself costs.
pub async fn store_assoc_once(addr: SocketAddr) -> io::Result<()> {
    let mut s = associate(addr, STORE_RQ).await?;
    s.write_all(RELEASE_RQ).await?;
    expect(&mut s, 0x06, "A-RELEASE-RP").await?;
    Ok(())
}

/// The kind of association [`assoc_rate`] opens.
#[derive(Clone, Copy, Debug)]
pub enum Assoc {
    /// [`echo_once`].
    Echo,
    /// [`store_assoc_once`].
    Store128,
}

/// `n` associations of `kind`, `conc` at a time; fails if any failed.
pub async fn assoc_rate(
    addr: SocketAddr,
    kind: Assoc,
    n: usize,
    conc: usize,
) -> io::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (next, failed) = (next.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut first: Option<io::Error> = None;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let r = match kind {
                    Assoc::Echo => echo_once(addr).await,
                    Assoc::Store128 => store_assoc_once(addr).await,
                };
                if let Err(e) = r {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first.get_or_insert(e);
                }
            }
            first
        }));
    }
    let mut first = None;
    for t in tasks {
        match t.await {
            Ok(Some(e)) => {
                first.get_or_insert(e);
            }
            Ok(None) => {}
            Err(e) => {
                first.get_or_insert(other(e.to_string()));
            }
        }
    }
    let elapsed = start.elapsed();
    match first {
        None => Ok(elapsed),
        Some(e) => Err(other(format!(
            "{} of {n} associations failed, first: {e}",
            failed.load(Ordering::Relaxed)
        ))),
    }
}

/// Opens `n` associations with `rq` (each up to its A-ASSOCIATE-AC), `conc` at a time, and
/// returns them open and idle.
pub async fn open_idle(
    addr: SocketAddr,
    rq: &'static [u8],
    n: usize,
    conc: usize,
) -> io::Result<Vec<TcpStream>> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let batch = conc.min(n - held.len());
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            tasks.push(tokio::spawn(associate(addr, rq)));
        }
        for t in tasks {
            held.push(t.await.map_err(|e| other(e.to_string()))??);
        }
    }
    Ok(held)
}

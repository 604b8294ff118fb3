//! Clients of the services under test: dcmtk `echoscu`, `findscu` (worklist and study root),
//! `storescu` with a file made by `dump2dcm` from the committed template, curl (HTTP and HTTPS
//! through a TLS passthrough), and a minimal MLLP client reading the ACK.

use super::*;

/// Runs dcmtk's `tool` as TESTSCU calling `aec` at `addr`, with network timeouts: `pre` goes
/// before the address, `post` after it.
async fn scu(tool: &str, addr: SocketAddr, aec: &str, pre: &[&str], post: &[String]) -> Run {
    let mut v = strings(pre);
    v.extend(strings(&[
        "-aet", "TESTSCU", "-aec", aec, "-to", "5", "-ta", "5", "-td", "10",
    ]));
    v.push(addr.ip().to_string());
    v.push(addr.port().to_string());
    v.extend_from_slice(post);
    run(dcmtk(tool), &v).await
}

/// `echoscu -aet TESTSCU -aec AEC host port` (with network timeouts).
pub async fn echoscu(addr: SocketAddr, aec: &str) -> Run {
    scu("echoscu", addr, aec, &[], &[]).await
}

/// `findscu -W` (Modality Worklist) for today's scheduled procedures, verbose.
pub async fn findscu_worklist(addr: SocketAddr, aec: &str) -> Run {
    let args = [
        "-v",
        "-W",
        "-k",
        "PatientName",
        "-k",
        "PatientID",
        "-k",
        "ScheduledProcedureStepSequence[0].Modality=CT",
        "-k",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    ];
    scu("findscu", addr, aec, &args, &[]).await
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

/// `GET https://ADDR/whoami.txt` through a TLS passthrough (certificate not verified: it is
/// self-signed); returns the body, i.e. the name of the TLS server that answered.
pub async fn https_whoami(src: IpAddr, addr: SocketAddr) -> String {
    let r = curl(
        &format!("https://{addr}/whoami.txt"),
        src,
        None,
        &["-k", "--http1.1"],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// The SOP Instance UID of test image number `n` (a `2.25.` UID, PS3.5 §B.2).
pub fn image_uid(n: u32) -> String {
    format!("2.25.2718281828459045235360287471350{n:05}")
}

/// Test image number `n` (a 4×4 secondary capture, SOP Instance UID [`image_uid`]) written
/// into `dir` by `dump2dcm` from `fixtures/dicom/files/secondary_capture.dump`. `storescp`
/// stores it as `SC.<uid>`.
pub async fn dicom_file(dir: &Path, n: u32) -> PathBuf {
    let tpl =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dicom/files/secondary_capture.dump");
    let dump = std::fs::read_to_string(&tpl)
        .unwrap_or_else(|e| panic!("{}: {e}", tpl.display()))
        .replace("2.25.271828182845904523536028747135266249", &image_uid(n));
    let (d, f) = (
        dir.join(format!("image-{n}.dump")),
        dir.join(format!("image-{n}.dcm")),
    );
    std::fs::write(&d, dump).expect("write dump");
    run(
        dcmtk("dump2dcm"),
        &[d.display().to_string(), f.display().to_string()],
    )
    .await
    .expect_ok("dump2dcm");
    f
}

/// `storescu -aet TESTSCU -aec AEC host port FILE` (with network timeouts).
pub async fn storescu(addr: SocketAddr, aec: &str, file: &Path) -> Run {
    scu("storescu", addr, aec, &[], &[file.display().to_string()]).await
}

/// `findscu -S` (Study Root C-FIND) at study level, verbose.
pub async fn findscu_study(addr: SocketAddr, aec: &str) -> Run {
    let args = [
        "-v",
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "PatientID",
    ];
    scu("findscu", addr, aec, &args, &[]).await
}

/// A synthetic HL7 v2.5.1 ADT^A01 with MSH-10 `id` (no real patient data).
pub fn hl7_message(id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|RIS|HOSP|VNA|HOSP|20240102030405||ADT^A01^ADT_A01|{id}|P|2.5.1\r\
         PID|1||T{id}^^^SYNTH^MR||SYNTHETIC^ALPHA||19000101|U\r"
    )
    .into_bytes()
}

/// Sends one MLLP-framed message from `src` and reads the acknowledgement: (MSA-1, MSA-2,
/// MSH-3 of the ACK, i.e. the tag of the peer that answered).
pub async fn mllp_ask(src: IpAddr, addr: SocketAddr, msg: &[u8]) -> (String, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(src, 0)).expect("bind");
    let exchange = async {
        let mut s = sock.connect(addr).await.expect("connect");
        let mut out = vec![0x0b];
        out.extend_from_slice(msg);
        out.extend_from_slice(&[0x1c, 0x0d]);
        s.write_all(&out).await.expect("write");
        let mut buf = Vec::new();
        while !buf.windows(2).any(|w| w == [0x1c, 0x0d]) {
            let mut b = [0u8; 4096];
            let n = s.read(&mut b).await.expect("read");
            assert!(
                n > 0,
                "closed before an ACK: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&b[..n]);
        }
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("an ACK in time");
    let start = buf.iter().position(|b| *b == 0x0b).map_or(0, |i| i + 1);
    let end = buf
        .windows(2)
        .position(|w| w == [0x1c, 0x0d])
        .expect("frame end");
    let (msh, msa) = triage_hl7::parse_ack(&buf[start..end])
        .unwrap_or_else(|e| panic!("not an ACK ({e}): {:?}", String::from_utf8_lossy(&buf)));
    (
        msa.code.as_str().to_string(),
        msa.control_id,
        msh.sending_application,
    )
}

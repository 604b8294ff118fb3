//! ITI-41 Provide and Register Document Set-b (ITI TF-2b §3.41) with a 200 MB MTOM document
//! through the `triage` binary: the upload goes to the repository pool and arrives whole while
//! triage's memory stays bounded — documents are streamed, never buffered (ITI TF-2 Appendix V
//! allows documents of any size in MTOM/XOP attachments). The peak resident set (VmHWM of
//! /proc/PID/status) may grow by well under the document size; a buffering bug shows ~200 MB.

mod support;
mod xds_support;

use std::time::{Duration, Instant};
use support::{free_port, ip, Proc, TempDir};
use xds_support::*;

const DOC: u64 = 200 << 20;
/// Allowed growth of triage's peak RSS over the upload (a buffered document would be 200 MiB).
const BOUND_KIB: u64 = 64 << 10;

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_mtom_upload_streams_through_with_bounded_memory() {
    let Some(py) = python() else { return };
    let b = Backends::start().await;
    let dir = TempDir::new("xds-mem");
    let port = free_port(ip(1));
    let cfg = config(&b, "").replace(
        "listen   = [\"127.0.0.1:0\"]",
        &format!("listen   = [\"127.0.0.1:{port}\"]"),
    );
    std::fs::write(dir.join("triage.toml"), &cfg).unwrap();
    let mut p = Proc::spawn(&["run", "-c", "triage.toml"], dir.path());
    let addr = support::sa(1, port);
    p.wait_listening(addr, Duration::from_secs(20)).await;
    let u = url(addr, "/xds/repository");
    // Warm-up (connection pools, allocator arenas), then the baseline.
    let r = py_client(&py, &["post", &u, "--kind", "iti41", "--size", "4000000"]).await;
    assert_eq!(r["status"], 200, "{r}");
    let base = status_kib(p.pid(), "VmHWM:");
    let rss_before = status_kib(p.pid(), "VmRSS:");

    // Content-Length, action only in the envelope (triage peeks at the root part), then
    // chunked with the action in the Content-Type.
    let t = Instant::now();
    let size = DOC.to_string();
    let r1 = py_client(&py, &["post", &u, "--kind", "iti41", "--size", &size]).await;
    let t1 = t.elapsed();
    let r2 = py_client(
        &py,
        &[
            "post",
            &u,
            "--kind",
            "iti41",
            "--size",
            &size,
            "--chunked",
            "--ct-action",
        ],
    )
    .await;
    let t2 = t.elapsed() - t1;
    let peak = status_kib(p.pid(), "VmHWM:");
    eprintln!(
        "triage RSS: {rss_before} KiB before; peak (VmHWM) {base} KiB before, {peak} KiB after two {} MiB uploads (+{} KiB); {:.1} s and {:.1} s",
        DOC >> 20,
        peak - base,
        t1.as_secs_f64(),
        t2.as_secs_f64()
    );
    for r in [&r1, &r2] {
        assert_eq!(r["status"], 200, "{r}");
        assert!(
            r["headers"]["x-backend"]
                .as_str()
                .unwrap()
                .starts_with("rep"),
            "{r}"
        );
    }
    let seen = b.log.wait_for(3).await;
    for (s, r) in seen[1..].iter().zip([&r1, &r2]) {
        assert!(
            s.backend.starts_with("rep") && s.action.as_deref() == Some(ITI41),
            "{}",
            s.backend
        );
        assert!(s.complete);
        assert_eq!(s.len, r["sent"].as_u64().unwrap(), "every byte arrived");
        assert!(s.len > DOC);
        let ct = r["content_type"].as_str().unwrap();
        let boundary = ct
            .split("boundary=\"")
            .nth(1)
            .and_then(|b| b.split('"').next())
            .expect("boundary");
        let tail = String::from_utf8_lossy(&s.tail);
        assert!(
            tail.ends_with(&format!("\r\n--{boundary}--\r\n")),
            "the package ends intact: {tail:?}"
        );
        // The document's last bytes are the generated pattern.
        let end = s.tail.len() - format!("\r\n--{boundary}--\r\n").len();
        let last = s.tail[end - 1];
        assert_eq!(last, responder::pattern_byte(DOC - 1));
    }
    assert!(
        peak - base < BOUND_KIB,
        "triage's peak RSS grew by {} KiB over {} MiB uploads: the document was buffered",
        peak - base,
        DOC >> 20
    );
    assert!(p.exited().is_none(), "triage exited: {}", p.log_text());
}

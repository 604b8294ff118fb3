//! DICOM through triage between real dcmtk peers: `echoscu`/`storescu` clients, two `storescp`
//! backends writing what they receive to disk.
//! - balancing: roundrobin spreads associations over both backends (files land in both
//!   directories), `first` keeps them on the first; the association counter moves;
//! - a 20 MB C-STORE completes through triage with short idle limits (data keeps it alive);
//! - routing by called AE (exact and glob) to two pools; an unknown called AE on a service
//!   without a default pool is rejected and echoscu names the reason;
//! - an allow-list refusal is an A-ASSOCIATE-RJ the client reports, not a reset.

mod dicom_support;
mod support;

use dicom_support::*;
use support::*;

fn pool_server(name: &str, addr: std::net::SocketAddr) -> String {
    format!("  [[pool.server]]\n  name = \"{name}\"\n  address = \"{addr}\"\n")
}

/// Received files in `scp` that hold test image `n`.
fn holds(scp: &StoreScp, n: u32) -> bool {
    let uid = sop_uid(n);
    scp.files()
        .iter()
        .any(|f| std::fs::read(f).is_ok_and(|b| b.windows(uid.len()).any(|w| w == uid.as_bytes())))
}

#[tokio::test]
async fn roundrobin_spreads_and_first_keeps_order() {
    let (s1, s2) = (
        StoreScp::start("STORE1").await,
        StoreScp::start("STORE2").await,
    );
    let mut toml = String::from(
        r#"
[[service]]
name = "peers-rr"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "rr"

[[service]]
name = "peers-first"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "first"

[[pool]]
name = "rr"
balance = "roundrobin"
health = { kind = "none" }
"#,
    );
    toml += &pool_server("s1", s1.addr);
    toml += &pool_server("s2", s2.addr);
    toml += "\n[[pool]]\nname = \"first\"\nbalance = \"first\"\nhealth = { kind = \"none\" }\n";
    toml += &pool_server("s1", s1.addr);
    toml += &pool_server("s2", s2.addr);
    let rt = start(&toml).await;
    let (rr, first) = (listen(&rt, "peers-rr"), listen(&rt, "peers-first"));
    let tmp = TempDir::new("dicom-peers");

    echoscu(rr, "ANY-SCP")
        .await
        .expect_echo_ok("echoscu through triage");
    for n in 1..=4 {
        let f = dicom_file(tmp.path(), n, None).await;
        storescu(rr, "ANY-SCP", &[&f])
            .await
            .expect_store_ok("storescu through triage");
    }
    let (in1, in2) = (
        (1..=4).filter(|&n| holds(&s1, n)).count(),
        (1..=4).filter(|&n| holds(&s2, n)).count(),
    );
    assert_eq!(
        (in1, in2),
        (2, 2),
        "roundrobin: {:?} / {:?}",
        s1.files(),
        s2.files()
    );
    assert!(
        (1..=4).all(|n| holds(&s1, n) || holds(&s2, n)),
        "every image arrived"
    );
    assert_eq!(associations(&rt, "peers-rr", "ANY-SCP", "accepted"), 5);

    for n in 5..=6 {
        let f = dicom_file(tmp.path(), n, None).await;
        storescu(first, "ANY-SCP", &[&f])
            .await
            .expect_store_ok("storescu through triage");
    }
    assert!(
        holds(&s1, 5) && holds(&s1, 6),
        "first: both on s1: {:?}",
        s1.files()
    );
    assert!(
        !holds(&s2, 5) && !holds(&s2, 6),
        "first: nothing on s2: {:?}",
        s2.files()
    );
}

#[tokio::test]
async fn large_c_store_completes_with_short_idle_limits() {
    let scp = StoreScp::start("BIG").await;
    let mut toml = String::from(
        r#"
[[service]]
name = "peers-big"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
client_timeout = "3s"
server_timeout = "3s"

[[pool]]
name = "p"
health = { kind = "none" }
"#,
    );
    toml += &pool_server("big", scp.addr);
    let rt = start(&toml).await;
    let tmp = TempDir::new("dicom-big");
    let size = 20_000_000;
    let f = dicom_file(tmp.path(), 20, Some(size)).await;
    storescu(listen(&rt, "peers-big"), "BIG", &[&f])
        .await
        .expect_store_ok("20 MB storescu through triage");
    let got = scp.files();
    assert_eq!(got.len(), 1, "{got:?}\n{}", scp.log());
    let len = std::fs::metadata(&got[0]).expect("received file").len();
    assert!(
        len >= size as u64,
        "received {len} bytes, sent a {size}-byte image"
    );
    let svc = rt
        .snapshot()
        .service("peers-big")
        .cloned()
        .expect("service");
    let up = svc
        .stats
        .traffic
        .up
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(up >= size as u64, "relayed only {up} bytes up");
}

#[tokio::test]
async fn routes_by_called_ae_and_rejects_unknown_ae() {
    let (a, b) = (StoreScp::start("ARCH").await, StoreScp::start("RES").await);
    let mut toml = String::from(
        r#"
[[service]]
name = "peers-route"
listen = ["127.0.0.1:0"]
protocol = "dicom"

  [[service.route]]
  called_ae = "ARCHIVE"
  pool = "archive"

  [[service.route]]
  called_ae = "RESEARCH*"
  pool = "research"

[[pool]]
name = "archive"
health = { kind = "none" }
"#,
    );
    toml += &pool_server("arch", a.addr);
    toml += "\n[[pool]]\nname = \"research\"\nhealth = { kind = \"none\" }\n";
    toml += &pool_server("res", b.addr);
    let rt = start(&toml).await;
    let addr = listen(&rt, "peers-route");
    let tmp = TempDir::new("dicom-route");

    let f1 = dicom_file(tmp.path(), 31, None).await;
    storescu(addr, "ARCHIVE", &[&f1])
        .await
        .expect_store_ok("storescu to ARCHIVE");
    let f2 = dicom_file(tmp.path(), 32, None).await;
    storescu(addr, "RESEARCH2", &[&f2])
        .await
        .expect_store_ok("storescu to RESEARCH2");
    assert!(
        holds(&a, 31) && !holds(&a, 32),
        "archive got {:?}",
        a.files()
    );
    assert!(
        holds(&b, 32) && !holds(&b, 31),
        "research got {:?}",
        b.files()
    );

    let r = echoscu(addr, "UNKNOWN").await;
    r.expect_fail(
        "echoscu to an unrouted AE",
        "Called AE Title Not Recognized",
    );
    assert_eq!(associations(&rt, "peers-route", "UNKNOWN", "rejected"), 1);
    assert_eq!(associations(&rt, "peers-route", "ARCHIVE", "accepted"), 1);
    assert_eq!(
        a.files().len() + b.files().len(),
        2,
        "nothing else reached a server"
    );
}

#[tokio::test]
async fn allow_list_refusal_is_an_association_rejection() {
    let fake = FakeScp::rejecting(1, 1, 1).await;
    let toml = render(
        r#"
[[service]]
name = "peers-allow"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
allow = ["127.0.0.2/32"]

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{addr}"
"#,
        &[("addr", fake.addr.to_string())],
    );
    let rt = start(&toml).await;
    // echoscu connects from 127.0.0.1, which the allow list does not admit.
    let r = echoscu(listen(&rt, "peers-allow"), "ANY-SCP").await;
    let r = r.expect_fail("echoscu from a disallowed source", "Association Rejected");
    assert!(
        r.out.contains("Calling AE Title Not Recognized"),
        "{}",
        r.out
    );
    assert_eq!(
        fake.requests(),
        0,
        "a refused client must not reach a server"
    );
    let svc = rt
        .snapshot()
        .service("peers-allow")
        .cloned()
        .expect("service");
    assert_eq!(
        svc.stats.refused.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(associations(&rt, "peers-allow", "ANY-SCP", "rejected"), 1);
}

/// Drops ANSI escape sequences (the binary may colour its log).
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET path` on the admin API (HTTP/1.0, whole body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect admin");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut b = Vec::new();
    tokio::time::timeout(STEP, s.read_to_end(&mut b))
        .await
        .expect("admin answer in time")
        .expect("read");
    String::from_utf8_lossy(&b).into_owned()
}

#[tokio::test]
async fn the_binary_logs_association_fields_and_exports_the_counter() {
    let scp = StoreScp::start("LOGGED").await;
    let dir = TempDir::new("dicom-bin");
    let (gw, admin) = (sa(1, free_port(ip(1))), sa(1, free_port(ip(1))));
    let toml = render(
        r#"
[admin]
listen = "{admin}"

[[service]]
name = "bin-dicom"
listen = ["{gw}"]
protocol = "dicom"
pool = "p"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "logged"
  address = "{scp}"
  ae_title = "LOGGED"
"#,
        &[
            ("admin", admin.to_string()),
            ("gw", gw.to_string()),
            ("scp", scp.addr.to_string()),
        ],
    );
    std::fs::write(dir.join("triage.toml"), toml).expect("write config");
    let mut p = Proc::spawn(&["run", "-c", "triage.toml"], dir.path());
    p.wait_listening(gw, std::time::Duration::from_secs(20))
        .await;
    echoscu(gw, "ANY-SCP")
        .await
        .expect_echo_ok("echoscu through the triage binary");

    wait_until(
        "the association end is logged",
        std::time::Duration::from_secs(10),
        || p.log_text().contains("association ended"),
    )
    .await;
    let log = plain(&p.log_text());
    let line = log
        .lines()
        .find(|l| l.contains("association ended"))
        .expect("line");
    for field in [
        "calling_ae",
        "TESTSCU",
        "called_ae",
        "ANY-SCP",
        "server",
        "logged",
        "contexts=1",
        "up=",
        "down=",
        "ms=",
    ] {
        assert!(line.contains(field), "{field:?} missing in: {line}");
    }
    let metrics = http_get(admin, "/metrics").await;
    let sample = "triage_dicom_associations_total{service=\"bin-dicom\",called_ae=\"ANY-SCP\",result=\"accepted\"} 1";
    assert!(metrics.contains(sample), "{sample} missing in:\n{metrics}");
    p.signal("TERM");
    assert!(
        p.wait_exit(std::time::Duration::from_secs(10))
            .await
            .success(),
        "{}",
        p.log_text()
    );
}

#[tokio::test]
async fn the_built_in_simulator_serves_echo_store_and_find() {
    let sim = sa(1, free_port(ip(1)));
    let toml = render(
        r#"
[[simulator]]
kind = "dicom"
listen = "{sim}"

[[service]]
name = "peers-sim"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "sim"
ae_title = "GW"

[[pool]]
name = "sim"
health = { kind = "dicom-echo", interval = "200ms", timeout = "2s", rise = 1, fall = 1, calling_ae = "TRIAGE" }
  [[pool.server]]
  name = "sim"
  address = "{sim}"
  ae_title = "PACS1"
"#,
        &[("sim", sim.to_string())],
    );
    let rt = start(&toml).await;
    let gw = listen(&rt, "peers-sim");
    let s = server(&rt, "sim", "sim");
    wait_until(
        "dicom-echo passed against the simulator",
        std::time::Duration::from_secs(10),
        || s.last_check().is_some_and(|c| c.ok),
    )
    .await;
    echoscu(gw, "PACS1")
        .await
        .expect_echo_ok("echoscu to the simulator");
    echoscu(gw, "GW")
        .await
        .expect_echo_ok("local echoscu, the simulator up");
    let tmp = TempDir::new("dicom-sim");
    let f = dicom_file(tmp.path(), 61, None).await;
    storescu(gw, "PACS1", &[&f])
        .await
        .expect_store_ok("storescu to the simulator");
    let r = findscu(gw, "PACS1", &["PatientID=TRIAGE-TEST-1"])
        .await
        .expect_ok("findscu");
    assert!(
        r.out.contains("Received Final Find Response (Success)"),
        "{}",
        r.out
    );
}

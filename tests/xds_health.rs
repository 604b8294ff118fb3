//! The `xds-query` health check and `triage xds-ping`: an ITI-18 GetDocuments stored query
//! (ITI TF-2a §3.18.4.1.2.3.7.5) for a random entryUUID; HTTP 200 with an AdhocQueryResponse
//! of status Success is up; status Failure (ebRS 3.0 RegistryResponse `status`) or a SOAP
//! Fault is down, with the detail; so is silence past the timeout. The built-in XDS simulator
//! (`[[simulator]] kind = "xds"`) passes that check and answers ITI-18/41/42/43 through triage.

mod support;
mod xds_support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{listen, server, start, wait_until};
use xds_support::*;

fn detail(rt: &triage::Runtime, pool: &str, name: &str) -> String {
    server(rt, pool, name)
        .last_check()
        .map(|c| c.detail)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xds_query_marks_failure_and_fault_down_and_success_up() {
    let b = Backends::start().await;
    b.reg[0].set_mode(Mode::Failure);
    let cfg = config(&b, "").replacen(
        "health  = { kind = \"none\" }",
        "health  = { kind = \"xds-query\", interval = \"100ms\", timeout = \"500ms\", rise = 1, fall = 1, path = \"/xds/registry\" }",
        1,
    );
    let rt = start(&cfg).await;
    let limit = Duration::from_secs(10);
    let (r1, r2) = (
        server(&rt, "registry", "reg1"),
        server(&rt, "registry", "reg2"),
    );
    wait_until("reg1 down on Failure", limit, || {
        !r1.healthy() && detail(&rt, "registry", "reg1").contains("Failure")
    })
    .await;
    wait_until("reg2 up on Success", limit, || {
        r2.healthy() && r2.last_check().is_some_and(|c| c.ok)
    })
    .await;
    let d = detail(&rt, "registry", "reg1");
    assert!(
        d.contains("XDSRegistryBusy"),
        "the registry error is in the detail: {d}"
    );
    assert!(
        detail(&rt, "registry", "reg2").contains("Success"),
        "{}",
        detail(&rt, "registry", "reg2")
    );

    // The probe is a real ITI-18 on the configured path.
    let probes: Vec<Seen> = b
        .log
        .all()
        .into_iter()
        .filter(|s| s.backend == "reg2")
        .collect();
    assert!(!probes.is_empty());
    assert_eq!(
        (probes[0].method.as_str(), probes[0].target.as_str()),
        ("POST", "/xds/registry")
    );
    assert_eq!(probes[0].action.as_deref(), Some(ITI18));
    assert!(
        String::from_utf8_lossy(&probes[0].body)
            .contains("urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"),
        "GetDocuments query id"
    );

    // Requests avoid the down server.
    let u = url(listen(&rt, "xds"), "/xds/registry");
    let before = b.log.len();
    for _ in 0..4 {
        let r = triage_query(&u).await;
        assert_eq!(r, "reg2");
    }
    assert!(b.log.len() >= before + 4);

    // Flip: reg1 Success → up; reg2 SOAP Fault → down with the Fault reason; hang → timeout.
    b.reg[0].set_mode(Mode::Success);
    b.reg[1].set_mode(Mode::Fault);
    wait_until("reg1 up again", limit, || r1.healthy()).await;
    wait_until("reg2 down on Fault", limit, || {
        !r2.healthy() && detail(&rt, "registry", "reg2").contains("SOAP Fault")
    })
    .await;
    assert!(
        detail(&rt, "registry", "reg2").contains("registry database unavailable"),
        "{}",
        detail(&rt, "registry", "reg2")
    );
    b.reg[1].set_mode(Mode::Success);
    wait_until("reg2 up again", limit, || r2.healthy()).await;
    b.reg[0].set_mode(Mode::Hang);
    wait_until("reg1 down on silence", limit, || {
        !r1.healthy() && detail(&rt, "registry", "reg1").contains("timeout")
    })
    .await;
}

/// One ITI-18 through triage with a raw HTTP/1.1 exchange; returns the x-backend header.
async fn triage_query(u: &str) -> String {
    let addr: std::net::SocketAddr = u
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = std::fs::read(fixture("iti18-request.xml")).unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!("POST /xds/registry HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("x-backend: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn xds_ping(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("xds-ping")
        .args(args)
        .output()
        .expect("run triage xds-ping")
}

async fn ping(args: Vec<String>) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        xds_ping(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xds_ping_exit_codes() {
    let b = Backends::start().await;
    let r = &b.reg[0];
    let u = format!("http://{}/xds/registry", r.addr);
    let (code, out, _) = ping(vec![u.clone()]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Success"), "{out}");
    r.set_mode(Mode::Failure);
    let (code, out, _) = ping(vec![u.clone()]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Failure") && out.contains("XDSRegistryBusy"),
        "{out}"
    );
    r.set_mode(Mode::Fault);
    let (code, out, _) = ping(vec![u.clone()]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("SOAP Fault") && out.contains("HTTP 500"),
        "{out}"
    );
    r.set_mode(Mode::Hang);
    let (code, out, took) = ping(vec![u.clone(), "--timeout".into(), "500ms".into()]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("timeout") && took < Duration::from_secs(4),
        "{out} after {took:?}"
    );
    let dead = format!("http://127.0.0.1:{}/x", support::free_port(support::ip(1)));
    let (code, out, _) = ping(vec![dead]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("refused"), "{out}");
    let (code, out, _) = ping(vec!["https://registry.invalid/x".into()]).await;
    assert_eq!(code, Some(1), "{out}");
    // Through triage: routed to the registry pool like any ITI-18.
    r.set_mode(Mode::Success);
    let rt = start(&config(&b, "")).await;
    let (code, out, _) = ping(vec![url(listen(&rt, "xds"), "/xds/registry")]).await;
    assert_eq!(code, Some(0), "{out}");
    let last = b.log.all().pop().unwrap();
    assert!(
        last.backend.starts_with("reg") && last.action.as_deref() == Some(ITI18),
        "{last:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xds_simulator_passes_the_health_check_and_answers_through_triage() {
    let Some(()) = curl_ok() else { return };
    let ports: Vec<u16> = (0..2).map(|_| support::free_port(support::ip(1))).collect();
    let cfg = support::render(
        r#"
[[service]]
name     = "xds"
listen   = ["127.0.0.1:0"]
protocol = "xds"
pool     = "registry"
  [[service.route]]
  action = "urn:ihe:iti:2007:RetrieveDocumentSet"
  pool   = "repository"
[[pool]]
name   = "registry"
health = { kind = "xds-query", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }
  [[pool.server]]
  name    = "sim-reg"
  address = "127.0.0.1:{p0}"
[[pool]]
name   = "repository"
health = { kind = "xds-query", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }
  [[pool.server]]
  name    = "sim-rep"
  address = "127.0.0.1:{p1}"
[[simulator]]
kind   = "xds"
listen = "127.0.0.1:{p0}"
[[simulator]]
kind   = "xds"
listen = "127.0.0.1:{p1}"
"#,
        &[("p0", ports[0].to_string()), ("p1", ports[1].to_string())],
    );
    let rt = start(&cfg).await;
    for (pool, name) in [("registry", "sim-reg"), ("repository", "sim-rep")] {
        let s = server(&rt, pool, name);
        wait_until("simulator checked", Duration::from_secs(10), || {
            s.last_check().is_some_and(|c| c.ok)
        })
        .await;
        assert!(s.healthy());
    }
    let u = url(listen(&rt, "xds"), "/xds");
    for (file, expect) in [
        ("iti18-request.xml", "AdhocQueryResponse"),
        ("iti42-request.xml", "RegistryResponse"),
    ] {
        let r = curl(post_file(&u, &fixture(file), "application/soap+xml", false)).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            r.body.contains(expect) && r.body.contains("ResponseStatusType:Success"),
            "{r:?}"
        );
    }
    let r = curl(post_file(
        &u,
        &fixture("iti43-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/related"),
        "{r:?}"
    );
    assert!(
        r.body
            .contains("synthetic document from the triage XDS simulator"),
        "{r:?}"
    );
    let r = curl(post_file(
        &u,
        &fixture("iti41-mtom.txt"),
        &fixture_ct("iti41-mtom.ct"),
        false,
    ))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body.contains("RegistryResponse") && r.body.contains("ResponseStatusType:Success"),
        "{r:?}"
    );
}

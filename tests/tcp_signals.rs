//! The real binary and its signals: SIGHUP re-reads the config file under a steady stream of
//! client connections with zero failures (and a bad file is refused, the running config stays);
//! SIGTERM stops accepting at once, lets an open connection finish (or cuts it at
//! `drain_timeout`) and exits 0; SIGINT does the same.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;

fn config(port: u16, drain: &str, servers: &[(&Backend, u32)]) -> String {
    let mut t = render(
        r#"
[defaults]
drain_timeout = "{drain}"

[[service]]
name = "svc"
listen = ["127.0.0.1:{port}"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
balance = "roundrobin"
health = { kind = "none" }
"#,
        &[("drain", drain.to_string()), ("port", port.to_string())],
    );
    for (b, w) in servers {
        t.push_str(&format!(
            "  [[pool.server]]\n  name = \"{}\"\n  address = \"{}\"\n  weight = {w}\n",
            b.name, b.addr
        ));
    }
    t
}

/// Starts `triage run -c FILE` with `make(port)` as the file, on a reserved free port, and
/// waits until it accepts; returns (process, file, port).
async fn run(dir: &TempDir, make: impl Fn(u16) -> String) -> (Proc, std::path::PathBuf, u16) {
    let path = dir.join("triage.toml");
    let port = Reserved::any(ip(1));
    std::fs::write(&path, make(port.port)).unwrap();
    let mut p = Proc::spawn(&["run", "-c", &path.display().to_string()], dir.path());
    p.wait_listening(sa(1, port.port), Duration::from_secs(10))
        .await;
    (p, path, port.port)
}

/// Connects until `stop`; each connection reads the tag and echoes a line.
async fn client_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let (mut ok, mut failures, mut i) = (0, Vec::new(), 0u32);
    while !stop.load(Ordering::Relaxed) && i < 5000 {
        i += 1;
        match open_from(ip(1), addr).await {
            Ok((mut s, t)) => match roundtrip(&mut s, &format!("ping {i}")).await {
                Ok(()) => ok += 1,
                Err(e) => failures.push(format!("#{i} via {t}: {e}")),
            },
            Err(e) => failures.push(format!("#{i}: {e:?}")),
        }
    }
    (ok, failures)
}

/// Rewrites the file, sends SIGHUP and waits until a new connection reaches `expect`.
async fn hup_until(p: &Proc, path: &Path, text: &str, addr: SocketAddr, expect: &str) {
    std::fs::write(path, text).unwrap();
    p.signal("HUP");
    let deadline = std::time::Instant::now() + STEP;
    while tag(addr).await != expect {
        assert!(
            std::time::Instant::now() < deadline,
            "reload not applied; log:\n{}",
            p.log_text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_file_without_failing_a_connection() {
    let dir = TempDir::new("sighup");
    let (a, b, c) = (
        Backend::tagging("a").await,
        Backend::tagging("b").await,
        Backend::tagging("c").await,
    );
    let (mut p, path, port) = run(&dir, |port| config(port, "1s", &[(&a, 100)])).await;
    let addr = sa(1, port);
    let (mut long, _) = open(addr).await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| tokio::spawn(client_loop(addr, stop.clone())))
        .collect();
    hup_until(
        &p,
        &path,
        &config(port, "1s", &[(&a, 1), (&b, 100)]),
        addr,
        "b",
    )
    .await;
    roundtrip(&mut long, "after reload 1").await.unwrap();
    hup_until(
        &p,
        &path,
        &config(port, "1s", &[(&a, 10), (&c, 100)]),
        addr,
        "c",
    )
    .await;
    roundtrip(&mut long, "after reload 2").await.unwrap();
    hup_until(
        &p,
        &path,
        &config(port, "1s", &[(&a, 100), (&b, 1)]),
        addr,
        "a",
    )
    .await;

    // A broken file is refused; the running config stays and keeps serving.
    std::fs::write(&path, "[[service]\n").unwrap();
    p.signal("HUP");
    let log = dir.join("triage.log");
    wait_until("the refused reload is logged", STEP, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("reload refused"))
    })
    .await;
    assert!(p.exited().is_none(), "triage died on a bad reload");
    tokio::time::sleep(Duration::from_millis(200)).await;

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for h in clients {
        let (ok, failures) = h.await.unwrap();
        assert!(failures.is_empty(), "failed connections: {failures:?}");
        total += ok;
    }
    assert!(total >= 20, "only {total} connections during the reloads");
    // The first connection (to a, whose weight changed three times) outlived the drain times.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    roundtrip(&mut long, "at the end").await.unwrap();
    assert!(
        p.log_text().contains("triage.toml:1:"),
        "diagnostic not logged"
    );

    drop(long);
    p.signal("TERM");
    assert_eq!(p.wait_exit(STEP).await.code(), Some(0));
}

/// Polls until a connect to `addr` is refused; connections that still get in are closed.
async fn wait_until_refused(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => assert!(std::time::Instant::now() < deadline, "{addr} still accepts"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_the_open_connection_finish_and_exits_0() {
    let dir = TempDir::new("sigterm");
    let a = Backend::tagging("a").await;
    let (mut p, _, port) = run(&dir, |port| config(port, "30s", &[(&a, 100)])).await;
    let addr = sa(1, port);
    let (mut open_conn, _) = open(addr).await;
    roundtrip(&mut open_conn, "before").await.unwrap();

    p.signal("TERM");
    wait_until_refused(addr).await;
    // The open connection keeps working after the listener closed, and triage waits for it.
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        roundtrip(&mut open_conn, &format!("during shutdown {i}"))
            .await
            .unwrap();
    }
    assert!(p.exited().is_none(), "exited with a connection still open");
    // The client finishes: triage exits 0.
    open_conn.shutdown().await.unwrap();
    assert!(closes(&mut open_conn).await);
    assert_eq!(p.wait_exit(STEP).await.code(), Some(0), "{}", p.log_text());
}

#[tokio::test]
async fn sigterm_cuts_what_is_left_after_drain_timeout() {
    let dir = TempDir::new("drain");
    let a = Backend::tagging("a").await;
    let (mut p, _, port) = run(&dir, |port| config(port, "500ms", &[(&a, 100)])).await;
    let addr = sa(1, port);
    let (mut open_conn, _) = open(addr).await;
    p.signal("TERM");
    wait_until_refused(addr).await;
    roundtrip(&mut open_conn, "still served").await.unwrap();
    // Never closed by the client: cut at the drain timeout, then a clean exit.
    assert!(closes(&mut open_conn).await, "not cut after drain_timeout");
    assert_eq!(p.wait_exit(STEP).await.code(), Some(0), "{}", p.log_text());
}

#[tokio::test]
async fn sigint_stops_like_sigterm() {
    let dir = TempDir::new("sigint");
    let a = Backend::tagging("a").await;
    let (mut p, _, port) = run(&dir, |port| config(port, "30s", &[(&a, 100)])).await;
    assert_eq!(tag(sa(1, port)).await, "a");
    p.signal("INT");
    assert_eq!(p.wait_exit(STEP).await.code(), Some(0), "{}", p.log_text());
    wait_until_refused(sa(1, port)).await;
}

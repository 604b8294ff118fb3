//! The embedded default: `triage` with no argument, in a directory without triage.toml, runs the
//! built-in config with its simulators; a line sent to the TCP echo service on 127.0.0.1:17000
//! comes back. The default binds fixed ports: if one of them is taken on this machine (another
//! triage, a parallel test run) the test says so and skips instead of failing.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::*;
use triage::Config;

/// Every address the embedded default binds.
fn fixed_addresses() -> Vec<SocketAddr> {
    let c = Config::embedded();
    let mut v: Vec<SocketAddr> = c.services.iter().flat_map(|s| s.listen.clone()).collect();
    v.extend(c.simulators.iter().map(|s| s.listen));
    v.extend(c.admin.iter().map(|a| a.listen));
    v
}

#[tokio::test]
async fn embedded_default_echoes_a_line() {
    let echo = sa(1, 17000);
    let addrs = fixed_addresses();
    assert!(
        addrs.contains(&echo),
        "the default has no TCP echo on {echo}: {addrs:?}"
    );
    let taken: Vec<&SocketAddr> = addrs
        .iter()
        .filter(|a| std::net::TcpListener::bind(a).is_err())
        .collect();
    if !taken.is_empty() {
        eprintln!(
            "SKIPPED embedded_default_echoes_a_line: ports in use on this machine: {taken:?}"
        );
        return;
    }
    let dir = TempDir::new("embedded");
    assert!(!dir.join("triage.toml").exists());
    let mut p = Proc::spawn(&[], dir.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        if let Ok(c) = tokio::net::TcpStream::connect(echo).await {
            break c;
        }
        if p.exited().is_some() {
            let log = p.log_text();
            if log.contains("cannot listen on") {
                eprintln!(
                    "SKIPPED embedded_default_echoes_a_line: a port was taken meanwhile:\n{log}"
                );
                return;
            }
            panic!("triage exited: {:?}; log:\n{log}", p.exited());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not listening; log:\n{}",
            p.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    roundtrip(&mut c, "hello through the embedded default")
        .await
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", p.log_text()));
    assert!(
        p.log_text().contains("<embedded default>"),
        "log does not say which config"
    );
    drop(c);
    p.signal("TERM");
    assert_eq!(p.wait_exit(STEP).await.code(), Some(0));
}

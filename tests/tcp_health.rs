//! Health checks seen from outside: a server flips down only after `fall` consecutive failed
//! checks and up only after `rise` successes (every check observed through `last_check`), checks
//! keep their interval, a check that hangs fails on its timeout, `script` checks run a command
//! with TRIAGE_SERVER_PORT, `ports = [..]` needs every port to pass, and a server that is down
//! receives no new connections even though it would accept them.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::*;
use triage::pool::Server;

/// Records every new check result of `s` as (ok, healthy right after it, time) until `done`.
async fn observe(
    s: &Arc<Server>,
    mut seen: Option<SystemTime>,
    done: impl Fn(&[(bool, bool, SystemTime)]) -> bool,
) -> Vec<(bool, bool, SystemTime)> {
    let mut log = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done(&log) {
        assert!(
            std::time::Instant::now() < deadline,
            "checks so far: {log:?}"
        );
        if let Some(c) = s.last_check() {
            if Some(c.at) != seen {
                seen = Some(c.at);
                log.push((c.ok, s.healthy(), c.at));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    log
}

fn failures(log: &[(bool, bool, SystemTime)]) -> usize {
    log.iter().filter(|c| !c.0).count()
}

fn successes(log: &[(bool, bool, SystemTime)]) -> usize {
    log.iter().filter(|c| c.0).count()
}

#[tokio::test]
async fn flips_only_after_fall_failures_and_rise_successes() {
    let b = Backend::tagging("s").await;
    let rt = start(&render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
health = { kind = "connect", interval = "200ms", timeout = "1s", rise = 2, fall = 3 }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[("s", b.addr.to_string())],
    ))
    .await;
    let s = server(&rt, "p", "s");
    let ups = observe(&s, None, |l| successes(l) >= 2).await;
    assert!(ups.iter().all(|c| c.0 && c.1), "{ups:?}");

    b.stop_listening().await;
    let last = ups.last().map(|c| c.2);
    let down = observe(&s, last, |l| failures(l) >= 5).await;
    // A check already under way when the port closed may still pass; count from the first
    // failure on.
    let first_fail = down.iter().position(|c| !c.0).unwrap();
    let fails = &down[first_fail..];
    assert!(fails.iter().all(|c| !c.0), "{down:?}");
    let healthy: Vec<bool> = fails.iter().map(|c| c.1).collect();
    assert_eq!(healthy, [true, true, false, false, false], "fall = 3");
    assert_eq!(s.last_check().unwrap().detail, "connection refused");
    // The interval is kept between checks (200 ms, 10% jitter).
    for w in fails.windows(2) {
        let gap = w[1].2.duration_since(w[0].2).unwrap_or_default();
        assert!(gap >= Duration::from_millis(170), "checks {gap:?} apart");
    }

    b.listen_again().await;
    let last = down.last().map(|c| c.2);
    let up = observe(&s, last, |l| successes(l) >= 3).await;
    let healthy: Vec<bool> = up.iter().map(|c| c.1).collect();
    assert_eq!(healthy, [false, true, true], "rise = 2: {up:?}");
}

#[tokio::test]
async fn a_hanging_check_fails_on_its_timeout() {
    let hole = Blackhole::new().await;
    let rt = start(&render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
health = { kind = "connect", interval = "100ms", timeout = "200ms", rise = 1, fall = 2 }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[("s", hole.addr.to_string())],
    ))
    .await;
    let s = server(&rt, "p", "s");
    let log = observe(&s, None, |l| failures(l) >= 2).await;
    assert_eq!(
        log.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
        [(false, true), (false, false)]
    );
    let detail = s.last_check().unwrap().detail;
    assert!(detail.contains("timeout"), "{detail}");
}

const SCRIPT: &str = r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
balance = "roundrobin"
health = { kind = "script", command = "test -f {dir}/up-$TRIAGE_SERVER_PORT", interval = "100ms", timeout = "3s", rise = 1, fall = 1 }
  [[pool.server]]
  name = "s1"
  address = "{s1}"
  [[pool.server]]
  name = "s2"
  address = "{s2}"
"#;

#[tokio::test]
async fn script_check_decides_by_exit_status() {
    let dir = TempDir::new("script");
    let b1 = Backend::tagging("s1").await;
    let b2 = Backend::tagging("s2").await;
    let flag = |b: &Backend| dir.join(&format!("up-{}", b.port()));
    std::fs::write(flag(&b1), "").unwrap();
    let rt = start(&render(
        SCRIPT,
        &[
            ("dir", dir.path().display().to_string()),
            ("s1", b1.addr.to_string()),
            ("s2", b2.addr.to_string()),
        ],
    ))
    .await;
    let (s1, s2) = (server(&rt, "p", "s1"), server(&rt, "p", "s2"));
    let checked = |s: &Arc<Server>, ok: bool| s.last_check().is_some_and(|c| c.ok == ok);
    wait_until("s1 up and s2 down by script", STEP, || {
        checked(&s1, true) && s1.healthy() && checked(&s2, false) && !s2.healthy()
    })
    .await;
    assert_eq!(s2.last_check().unwrap().detail, "script exit 1");
    // s2 accepts connections, but it is down: it gets none.
    let before = s2.total();
    assert_eq!(tally(listen(&rt, "svc"), 6).await, counts(&[("s1", 6)]));
    assert_eq!(s2.total(), before);

    std::fs::write(flag(&b2), "").unwrap();
    std::fs::remove_file(flag(&b1)).unwrap();
    wait_until("s1 down and s2 up", STEP, || !s1.healthy() && s2.healthy()).await;
    assert_eq!(tally(listen(&rt, "svc"), 6).await, counts(&[("s2", 6)]));
}

#[tokio::test]
async fn every_listed_port_must_pass() {
    // Server s on 127.0.0.2 with two extra ports checked; a fallback (not checked) takes the
    // clients while s is down.
    let s_b = Backend::tagging_at("s", sa(2, 0)).await;
    let pa = Backend::tagging_at("", sa(2, 0)).await;
    let pb = Backend::tagging_at("", sa(2, 0)).await;
    let fb = Backend::tagging("fb").await;
    let rt = start(&render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
fallback = "{fb}"
health = { kind = "connect", interval = "100ms", timeout = "1s", rise = 1, fall = 1, ports = [{pa}, {pb}] }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[
            ("fb", fb.addr.to_string()),
            ("s", s_b.addr.to_string()),
            ("pa", pa.port().to_string()),
            ("pb", pb.port().to_string()),
        ],
    ))
    .await;
    let addr = listen(&rt, "svc");
    let s = server(&rt, "p", "s");
    wait_until("both ports checked", STEP, || {
        s.last_check().is_some_and(|c| c.ok)
    })
    .await;
    assert_eq!(tally(addr, 3).await, counts(&[("s", 3)]));
    // The service port itself is not among the checked ports.
    let probes_on_s = s_b.accepted.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        probes_on_s, 3,
        "only the 3 client connections reached s's own port"
    );

    pb.stop_listening().await;
    wait_until("s down (port b closed)", STEP, || !s.healthy()).await;
    let detail = s.last_check().unwrap().detail;
    assert!(detail.contains(&format!("port {}", pb.port())), "{detail}");
    let before = s.total();
    assert_eq!(tally(addr, 3).await, counts(&[("fb", 3)]));
    assert_eq!(s.total(), before, "a down server got a connection");

    pb.listen_again().await;
    pa.stop_listening().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!s.healthy(), "up although port a is closed");
    pa.listen_again().await;
    wait_until("s up again", STEP, || s.healthy()).await;
    assert_eq!(tally(addr, 3).await, counts(&[("s", 3)]));
}

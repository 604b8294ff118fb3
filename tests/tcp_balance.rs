//! Distribution of new connections per balance algorithm and weight, observed end to end:
//! each backend writes its name on accept, so the client learns where the proxy sent it.
//! roundrobin (weights 100/50/50, weight 0), leastconn (held connections, weighted), first
//! (failover order, halt and health-down), source (per client IP, stable across instances and
//! across a server going down and back).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::*;
use tokio::net::TcpStream;
use triage::config::ServerState;

const POOL: &str = r#"
[[service]]
name     = "svc"
listen   = ["127.0.0.1:0"]
protocol = "tcp"
pool     = "p"

[[pool]]
name    = "p"
balance = "{balance}"
health  = {health}
"#;

const NO_HEALTH: &str = r#"{ kind = "none" }"#;

fn with_servers(balance: &str, health: &str, servers: &[(&Backend, u32)]) -> String {
    let mut t = render(
        POOL,
        &[
            ("balance", balance.to_string()),
            ("health", health.to_string()),
        ],
    );
    for (b, w) in servers {
        t.push_str(&format!(
            "\n  [[pool.server]]\n  name = \"{}\"\n  address = \"{}\"\n  weight = {w}\n",
            b.name, b.addr
        ));
    }
    t
}

async fn backends(names: &[&str]) -> Vec<Backend> {
    let mut v = Vec::new();
    for n in names {
        v.push(Backend::tagging(n).await);
    }
    v
}

#[tokio::test]
async fn roundrobin_follows_weights_and_skips_weight_zero() {
    let b = backends(&["a", "b", "c", "z"]).await;
    let rt = start(&with_servers(
        "roundrobin",
        NO_HEALTH,
        &[(&b[0], 100), (&b[1], 50), (&b[2], 50), (&b[3], 0)],
    ))
    .await;
    let addr = listen(&rt, "svc");
    assert_eq!(
        tally(addr, 40).await,
        counts(&[("a", 20), ("b", 10), ("c", 10)])
    );
    // Smooth: the heavy server never takes more than its share in any window of 4.
    let mut seq = Vec::new();
    for _ in 0..8 {
        seq.push(tag(addr).await);
    }
    for w in seq.windows(4) {
        assert_eq!(w.iter().filter(|t| *t == "a").count(), 2, "{seq:?}");
    }
}

/// Opens `n` connections and keeps them open.
async fn hold(addr: std::net::SocketAddr, n: usize) -> Vec<(TcpStream, String)> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(open(addr).await);
    }
    v
}

fn tags(held: &[(TcpStream, String)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, t) in held {
        *m.entry(t.clone()).or_insert(0) += 1;
    }
    m
}

#[tokio::test]
async fn leastconn_sends_new_connections_to_the_least_busy() {
    let b = backends(&["a", "b"]).await;
    let rt = start(&with_servers(
        "leastconn",
        NO_HEALTH,
        &[(&b[0], 100), (&b[1], 100)],
    ))
    .await;
    let addr = listen(&rt, "svc");
    rt.set_server_state("p", "b", ServerState::Halt).unwrap();
    let on_a = hold(addr, 3).await;
    assert_eq!(tags(&on_a), counts(&[("a", 3)]));
    rt.set_server_state("p", "b", ServerState::Online).unwrap();
    // a holds 3, b none: the next three all go to b.
    let on_b = hold(addr, 3).await;
    assert_eq!(tags(&on_b), counts(&[("b", 3)]));
    // Closing a's connections makes a the least busy one.
    drop(on_a);
    let a = server(&rt, "p", "a");
    wait_until("a's connections are counted out", STEP, || a.active() == 0).await;
    let again = hold(addr, 3).await;
    assert_eq!(tags(&again), counts(&[("a", 3)]));
    drop(on_b);
}

#[tokio::test]
async fn leastconn_is_weighted() {
    let b = backends(&["heavy", "light"]).await;
    let rt = start(&with_servers(
        "leastconn",
        NO_HEALTH,
        &[(&b[0], 200), (&b[1], 100)],
    ))
    .await;
    let addr = listen(&rt, "svc");
    let held = hold(addr, 6).await;
    assert_eq!(tags(&held), counts(&[("heavy", 4), ("light", 2)]));
    let snap = rt.snapshot();
    let p = snap.pool("p").unwrap();
    assert_eq!(p.server("heavy").unwrap().active(), 4);
    assert_eq!(p.server("light").unwrap().active(), 2);
}

#[tokio::test]
async fn first_uses_failover_order() {
    let b = backends(&["a", "b", "c"]).await;
    let health = r#"{ kind = "connect", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }"#;
    let rt = start(&with_servers(
        "first",
        health,
        &[(&b[0], 100), (&b[1], 100), (&b[2], 100)],
    ))
    .await;
    let addr = listen(&rt, "svc");
    assert_eq!(tally(addr, 10).await, counts(&[("a", 10)]));

    rt.set_server_state("p", "a", ServerState::Halt).unwrap();
    assert_eq!(tally(addr, 10).await, counts(&[("b", 10)]));
    rt.set_server_state("p", "a", ServerState::Online).unwrap();
    assert_eq!(tally(addr, 5).await, counts(&[("a", 5)]));

    // Down by health check: not even tried (its connection total stays put).
    b[0].stop_listening().await;
    let a = server(&rt, "p", "a");
    wait_until("a is marked down", STEP, || !a.healthy()).await;
    let before = a.total();
    assert_eq!(tally(addr, 10).await, counts(&[("b", 10)]));
    assert_eq!(a.total(), before, "a down server was picked");
    b[0].listen_again().await;
    wait_until("a is back up", STEP, || a.healthy()).await;
    assert_eq!(tally(addr, 5).await, counts(&[("a", 5)]));
}

/// The server each of the source addresses 127.0.0.{first..first+n} reaches.
async fn mapping(addr: std::net::SocketAddr, first: u8, n: u8) -> BTreeMap<u8, String> {
    let mut m = BTreeMap::new();
    for last in first..first + n {
        m.insert(last, tag_from(ip(last), addr).await);
    }
    m
}

#[tokio::test]
async fn source_maps_each_client_ip_to_a_stable_server() {
    let b = backends(&["a", "b", "c"]).await;
    let cfg = with_servers(
        "source",
        NO_HEALTH,
        &[(&b[0], 100), (&b[1], 100), (&b[2], 100)],
    );
    let rt = start(&cfg).await;
    let addr = listen(&rt, "svc");
    let first = mapping(addr, 20, 24).await;
    // Same IP, same server.
    assert_eq!(mapping(addr, 20, 24).await, first);
    // Different IPs spread over every server.
    let used: std::collections::BTreeSet<&String> = first.values().collect();
    assert_eq!(
        used.len(),
        3,
        "24 client IPs should reach all 3 servers: {first:?}"
    );

    // Another instance with the same config, no shared state: the same mapping.
    let other = start(&cfg).await;
    assert_eq!(mapping(listen(&other, "svc"), 20, 24).await, first);

    // b goes away: only b's clients move; the others keep their server.
    rt.set_server_state("p", "b", ServerState::Halt).unwrap();
    let without_b = mapping(addr, 20, 24).await;
    for (ipl, was) in &first {
        let now = &without_b[ipl];
        if was == "b" {
            assert_ne!(now, "b", "127.0.0.{ipl} still reached halted b");
        } else {
            assert_eq!(now, was, "127.0.0.{ipl} moved although its server stayed");
        }
    }
    // b comes back: the original mapping again.
    rt.set_server_state("p", "b", ServerState::Online).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(mapping(addr, 20, 24).await, first);
}

#[tokio::test]
async fn services_sharing_a_pool_share_its_rotation_and_counters() {
    let b = backends(&["a", "b"]).await;
    let mut cfg = with_servers("roundrobin", NO_HEALTH, &[(&b[0], 100), (&b[1], 100)]);
    cfg.push_str(
        "\n[[service]]\nname = \"other\"\nlisten = [\"127.0.0.1:0\"]\nprotocol = \"tcp\"\npool = \"p\"\n",
    );
    let rt = start(&cfg).await;
    let (one, two) = (listen(&rt, "svc"), listen(&rt, "other"));
    // One rotation for both services: alternating services still alternates servers.
    let mut seq = Vec::new();
    for _ in 0..3 {
        seq.push(tag(one).await);
        seq.push(tag(two).await);
    }
    assert_eq!(seq, ["a", "b", "a", "b", "a", "b"]);
    let total = server(&rt, "p", "a").total() + server(&rt, "p", "b").total();
    assert_eq!(total, 6);
}

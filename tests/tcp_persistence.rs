//! Source-IP persistence, per client address (127.0.0.x source addresses): a client keeps its
//! server while round robin would move it; the entry expires after the idle timeout and the
//! client is balanced again; a drained server keeps its existing persistent clients but takes no
//! new ones; a halted server's clients are re-picked.

mod support;

use std::time::Duration;
use support::*;
use triage::config::ServerState;
use triage::Runtime;

async fn sticky_pool(timeout: &str) -> (std::sync::Arc<Runtime>, Vec<Backend>) {
    let a = Backend::tagging("a").await;
    let b = Backend::tagging("b").await;
    let rt = start(&render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
balance = "roundrobin"
persistence = { kind = "source-ip", timeout = "{timeout}" }
health = { kind = "none" }
  [[pool.server]]
  name = "a"
  address = "{a}"
  [[pool.server]]
  name = "b"
  address = "{b}"
"#,
        &[
            ("timeout", timeout.to_string()),
            ("a", a.addr.to_string()),
            ("b", b.addr.to_string()),
        ],
    ))
    .await;
    (rt, vec![a, b])
}

fn other(t: &str) -> &'static str {
    if t == "a" {
        "b"
    } else {
        "a"
    }
}

#[tokio::test]
async fn each_source_address_keeps_its_server() {
    let (rt, _b) = sticky_pool("1h").await;
    let addr = listen(&rt, "svc");
    // Round robin alternates between clients, but each client sticks to its first server.
    let first: Vec<String> = {
        let mut v = Vec::new();
        for last in 30..36 {
            v.push(tag_from(ip(last), addr).await);
        }
        v
    };
    assert_eq!(
        first,
        ["a", "b", "a", "b", "a", "b"],
        "new clients are balanced"
    );
    for _ in 0..3 {
        for (i, last) in (30..36).enumerate() {
            assert_eq!(
                tag_from(ip(last), addr).await,
                first[i],
                "127.0.0.{last} moved"
            );
        }
    }
}

#[tokio::test]
async fn entry_expires_after_idle_timeout() {
    let (rt, _b) = sticky_pool("1s").await;
    let addr = listen(&rt, "svc");
    let mine = tag_from(ip(40), addr).await;
    // Another client takes a turn, so round robin would now give 127.0.0.40 the same server
    // again; a third one makes round robin's next pick the other server.
    let second = tag_from(ip(41), addr).await;
    assert_eq!(second, other(&mine));
    assert_eq!(tag_from(ip(42), addr).await, mine);
    // Sticky: round robin's next pick would be `other`, persistence keeps `mine`.
    assert_eq!(tag_from(ip(40), addr).await, mine);
    assert_eq!(tag_from(ip(40), addr).await, mine);
    // Idle for longer than the timeout: the entry is gone, the client is balanced again and
    // gets round robin's next pick, the other server.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let rebalanced = tag_from(ip(40), addr).await;
    assert_eq!(rebalanced, other(&mine), "entry did not expire");
    // ...and now sticks to that one.
    assert_eq!(tag_from(ip(40), addr).await, rebalanced);
    assert_eq!(tag_from(ip(40), addr).await, rebalanced);
}

#[tokio::test]
async fn use_refreshes_the_entry() {
    let (rt, _b) = sticky_pool("1500ms").await;
    let addr = listen(&rt, "svc");
    let mine = tag_from(ip(45), addr).await;
    let mut fresh = 100u8;
    // Used every 300 ms for 2.4 s: never idle for the 1.5 s timeout, so it never moves. Before
    // each use, new clients turn round robin until its next pick is the other server.
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        loop {
            fresh += 1;
            if tag_from(ip(fresh), addr).await == mine {
                break;
            }
        }
        assert_eq!(tag_from(ip(45), addr).await, mine, "moved at round {round}");
    }
}

#[tokio::test]
async fn drain_keeps_persistent_clients_only_and_halt_repicks() {
    let (rt, _b) = sticky_pool("1h").await;
    let addr = listen(&rt, "svc");
    let x = tag_from(ip(50), addr).await;
    let y = tag_from(ip(51), addr).await;
    assert_ne!(x, y);
    // Drain x's server: 127.0.0.50 still goes there, new clients never do.
    rt.set_server_state("p", &x, ServerState::Drain).unwrap();
    for _ in 0..3 {
        assert_eq!(
            tag_from(ip(50), addr).await,
            x,
            "drain dropped a persistent client"
        );
    }
    for last in 52..60 {
        assert_eq!(
            tag_from(ip(last), addr).await,
            y,
            "drained server took new client 127.0.0.{last}"
        );
    }
    // Halt it: its persistent client is re-picked, and stays on the new server afterwards.
    rt.set_server_state("p", &x, ServerState::Halt).unwrap();
    assert_eq!(tag_from(ip(50), addr).await, y);
    rt.set_server_state("p", &x, ServerState::Online).unwrap();
    assert_eq!(
        tag_from(ip(50), addr).await,
        y,
        "client went back after being re-picked"
    );
    // A client of a server that went down (health) is re-picked as well.
    let s = server(&rt, "p", &y);
    s.set_healthy(false);
    assert_eq!(tag_from(ip(50), addr).await, x);
    assert_eq!(tag_from(ip(51), addr).await, x);
}

//! Reload through the library (`reload_with`, `reload`): under a steady stream of client
//! connections, several reloads (weights change, a server is added, one removed) cause zero
//! failed connections; an established connection survives the reloads and their drain time; a
//! listener that stays keeps its socket (same port-0 port) while a removed one is closed; health
//! of unchanged servers carries over; a refused reload leaves the running config in place.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use triage::Runtime;

/// Connects in a loop until `stop`; each connection reads the tag and echoes one line.
/// Returns (tags seen, failures).
async fn client_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> (Vec<String>, Vec<String>) {
    let mut tags = Vec::new();
    let mut failures = Vec::new();
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) && i < 5000 {
        i += 1;
        match open_from(ip(1), addr).await {
            Ok((mut s, t)) => match roundtrip(&mut s, &format!("ping {i}")).await {
                Ok(()) => tags.push(t),
                Err(e) => failures.push(format!("#{i} via {t}: echo: {e}")),
            },
            Err(e) => failures.push(format!("#{i}: {e:?}")),
        }
    }
    (tags, failures)
}

fn pool_config(drain: &str, extra_service: bool, servers: &[(&Backend, u32)]) -> String {
    let mut t = render(
        r#"
[defaults]
drain_timeout = "{drain}"

[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"
"#,
        &[("drain", drain.to_string())],
    );
    if extra_service {
        t.push_str(
            "\n[[service]]\nname = \"extra\"\nlisten = [\"127.0.0.1:0\"]\nprotocol = \"tcp\"\npool = \"p\"\n",
        );
    }
    t.push_str(
        "\n[[pool]]\nname = \"p\"\nbalance = \"roundrobin\"\nhealth = { kind = \"connect\", interval = \"100ms\", rise = 1, fall = 1 }\n",
    );
    for (b, w) in servers {
        t.push_str(&format!(
            "  [[pool.server]]\n  name = \"{}\"\n  address = \"{}\"\n  weight = {w}\n",
            b.name, b.addr
        ));
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_fail_no_connection() {
    let a = Backend::tagging("a").await;
    let b = Backend::tagging("b").await;
    let c = Backend::tagging("c").await;
    let rt = start(&pool_config("1s", false, &[(&a, 100), (&b, 100)])).await;
    let addr = listen(&rt, "svc");
    let (mut long, long_on) = open(addr).await;
    roundtrip(&mut long, "before").await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| tokio::spawn(client_loop(addr, stop.clone())))
        .collect();
    let configs = [
        pool_config("1s", false, &[(&a, 50), (&b, 150)]),
        pool_config("1s", true, &[(&a, 50), (&b, 150), (&c, 100)]),
        pool_config("1s", true, &[(&a, 200), (&b, 10), (&c, 100)]),
        pool_config("1s", false, &[(&a, 100), (&b, 100), (&c, 100)]),
        pool_config("1s", false, &[(&a, 100), (&c, 100)]),
        pool_config("1s", false, &[(&a, 100), (&b, 100), (&c, 100)]),
    ];
    for (i, cfg) in configs.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(150)).await;
        rt.reload_with(parse(cfg))
            .await
            .unwrap_or_else(|e| panic!("reload {i}: {e}"));
        assert_eq!(listen(&rt, "svc"), addr, "the kept listener was re-bound");
        roundtrip(&mut long, &format!("after reload {i}"))
            .await
            .unwrap_or_else(|e| panic!("long connection to {long_on} after reload {i}: {e}"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all_tags = BTreeSet::new();
    let mut total = 0;
    for h in clients {
        let (tags, failures) = h.await.unwrap();
        assert!(failures.is_empty(), "failed connections: {failures:?}");
        total += tags.len();
        all_tags.extend(tags);
    }
    assert!(
        total >= 30,
        "only {total} connections made during the reloads"
    );
    assert!(
        all_tags.contains("c"),
        "the added server never got a connection"
    );
    // The established connection outlives every reload and the drain time after them.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    roundtrip(&mut long, "after drain time").await.unwrap();
}

#[tokio::test]
async fn health_of_unchanged_servers_carries_over() {
    let up = Backend::tagging("up").await;
    let down = Backend::tagging("down").await;
    let other = Backend::tagging("other").await;
    down.stop_listening().await;
    let rt = start(&pool_config("1s", false, &[(&up, 100), (&down, 100)])).await;
    let d = server(&rt, "p", "down");
    wait_until("down is marked down", STEP, || !d.healthy()).await;
    let addr = listen(&rt, "svc");
    let _ = tally(addr, 4).await;
    let up_total = server(&rt, "p", "up").total();

    rt.reload_with(parse(&pool_config(
        "1s",
        true,
        &[(&up, 100), (&down, 100), (&other, 100)],
    )))
    .await
    .unwrap();
    let d2 = server(&rt, "p", "down");
    assert!(Arc::ptr_eq(&d, &d2), "an unchanged server was rebuilt");
    assert!(!d2.healthy(), "a down server came back up through a reload");
    assert_eq!(
        server(&rt, "p", "up").total(),
        up_total,
        "counters were reset"
    );
    // No new connection is offered to it right after the reload.
    let before = d2.total();
    let t = tally(addr, 6).await;
    assert_eq!(t, counts(&[("other", 3), ("up", 3)]));
    assert_eq!(d2.total(), before);

    // Only its weight changes: still the same server, still down.
    rt.reload_with(parse(&pool_config(
        "1s",
        true,
        &[(&up, 100), (&down, 50), (&other, 100)],
    )))
    .await
    .unwrap();
    let d3 = server(&rt, "p", "down");
    assert_eq!(d3.spec.weight, 50);
    assert!(
        !d3.healthy(),
        "a reweighted down server came back up through a reload"
    );
    assert_eq!(tally(addr, 4).await, counts(&[("other", 2), ("up", 2)]));
}

#[tokio::test]
async fn removed_server_gets_the_drain_time_then_its_connections_end() {
    let a = Backend::tagging("a").await;
    let b = Backend::tagging("b").await;
    let rt = start(&pool_config("400ms", false, &[(&a, 100), (&b, 0)])).await;
    let addr = listen(&rt, "svc");
    let (mut long, on) = open(addr).await;
    assert_eq!(on, "a");
    // A weight change keeps the server (and counts its running connection)...
    rt.reload_with(parse(&pool_config("400ms", false, &[(&a, 50), (&b, 100)])))
        .await
        .unwrap();
    assert_eq!(
        server(&rt, "p", "a").active(),
        1,
        "the running connection is not counted"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    roundtrip(&mut long, "after reweight").await.unwrap();
    // ...removing it gives its connections the drain time, then ends them.
    rt.reload_with(parse(&pool_config("400ms", false, &[(&b, 100)])))
        .await
        .unwrap();
    roundtrip(&mut long, "within the drain time").await.unwrap();
    assert!(
        closes(&mut long).await,
        "connection to a removed server outlived the drain time"
    );
    assert_eq!(tag(addr).await, "b");
}

#[tokio::test]
async fn listeners_stay_open_or_close_as_configured() {
    let a = Backend::tagging("a").await;
    let rt = start(&pool_config("1s", true, &[(&a, 100)])).await;
    let svc = listen(&rt, "svc");
    let extra = listen(&rt, "extra");
    assert_eq!(tag(extra).await, "a");
    rt.reload_with(parse(&pool_config("1s", false, &[(&a, 100)])))
        .await
        .unwrap();
    assert_eq!(listen(&rt, "svc"), svc);
    assert!(rt.listen_addrs("extra").is_empty());
    wait_until_refused(extra).await;
    assert_eq!(tag(svc).await, "a");
}

async fn wait_until_refused(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "{addr} still accepts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn reload_rereads_the_file_and_refuses_a_bad_one() {
    let dir = TempDir::new("reload");
    let a = Backend::tagging("a").await;
    let b = Backend::tagging("b").await;
    let path = dir.join("triage.toml");
    std::fs::write(&path, pool_config("1s", false, &[(&a, 100)])).unwrap();
    log();
    let rt: Arc<Runtime> = Runtime::start(triage::Config::load(&path).unwrap(), Some(path.clone()))
        .await
        .unwrap();
    let addr = listen(&rt, "svc");
    assert_eq!(tally(addr, 2).await, counts(&[("a", 2)]));

    std::fs::write(&path, pool_config("1s", false, &[(&b, 100)])).unwrap();
    rt.reload().await.unwrap();
    assert_eq!(tally(addr, 2).await, counts(&[("b", 2)]));

    // Invalid file: refused with its diagnostics, the running config stays.
    std::fs::write(&path, "[[service]]\nname = \"svc\"\nlisten = 5\n").unwrap();
    let err = rt.reload().await.unwrap_err().to_string();
    assert!(err.contains("triage.toml:3:10:"), "{err}");
    assert_eq!(tally(addr, 2).await, counts(&[("b", 2)]));

    // Valid file that cannot be applied (its new listen address is taken): refused too.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = pool_config("1s", false, &[(&a, 100)]);
    cfg.push_str(&format!(
        "\n[[service]]\nname = \"clash\"\nlisten = [\"{}\"]\nprotocol = \"tcp\"\npool = \"p\"\n",
        taken.local_addr().unwrap()
    ));
    std::fs::write(&path, cfg).unwrap();
    assert!(rt.reload().await.is_err());
    assert_eq!(tally(addr, 2).await, counts(&[("b", 2)]));
    assert_eq!(listen(&rt, "svc"), addr);
}

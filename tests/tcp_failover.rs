//! Failover: backup servers take over only when no primary can, the pool's fallback only when
//! no server at all can; port 0 (or no port) on a fallback or a server means "the port the
//! client connected to" (checked on a multi-port service); `max_connections` per server makes
//! new connections overflow to the next server.

mod support;

use support::*;
use triage::config::ServerState;

#[tokio::test]
async fn backup_then_fallback() {
    let a = Backend::tagging("a").await;
    let bk = Backend::tagging("bk").await;
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
balance = "roundrobin"
fallback = "{fb}"
health = { kind = "none" }
  [[pool.server]]
  name = "a"
  address = "{a}"
  [[pool.server]]
  name = "bk"
  address = "{bk}"
  backup = true
"#,
        &[
            ("a", a.addr.to_string()),
            ("bk", bk.addr.to_string()),
            ("fb", fb.addr.to_string()),
        ],
    ))
    .await;
    let addr = listen(&rt, "svc");
    assert_eq!(
        tally(addr, 6).await,
        counts(&[("a", 6)]),
        "backup used while a primary is up"
    );
    rt.set_server_state("p", "a", ServerState::Halt).unwrap();
    assert_eq!(tally(addr, 4).await, counts(&[("bk", 4)]));
    rt.set_server_state("p", "bk", ServerState::Drain).unwrap();
    assert_eq!(tally(addr, 4).await, counts(&[("fb", 4)]));
    rt.set_server_state("p", "a", ServerState::Online).unwrap();
    assert_eq!(
        tally(addr, 4).await,
        counts(&[("a", 4)]),
        "fallback kept after a came back"
    );
}

#[tokio::test]
async fn fallback_port_zero_is_the_client_port() {
    // The fallback listens on 127.0.0.2:P, the service on 127.0.0.1:P; "127.0.0.2:0" must
    // resolve to P for a client of 127.0.0.1:P.
    let (rt, fb, _a) = retry_ports(|| async {
        let p = Reserved::any(ip(1));
        let fb = Backend::try_tagging_at("fb", sa(2, p.port)).map_err(|e| e.to_string())?;
        let a = Backend::tagging("a").await;
        let rt = start_or_clash(&render(
            r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:{port}"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
fallback = "127.0.0.2:0"
health = { kind = "none" }
  [[pool.server]]
  name = "a"
  address = "{a}"
"#,
            &[("port", p.port.to_string()), ("a", a.addr.to_string())],
        ))
        .await?;
        Ok((rt, fb, a))
    })
    .await;
    let addr = listen(&rt, "svc");
    assert_eq!(addr, sa(1, fb.port()));
    assert_eq!(tag(addr).await, "a");
    rt.set_server_state("p", "a", ServerState::Halt).unwrap();
    assert_eq!(tally(addr, 3).await, counts(&[("fb", 3)]));
}

#[tokio::test]
async fn server_without_port_uses_the_client_port_on_every_listen() {
    // One multi-port service whose server has no port: 127.0.0.3:P1 and 127.0.0.3:P2 are two
    // different processes on the server host; a client of port P1 must reach the first. A
    // second service checks the "IP:0" spelling.
    let (rt, p1, p2, q) = retry_ports(|| async {
        let ports = [
            Reserved::any(ip(1)),
            Reserved::any(ip(1)),
            Reserved::any(ip(1)),
        ];
        let backend = |name: &str, host: u8, r: &Reserved| {
            Backend::try_tagging_at(name, sa(host, r.port)).map_err(|e| e.to_string())
        };
        let p1 = backend("p1", 3, &ports[0])?;
        let p2 = backend("p2", 3, &ports[1])?;
        let q = backend("q", 4, &ports[2])?;
        let rt = start_or_clash(&render(
            r#"
[[service]]
name = "multi"
listen = ["127.0.0.1:{p1}", "127.0.0.1:{p2}"]
protocol = "tcp"
pool = "noport"

[[service]]
name = "zero"
listen = ["127.0.0.1:{q}"]
protocol = "tcp"
pool = "zeroport"

[[pool]]
name = "noport"
health = { kind = "connect", interval = "100ms", rise = 1, fall = 1 }
  [[pool.server]]
  name = "s"
  address = "127.0.0.3"

[[pool]]
name = "zeroport"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "127.0.0.4:0"
"#,
            &[
                ("p1", p1.port().to_string()),
                ("p2", p2.port().to_string()),
                ("q", q.port().to_string()),
            ],
        ))
        .await?;
        Ok((rt, p1, p2, q))
    })
    .await;
    let addrs = rt.listen_addrs("multi");
    assert_eq!(addrs.len(), 2);
    assert!(addrs.contains(&sa(1, p1.port())) && addrs.contains(&sa(1, p2.port())));
    assert_eq!(tally(sa(1, p1.port()), 3).await, counts(&[("p1", 3)]));
    assert_eq!(tally(sa(1, p2.port()), 3).await, counts(&[("p2", 3)]));
    assert_eq!(tally(sa(1, q.port()), 3).await, counts(&[("q", 3)]));
    // The health check of a port-0 server probes the service's (first) port on its IP.
    let s = server(&rt, "noport", "s");
    wait_until("the port-0 server has been checked", STEP, || {
        s.last_check().is_some()
    })
    .await;
    assert!(
        s.healthy() && s.last_check().unwrap().ok,
        "{:?}",
        s.last_check()
    );
}

#[tokio::test]
async fn server_connection_limit_overflows_to_the_next() {
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
balance = "first"
health = { kind = "none" }
  [[pool.server]]
  name = "a"
  address = "{a}"
  max_connections = 2
  [[pool.server]]
  name = "b"
  address = "{b}"
"#,
        &[("a", a.addr.to_string()), ("b", b.addr.to_string())],
    ))
    .await;
    let addr = listen(&rt, "svc");
    let c1 = open(addr).await;
    let c2 = open(addr).await;
    assert_eq!((c1.1.as_str(), c2.1.as_str()), ("a", "a"));
    let c3 = open(addr).await;
    let c4 = open(addr).await;
    assert_eq!(
        (c3.1.as_str(), c4.1.as_str()),
        ("b", "b"),
        "a is full: overflow to b"
    );
    assert_eq!(server(&rt, "p", "a").active(), 2);
    drop(c1);
    let sa_ = server(&rt, "p", "a");
    wait_until("a has a free slot", STEP, || sa_.active() < 2).await;
    assert_eq!(open(addr).await.1, "a");
    drop((c2, c3, c4));
}

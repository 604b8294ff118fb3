//! Redispatch: a server that never completes the handshake (connect timeout) or refuses the
//! connection is skipped for that client, which is served by the next server; the number of
//! further servers tried is bounded by `retries`; with nothing left the client is closed, not
//! left hanging.

mod support;

use support::*;

fn config(
    connect_timeout: &str,
    retries: u32,
    balance: &str,
    servers: &[(&str, String)],
) -> String {
    let mut t = render(
        r#"
[defaults]
retries = {retries}

[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"
connect_timeout = "{ct}"

[[pool]]
name = "p"
balance = "{balance}"
health = { kind = "none" }
"#,
        &[
            ("retries", retries.to_string()),
            ("ct", connect_timeout.to_string()),
            ("balance", balance.to_string()),
        ],
    );
    for (name, addr) in servers {
        t.push_str(&format!(
            "  [[pool.server]]\n  name = \"{name}\"\n  address = \"{addr}\"\n"
        ));
    }
    t
}

/// An address on 127.0.0.1 where nothing listens (connection refused) while the reservation
/// lives.
fn closed_port() -> (String, Reserved) {
    let r = Reserved::any(ip(1));
    (sa(1, r.port).to_string(), r)
}

#[tokio::test]
async fn connect_timeout_moves_to_the_next_server() {
    let hole = Blackhole::new().await;
    let good = Backend::tagging("good").await;
    let rt = start(&config(
        "300ms",
        3,
        "first",
        &[
            ("hole", hole.addr.to_string()),
            ("good", good.addr.to_string()),
        ],
    ))
    .await;
    let addr = listen(&rt, "svc");
    // Without the connect timeout the kernel would keep retrying the SYN far beyond STEP.
    assert_eq!(tally(addr, 3).await, counts(&[("good", 3)]));
    assert_eq!(
        server(&rt, "p", "hole").total(),
        3,
        "the blackhole was tried every time"
    );
    assert_eq!(
        server(&rt, "p", "hole").active(),
        0,
        "a failed attempt leaked its slot"
    );
}

#[tokio::test]
async fn refused_connection_moves_to_the_next_server() {
    let closed = closed_port();
    let good = Backend::tagging("good").await;
    let rt = start(&config(
        "2s",
        3,
        "roundrobin",
        &[
            ("closed", closed.0.clone()),
            ("good", good.addr.to_string()),
        ],
    ))
    .await;
    let addr = listen(&rt, "svc");
    // Round robin offers "closed" to every other client: each of them must still be served.
    assert_eq!(tally(addr, 10).await, counts(&[("good", 10)]));
    let s = server(&rt, "p", "closed");
    assert!(s.total() >= 5, "closed was tried {} times", s.total());
    assert_eq!(s.active(), 0);
}

#[tokio::test]
async fn retries_are_bounded() {
    let (c1, c2) = (closed_port(), closed_port());
    let good = Backend::tagging("good").await;
    let servers = [
        ("c1", c1.0.clone()),
        ("c2", c2.0.clone()),
        ("good", good.addr.to_string()),
    ];
    // retries = 1: two attempts, both refused; the client is closed.
    let rt = start(&config("2s", 1, "first", &servers)).await;
    let addr = listen(&rt, "svc");
    assert_eq!(open_from(ip(1), addr).await.err(), Some(Fail::Closed));
    assert_eq!(server(&rt, "p", "good").total(), 0);
    // retries = 2: the third server is reached.
    rt.reload_with(parse(&config("2s", 2, "first", &servers)))
        .await
        .unwrap();
    assert_eq!(tag(addr).await, "good");
}

#[tokio::test]
async fn no_server_left_closes_the_client() {
    let closed = closed_port();
    let hole = Blackhole::new().await;
    let rt = start(&config(
        "200ms",
        3,
        "roundrobin",
        &[
            ("closed", closed.0.clone()),
            ("hole", hole.addr.to_string()),
        ],
    ))
    .await;
    let addr = listen(&rt, "svc");
    for _ in 0..3 {
        assert_eq!(open_from(ip(1), addr).await.err(), Some(Fail::Closed));
    }
}

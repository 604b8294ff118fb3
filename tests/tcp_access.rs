//! Admission per service: the `allow` CIDR list (clients from other 127.0.0.x addresses are
//! closed before any server is contacted; a reload changes the list on the open listener) and
//! `max_connections` per service (over the limit refused, a slot frees when a client leaves).

mod support;

use std::sync::atomic::Ordering;
use support::*;

fn config(backend: &Backend, extra: &str) -> String {
    render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"
{extra}

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[
            ("extra", extra.to_string()),
            ("s", backend.addr.to_string()),
        ],
    )
}

#[tokio::test]
async fn allow_list_admits_only_listed_sources() {
    let b = Backend::tagging("s").await;
    let rt = start(&config(
        &b,
        r#"allow = ["127.0.0.1/32", "127.0.0.8/30", "127.0.0.20"]"#,
    ))
    .await;
    let addr = listen(&rt, "svc");
    for last in [1, 8, 11, 20] {
        assert_eq!(
            tag_from(ip(last), addr).await,
            "s",
            "127.0.0.{last} refused"
        );
    }
    for last in [5, 7, 12, 21] {
        let r = open_from(ip(last), addr).await;
        assert_eq!(r.err(), Some(Fail::Closed), "127.0.0.{last} admitted");
    }
    assert_eq!(
        b.accepted.load(Ordering::Relaxed),
        4,
        "a refused client reached the server"
    );
    let svc = rt.snapshot().service("svc").cloned().unwrap();
    assert_eq!(svc.stats.refused.load(Ordering::Relaxed), 4);

    // A reload changes the list for the same (kept) listener.
    rt.reload_with(parse(&config(&b, r#"allow = ["127.0.0.5"]"#)))
        .await
        .unwrap();
    assert_eq!(listen(&rt, "svc"), addr);
    assert_eq!(tag_from(ip(5), addr).await, "s");
    assert_eq!(open_from(ip(1), addr).await.err(), Some(Fail::Closed));
}

#[tokio::test]
async fn service_connection_limit_refuses_the_excess() {
    let b = Backend::tagging("s").await;
    let rt = start(&config(&b, "max_connections = 2")).await;
    let addr = listen(&rt, "svc");
    let c1 = open(addr).await;
    let c2 = open(addr).await;
    for _ in 0..3 {
        assert_eq!(open_from(ip(1), addr).await.err(), Some(Fail::Closed));
    }
    assert_eq!(b.accepted.load(Ordering::Relaxed), 2);
    drop(c1);
    let svc = rt.snapshot().service("svc").cloned().unwrap();
    wait_until("a slot is free", STEP, || svc.stats.active() < 2).await;
    let c3 = open(addr).await;
    assert_eq!(c3.1, "s");
    assert_eq!(open_from(ip(1), addr).await.err(), Some(Fail::Closed));
    drop((c2, c3));
}

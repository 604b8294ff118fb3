//! Protocol `http`: per-request balancing over keep-alive connections, `cookie+source-ip`
//! persistence (named cookie, stripped before forwarding, Drain keeps cookie clients),
//! X-Forwarded-For, redispatch on connect failure, 503 without a server, and the `http` health
//! check (HEAD/GET, expected status, expected body). Backends are small hyper servers in the
//! test that answer with their name and the headers they received; clients are curl.

mod examples_support;
#[path = "support/half_close.rs"]
mod half_close;

use bytes::Bytes;
use examples_support::*;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use triage::config::ServerState;
use triage::proto::http::cookie_value;

/// An HTTP backend: answers `NAME\nxff=..\ncookie=..\n` with a settable status and, for
/// `/health`, a settable body; `/slow` answers after 1 s.
struct Web {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    health_body: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Web {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn web(name: &str) -> Web {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let health_body = Arc::new(Mutex::new("OK".to_string()));
    let (n, st, hb) = (name.to_string(), status.clone(), health_body.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            let (n, st, hb) = (n.clone(), st.clone(), hb.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let h = |k: &str| {
                        req.headers()
                            .get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string()
                    };
                    let body = if req.uri().path() == "/health" {
                        hb.lock().unwrap().clone()
                    } else {
                        format!(
                            "{n}\nxff={}\ncookie={}\n",
                            h("x-forwarded-for"),
                            h("cookie")
                        )
                    };
                    let mut r = Response::new(Full::new(Bytes::from(body)));
                    *r.status_mut() =
                        hyper::StatusCode::from_u16(st.load(Ordering::Relaxed)).unwrap();
                    let slow = req.uri().path() == "/slow";
                    async move {
                        if slow {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Web {
        addr,
        status,
        health_body,
        task,
    }
}

async fn start(toml: &str) -> Arc<triage::Runtime> {
    let c = triage::Config::parse("http-test.toml", toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    triage::Runtime::start(c, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn cfg(
    listen: SocketAddr,
    pool_extra: &str,
    service_extra: &str,
    servers: &[(&str, SocketAddr)],
) -> String {
    let mut s = format!(
        "[[service]]\nname = \"web\"\nlisten = [\"{listen}\"]\nprotocol = \"http\"\npool = \"web\"\n{service_extra}\n\
         [[pool]]\nname = \"web\"\n{pool_extra}\n"
    );
    for (n, a) in servers {
        s.push_str(&format!(
            "[[pool.server]]\nname = \"{n}\"\naddress = \"{a}\"\n"
        ));
    }
    s
}

fn first_line(body: &str) -> &str {
    body.lines().next().unwrap_or("")
}

fn set_cookie(headers: &str) -> Option<String> {
    headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| l.split_once(':').unwrap().1.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_one_connection_are_balanced_each() {
    let (a, b) = (web("a").await, web("b").await);
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let rt = start(&cfg(
        listen,
        "balance = \"roundrobin\"\nhealth = { kind = \"none\" }",
        "",
        &[("a", a.addr), ("b", b.addr)],
    ))
    .await;
    // One curl, four URLs: one keep-alive connection, four requests.
    let url = format!("http://{listen}/x");
    let r = run(
        "curl",
        &strings(&["-sS", "--max-time", "10", "-v", &url, &url, &url, &url]),
    )
    .await
    .expect_ok("curl");
    let names: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| *l == "a" || *l == "b")
        .collect();
    assert_eq!(names, vec!["a", "b", "a", "b"], "{}", r.stdout);
    assert!(
        r.stderr.contains("Re-using existing connection") || r.stderr.contains("Reusing existing"),
        "curl did not keep the connection:\n{}",
        r.stderr
    );
    assert_eq!(
        rt.snapshot()
            .service("web")
            .unwrap()
            .stats
            .total
            .load(Ordering::Relaxed),
        1,
        "one client connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_cookie_forwarded_for_and_drain() {
    let (a, b) = (web("a").await, web("b").await);
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let rt = start(&cfg(
        listen,
        "balance = \"roundrobin\"\npersistence = { kind = \"cookie+source-ip\", cookie = \"PACSID\", timeout = \"1h\" }\nhealth = { kind = \"none\" }",
        "forwarded_for = true",
        &[("a", a.addr), ("b", b.addr)],
    ))
    .await;
    let url = format!("http://{listen}/page");
    // The cookie named by config; the server sees neither it nor a changed Cookie header
    // otherwise, and X-Forwarded-For gets the client appended.
    let va = cookie_value("web", "a");
    let r = curl(
        &url,
        lo(7),
        None,
        &[
            "-H",
            &format!("Cookie: theme=dark; PACSID={va}; lang=en"),
            "-H",
            "X-Forwarded-For: 10.9.9.9",
        ],
    )
    .await;
    assert_eq!(first_line(&r.body), "a", "{r:?}");
    assert!(r.body.contains("xff=10.9.9.9, 127.0.0.7"), "{}", r.body);
    assert!(r.body.contains("cookie=theme=dark; lang=en"), "{}", r.body);
    assert_eq!(
        set_cookie(&r.headers),
        None,
        "valid cookie must not be re-set"
    );
    // No cookie: PACSID offered.
    let r = curl(&url, lo(8), None, &[]).await;
    let c = set_cookie(&r.headers).expect("Set-Cookie");
    assert!(
        c.starts_with("PACSID=") && c.contains("Path=/") && c.contains("HttpOnly"),
        "{c}"
    );
    assert!(r.body.contains("xff=127.0.0.8\n"), "{}", r.body);
    // Drain a: new clients go to b, a's cookie clients stay on a.
    rt.set_server_state("web", "a", ServerState::Drain).unwrap();
    for last in 20..24u8 {
        let r = curl(&url, lo(last), None, &[]).await;
        assert_eq!(
            first_line(&r.body),
            "b",
            "a new client reached a drained server"
        );
    }
    let r = curl(&url, lo(30), None, &["-H", &format!("Cookie: PACSID={va}")]).await;
    assert_eq!(
        first_line(&r.body),
        "a",
        "Drain must keep persistent (cookie) clients"
    );
    // Halt a: its cookie is re-picked.
    rt.set_server_state("web", "a", ServerState::Halt).unwrap();
    let r = curl(&url, lo(30), None, &["-H", &format!("Cookie: PACSID={va}")]).await;
    assert_eq!(first_line(&r.body), "b");
    assert!(set_cookie(&r.headers).is_some_and(|c| c.contains(&cookie_value("web", "b"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failure_moves_on_and_no_server_is_503() {
    let live = web("live").await;
    let dead = SocketAddr::from(([127, 0, 0, 1], fresh_port())); // nothing listens
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let rt = start(&cfg(
        listen,
        "balance = \"roundrobin\"\nhealth = { kind = \"none\" }",
        "",
        &[("dead", dead), ("live", live.addr)],
    ))
    .await;
    let url = format!("http://{listen}/");
    for _ in 0..4 {
        let r = curl(&url, lo(1), None, &[]).await;
        assert_eq!((r.status, first_line(&r.body)), (200, "live"), "{r:?}");
    }
    rt.set_server_state("web", "live", ServerState::Halt)
        .unwrap();
    let r = curl(&url, lo(1), None, &[]).await;
    assert_eq!(r.status, 503, "{r:?}");
    // A server error status passes through untouched.
    rt.set_server_state("web", "live", ServerState::Online)
        .unwrap();
    live.status.store(500, Ordering::Relaxed);
    let r = curl(&url, lo(1), None, &[]).await;
    assert_eq!((r.status, first_line(&r.body)), (500, "live"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_health_check_status_and_body() {
    let (good, bad) = (web("good").await, web("bad").await);
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let rt = start(&cfg(
        listen,
        "balance = \"roundrobin\"\nhealth = { kind = \"http\", path = \"/health\", expect_body = \"OK\", interval = \"100ms\", timeout = \"1s\", rise = 1, fall = 1 }",
        "",
        &[("good", good.addr), ("bad", bad.addr)],
    ))
    .await;
    let server = |n: &str| {
        rt.snapshot()
            .pool("web")
            .unwrap()
            .server(n)
            .unwrap()
            .clone()
    };
    *bad.health_body.lock().unwrap() = "DEGRADED".into();
    wait_until(
        "bad is down (body lacks OK)",
        Duration::from_secs(5),
        || !server("bad").healthy(),
    )
    .await;
    let d = server("bad").last_check().unwrap().detail;
    assert!(d.contains("lacks \"OK\""), "{d}");
    assert!(server("good").healthy());
    let url = format!("http://{listen}/");
    for _ in 0..3 {
        assert_eq!(first_line(&curl(&url, lo(1), None, &[]).await.body), "good");
    }
    // Body fixed, status wrong: still down, with the status in the detail.
    *bad.health_body.lock().unwrap() = "OK".into();
    bad.status.store(503, Ordering::Relaxed);
    wait_until("the check reports HTTP 503", Duration::from_secs(5), || {
        server("bad")
            .last_check()
            .is_some_and(|c| c.detail.contains("HTTP 503"))
    })
    .await;
    assert!(!server("bad").healthy());
    bad.status.store(200, Ordering::Relaxed);
    wait_until("bad is up again", Duration::from_secs(5), || {
        server("bad").healthy()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_health_head_expects_a_configured_status() {
    let w = web("w").await;
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let rt = start(&cfg(
        listen,
        "health = { kind = \"http\", method = \"HEAD\", expect_status = 204, interval = \"100ms\", timeout = \"1s\", rise = 1, fall = 1 }",
        "",
        &[("w", w.addr)],
    ))
    .await;
    let s = rt
        .snapshot()
        .pool("web")
        .unwrap()
        .server("w")
        .unwrap()
        .clone();
    wait_until(
        "200 is not the expected 204",
        Duration::from_secs(5),
        || !s.healthy(),
    )
    .await;
    let d = s.last_check().unwrap().detail;
    assert!(d.contains("HEAD /: HTTP 200, expected 204"), "{d}");
    w.status.store(204, Ordering::Relaxed);
    wait_until("204 passes", Duration::from_secs(5), || s.healthy()).await;
}

#[test]
fn http_config_errors() {
    let bad = |extra_pool: &str, extra_svc: &str, proto: &str| {
        let t = format!(
            "[[service]]\nname = \"s\"\nlisten = [\"127.0.0.1:18080\"]\nprotocol = \"{proto}\"\npool = \"p\"\n{extra_svc}\n\
             [[pool]]\nname = \"p\"\n{extra_pool}\n[[pool.server]]\nname = \"a\"\naddress = \"127.0.0.1:1\"\n"
        );
        triage::Config::parse("t.toml", &t)
            .err()
            .map(|e| e.to_string())
    };
    let e = bad(
        "health = { kind = \"http\", method = \"POST\" }",
        "",
        "http",
    )
    .expect("POST refused");
    assert!(e.contains("HEAD or GET"), "{e}");
    let e = bad(
        "health = { kind = \"http\", method = \"HEAD\", expect_body = \"x\" }",
        "",
        "http",
    )
    .expect("HEAD + body refused");
    assert!(e.contains("expect_body needs method"), "{e}");
    let e = bad("", "forwarded_for = true", "tcp").expect("forwarded_for on tcp refused");
    assert!(e.contains("forwarded_for"), "{e}");
    let e = bad("persistence = { kind = \"cookie+source-ip\" }", "", "tcp")
        .expect("cookie without http refused");
    assert!(e.contains("cookie+source-ip"), "{e}");
    assert_eq!(bad("health = { kind = \"http\", method = \"get\", path = \"/ok\", expect_status = 200, expect_body = \"up\" }", "forwarded_for = true", "http"), None);
}

/// A client that shuts down its write side after its request (RFC 9112 §9.6) still gets the
/// answer, as through HAProxy without `abortonclose`; raw TCP: curl does not half-close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_still_gets_the_answer() {
    let a = web("a").await;
    let listen = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let _rt = start(&cfg(
        listen,
        "health = { kind = \"none\" }",
        "",
        &[("a", a.addr)],
    ))
    .await;
    let got =
        half_close::half_closed_exchange(listen, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    assert!(got.contains("\r\n\r\na\n"), "{got:?}");
}

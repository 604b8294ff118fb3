//! Protocol `http` with `balance_per = "connection"`: the first request of a client connection
//! picks the server (cookie, then source IP, then the balance algorithm), later requests on the
//! connection follow it whatever cookie they carry; a pinned server in Drain keeps the
//! connection, a halted or vanished one is left for another server without closing the client's
//! connection (which is pinned to the new server from then on). The default (`"request"`) on
//! the same pool alternates servers on one connection, for contrast.
//!
//! Backends are real HTTP servers (`python3 -m http.server`, each serving a `whoami.txt` with
//! its name); the client is a plain keep-alive HTTP/1.1 connection written in the test, so
//! that every request provably travels on the same TCP connection (a closed connection fails
//! the test).

mod examples_support;

use examples_support::*;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage::config::ServerState;
use triage::proto::http::cookie_value;

/// One keep-alive client connection.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

/// A response as the client read it.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: String,
    body: String,
}

impl Resp {
    fn set_cookie(&self) -> Option<String> {
        self.headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .map(|l| l.split_once(':').unwrap().1.trim().to_string())
    }
}

impl Client {
    async fn connect(src: IpAddr, dst: SocketAddr) -> Client {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(src, 0)).unwrap();
        let s = tokio::time::timeout(Duration::from_secs(5), sock.connect(dst))
            .await
            .expect("connect in time")
            .expect("connect");
        Client { s, buf: Vec::new() }
    }

    /// `GET /whoami.txt` on this connection, with an optional `Cookie` header.
    async fn get(&mut self, cookie: Option<&str>) -> Resp {
        let mut req = String::from("GET /whoami.txt HTTP/1.1\r\nHost: portal\r\n");
        if let Some(c) = cookie {
            req.push_str(&format!("Cookie: {c}\r\n"));
        }
        req.push_str("\r\n");
        self.s.write_all(req.as_bytes()).await.expect("write");
        tokio::time::timeout(Duration::from_secs(10), self.read())
            .await
            .expect("a response in time")
    }

    async fn fill(&mut self) {
        let mut b = [0u8; 4096];
        let n = self.s.read(&mut b).await.expect("read");
        assert!(n > 0, "triage closed the client connection");
        self.buf.extend_from_slice(&b[..n]);
    }

    async fn read(&mut self) -> Resp {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let headers = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {headers:?}"));
        let len: usize = headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no Content-Length in {headers:?}"));
        assert!(
            !headers.to_ascii_lowercase().contains("connection: close"),
            "triage announced a close: {headers}"
        );
        while self.buf.len() < len {
            self.fill().await;
        }
        let body = String::from_utf8_lossy(&self.buf[..len]).into_owned();
        self.buf.drain(..len);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// The names of the servers that answered `n` requests on this connection.
    async fn names(&mut self, n: usize) -> Vec<String> {
        let mut v = Vec::new();
        for _ in 0..n {
            let r = self.get(None).await;
            assert_eq!(r.status, 200, "{r:?}");
            v.push(r.body);
        }
        v
    }
}

struct Setup {
    rt: Arc<triage::Runtime>,
    pinned: SocketAddr,
    per_request: SocketAddr,
    a: Option<Peer>,
    b: Option<Peer>,
}

/// Two real HTTP servers `a` and `b` in one pool (round robin, no checks), a service
/// `pinned` with `balance_per = "connection"` and a service `per-request` without the key.
async fn setup(persistence: &str) -> Setup {
    let a = Peer::http_server(SocketAddr::from(([127, 0, 0, 1], fresh_port())), "a").await;
    let b = Peer::http_server(SocketAddr::from(([127, 0, 0, 1], fresh_port())), "b").await;
    let pinned = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let per_request = SocketAddr::from(([127, 0, 0, 1], fresh_port()));
    let text = format!(
        "[[service]]\nname = \"pinned\"\nlisten = [\"{pinned}\"]\nprotocol = \"http\"\n\
         pool = \"web\"\nbalance_per = \"connection\"\n\n\
         [[service]]\nname = \"per-request\"\nlisten = [\"{per_request}\"]\nprotocol = \"http\"\n\
         pool = \"web\"\n\n\
         [[pool]]\nname = \"web\"\nbalance = \"roundrobin\"\nhealth = {{ kind = \"none\" }}\n\
         {persistence}\n\
         [[pool.server]]\nname = \"a\"\naddress = \"{}\"\n\
         [[pool.server]]\nname = \"b\"\naddress = \"{}\"\n",
        a.addr, b.addr
    );
    let c = triage::Config::parse("per-connection.toml", &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        c.services[0].balance_per,
        triage::config::BalancePer::Connection
    );
    assert_eq!(
        c.services[1].balance_per,
        triage::config::BalancePer::Request,
        "the default"
    );
    let rt = triage::Runtime::start(c, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Setup {
        rt,
        pinned,
        per_request,
        a: Some(a),
        b: Some(b),
    }
}

fn other(name: &str) -> &'static str {
    if name == "a" {
        "b"
    } else {
        "a"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_stays_on_its_first_pick() {
    let s = setup("").await;
    // Per request (the default): one connection alternates between the servers.
    let mut c = Client::connect(lo(1), s.per_request).await;
    let got = c.names(4).await;
    assert!(
        got == ["a", "b", "a", "b"] || got == ["b", "a", "b", "a"],
        "per-request balancing on one connection: {got:?}"
    );
    // Per connection: every request of a connection goes to one server; round robin spreads
    // the connections.
    let mut first = Vec::new();
    for last in 2..6u8 {
        let mut c = Client::connect(lo(last), s.pinned).await;
        let got = c.names(4).await;
        assert!(
            got.iter().all(|n| *n == got[0]),
            "connection moved: {got:?}"
        );
        first.push(got[0].clone());
    }
    assert!(
        first.iter().any(|n| n == "a") && first.iter().any(|n| n == "b"),
        "round robin over connections: {first:?}"
    );
    let snap = s.rt.snapshot();
    let svc = snap.service("pinned").unwrap();
    assert_eq!(
        svc.stats.total.load(std::sync::atomic::Ordering::Relaxed),
        4,
        "four client connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_decides_the_first_pick_then_the_connection_wins() {
    let s = setup("persistence = { kind = \"cookie+source-ip\", cookie = \"SERVERID\" }").await;
    let cookie = |n: &str| format!("SERVERID={}", cookie_value("web", n));
    for (src, target) in [(11u8, "a"), (12, "b")] {
        let mut c = Client::connect(lo(src), s.pinned).await;
        let r = c.get(Some(&cookie(target))).await;
        assert_eq!((r.status, r.body.as_str()), (200, target), "{r:?}");
        assert_eq!(r.set_cookie(), None, "a valid cookie is not re-set");
        // The same connection, now with the other server's cookie: the pin wins, and the
        // cookie is corrected to name the server that answered.
        let r = c.get(Some(&cookie(other(target)))).await;
        assert_eq!(
            r.body, target,
            "the connection left its server for a cookie"
        );
        let set = r.set_cookie().expect("the wrong cookie is replaced");
        assert!(set.starts_with(&cookie(target)), "{set}");
        // No cookie at all: still the pinned server.
        assert_eq!(c.get(None).await.body, target);
    }
    // Without a cookie the source IP decides the first pick of a new connection: the client
    // of 127.0.0.12 was last on b.
    let mut c = Client::connect(lo(12), s.pinned).await;
    let r = c.get(None).await;
    assert_eq!(r.body, "b", "{r:?}");
    assert!(r.set_cookie().is_some_and(|v| v.starts_with(&cookie("b"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_server_that_goes_away_is_left_without_closing_the_connection() {
    let mut s = setup("persistence = { kind = \"cookie+source-ip\", cookie = \"SERVERID\" }").await;
    let cookie = |n: &str| format!("SERVERID={}", cookie_value("web", n));
    let mut c = Client::connect(lo(21), s.pinned).await;
    let x = c.get(None).await.body;
    let y = other(&x).to_string();
    // Requests carrying the other server's cookie stay too (the pin, not persistence).
    for _ in 0..2 {
        assert_eq!(c.get(Some(&cookie(&y))).await.body, x);
    }
    // Drain: the connection carries on with its server.
    s.rt.set_server_state("web", &x, ServerState::Drain)
        .unwrap();
    for _ in 0..2 {
        assert_eq!(c.get(Some(&cookie(&y))).await.body, x, "Drain keeps it");
    }
    // Halt: the next request goes to the other server on the same connection, with its
    // cookie, and the connection stays there when x comes back, even with x's cookie.
    s.rt.set_server_state("web", &x, ServerState::Halt).unwrap();
    let r = c.get(None).await;
    assert_eq!((r.status, r.body.as_str()), (200, y.as_str()), "{r:?}");
    let set = r.set_cookie().expect("the cookie follows the move");
    assert!(set.starts_with(&cookie(&y)), "{set}");
    s.rt.set_server_state("web", &x, ServerState::Online)
        .unwrap();
    for _ in 0..2 {
        assert_eq!(c.get(Some(&cookie(&x))).await.body, y, "re-pinned to {y}");
    }
    // The pinned server's process dies (no health check notices): the connect fails, the
    // request goes to x, and the connection follows it.
    let dead = if y == "a" { s.a.take() } else { s.b.take() }.unwrap();
    let dead_addr = dead.addr;
    drop(dead);
    wait_until(
        "the killed server refuses connections",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(dead_addr).is_err(),
    )
    .await;
    let r = c.get(None).await;
    assert_eq!((r.status, r.body.as_str()), (200, x.as_str()), "{r:?}");
    assert_eq!(c.names(2).await, [x.clone(), x.clone()]);
    let _keep = (s.a.take(), s.b.take());
}

//! The byte relay through the proxy: half-close is forwarded in both directions (a FIN reaches
//! the other end while the opposite direction keeps flowing), an idle proxied connection is
//! closed after the client or server idle timeout while one that keeps talking is not, and both
//! legs have TCP keepalive (seen in /proc/net/tcp).

mod support;

use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

fn config(backend: std::net::SocketAddr, client_timeout: &str, server_timeout: &str) -> String {
    render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"
client_timeout = "{ct}"
server_timeout = "{st}"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[
            ("ct", client_timeout.to_string()),
            ("st", server_timeout.to_string()),
            ("s", backend.to_string()),
        ],
    )
}

#[tokio::test]
async fn client_fin_reaches_the_server_and_the_reply_still_comes_back() {
    // The backend reads until EOF, then answers: it only answers if the FIN was forwarded.
    let l = bind(sa(1, 0), 16).unwrap();
    let backend = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        let reply = format!("got {} bytes: {}", got.len(), String::from_utf8_lossy(&got));
        s.write_all(reply.as_bytes()).await.unwrap();
    });
    let rt = start(&config(backend, "1h", "1h")).await;
    let mut c = connect_from(ip(1), listen(&rt, "svc")).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    c.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(STEP, c.read_to_end(&mut back))
        .await
        .expect("no reply: the client's FIN did not reach the server")
        .unwrap();
    assert_eq!(back, b"got 5 bytes: hello");
}

#[tokio::test]
async fn server_fin_reaches_the_client_which_can_still_send() {
    let l = bind(sa(1, 0), 16).unwrap();
    let backend = l.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(b"bye").await.unwrap();
        s.shutdown().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        let _ = tx.send(got);
    });
    let rt = start(&config(backend, "1h", "1h")).await;
    let mut c = connect_from(ip(1), listen(&rt, "svc")).await.unwrap();
    let mut first = Vec::new();
    tokio::time::timeout(STEP, c.read_to_end(&mut first))
        .await
        .expect("the server's FIN did not reach the client")
        .unwrap();
    assert_eq!(first, b"bye");
    c.write_all(b"still here").await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(STEP, rx).await.unwrap().unwrap();
    assert_eq!(got, b"still here");
}

#[tokio::test]
async fn idle_client_is_closed_after_client_timeout() {
    let b = Backend::tagging("s").await;
    let rt = start(&config(b.addr, "500ms", "1h")).await;
    let addr = listen(&rt, "svc");
    // Talking every 100 ms for a second: never idle for 500 ms, never cut.
    let (mut talk, _) = open(addr).await;
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        roundtrip(&mut talk, &format!("ping {i}")).await.unwrap();
    }
    // Then silence: cut.
    assert!(closes(&mut talk).await, "idle connection was not closed");
    let (mut idle, _) = open(addr).await;
    assert!(closes(&mut idle).await, "idle connection was not closed");
    let svc = rt.snapshot().service("svc").cloned().unwrap();
    wait_until("closed connections are counted out", STEP, || {
        svc.stats.active() == 0 && server(&rt, "p", "s").active() == 0
    })
    .await;
}

#[tokio::test]
async fn idle_server_side_is_closed_after_server_timeout() {
    let b = Backend::tagging("s").await;
    let rt = start(&config(b.addr, "1h", "300ms")).await;
    let (mut idle, _) = open(listen(&rt, "svc")).await;
    assert!(closes(&mut idle).await, "idle connection was not closed");
}

/// The keepalive timer state of the socket `local` → `remote` in /proc/net/tcp: `tr` is 02 while
/// a keepalive timer is armed, 00 with none.
fn timer_of(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> Option<String> {
    let hex = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        std::net::SocketAddr::V6(_) => String::new(),
    };
    let (l, r) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.get(1) == Some(&l.as_str()) && f.get(2) == Some(&r.as_str()))
            .then(|| f[5].split(':').next().unwrap_or("").to_string())
    })
}

#[tokio::test]
async fn both_legs_have_tcp_keepalive() {
    let b = Backend::tagging("s").await;
    let rt = start(&config(b.addr, "1h", "1h")).await;
    let svc = listen(&rt, "svc");
    let (mut c, _) = open(svc).await;
    roundtrip(&mut c, "x").await.unwrap();
    let me = c.local_addr().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Our own client socket has no keepalive: the probe tells the difference.
    assert_eq!(timer_of(me, svc).as_deref(), Some("00"), "client socket");
    // Triage's accepted socket (svc -> me) and its socket to the server (? -> backend).
    assert_eq!(
        timer_of(svc, me).as_deref(),
        Some("02"),
        "client leg without keepalive"
    );
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let backend_hex = format!("{:04X}", b.port());
    let to_server: Vec<std::net::SocketAddr> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (la, ra, state) = (f.get(1)?, f.get(2)?, f.get(3)?);
            // Established only: a TIME_WAIT socket of an earlier test may name the same port.
            let open = *state == "01";
            (open && ra.ends_with(&format!(":{backend_hex}")) && ra.starts_with("0100007F")).then(
                || {
                    let port = u16::from_str_radix(la.split(':').nth(1).unwrap(), 16).unwrap();
                    sa(1, port)
                },
            )
        })
        .collect();
    assert_eq!(to_server.len(), 1, "one proxied connection to the server");
    assert_eq!(
        timer_of(to_server[0], b.addr).as_deref(),
        Some("02"),
        "server leg without keepalive"
    );
}

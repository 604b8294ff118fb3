//! `proxy_protocol = "v1" | "v2"`: the server receives a PROXY header naming the client's
//! address (a 127.0.0.7 source) and the service address the client connected to, before any
//! client byte; the client's bytes follow unchanged.

mod support;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A backend that reads a PROXY header (v1 line or v2 binary), reports it, then echoes.
async fn header_backend() -> (std::net::SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let l = bind(sa(1, 0), 16).unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let h = read_header(&mut s).await;
                let _ = tx.send(h).await;
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, rx)
}

async fn read_header(s: &mut TcpStream) -> Vec<u8> {
    let mut h = vec![0u8; 16];
    s.read_exact(&mut h).await.unwrap();
    if h.starts_with(b"PROXY ") {
        while !h.ends_with(b"\r\n") {
            h.push(s.read_u8().await.unwrap());
        }
    } else {
        let len = u16::from_be_bytes([h[14], h[15]]) as usize;
        let mut rest = vec![0u8; len];
        s.read_exact(&mut rest).await.unwrap();
        h.extend(rest);
    }
    h
}

/// Connects from 127.0.0.7 through a service with `version`; returns (header, client port,
/// service port).
async fn header_for(version: &str) -> (Vec<u8>, u16, u16) {
    let (backend, mut rx) = header_backend().await;
    let rt = start(&render(
        r#"
[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"
proxy_protocol = "{v}"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{s}"
"#,
        &[("v", version.to_string()), ("s", backend.to_string())],
    ))
    .await;
    let addr = listen(&rt, "svc");
    let mut c = connect_from(ip(7), addr).await.unwrap();
    let cport = c.local_addr().unwrap().port();
    c.write_all(b"first bytes\n").await.unwrap();
    let h = tokio::time::timeout(STEP, rx.recv())
        .await
        .unwrap()
        .unwrap();
    // The client's own bytes arrive after the header, unchanged.
    assert_eq!(read_line(&mut c).await.unwrap(), "first bytes");
    (h, cport, addr.port())
}

#[tokio::test]
async fn v1_header_names_client_and_service() {
    let (h, cport, sport) = header_for("v1").await;
    assert_eq!(
        String::from_utf8_lossy(&h),
        format!("PROXY TCP4 127.0.0.7 127.0.0.1 {cport} {sport}\r\n")
    );
}

#[tokio::test]
async fn v2_header_names_client_and_service() {
    let (h, cport, sport) = header_for("v2").await;
    let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    want.extend([0x21, 0x11, 0, 12]); // v2 PROXY, TCP over IPv4, 12 address bytes
    want.extend([127, 0, 0, 7, 127, 0, 0, 1]);
    want.extend(cport.to_be_bytes());
    want.extend(sport.to_be_bytes());
    assert_eq!(h, want);
}

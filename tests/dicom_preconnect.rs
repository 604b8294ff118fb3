//! `preconnect = true` on a `dicom` service: the server is connected while the A-ASSOCIATE-RQ
//! is read. Real peers (dcmtk echoscu/storescu → storescp) are served as without it, and the
//! files arrive; a refused request (garbage, or no request within `handshake_timeout`) gets
//! its A-ABORT as before while the server, connected early, receives not one byte; the key is
//! refused where the pool depends on the request.

mod dicom_support;
mod support;

use dicom_support::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config(server: std::net::SocketAddr) -> String {
    render(
        r#"
[[service]]
name = "pre"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
preconnect = true
handshake_timeout = "500ms"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{server}"
"#,
        &[("server", server.to_string())],
    )
}

#[tokio::test]
async fn real_peers_are_served_with_preconnect() {
    let scp = StoreScp::start("SCP").await;
    let rt = start(&config(scp.addr)).await;
    let addr = listen(&rt, "pre");
    echoscu(addr, "ANY-SCP")
        .await
        .expect_echo_ok("echoscu through a preconnect service");
    let tmp = TempDir::new("dicom-preconnect");
    for n in 1..=3 {
        let f = dicom_file(tmp.path(), n, None).await;
        storescu(addr, "ANY-SCP", &[&f])
            .await
            .expect_store_ok("storescu through a preconnect service");
    }
    assert_eq!(scp.files().len(), 3, "{}", scp.log());
    assert_eq!(associations(&rt, "pre", "ANY-SCP", "accepted"), 4);
}

/// A server that records, per connection, the bytes it received before the close.
struct Counting {
    addr: std::net::SocketAddr,
    conns: Arc<Mutex<Vec<usize>>>,
}

async fn counting() -> Counting {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(Mutex::new(Vec::new()));
    let c = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
                c.lock().unwrap().push(got.len());
            });
        }
    });
    Counting { addr, conns }
}

#[tokio::test]
async fn refused_requests_leave_the_early_connection_without_a_byte() {
    let server = counting().await;
    let rt = start(&config(server.addr)).await;
    let addr = listen(&rt, "pre");
    // Garbage: A-ABORT (unrecognized PDU).
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let pdu = read_pdu(&mut c).await.expect("an A-ABORT");
    assert_eq!(&pdu[..6], &[7, 0, 0, 0, 0, 4], "{pdu:02x?}");
    // No request within handshake_timeout: A-ABORT.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(&[1, 0, 0, 0]).await.unwrap();
    let pdu = read_pdu(&mut slow).await.expect("an A-ABORT");
    assert_eq!(pdu[0], 7, "{pdu:02x?}");
    // The early connections are closed, empty.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = server.conns.lock().unwrap().clone();
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, [0, 0], "bytes per early server connection");
}

#[test]
fn preconnect_is_refused_where_the_pool_depends_on_the_request() {
    for (extra, needle) in [
        (
            "preconnect = true\n  [[service.route]]\n  called_ae = \"X\"\n  pool = \"p\"\n",
            "preconnect needs a service without routes",
        ),
        ("preconnect = true\nae_title = \"GW\"\n", "own ae_title"),
    ] {
        let toml = format!(
            "[[service]]\nname = \"s\"\nlisten = [\"127.0.0.1:0\"]\nprotocol = \"dicom\"\n\
             pool = \"p\"\n{extra}\n[[pool]]\nname = \"p\"\n  [[pool.server]]\n  name = \"a\"\n  \
             address = \"127.0.0.1:1\"\n"
        );
        let err = triage::config::Config::parse("t.toml", &toml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle) && err.contains("t.toml:"), "{err}");
    }
}

//! `preconnect` on a `dicom` service (the default without routes, own AE or PROXY header): the
//! server is connected while the A-ASSOCIATE-RQ is read. Real peers (dcmtk echoscu/storescu →
//! storescp) are served as without it, and the files arrive; a refused request (garbage, or no
//! request within `handshake_timeout`) gets its A-ABORT as before, and a request that comes
//! late is served on a new connection, while the server's application never sees the early
//! connections (withdrawn half-open), nor those of clients that abort before the answer; the
//! key is refused where the pool depends on the request, and the default is off there.

mod dicom_support;
mod support;

use dicom_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const ECHO_AC: &[u8] = include_bytes!("../fixtures/dicom/storescp_echo_associate_ac.bin");
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config(server: std::net::SocketAddr, extra: &str) -> String {
    render(
        r#"
[[service]]
name = "pre"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
{extra}handshake_timeout = "500ms"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "s"
  address = "{server}"
"#,
        &[("server", server.to_string()), ("extra", extra.to_string())],
    )
}

#[tokio::test]
async fn real_peers_are_served_with_preconnect() {
    let scp = StoreScp::start("SCP").await;
    let rt = start(&config(scp.addr, "")).await;
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

/// A server that counts the connections it accepted and records, per connection, the bytes
/// it received before the close.
struct Counting {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicUsize>,
    conns: Arc<Mutex<Vec<usize>>>,
}

async fn counting() -> Counting {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (c, a) = (conns.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
                c.lock().unwrap().push(got.len());
            });
        }
    });
    Counting {
        addr,
        accepted,
        conns,
    }
}

/// Longer than the 200 ms after which Linux sends a saved handshake ACK on its own: an early
/// connection that had not been withdrawn by then would have reached the server's accept.
const PAST_THE_SAVED_ACK: Duration = Duration::from_millis(600);

#[tokio::test]
async fn refused_requests_leave_the_server_no_connection() {
    let server = counting().await;
    let rt = start(&config(server.addr, "preconnect = true\n")).await;
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
    // A client that connects and closes without a byte.
    drop(TcpStream::connect(addr).await.unwrap());
    // A request with an A-ABORT right behind it (one write): nothing to forward.
    let mut quitter = TcpStream::connect(addr).await.unwrap();
    let mut rq_abort = ECHOSCU_RQ.to_vec();
    rq_abort.extend_from_slice(&[7, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    quitter.write_all(&rq_abort).await.unwrap();
    tokio::time::sleep(PAST_THE_SAVED_ACK).await;
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        0,
        "early connections the server accepted (bytes: {:?})",
        server.conns.lock().unwrap()
    );
}

/// A request that comes after the early window is served on a connection made for it: the
/// early one was withdrawn unseen, and the retry budget (retries = 0 here) is intact.
#[tokio::test]
async fn a_late_request_gets_a_new_connection() {
    let scp = FakeScp::answering(ECHO_AC.to_vec()).await;
    let cfg = config(scp.addr, "preconnect = true\n").replace("500ms", "5s");
    let rt = start(&format!("[defaults]\nretries = 0\n{cfg}")).await;
    let addr = listen(&rt, "pre");
    let mut c = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(PAST_THE_SAVED_ACK).await;
    c.write_all(ECHOSCU_RQ).await.unwrap();
    let pdu = read_pdu(&mut c).await.expect("an answer");
    assert_eq!(pdu[0], 2, "A-ASSOCIATE-AC expected: {pdu:02x?}");
    assert_eq!(scp.requests(), 1, "requests the server saw");
}

/// A client that aborts while the connect made on accept is still under way (the server's
/// accept queue is full, so its first SYN goes unanswered until the retransmit a second
/// later): the connection, once made, is withdrawn unseen rather than given the request, and
/// the association counts as aborted by the client.
#[tokio::test]
async fn a_client_that_aborts_during_the_connect_leaves_the_server_nothing() {
    let hole = Blackhole::new().await;
    let cfg = config(hole.addr, "preconnect = true\n").replace("500ms", "5s");
    let rt = start(&format!("[defaults]\nconnect_timeout = \"5s\"\n{cfg}")).await;
    let addr = listen(&rt, "pre");
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(ECHOSCU_RQ).await.unwrap();
    // Read on its own first: the abort comes while triage waits for the connect.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A-ABORT (PS3.8 §9.3.8), the one PDU allowed while the answer is awaited.
    c.write_all(&[7, 0, 0, 0, 0, 4, 0, 0, 0, 0]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Room in the queue again: the connect completes with the SYN's retransmission.
    let (server, filler) = hole.into_parts();
    let (_filler_side, _) = server.accept().await.unwrap();
    wait_until("the abort counted", Duration::from_secs(10), || {
        associations(&rt, "pre", "ARCHIVE", "aborted") == 1
    })
    .await;
    let seen = tokio::time::timeout(PAST_THE_SAVED_ACK, server.accept()).await;
    assert!(
        seen.is_err(),
        "the server accepted a connection from the aborted association"
    );
    drop(filler);
}

#[tokio::test]
async fn the_default_is_on_without_routes_and_off_with_them() {
    let on =
        triage::config::Config::parse("t.toml", &config(([127, 0, 0, 1], 1).into(), "")).unwrap();
    assert!(on.services[0].preconnect, "no routes: on by default");
    let routed = config(([127, 0, 0, 1], 1).into(), "").replace(
        "handshake_timeout = \"500ms\"\n",
        "handshake_timeout = \"500ms\"\n  [[service.route]]\n  called_ae = \"X\"\n  pool = \"p\"\n",
    );
    let off = triage::config::Config::parse("t.toml", &routed).unwrap();
    assert!(!off.services[0].preconnect, "routes: off");
    let pp = config(([127, 0, 0, 1], 1).into(), "proxy_protocol = \"v2\"\n");
    let off = triage::config::Config::parse("t.toml", &pp).unwrap();
    assert!(!off.services[0].preconnect, "PROXY header: off");
    let no = config(([127, 0, 0, 1], 1).into(), "preconnect = false\n");
    let off = triage::config::Config::parse("t.toml", &no).unwrap();
    assert!(!off.services[0].preconnect, "explicitly off");
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

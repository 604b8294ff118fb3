//! Bad input on the DICOM listener, from raw sockets: a truncated A-ASSOCIATE-RQ, a PDU length of
//! 0xFFFFFFFF, an HTTP request, a PDU other than the RQ, a client that never finishes its RQ
//! (or trickles it byte by byte) past `handshake_timeout`, and a few hundred mutated RQs. Each
//! ends with an A-ABORT PDU (or, for a client that already closed, nothing) — never a bare
//! reset, never a panic — nothing reaches a server, and a real `echoscu` is served afterwards.

mod dicom_support;
mod support;

use dicom_support::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// echoscu's C-ECHO-RQ P-DATA-TF (sent only after the A-ASSOCIATE-AC, by a well-behaved client).
const ECHO_PDATA: &[u8] = include_bytes!("../fixtures/dicom/echoscu_echo_rq_pdata.bin");
/// A-RELEASE-RQ from dcmtk (a valid PDU, but not what opens an association).
const RELEASE_RQ: &[u8] = include_bytes!("../fixtures/dicom/echoscu_release_rq.bin");
/// The A-ASSOCIATE-AC dcmtk's storescp sent to that RQ.
const STORESCP_AC: &[u8] = include_bytes!("../fixtures/dicom/storescp_echo_associate_ac.bin");

/// A gateway whose ARTIM is 500 ms: called AE `ARCHIVE` (the fixture RQ's) goes to a plain TCP
/// backend that counts connections (nothing may reach it); anything else to a real storescp.
struct Gw {
    rt: Arc<triage::Runtime>,
    addr: std::net::SocketAddr,
    counter: Backend,
    _scp: StoreScp,
}

async fn gateway(service: &str) -> Gw {
    let counter = Backend::echo().await;
    let scp = StoreScp::start("SCP").await;
    let toml = render(
        r#"
[[service]]
name = "{service}"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "scp"
handshake_timeout = "500ms"

  [[service.route]]
  called_ae = "ARCHIVE"
  pool = "counter"

[[pool]]
name = "scp"
health = { kind = "none" }
  [[pool.server]]
  name = "scp"
  address = "{scp}"

[[pool]]
name = "counter"
health = { kind = "none" }
  [[pool.server]]
  name = "counter"
  address = "{counter}"
"#,
        &[
            ("service", service.to_string()),
            ("scp", scp.addr.to_string()),
            ("counter", counter.addr.to_string()),
        ],
    );
    let rt = start(&toml).await;
    let addr = listen(&rt, service);
    Gw {
        rt,
        addr,
        counter,
        _scp: scp,
    }
}

impl Gw {
    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr)
            .await
            .expect("connect to triage")
    }

    /// Nothing reached a server and a real client is still served.
    async fn still_fine(&self) {
        assert_eq!(
            self.counter
                .accepted
                .load(std::sync::atomic::Ordering::SeqCst),
            0,
            "bad input reached a server"
        );
        echoscu(self.addr, "ANY-SCP")
            .await
            .expect_echo_ok("echoscu after bad input");
    }
}

/// Asserts an A-ABORT PDU (PS3.8 §9.3.8: 07 00 00000004 00 00 source reason) then the close;
/// returns the reason.
async fn expect_abort(s: &mut TcpStream, what: &str) -> u8 {
    let pdu = read_pdu(s)
        .await
        .unwrap_or_else(|| panic!("{what}: no PDU, the connection just ended"));
    assert_eq!(
        &pdu[..6],
        &[7, 0, 0, 0, 0, 4],
        "{what}: A-ABORT expected, got {pdu:02x?}"
    );
    assert_eq!(pdu[8], 2, "{what}: source service-provider");
    assert!(
        closes_quietly(s).await,
        "{what}: connection not closed after the A-ABORT"
    );
    pdu[9]
}

#[tokio::test]
async fn truncated_request_is_aborted_or_dropped() {
    let gw = gateway("bad-truncated").await;
    // Truncated, then the client closes completely: nothing to answer, nothing may break.
    let mut c = gw.connect().await;
    c.write_all(&ECHOSCU_RQ[..100]).await.unwrap();
    drop(c);
    // Truncated, then the client half-closes and listens: it gets an A-ABORT.
    let mut c = gw.connect().await;
    c.write_all(&ECHOSCU_RQ[..100]).await.unwrap();
    c.shutdown().await.unwrap();
    expect_abort(&mut c, "truncated RQ").await;
    gw.still_fine().await;
    wait_until("both counted as aborted", Duration::from_secs(5), || {
        associations(&gw.rt, "bad-truncated", "", "aborted") == 2
    })
    .await;
}

#[tokio::test]
async fn huge_length_http_and_wrong_pdu_are_aborted() {
    let gw = gateway("bad-garbage").await;
    let mut c = gw.connect().await;
    c.write_all(&[1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0])
        .await
        .unwrap();
    let reason = expect_abort(&mut c, "PDU length 0xFFFFFFFF").await;
    assert_eq!(reason, 6, "invalid-PDU-parameter value");

    let mut c = gw.connect().await;
    c.write_all(b"GET / HTTP/1.1\r\nHost: triage\r\n\r\n")
        .await
        .unwrap();
    let reason = expect_abort(&mut c, "HTTP request").await;
    assert_eq!(reason, 1, "unrecognized-PDU");

    let mut c = gw.connect().await;
    c.write_all(RELEASE_RQ).await.unwrap();
    let reason = expect_abort(&mut c, "A-RELEASE-RQ first").await;
    assert_eq!(reason, 2, "unexpected-PDU");
    gw.still_fine().await;
}

#[tokio::test]
async fn slow_clients_are_aborted_after_the_handshake_timeout() {
    let gw = gateway("bad-slow").await;
    // Stops after 10 bytes.
    let mut c = gw.connect().await;
    let t0 = Instant::now();
    c.write_all(&ECHOSCU_RQ[..10]).await.unwrap();
    expect_abort(&mut c, "stalled RQ").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "aborted before the handshake timeout"
    );

    // Trickles one byte every 100 ms: the limit is for the whole RQ, not per read.
    let c = gw.connect().await;
    let (mut r, mut w) = c.into_split();
    let trickle = tokio::spawn(async move {
        for b in ECHOSCU_RQ {
            if w.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut head = [0u8; 6];
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_exact(&mut r, &mut head),
    )
    .await;
    assert!(
        matches!(got, Ok(Ok(_))),
        "no answer to a trickling client: {got:?}"
    );
    assert_eq!(head, [7, 0, 0, 0, 0, 4], "A-ABORT expected");
    trickle.abort();
    gw.still_fine().await;
}

/// xorshift64*: deterministic mutations, reproducible from the printed input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[tokio::test]
async fn mutated_requests_always_get_a_pdu_answer() {
    // The server accepts everything with storescp's captured AC (and then answers nothing).
    let fake = FakeScp::answering(STORESCP_AC.to_vec()).await;
    let toml = render(
        r#"
[[service]]
name = "bad-mutated"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
handshake_timeout = "200ms"
ae_title = "GW"

[[pool]]
name = "p"
health = { kind = "none" }
  [[pool.server]]
  name = "fake"
  address = "{addr}"
  ae_title = "FAKE"
"#,
        &[("addr", fake.addr.to_string())],
    );
    let rt = start(&toml).await;
    let addr = listen(&rt, "bad-mutated");
    let mut rng = Rng(0x7269_6167_6500_0004);
    let mut kinds = [0usize; 8];
    for i in 0..300 {
        let mut rq = ECHOSCU_RQ.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(rq.len());
            rq[at] = match rng.below(3) {
                0 => rq[at] ^ (1 << rng.below(8)),
                1 => 0xFF,
                _ => rng.next() as u8,
            };
        }
        let cut = rng.below(8) == 0;
        if cut {
            rq.truncate(1 + rng.below(rq.len() - 1));
        }
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(&rq).await.expect("send");
        if cut {
            c.shutdown().await.expect("half-close"); // else it would wait for ARTIM
        }
        let answer = read_pdu(&mut c).await;
        let t = answer.as_ref().map(|p| p[0]);
        // A mutated length may leave triage waiting for more bytes until ARTIM: A-ABORT too.
        assert!(
            matches!(t, Some(2 | 3 | 7)),
            "input #{i} got {answer:02x?} instead of AC/RJ/A-ABORT; input: {rq:02x?}"
        );
        kinds[t.unwrap_or(0) as usize] += 1;
    }
    assert!(
        kinds[2] > 0 && kinds[7] > 0,
        "mutations both accepted and aborted: {kinds:?}"
    );
    // Still alive: the unmutated request is accepted, and a local C-ECHO is answered.
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(ECHOSCU_RQ).await.expect("send");
    assert_eq!(
        read_pdu(&mut c).await.map(|p| p[0]),
        Some(2),
        "A-ASSOCIATE-AC"
    );
    echoscu(addr, "GW")
        .await
        .expect_echo_ok("local echoscu after the mutated requests");
}

/// A client that sends its first P-DATA together with its A-ASSOCIATE-RQ (without waiting for
/// the A-ASSOCIATE-AC) breaks protocol (PS3.8 §9.2, AA-8): A-ABORT unexpected-PDU, and nothing
/// reaches a server. An A-ABORT sent right behind the request just ends it, quietly.
#[tokio::test]
async fn bytes_sent_behind_the_request_before_the_answer() {
    let gw = gateway("bad-early").await;
    let mut c = gw.connect().await;
    let mut both = ECHOSCU_RQ.to_vec();
    both.extend_from_slice(ECHO_PDATA);
    c.write_all(&both).await.unwrap();
    let reason = expect_abort(&mut c, "P-DATA right behind the RQ").await;
    assert_eq!(reason, 2, "unexpected-PDU");

    let mut c = gw.connect().await;
    let mut both = ECHOSCU_RQ.to_vec();
    both.extend_from_slice(&[7, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    c.write_all(&both).await.unwrap();
    assert!(
        closes_quietly(&mut c).await,
        "an A-ABORT behind the RQ: closed without a PDU"
    );
    gw.still_fine().await;
    wait_until("both counted as aborted", Duration::from_secs(5), || {
        associations(&gw.rt, "bad-early", "ARCHIVE", "aborted") == 2
    })
    .await;
}

//! The client-side deadlines of an `xds` service (`handshake_timeout`): a request head that
//! never completes and a SOAP header that never arrives are cut — the head by closing the
//! connection, the SOAP header with a SOAP 1.2 Sender Fault (HTTP 400) — while keep-alive
//! requests that each take less than the limit, together longer than it, all get through
//! (the deadlines share one timer per connection, moved from request to request). Raw TCP
//! clients: curl cannot stall in the middle of a request.

mod support;
mod xds_support;

use std::time::Duration;
use support::{listen, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xds_support::*;

const LIMIT: &str = "handshake_timeout = \"600ms\"";

/// Reads until the peer closes (or 10 s pass); returns what was read.
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_completes_is_cut() {
    let b = Backends::start().await;
    let rt = start(&config(&b, LIMIT)).await;
    let mut s = TcpStream::connect(listen(&rt, "xds")).await.unwrap();
    s.write_all(b"POST /xds HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut s).await;
    // Closed (hyper may answer 408 first); never forwarded.
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert_eq!(b.log.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soap_header_that_never_arrives_is_a_sender_fault() {
    let b = Backends::start().await;
    let rt = start(&config(&b, LIMIT)).await;
    let body = std::fs::read_to_string(fixture("iti18-request.xml")).unwrap();
    let mut s = TcpStream::connect(listen(&rt, "xds")).await.unwrap();
    // The head and the envelope's first 100 bytes, then nothing.
    s.write_all(soap_post_head(body.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(&body.as_bytes()[..100]).await.unwrap();
    let got = read_to_close(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got:?}");
    assert!(
        got.contains("env:Sender") && got.contains("no SOAP header within"),
        "{got:?}"
    );
    assert_eq!(b.log.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_requests_each_within_the_limit_all_get_through() {
    let b = Backends::start().await;
    let rt = start(&config(&b, LIMIT)).await;
    let body = std::fs::read_to_string(fixture("iti18-request.xml")).unwrap();
    let mut s = TcpStream::connect(listen(&rt, "xds")).await.unwrap();
    // Five requests, each sent in two halves 250 ms apart, with 250 ms between requests:
    // 2.5 s on one connection, no wait longer than 600 ms.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (a, z) = body.split_at(body.len() / 2);
        s.write_all(format!("{}{a}", soap_post_head(body.len())).as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        s.write_all(z.as_bytes()).await.unwrap();
        let r = read_response(&mut s).await;
        assert!(r.starts_with("HTTP/1.1 200"), "request {i}: {r:?}");
    }
    assert_eq!(b.log.len(), 5);
}

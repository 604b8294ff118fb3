//! One request from a client that shuts down its write side right after sending it (RFC 9112
//! §9.6), and everything read until the proxy closes: shared by the `http` and `xds` tests.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request`, half-closes, and returns what came back (within 10 s).
pub async fn half_closed_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .expect("answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&got).into_owned()
}

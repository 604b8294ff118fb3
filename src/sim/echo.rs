//! The TCP echo simulator: every byte received is sent back.

use tokio::net::TcpStream;

pub async fn session(mut s: TcpStream) {
    let (mut r, mut w) = s.split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

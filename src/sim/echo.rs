//! The TCP echo simulator: every byte received is sent back.

use tokio::net::TcpListener;

pub async fn serve(l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
    }
}

//! Health kind `connect`: the port accepts a TCP connection (closed at once with a FIN).

use super::{BoxFuture, Check, Probe, Target};

pub struct ConnectCheck;

impl Check for ConnectCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            match tokio::net::TcpStream::connect(t.addr).await {
                Ok(_) => Probe::up("connected"),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    Probe::down("connection refused")
                }
                Err(e) => Probe::down(format!("connect failed: {e}")),
            }
        })
    }
}

//! Small in-test backends for ports no installed program serves: a UDP echo that prefixes its
//! name ([`UdpEcho`]) and a TCP server that writes its name on accept, then echoes
//! ([`TagServer`], stoppable and restartable on the same address), with their clients.

use super::*;
use tokio::net::UdpSocket;

/// A UDP backend that answers every datagram with `NAME:` followed by the datagram.
#[derive(Debug)]
pub struct UdpEcho {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UdpEcho {
    pub async fn start(name: &str, addr: SocketAddr) -> UdpEcho {
        let s = UdpSocket::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("udp echo on {addr}: {e}"));
        let addr = s.local_addr().unwrap();
        let name = name.to_string();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, from)) = s.recv_from(&mut buf).await else {
                    continue;
                };
                let mut out = format!("{name}:").into_bytes();
                out.extend_from_slice(&buf[..n]);
                let _ = s.send_to(&out, from).await;
            }
        });
        UdpEcho { addr, task }
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends one datagram from a socket bound to `src` and waits (bounded) for the answer; returns
/// it with the address it came from.
pub async fn udp_ask(sock: &UdpSocket, to: SocketAddr, msg: &str) -> Option<(String, SocketAddr)> {
    sock.send_to(msg.as_bytes(), to).await.expect("udp send");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from)),
        _ => None,
    }
}

/// A TCP backend that writes `NAME\n` on accept, then echoes every byte; stops listening on
/// drop or [`TagServer::stop`] (accepted connections keep running).
#[derive(Debug)]
pub struct TagServer {
    pub name: String,
    pub addr: SocketAddr,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TagServer {
    pub async fn start(name: &str, addr: SocketAddr) -> TagServer {
        let t = TagServer {
            name: name.to_string(),
            addr,
            task: Mutex::new(None),
        };
        t.listen();
        t
    }

    fn listen(&self) {
        let s = tokio::net::TcpSocket::new_v4().expect("socket");
        s.set_reuseaddr(true).expect("reuseaddr");
        s.bind(self.addr)
            .unwrap_or_else(|e| panic!("tag server {} on {}: {e}", self.name, self.addr));
        let l = s.listen(128).expect("listen");
        let name = self.name.clone();
        let h = tokio::spawn(async move {
            loop {
                let Ok((mut c, _)) = l.accept().await else {
                    continue;
                };
                let name = name.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if c.write_all(format!("{name}\n").as_bytes()).await.is_ok() {
                        let (mut r, mut w) = c.split();
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(h);
    }

    /// Closes the listening socket.
    pub async fn stop(&self) {
        let h = self.task.lock().unwrap().take();
        if let Some(h) = h {
            h.abort();
            let _ = h.await;
        }
    }

    /// Listens again on the same address.
    pub fn restart(&self) {
        self.listen();
    }
}

impl Drop for TagServer {
    fn drop(&mut self) {
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

/// Connects from `src` to `dst` and reads the backend's tag line; the stream stays open.
pub async fn tag_from(
    src: IpAddr,
    dst: SocketAddr,
) -> Result<(tokio::net::TcpStream, String), String> {
    use tokio::io::AsyncReadExt;
    let s = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    s.bind(SocketAddr::new(src, 0)).map_err(|e| e.to_string())?;
    let mut c = tokio::time::timeout(Duration::from_secs(5), s.connect(dst))
        .await
        .map_err(|_| format!("connect to {dst} timed out"))?
        .map_err(|e| format!("connect to {dst}: {e}"))?;
    let mut line = Vec::new();
    let read = async {
        loop {
            let mut b = [0u8; 1];
            match c.read(&mut b).await {
                Ok(0) | Err(_) => {
                    return Err(format!("closed after {:?}", String::from_utf8_lossy(&line)))
                }
                Ok(_) if b[0] == b'\n' => return Ok(()),
                Ok(_) => line.push(b[0]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| format!("no tag from {dst} within 5 s"))??;
    Ok((c, String::from_utf8_lossy(&line).into_owned()))
}

/// The tag a new connection from `src` to `dst` reads (panics on failure).
pub async fn tag(src: IpAddr, dst: SocketAddr) -> String {
    tag_from(src, dst).await.unwrap_or_else(|e| panic!("{e}")).1
}

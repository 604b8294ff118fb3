//! The one byte relay every protocol reuses after its handshake: bytes both ways, half-close
//! forwarded, idle timeout, byte counters. It waits for readability first and borrows a buffer
//! from [`crate::bufpool`] only while bytes are in flight, so an idle connection costs a socket
//! and a small future, not a buffer.

use crate::bufpool::Buf;
use crate::error::{GatewayError, Side};
use crate::timer::Timer;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Byte counters shared by every connection of a service (for status and metrics).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Client → server.
    pub up: AtomicU64,
    /// Server → client.
    pub down: AtomicU64,
}

/// What one relay moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    pub up: u64,
    pub down: u64,
}

/// Idle limits. Bytes moving in either direction pass through both legs, so they keep both
/// alive: a long one-way upload never times out; the connection is cut when nothing has moved
/// for the smaller of the two.
#[derive(Clone, Copy, Debug)]
pub struct Idle {
    pub client: Duration,
    pub server: Duration,
}

/// Relays until both directions have ended (each end's FIN forwarded to the other), an error,
/// or the idle timeout (on the connection's `timer`).
pub async fn relay(
    client: &TcpStream,
    server: &TcpStream,
    idle: Idle,
    traffic: &Traffic,
    timer: &mut Timer<'_>,
) -> Result<Transfer, GatewayError> {
    let epoch = Instant::now();
    let last = AtomicU64::new(0);
    let (up_c, down_c) = ([&traffic.up], [&traffic.down]);
    let one_ended = AtomicBool::new(false);
    let (limit, side) = if idle.client <= idle.server {
        (idle.client, Side::Client)
    } else {
        (idle.server, Side::Server)
    };
    tokio::select! {
        biased;
        // The pumps are created inside the block so the future holds them once, not twice
        // (≈600 B less per idle connection, measured with the load harness).
        r = async {
            tokio::try_join!(
                pump(client, server, Side::Client, &last, epoch, &up_c, &one_ended),
                pump(server, client, Side::Server, &last, epoch, &down_c, &one_ended),
            )
        } => r.map(|(up, down)| Transfer { up, down }),
        _ = timer.idle(&last, epoch, limit) => Err(GatewayError::Idle { side, after: limit }),
    }
}

pub(crate) fn io_err(side: Side) -> impl Fn(io::Error) -> GatewayError {
    move |e| match side {
        Side::Client => GatewayError::ClientIo(e),
        _ => GatewayError::ServerIo(e),
    }
}

/// Copies `src` → `dst` until `src` ends; then half-closes `dst` (its FIN forwarded) unless
/// the other direction ended first (`one_ended`): the relay is then over and both sockets are
/// closed right after, which sends that FIN anyway.
///
/// System calls per connection matter (a short connection is a few reads and writes): reads go
/// through [`try_read_drained`], so the pump waits for the next event after a short read
/// instead of reading again only to hear "would block".
pub(crate) async fn pump(
    src: &TcpStream,
    dst: &TcpStream,
    src_side: Side,
    last: &AtomicU64,
    epoch: Instant,
    counters: &[&AtomicU64],
    one_ended: &AtomicBool,
) -> Result<u64, GatewayError> {
    let dst_side = if src_side == Side::Client {
        Side::Server
    } else {
        Side::Client
    };
    let mut total = 0u64;
    loop {
        read_ready(src).await.map_err(io_err(src_side))?;
        // Whether the peer's FIN had come when the read below begins (then a short read
        // takes everything up to it).
        let fin = fin_seen(src) && closed_cleanly(src);
        let mut buf = Buf::get();
        let room = buf.len();
        let n = match try_read_drained(src, room, || src.try_read(&mut buf)) {
            Some(r) => r.map_err(io_err(src_side))?,
            None => continue,
        };
        if n == 0 {
            // First to end: forward the FIN; the other direction keeps flowing.
            if !one_ended.swap(true, Ordering::Relaxed) {
                forward_fin(dst).map_err(io_err(dst_side))?;
            }
            return Ok(total);
        }
        // The peer's FIN came with these bytes (a short read, and the end seen before it):
        // they are the last, and go out with the FIN in one segment instead of two, without
        // the read that would only return the end.
        let last_bytes = n < room && fin;
        if last_bytes {
            write_last(dst, &buf[..n]).await.map_err(io_err(dst_side))?;
        } else {
            write_all(dst, &buf[..n]).await.map_err(io_err(dst_side))?;
        }
        drop(buf);
        last.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        for c in counters {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        total += n as u64;
        if last_bytes {
            // Always half-closed here (also when the other direction ended first): the FIN
            // is what pushes the bytes held back by `MSG_MORE`.
            one_ended.store(true, Ordering::Relaxed);
            forward_fin(dst).map_err(io_err(dst_side))?;
            return Ok(total);
        }
    }
}

/// Half-closes `dst` (its write side); a peer already gone is not an error here.
fn forward_fin(dst: &TcpStream) -> io::Result<()> {
    match socket2::SockRef::from(dst).shutdown(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
        _ => Ok(()),
    }
}

/// Whether `s` may have seen its peer's FIN, asked of the readiness tokio keeps (no system
/// call, and unlike [`closed_cleanly`] not the socket's waiter lock: this runs once per read).
/// [`read_ready`] does not return the readiness; on Linux the `PRIORITY` interest covers the
/// read-closed bit and urgent data, which epoll does not report here (not asked for), and
/// [`closed_cleanly`] tells the two apart.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn fin_seen(s: &TcpStream) -> bool {
    s.try_io(Interest::PRIORITY, || Ok(())).is_ok()
}

/// Elsewhere the exact check every time.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn fin_seen(_: &TcpStream) -> bool {
    true
}

/// Whether `s` has seen its peer's FIN and no error (a reset is left to the next read to
/// report). tokio keeps that readiness once the event came, so asking costs no system call.
fn closed_cleanly(s: &TcpStream) -> bool {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut ready = std::pin::pin!(s.ready(Interest::READABLE | Interest::ERROR));
    matches!(
        ready.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(Ok(r)) if r.is_read_closed() && !r.is_error()
    )
}

/// Flags of the last write before a FIN: hold the bytes for the FIN (Linux `MSG_MORE`; the
/// half-close right after sends both); no SIGPIPE from a peer that has gone.
#[cfg(target_os = "linux")]
const LAST_WRITE_FLAGS: libc::c_int = libc::MSG_MORE | libc::MSG_NOSIGNAL;
#[cfg(not(target_os = "linux"))]
const LAST_WRITE_FLAGS: libc::c_int = 0;

/// Writes the last bytes before a half-close: one `send` with [`LAST_WRITE_FLAGS`] when the
/// socket takes them all at once, else like [`write_all`]. The caller half-closes `s` next.
async fn write_last(s: &TcpStream, b: &[u8]) -> io::Result<()> {
    let sock = socket2::SockRef::from(s);
    match s.try_io(Interest::WRITABLE, || {
        sock.send_with_flags(b, LAST_WRITE_FLAGS)
    }) {
        Ok(n) => write_all(s, &b[n..]).await,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => write_all(s, b).await,
        Err(e) => Err(e),
    }
}

/// One non-blocking read of `s` by `read` (which returns the byte count) into a buffer with room
/// for `room` bytes; `None` if there was nothing to read after all.
///
/// A read that returns less than it had room for drained the socket (TCP hands over everything
/// queued), so its read readiness is cleared then and there: the next wait costs no system call
/// that only hears "would block". Race-free: tokio clears it only if no new readiness event came
/// in since the read began, and keeps a seen end of stream ready.
pub(crate) fn try_read_drained(
    s: &TcpStream,
    room: usize,
    mut read: impl FnMut() -> io::Result<usize>,
) -> Option<io::Result<usize>> {
    let mut got = None;
    let r = s.try_io(Interest::READABLE, || {
        let n = read()?;
        got = Some(n);
        if n > 0 && n < room {
            Err(io::ErrorKind::WouldBlock.into()) // drained: clear the readiness
        } else {
            Ok(())
        }
    });
    match (got, r) {
        (Some(n), _) => Some(Ok(n)),
        (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => None,
        (None, Err(e)) => Some(Err(e)),
        (None, Ok(())) => None,
    }
}

/// Waits until `s` is readable or its peer has closed, through the socket's own reader slot
/// (`poll_read_ready`). tokio's `readable()` and `ready()` futures put a waiter in the
/// socket's list: four takes of its lock per wait against two, and one more when dropped even
/// if they never waited. The slot holds one waker: each caller is the one reader of its socket.
pub(crate) async fn read_ready(s: &TcpStream) -> io::Result<()> {
    std::future::poll_fn(|cx| s.poll_read_ready(cx)).await
}

/// Writes all of `b` to a shared `&TcpStream`: the write first (tokio answers "would block"
/// without a system call while the socket is not writable), a wait only when it would block,
/// through the socket's writer slot (`poll_write_ready`; see [`read_ready`] for why not
/// `writable()`: ≈70 instructions per write, six writes per DICOM association).
pub async fn write_all(s: &TcpStream, mut b: &[u8]) -> io::Result<()> {
    while !b.is_empty() {
        match s.try_write(b) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => b = &b[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::future::poll_fn(|cx| s.poll_write_ready(cx)).await?
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Two ends of a loopback TCP connection, for the tests of the relays, PDU readers and
/// connection pools.
#[cfg(test)]
pub(crate) async fn test_pair() -> (TcpStream, TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::test_pair as pair;
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the pump's end-of-stream check rests on: tokio's kept readiness shows the peer's
    /// FIN through the `PRIORITY` interest once the event came, and not data alone.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn fin_seen_reads_the_kept_read_closed_bit() {
        let (a, mut b) = pair().await;
        assert!(!fin_seen(&a), "nothing came yet");
        b.write_all(b"x").await.unwrap();
        let r = a.ready(Interest::READABLE).await.unwrap();
        assert!(r.is_readable() && !r.is_read_closed());
        assert!(!fin_seen(&a), "data alone is not the end");
        b.shutdown().await.unwrap();
        while !a.ready(Interest::READABLE).await.unwrap().is_read_closed() {
            tokio::task::yield_now().await;
        }
        assert!(fin_seen(&a) && closed_cleanly(&a), "the FIN is seen");
        let mut buf = [0u8; 8];
        assert_eq!(
            a.try_read(&mut buf).unwrap(),
            1,
            "the byte before it is still there"
        );
    }

    /// [`relay`] on a timer first armed for 10 ms, earlier than every limit of these tests.
    async fn run(
        client: &TcpStream,
        server: &TcpStream,
        idle: Idle,
        traffic: &Traffic,
    ) -> Result<Transfer, GatewayError> {
        let sleep = std::pin::pin!(tokio::time::sleep(Duration::from_millis(10)));
        relay(client, server, idle, traffic, &mut Timer::new(sleep)).await
    }

    #[tokio::test]
    async fn half_close_and_reply() {
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        let t = Traffic::default();
        let idle = Idle {
            client: Duration::from_secs(5),
            server: Duration::from_secs(5),
        };
        let h = tokio::spawn(async move {
            run(&cli_proxy, &srv_proxy, idle, &t)
                .await
                .map(|x| (x, t.up.load(Ordering::Relaxed)))
        });
        cli.write_all(b"hello").await.unwrap();
        cli.shutdown().await.unwrap();
        let mut got = Vec::new();
        srv.read_to_end(&mut got).await.unwrap(); // EOF arrives: the FIN was forwarded
        assert_eq!(got, b"hello");
        srv.write_all(b"reply after FIN").await.unwrap();
        drop(srv);
        let mut back = Vec::new();
        cli.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"reply after FIN");
        let (tr, counted) = h.await.unwrap().unwrap();
        assert_eq!(tr, Transfer { up: 5, down: 15 });
        assert_eq!(counted, 5);
    }

    fn idle5() -> Idle {
        Idle {
            client: Duration::from_secs(5),
            server: Duration::from_secs(5),
        }
    }

    /// The server's last bytes and its FIN are already there when the relay first reads (so
    /// they go on as one write held for the FIN, and the half-close): all of them arrive, then
    /// the end, and the client's answer to that end still reaches the server.
    #[tokio::test]
    async fn last_bytes_with_the_fin_arrive_before_the_end() {
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        srv.write_all(b"A-RELEASE-RP").await.unwrap();
        srv.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Traffic::default();
        let h = tokio::spawn(async move { run(&cli_proxy, &srv_proxy, idle5(), &t).await });
        let mut got = Vec::new();
        cli.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"A-RELEASE-RP");
        cli.write_all(b"late").await.unwrap();
        cli.shutdown().await.unwrap();
        let mut up = Vec::new();
        srv.read_to_end(&mut up).await.unwrap();
        assert_eq!(up, b"late");
        assert_eq!(h.await.unwrap().unwrap(), Transfer { up: 4, down: 12 });
    }

    /// Last bytes that do not fit the client's socket at once (it is not reading yet): the
    /// rest follows by ordinary writes, nothing is lost or held back.
    #[tokio::test]
    async fn a_large_last_chunk_is_written_whole() {
        let (mut cli, cli_proxy) = pair().await;
        let (srv_proxy, mut srv) = pair().await;
        let body: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let t = Traffic::default();
        let h = tokio::spawn(async move { run(&cli_proxy, &srv_proxy, idle5(), &t).await });
        let sent = body.clone();
        let w = tokio::spawn(async move {
            srv.write_all(&sent).await.unwrap();
            srv.shutdown().await.unwrap();
            srv
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut got = Vec::new();
        cli.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), body.len());
        assert!(got == body, "bytes differ");
        drop(cli);
        drop(w.await.unwrap());
        let tr = h.await.unwrap().unwrap();
        assert_eq!(tr.down, body.len() as u64);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_cuts() {
        let (_cli, cli_proxy) = pair().await;
        let (srv_proxy, _srv) = pair().await;
        let idle = Idle {
            client: Duration::from_secs(60),
            server: Duration::from_secs(3600),
        };
        let r = run(&cli_proxy, &srv_proxy, idle, &Traffic::default()).await;
        assert!(
            matches!(
                r,
                Err(GatewayError::Idle {
                    side: Side::Client,
                    ..
                })
            ),
            "{r:?}"
        );
    }
}

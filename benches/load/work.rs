//! The harness's own end of the traffic, all on one current-thread tokio runtime (pinned with
//! the harness to its core): the three backends (a sink that counts an upload, a responder that
//! answers one 1 KiB request with 1 KiB and closes, an echo) and the clients of each workload.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Request and reply size of the short-connection and ping-pong workloads.
pub const MSG: usize = 1024;
/// Write size of the bulk upload.
const CHUNK: usize = 256 * 1024;

/// One address per backend kind (the backends themselves, or a proxy's frontends for them).
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    pub sink: SocketAddr,
    pub resp: SocketAddr,
    pub echo: SocketAddr,
}

/// Starts the backends on loopback, on the current runtime.
pub async fn start_backends() -> io::Result<Addrs> {
    let sink = TcpListener::bind("127.0.0.1:0").await?;
    let resp = TcpListener::bind("127.0.0.1:0").await?;
    let echo = TcpListener::bind("127.0.0.1:0").await?;
    let a = Addrs {
        sink: sink.local_addr()?,
        resp: resp.local_addr()?,
        echo: echo.local_addr()?,
    };
    tokio::spawn(serve(sink, sink_conn));
    tokio::spawn(serve(resp, resp_conn));
    tokio::spawn(serve(echo, echo_conn));
    Ok(a)
}

async fn serve<F, Fut>(l: TcpListener, f: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                let fut = f(s);
                tokio::spawn(async move {
                    let _ = fut.await;
                });
            }
            // EMFILE and the like: back off rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Reads to EOF, then answers with the byte count (8 bytes, little endian) and closes.
async fn sink_conn(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    s.write_all(&total.to_le_bytes()).await?;
    s.shutdown().await
}

/// One 1 KiB request, one 1 KiB reply, then the server closes first.
async fn resp_conn(mut s: TcpStream) -> io::Result<()> {
    let mut b = [0u8; MSG];
    s.read_exact(&mut b).await?;
    s.write_all(&b).await?;
    s.shutdown().await
}

/// Echoes until EOF.
async fn echo_conn(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
    }
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// Uploads `total` bytes on one connection, half-closes, and waits for the sink's count.
pub async fn bulk(addr: SocketAddr, total: u64) -> io::Result<Duration> {
    let mut s = connect(addr).await?;
    let buf = vec![0x5au8; CHUNK];
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    s.shutdown().await?;
    let mut b = [0u8; 8];
    s.read_exact(&mut b).await?;
    let elapsed = start.elapsed();
    let got = u64::from_le_bytes(b);
    if got != total {
        return Err(other(format!("sink counted {got} bytes, sent {total}")));
    }
    Ok(elapsed)
}

/// One short connection: connect, 1 KiB request, read the 1 KiB reply to EOF, close.
async fn one_short(addr: SocketAddr, req: &[u8]) -> io::Result<()> {
    let mut s = connect(addr).await?;
    s.write_all(req).await?;
    let mut got = Vec::with_capacity(MSG);
    s.read_to_end(&mut got).await?;
    if got.len() != MSG {
        return Err(other(format!(
            "reply of {} bytes, expected {MSG}",
            got.len()
        )));
    }
    Ok(())
}

/// `n` short connections, `conc` at a time. Fails if any connection failed.
pub async fn short(addr: SocketAddr, n: usize, conc: usize) -> io::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (next, failed) = (next.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let req = [0x61u8; MSG];
            let mut first: Option<io::Error> = None;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                if let Err(e) = one_short(addr, &req).await {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first.get_or_insert(e);
                }
            }
            first
        }));
    }
    let mut first = None;
    for t in tasks {
        if let Ok(Some(e)) = t.await {
            first.get_or_insert(e);
        }
    }
    let elapsed = start.elapsed();
    match first {
        None => Ok(elapsed),
        Some(e) => Err(other(format!(
            "{} of {n} connections failed, first: {e}",
            failed.load(Ordering::Relaxed)
        ))),
    }
}

/// Result of the ping-pong workload.
#[derive(Debug)]
pub struct PingPong {
    pub elapsed: Duration,
    /// Round-trip times, sorted.
    pub rtt_ns: Vec<u64>,
}

impl PingPong {
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.rtt_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.rtt_ns.len() - 1) as f64 * p).round() as usize;
        self.rtt_ns[i] as f64 / 1000.0
    }
}

/// `conns` persistent connections to the echo backend, each doing `rts` sequential round trips
/// of 1 KiB each way.
pub async fn ping_pong(addr: SocketAddr, conns: usize, rts: usize) -> io::Result<PingPong> {
    let mut streams = Vec::new();
    for _ in 0..conns {
        streams.push(connect(addr).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut s in streams {
        tasks.push(tokio::spawn(async move {
            let req = [0x62u8; MSG];
            let mut back = [0u8; MSG];
            let mut lat = Vec::with_capacity(rts);
            for _ in 0..rts {
                let t = Instant::now();
                s.write_all(&req).await?;
                s.read_exact(&mut back).await?;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            io::Result::Ok(lat)
        }));
    }
    let mut rtt_ns = Vec::with_capacity(conns * rts);
    for t in tasks {
        let lat = t.await.map_err(|e| other(e.to_string()))??;
        rtt_ns.extend(lat);
    }
    let elapsed = start.elapsed();
    rtt_ns.sort_unstable();
    Ok(PingPong { elapsed, rtt_ns })
}

/// Opens `n` connections to the echo backend, each proving itself with one 1 KiB round trip,
/// and returns them open (idle), `conc` being opened at a time.
pub async fn open_idle(addr: SocketAddr, n: usize, conc: usize) -> io::Result<Vec<TcpStream>> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let batch = conc.min(n - held.len());
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            tasks.push(tokio::spawn(async move {
                let mut s = connect(addr).await?;
                let mut b = [0x63u8; MSG];
                s.write_all(&b).await?;
                s.read_exact(&mut b).await?;
                io::Result::Ok(s)
            }));
        }
        for t in tasks {
            held.push(t.await.map_err(|e| other(e.to_string()))??);
        }
    }
    Ok(held)
}

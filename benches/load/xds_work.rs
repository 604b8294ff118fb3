//! The XDS harness's clients (hyper HTTP/1.1, keep-alive, on the harness's runtime):
//! `query`, N connections each sending ITI-18 SOAP 1.2 requests (the fixture
//! `iti18-request.xml`, each request with its own `wsa:MessageID`) back to back; and
//! `upload`, ITI-41 MTOM uploads on one connection, the body generated on the fly (the
//! fixture's root part, one large `application/octet-stream` document part made of one
//! reused chunk, the closing boundary) and sent with Content-Length.
//! Neither carries the action in the Content-Type, so triage reads it from the envelope (plain
//! or the MTOM root part), its harder path.

use crate::xds_back::{header_u64, Document, BODY_BYTES, SUCCESS, WANT_BYTES};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

const ITI18_REQUEST: &str = include_str!("../../fixtures/xds/iti18-request.xml");
const ITI18_CT: &str = "application/soap+xml; charset=UTF-8";
const ITI43_REQUEST: &str = include_str!("../../fixtures/xds/iti43-request.xml");
const MTOM: &str = include_str!("../../fixtures/xds/iti41-mtom.txt");
const MTOM_CT: &str = include_str!("../../fixtures/xds/iti41-mtom.ct");
const BOUNDARY: &str = "MIMEBoundary_4c1b2a7f0e9d";
/// Size of the one chunk the document part is made of (each frame a slice of it).
const CHUNK: usize = 256 * 1024;

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// An ITI-41 MTOM body made on the fly: head (MIME root part and the document part's
/// headers), the document bytes, tail (closing boundary).
type Upload = Document;

/// The fixture up to the content of its document part (whose headers are replaced), and the
/// part's new headers.
fn mtom_head() -> io::Result<Bytes> {
    let second = format!("\r\n--{BOUNDARY}\r\n");
    let at = MTOM
        .find(&second)
        .ok_or_else(|| other("iti41-mtom.txt: no second MIME part"))?;
    let cid = MTOM[at..]
        .find("Content-ID: ")
        .map(|i| &MTOM[at + i + 12..])
        .and_then(|s| s.split("\r\n").next())
        .ok_or_else(|| other("iti41-mtom.txt: document part without Content-ID"))?;
    let head = format!(
        "{}{second}Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
         Content-ID: {cid}\r\n\r\n",
        &MTOM[..at]
    );
    Ok(Bytes::from(head))
}

fn upload_body(doc_bytes: u64, chunk: &Bytes) -> io::Result<Upload> {
    let tail = Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"));
    Ok(Document::new(mtom_head()?, chunk, doc_bytes, Some(tail)))
}

/// One keep-alive client connection.
async fn connect<B>(addr: SocketAddr) -> io::Result<SendRequest<B>>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(s))
        .await
        .map_err(|e| other(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request<B>(addr: SocketAddr, ct: &str, len: u64, body: B) -> io::Result<Request<B>> {
    let mut r = Request::post("/xds/b");
    let h = r
        .headers_mut()
        .ok_or_else(|| other("request builder failed"))?;
    h.insert(
        HOST,
        HeaderValue::from_str(&addr.to_string()).map_err(|e| other(e.to_string()))?,
    );
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(ct).map_err(|e| other(e.to_string()))?,
    );
    h.insert(BODY_BYTES, HeaderValue::from(len));
    r.body(body).map_err(|e| other(e.to_string()))
}

/// Sends one request once the connection is ready; the answer's head.
async fn send<B>(
    s: &mut SendRequest<B>,
    req: Request<B>,
) -> io::Result<hyper::Response<hyper::body::Incoming>>
where
    B: Body + 'static,
{
    s.ready().await.map_err(|e| other(format!("ready: {e}")))?;
    s.send_request(req)
        .await
        .map_err(|e| other(format!("request: {e}")))
}

/// Sends one request and reads the whole answer; an error unless it is 200 with Success.
async fn exchange<B>(s: &mut SendRequest<B>, req: Request<B>) -> io::Result<()>
where
    B: Body + 'static,
{
    let resp = send(s, req).await?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| other(format!("response body: {e}")))?
        .to_bytes();
    let success = body.windows(SUCCESS.len()).any(|w| w == SUCCESS);
    if status != StatusCode::OK || !success {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(other(format!("HTTP {status}, not a Success: {text}")));
    }
    Ok(())
}

/// Result of the query workload.
#[derive(Debug)]
pub struct Queries {
    pub elapsed: Duration,
    /// Request times, sorted.
    pub lat_ns: Vec<u64>,
}

impl Queries {
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.lat_ns.is_empty() {
            return f64::NAN;
        }
        let i = ((self.lat_ns.len() - 1) as f64 * p).round() as usize;
        self.lat_ns[i] as f64 / 1000.0
    }
}

/// The fixture's ITI-18 request with the `wsa:MessageID` made unique (WS-Addressing 1.0
/// §3.2): request `n` ends its UUID with `n` in hex, as a client's template would differ
/// from message to message.
fn iti18_body(template: &[u8], id_end: usize, n: usize) -> Bytes {
    let mut b = template.to_vec();
    let hex = format!("{n:012x}");
    b[id_end - 12..id_end].copy_from_slice(&hex.as_bytes()[hex.len() - 12..]);
    Bytes::from(b)
}

/// `total` ITI-18 requests over `conns` keep-alive connections, each sending back to back.
pub async fn query(addr: SocketAddr, conns: usize, total: usize) -> io::Result<Queries> {
    const ID: &str = "urn:uuid:a02ca8cd-86fa-4afc-a27c-16c183b20555";
    let id_end = ITI18_REQUEST
        .find(ID)
        .map(|i| i + ID.len())
        .ok_or_else(|| other("iti18-request.xml: no MessageID"))?;
    let template = Bytes::from_static(ITI18_REQUEST.as_bytes());
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        senders.push(connect::<http_body_util::Full<Bytes>>(addr).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut s in senders {
        let (next, template) = (next.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(total / conns + 1);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let body = iti18_body(&template, id_end, n);
                let len = body.len() as u64;
                let req = request(addr, ITI18_CT, len, http_body_util::Full::new(body))?;
                let t = Instant::now();
                exchange(&mut s, req).await?;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            io::Result::Ok(lat)
        }));
    }
    let mut lat_ns = Vec::with_capacity(total);
    let mut first = None;
    for t in tasks {
        match t.await.map_err(|e| other(e.to_string()))? {
            Ok(l) => lat_ns.extend(l),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    let elapsed = start.elapsed();
    lat_ns.sort_unstable();
    Ok(Queries { elapsed, lat_ns })
}

/// The MTOM Content-Type without its `action` parameter.
fn mtom_ct() -> String {
    MTOM_CT
        .trim()
        .split(';')
        .filter(|p| !p.trim_start().starts_with("action="))
        .collect::<Vec<_>>()
        .join(";")
}

/// `n` ITI-41 uploads of `doc_bytes` each, one after the other on one keep-alive connection.
/// Returns the time taken and the body bytes sent.
pub async fn upload(addr: SocketAddr, n: usize, doc_bytes: u64) -> io::Result<(Duration, u64)> {
    let mut s = connect::<Upload>(addr).await?;
    let chunk = Bytes::from(vec![0x5au8; CHUNK]);
    let ct = mtom_ct();
    let start = Instant::now();
    let mut sent = 0;
    for _ in 0..n {
        let body = upload_body(doc_bytes, &chunk)?;
        let len = body.total;
        exchange(&mut s, request(addr, &ct, len, body)?).await?;
        sent += len;
    }
    Ok((start.elapsed(), sent))
}

/// `n` ITI-43 retrieves of a `doc_bytes` document each, one after the other on one keep-alive
/// connection (the action found in the envelope); every answer read frame by frame, its byte
/// count checked against the repository's `X-Load-Body-Bytes` and its start for the Success
/// status. Returns the time taken and the body bytes received.
pub async fn retrieve(addr: SocketAddr, n: usize, doc_bytes: u64) -> io::Result<(Duration, u64)> {
    let mut s = connect::<http_body_util::Full<Bytes>>(addr).await?;
    let start = Instant::now();
    let mut got = 0;
    for _ in 0..n {
        let body = http_body_util::Full::new(Bytes::from_static(ITI43_REQUEST.as_bytes()));
        let mut req = request(addr, ITI18_CT, ITI43_REQUEST.len() as u64, body)?;
        req.headers_mut()
            .insert(WANT_BYTES, HeaderValue::from(doc_bytes));
        let resp = send(&mut s, req).await?;
        let status = resp.status();
        let announced = header_u64(resp.headers(), BODY_BYTES);
        let mut body = resp.into_body();
        let (mut len, mut head) = (0u64, Vec::new());
        while let Some(f) = body.frame().await {
            let f = f.map_err(|e| other(format!("response body: {e}")))?;
            if let Some(d) = f.data_ref() {
                len += d.len() as u64;
                if head.len() < 1024 {
                    head.extend_from_slice(&d[..d.len().min(1024 - head.len())]);
                }
            }
        }
        let success = head.windows(SUCCESS.len()).any(|w| w == SUCCESS);
        if status != StatusCode::OK || !success || announced != Some(len) {
            let text = String::from_utf8_lossy(&head[..head.len().min(300)]).into_owned();
            return Err(other(format!(
                "HTTP {status}, {len} bytes (announced {announced:?}), not a Success document: {text}"
            )));
        }
        got += len;
    }
    Ok((start.elapsed(), got))
}

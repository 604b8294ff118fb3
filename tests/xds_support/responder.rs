//! A small XDS registry/repository responder for the tests (no real XDS registry installs
//! here): HTTP/1.1 with keep-alive (hyper), it records every request it gets (backend name,
//! connection, method, target, SOAP action, headers, body length, the body itself up to
//! [`KEEP`], its tail, whether it ended cleanly) and answers per [`Mode`]. Its answers are
//! written out by hand in `answers.rs`, independent of the codec under test. The action is
//! read independently too: the Content-Type `action` parameter, else the text of the first
//! `...Action>` element of the body.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::task::JoinHandle;

#[allow(unused_imports)]
pub use super::answers::DOCUMENT;
use super::answers::{fault_xml, registry_xml, retrieve_mtom};

/// Bodies up to this size are kept whole in [`Seen::body`].
pub const KEEP: usize = 8 << 20;

pub const ITI18: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const ITI41: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
pub const ITI42: &str = "urn:ihe:iti:2007:RegisterDocumentSet-b";
pub const ITI43: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";

/// How the responder answers POSTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The transaction's response with status Success (ITI-43: MTOM with a document).
    Success,
    /// A registry response with status Failure and one RegistryError.
    Failure,
    /// A SOAP 1.2 Fault `env:Receiver`, HTTP 500.
    Fault,
    /// Reads the request, then never answers.
    Hang,
    /// Success, after 1.5 s.
    Slow,
}

/// One request as the responder saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub backend: String,
    /// Unique number of the TCP connection it came on (over all responders).
    pub conn: usize,
    pub method: String,
    /// Path and query.
    pub target: String,
    pub action: Option<String>,
    /// Header names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    pub len: u64,
    /// The first [`KEEP`] bytes.
    pub body: Vec<u8>,
    /// The last 512 bytes.
    pub tail: Vec<u8>,
    /// The body ended cleanly (not cut off).
    pub complete: bool,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Requests seen by a group of responders, in arrival order (recorded once each body ended).
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits until at least `n` requests were recorded; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        crate::support::wait_until(
            &format!("{n} requests recorded"),
            Duration::from_secs(20),
            || self.len() >= n,
        )
        .await;
        self.all()
    }

    /// (backend, action) of every request, in order.
    pub fn routes(&self) -> Vec<(String, Option<String>)> {
        self.all()
            .into_iter()
            .map(|s| (s.backend, s.action))
            .collect()
    }
}

static CONN_IDS: AtomicUsize = AtomicUsize::new(1);

/// A running responder; stops listening when dropped (open connections are left to end).
#[derive(Debug)]
pub struct Responder {
    pub name: String,
    pub addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    /// Connections accepted.
    pub accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Ctx {
    name: String,
    mode: Arc<Mutex<Mode>>,
    log: Log,
}

impl Responder {
    /// Starts a responder on 127.0.0.1 (any port) recording into `log`.
    pub async fn start(name: &str, log: &Log) -> Responder {
        let l = crate::support::bind(crate::support::sa(1, 0), 1024).expect("bind responder");
        let addr = l.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Success));
        let accepted = Arc::new(AtomicUsize::new(0));
        let ctx = Arc::new(Ctx {
            name: name.to_string(),
            mode: mode.clone(),
            log: log.clone(),
        });
        let acc = accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                acc.fetch_add(1, Ordering::Relaxed);
                let conn = CONN_IDS.fetch_add(1, Ordering::Relaxed);
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, Infallible>(answer(&ctx, conn, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        Responder {
            name: name.to_string(),
            addr,
            mode,
            accepted,
            task,
        }
    }

    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// The action: Content-Type `action` parameter, else the first `Action` element's text.
fn action_of(ct: &str, body: &[u8]) -> Option<String> {
    let lower = ct.to_ascii_lowercase();
    if let Some(i) = lower.find("action=") {
        let v = ct[i + 7..].trim_start();
        let v = v.strip_prefix('"').map_or_else(
            || v.split(';').next().unwrap_or(""),
            |q| q.split('"').next().unwrap_or(""),
        );
        return Some(v.trim().to_string());
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(256 * 1024)]);
    let mut rest = &text[..];
    while let Some(i) = rest.find("Action") {
        let after = &rest[i + 6..];
        let before = &rest[..i];
        // `<Action ...>` or `<prefix:Action ...>`, not `</...Action>` nor an attribute.
        let tag_start = before.rfind('<');
        if let Some(ts) = tag_start {
            let name = &before[ts + 1..];
            if !name.starts_with('/')
                && !name.contains(char::is_whitespace)
                && (after.starts_with('>') || after.starts_with(' '))
            {
                let gt = after.find('>')?;
                let lt = after[gt..].find('<')?;
                return Some(after[gt + 1..gt + lt].trim().to_string());
            }
        }
        rest = after;
    }
    None
}

fn message_id(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(256 * 1024)]);
    text.find("MessageID")
        .and_then(|i| {
            let after = &text[i..];
            let gt = after.find('>')?;
            let lt = after[gt..].find('<')?;
            Some(after[gt + 1..gt + lt].trim().to_string())
        })
        .unwrap_or_default()
}

async fn answer(ctx: &Ctx, conn: usize, req: Request<Incoming>) -> Response<TestBody> {
    let (parts, mut body) = req.into_parts();
    let mut seen = Seen {
        backend: ctx.name.clone(),
        conn,
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        action: None,
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        len: 0,
        body: Vec::new(),
        tail: Vec::new(),
        complete: false,
    };
    loop {
        match body.frame().await {
            None => {
                seen.complete = true;
                break;
            }
            Some(Err(_)) => break,
            Some(Ok(f)) => {
                let Ok(d) = f.into_data() else { continue };
                seen.len += d.len() as u64;
                let room = KEEP.saturating_sub(seen.body.len());
                seen.body.extend_from_slice(&d[..d.len().min(room)]);
                seen.tail.extend_from_slice(&d);
                if seen.tail.len() > 4096 {
                    seen.tail.drain(..seen.tail.len() - 512);
                }
            }
        }
    }
    if seen.tail.len() > 512 {
        seen.tail.drain(..seen.tail.len() - 512);
    }
    let ct = seen.header("content-type").unwrap_or("").to_string();
    seen.action = action_of(&ct, &seen.body);
    let mid = message_id(&seen.body);
    let complete = seen.complete;
    let method = seen.method.clone();
    let target = seen.target.clone();
    let action = seen.action.clone().unwrap_or_default();
    ctx.log.0.lock().unwrap().push(seen);
    if !complete {
        return reply(
            ctx,
            StatusCode::BAD_REQUEST,
            "text/plain",
            "body cut off\n".into(),
        );
    }
    if method != "POST" {
        return get(ctx, &target);
    }
    let mut mode = *ctx.mode.lock().unwrap();
    if mode == Mode::Slow {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        mode = Mode::Success;
    }
    let soap = "application/soap+xml; charset=utf-8";
    match mode {
        Mode::Hang | Mode::Slow => std::future::pending().await,
        Mode::Fault => reply(
            ctx,
            StatusCode::INTERNAL_SERVER_ERROR,
            soap,
            fault_xml(&mid).into(),
        ),
        Mode::Failure => reply(
            ctx,
            StatusCode::OK,
            soap,
            registry_xml(&action, &mid, false).into(),
        ),
        Mode::Success if action == ITI43 => {
            let (ct, body) = retrieve_mtom(&mid);
            reply(ctx, StatusCode::OK, &ct, body.into())
        }
        Mode::Success => reply(
            ctx,
            StatusCode::OK,
            soap,
            registry_xml(&action, &mid, true).into(),
        ),
    }
}

/// GETs: `/stream/N` streams N pattern bytes (`/trickle/N`: half, a 2 s pause, the rest);
/// anything else answers a tiny WSDL.
fn get(ctx: &Ctx, target: &str) -> Response<TestBody> {
    let n = |p: &str| target.strip_prefix(p).and_then(|n| n.parse::<u64>().ok());
    if let Some(len) = n("/stream/") {
        let mut r = reply(
            ctx,
            StatusCode::OK,
            "application/octet-stream",
            Bytes::new(),
        );
        *r.body_mut() = TestBody::pattern(len, None);
        return r;
    }
    if let Some(len) = n("/trickle/") {
        let mut r = reply(
            ctx,
            StatusCode::OK,
            "application/octet-stream",
            Bytes::new(),
        );
        *r.body_mut() = TestBody::pattern(len, Some((len / 2, Duration::from_secs(2))));
        return r;
    }
    let wsdl = format!("<?xml version=\"1.0\"?>\n<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" name=\"{}\"/>\n", ctx.name);
    reply(ctx, StatusCode::OK, "text/xml", wsdl.into())
}

fn reply(ctx: &Ctx, status: StatusCode, ct: &str, body: Bytes) -> Response<TestBody> {
    Response::builder()
        .status(status)
        .header("content-type", ct)
        .header("x-backend", &ctx.name)
        .body(TestBody::full(body))
        .unwrap()
}

/// The byte at `offset` of every pattern body (streamed responses, generated uploads).
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// A response body: complete bytes, or `len` pattern bytes in 64 KiB frames, optionally
/// pausing once after `pause.0` bytes.
pub enum TestBody {
    Full(Option<Bytes>),
    Pattern {
        sent: u64,
        len: u64,
        pause: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
    },
}

impl TestBody {
    fn full(b: Bytes) -> Self {
        TestBody::Full(Some(b))
    }

    fn pattern(len: u64, pause: Option<(u64, Duration)>) -> Self {
        TestBody::Pattern {
            sent: 0,
            len,
            pause: pause.map(|(at, d)| (at, Box::pin(tokio::time::sleep(d)))),
        }
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            TestBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            TestBody::Pattern { sent, len, pause } => {
                if *sent >= *len {
                    return Poll::Ready(None);
                }
                let mut n = (*len - *sent).min(64 * 1024);
                if let Some((at, sleep)) = pause {
                    if *sent >= *at {
                        if sleep.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        *pause = None;
                    } else {
                        n = n.min(*at - *sent);
                    }
                }
                let chunk: Vec<u8> = (*sent..*sent + n).map(pattern_byte).collect();
                *sent += n;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            TestBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            TestBody::Pattern { sent, len, .. } => SizeHint::with_exact(len - sent),
        }
    }
}

use std::future::Future;

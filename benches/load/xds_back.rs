//! The XDS harness's backends: a lean registry and a lean repository (hyper HTTP/1.1 servers,
//! keep-alive, on the harness's runtime). The registry answers ITI-18 with a small
//! AdhocQueryResponse Success (the fixture `iti18-response.xml`); the repository consumes an
//! ITI-41 MTOM upload frame by frame (never holding it), checks the byte count against the
//! `X-Load-Body-Bytes` header the client sent (so a proxy that loses or reframes bytes, or
//! drops headers, fails the phase) and answers a RegistryResponse Success. Each backend checks
//! that the request carries its own transaction's action (so triage's routing is checked too);
//! anything else gets HTTP 500 and fails the client. The repository also answers ITI-43
//! retrieves with a document of the size the client asks for (`X-Load-Want-Bytes`), streamed
//! in 256 KiB frames after a Success envelope, its total announced in `X-Load-Body-Bytes`.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;

pub const ITI18: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const ITI41: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
pub const ITI43: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";
/// The header with which a retrieve asks for its document's size.
pub const WANT_BYTES: &str = "x-load-want-bytes";
/// The header that carries the body length the client sent.
pub const BODY_BYTES: &str = "x-load-body-bytes";
/// What a Success response body contains.
pub const SUCCESS: &[u8] = b"ResponseStatusType:Success";

const ITI18_RESPONSE: &str = include_str!("../../fixtures/xds/iti18-response.xml");
const ITI41_RESPONSE: &str = include_str!("../../fixtures/xds/iti41-response.xml");
/// How much of the body start is searched for the action (the SOAP header).
const HEAD_BYTES: usize = 8 * 1024;

/// The backends' addresses (or a proxy's frontends for them).
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    /// Where ITI-18 queries go.
    pub registry: SocketAddr,
    /// Where ITI-41 uploads and ITI-43 retrieves go.
    pub repository: SocketAddr,
}

#[derive(Clone, Copy, Debug)]
enum Role {
    Registry,
    Repository,
}

/// Starts the registry and the repository on loopback, on the current runtime.
pub async fn start() -> io::Result<Addrs> {
    let reg = TcpListener::bind("127.0.0.1:0").await?;
    let rep = TcpListener::bind("127.0.0.1:0").await?;
    let a = Addrs {
        registry: reg.local_addr()?,
        repository: rep.local_addr()?,
    };
    tokio::spawn(serve(reg, Role::Registry));
    tokio::spawn(serve(rep, Role::Repository));
    Ok(a)
}

async fn serve(l: TcpListener, role: Role) {
    loop {
        let s = match l.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| async move {
                Ok::<_, Infallible>(answer(role, req).await)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(s), svc)
                .await;
        });
    }
}

type Answer = Response<BoxBody<Bytes, Infallible>>;

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=utf-8"),
    );
    r
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Reads the whole body frame by frame: its length, and its first [`HEAD_BYTES`].
async fn drain(mut body: Incoming) -> Result<(u64, Vec<u8>), String> {
    let mut total = 0u64;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    while let Some(f) = body.frame().await {
        let f = f.map_err(|e| format!("body: {e}"))?;
        if let Some(d) = f.data_ref() {
            total += d.len() as u64;
            if head.len() < HEAD_BYTES {
                let n = (HEAD_BYTES - head.len()).min(d.len());
                head.extend_from_slice(&d[..n]);
            }
        }
    }
    Ok((total, head))
}

/// A body made on the fly: `head`, then `left` bytes in slices of one `chunk`, then `tail` (an
/// ITI-43 answer's document here, an ITI-41 MTOM upload in the client).
pub struct Document {
    head: Option<Bytes>,
    chunk: Bytes,
    left: u64,
    tail: Option<Bytes>,
    pub total: u64,
}

impl Document {
    pub fn new(head: Bytes, chunk: &Bytes, left: u64, tail: Option<Bytes>) -> Self {
        Document {
            total: head.len() as u64 + left + tail.as_ref().map_or(0, |t| t.len() as u64),
            head: Some(head),
            chunk: chunk.clone(),
            left,
            tail,
        }
    }
}

impl Body for Document {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        if self.left > 0 {
            let n = self.left.min(self.chunk.len() as u64) as usize;
            self.left -= n as u64;
            return Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))));
        }
        Poll::Ready(self.tail.take().map(|t| Ok(Frame::data(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.left == 0 && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total)
    }
}

/// The ITI-43 answer: a Success envelope and `want` document bytes.
fn document(want: u64) -> Answer {
    let head = Bytes::from_static(ITI43_RESPONSE_HEAD.as_bytes());
    let body = Document::new(head, &Bytes::from(vec![0x5au8; 256 * 1024]), want, None);
    let total = body.total;
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=utf-8"),
    );
    r.headers_mut().insert(BODY_BYTES, HeaderValue::from(total));
    r
}

/// What an ITI-43 answer starts with (the client checks for the Success status in it).
const ITI43_RESPONSE_HEAD: &str =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>\
<RetrieveDocumentSetResponse status=\"ResponseStatusType:Success\"/></s:Body></s:Envelope>\r\n";

/// A header's value as a number (the harness's byte-count headers).
pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

async fn answer(role: Role, req: Request<Incoming>) -> Answer {
    let expected = header_u64(req.headers(), BODY_BYTES);
    let want = header_u64(req.headers(), WANT_BYTES);
    let (total, head) = match drain(req.into_body()).await {
        Ok(x) => x,
        Err(e) => return respond(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let (action, ok) = match role {
        Role::Registry => (ITI18, ITI18_RESPONSE),
        Role::Repository if want.is_some() => (ITI43, ""),
        Role::Repository => (ITI41, ITI41_RESPONSE),
    };
    // `ITI18` is a prefix of the ITI-18 response action, not of ITI-41's: the `<` pins it.
    let tagged = format!(">{action}<");
    if !contains(&head, tagged.as_bytes()) {
        return respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{role:?}: not a {action} request"),
        );
    }
    match (expected, want) {
        (Some(n), Some(w)) if n == total => document(w),
        (Some(n), None) if n == total => respond(StatusCode::OK, ok),
        (Some(n), _) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{role:?}: got {total} body bytes, the client sent {n}"),
        ),
        (None, _) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{role:?}: no {BODY_BYTES} header"),
        ),
    }
}

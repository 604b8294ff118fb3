//! The XDS harness's backends: a lean registry and a lean repository (hyper HTTP/1.1 servers,
//! keep-alive, on the harness's runtime). The registry answers ITI-18 with a small
//! AdhocQueryResponse Success (the fixture `iti18-response.xml`); the repository consumes an
//! ITI-41 MTOM upload frame by frame (never holding it), checks the byte count against the
//! `X-Load-Body-Bytes` header the client sent (so a proxy that loses or reframes bytes, or
//! drops headers, fails the phase) and answers a RegistryResponse Success. Each backend checks
//! that the request carries its own transaction's action (so triage's routing is checked too);
//! anything else gets HTTP 500 and fails the client.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

pub const ITI18: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const ITI41: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
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
    /// Where ITI-41 uploads go.
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

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
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

async fn answer(role: Role, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let expected = req
        .headers()
        .get(BODY_BYTES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (total, head) = match drain(req.into_body()).await {
        Ok(x) => x,
        Err(e) => return respond(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let (action, ok) = match role {
        Role::Registry => (ITI18, ITI18_RESPONSE),
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
    match expected {
        Some(n) if n == total => respond(StatusCode::OK, ok),
        Some(n) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{role:?}: got {total} body bytes, the client sent {n}"),
        ),
        None => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{role:?}: no {BODY_BYTES} header"),
        ),
    }
}

//! The ITI-18 health query (ITI TF-2a 3.18): a GetDocuments stored query for a random,
//! non-existent entryUUID (no patient id needed). Healthy = HTTP 200 and an AdhocQueryResponse
//! with status Success; a Failure status or a SOAP Fault is down, with the detail.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use triage_xds as xds;

/// Largest health-query response read.
const MAX_RESPONSE: usize = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdsPing {
    pub ok: bool,
    pub detail: String,
    pub rtt: Duration,
}

/// Sends the ITI-18 query to `addr` at `path` (Host header `host`).
pub async fn ping(addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> XdsPing {
    let start = Instant::now();
    let r = tokio::time::timeout(timeout, query(addr, host, path)).await;
    let rtt = start.elapsed();
    match r {
        Ok(Ok(detail)) => XdsPing {
            ok: true,
            detail: format!("{detail} in {} ms", rtt.as_millis()),
            rtt,
        },
        Ok(Err(detail)) => XdsPing {
            ok: false,
            detail,
            rtt,
        },
        Err(_) => XdsPing {
            ok: false,
            detail: "timeout".into(),
            rtt,
        },
    }
}

fn uuid4() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

async fn query(addr: SocketAddr, host: &str, path: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            _ => format!("connect failed: {e}"),
        })?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let message_id = format!("urn:uuid:{}", uuid4());
    let to = format!("http://{host}{path}");
    let body =
        xds::build_iti18_get_documents(&message_id, &format!("urn:uuid:{}", uuid4()), Some(&to));
    let req = Request::post(path)
        .header(HOST, host)
        .header(
            CONTENT_TYPE,
            format!(
                "application/soap+xml; charset=utf-8; action=\"{}\"",
                xds::ITI18_ACTION
            ),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the query: {e}"))?;
    let resp = tx
        .send_request(req)
        .await
        .map_err(|e| format!("no response: {e}"))?;
    let status = resp.status();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| xds::parse_content_type(v).ok());
    let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| format!("reading the response failed: {e}"))?
        .to_bytes();
    let parsed = xds::parse_registry_response(ct.as_ref(), &bytes);
    match parsed {
        Ok(r) if r.fault.is_some() => Err(format!(
            "HTTP {}: SOAP Fault: {}",
            status.as_u16(),
            r.fault.unwrap_or_default()
        )),
        Ok(r) if status.is_success() && r.status == xds::RegistryStatus::Success => {
            Ok("ITI-18 Success".into())
        }
        Ok(r) => Err(format!(
            "HTTP {}: status {}{}",
            status.as_u16(),
            r.status.as_uri(),
            r.errors
                .first()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        )),
        Err(e) => Err(format!(
            "HTTP {}: unreadable response: {e}",
            status.as_u16()
        )),
    }
}

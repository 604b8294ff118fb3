//! Health kind `http`: one HTTP/1.1 request (method HEAD or GET, default GET) for `path`
//! (default "/"); up when the status is `expect_status` (default 200) and, if `expect_body` is
//! set, the body (first 1 MiB) contains it. The connection is closed after each probe.

use super::{BoxFuture, Check, Probe, Target};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// Largest body read when looking for `expect_body`.
const MAX_BODY: usize = 1024 * 1024;

pub struct HttpCheck {
    pub method: Method,
    pub path: String,
    pub expect_status: u16,
    pub expect_body: Option<String>,
}

impl HttpCheck {
    pub fn new(
        method: Option<&str>,
        path: Option<&str>,
        expect_status: Option<u16>,
        expect_body: Option<&str>,
    ) -> Self {
        let method = match method.map(str::to_ascii_uppercase).as_deref() {
            Some("HEAD") => Method::HEAD,
            _ => Method::GET,
        };
        let path = match path {
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => format!("/{p}"),
            None => "/".to_string(),
        };
        Self {
            method,
            path,
            expect_status: expect_status.unwrap_or(200),
            expect_body: expect_body.map(str::to_string),
        }
    }

    async fn run(&self, t: &Target) -> Result<String, String> {
        let stream = tokio::net::TcpStream::connect(t.addr)
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
        let req = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header(HOST, t.addr.to_string())
            .header(USER_AGENT, "triage-health-check")
            .header(CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let resp = tx
            .send_request(req)
            .await
            .map_err(|e| format!("no response: {e}"))?;
        let status = resp.status().as_u16();
        if status != self.expect_status {
            return Err(format!(
                "{} {}: HTTP {status}, expected {}",
                self.method, self.path, self.expect_status
            ));
        }
        if let Some(want) = &self.expect_body {
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the body failed: {e}"))?
                .to_bytes();
            if !String::from_utf8_lossy(&body).contains(want.as_str()) {
                return Err(format!("HTTP {status}, but the body lacks {want:?}"));
            }
        }
        Ok(format!("HTTP {status}"))
    }
}

impl Check for HttpCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            match self.run(t).await {
                Ok(d) => Probe::up(d),
                Err(d) => Probe::down(d),
            }
        })
    }
}

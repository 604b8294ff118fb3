//! A small HTTP/1.1 client for the admin API (hyper, plain HTTP, one request per connection),
//! used by `triage status` / `triage server` and by the tests. No TLS: the admin API is plain
//! HTTP; reach a remote one through an SSH tunnel or a TLS-terminating proxy.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// The default admin address (the embedded default's `[admin] listen`).
pub const DEFAULT_ADMIN: &str = "http://127.0.0.1:9443";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL {0:?}: {1}")]
    Url(String, String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("{0}: no answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0}: {1}")]
    Http(String, String),
}

/// An answer: status code, Content-Type and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// `base` (e.g. `http://127.0.0.1:9443`, possibly with a path prefix) joined with `path`.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Sends one request; `json` is sent as `application/json`. Times out after `timeout`.
pub async fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    json: Option<&serde_json::Value>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    match tokio::time::timeout(timeout, send(method, url, token, json)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(url.to_string(), timeout)),
    }
}

async fn send(
    method: Method,
    url: &str,
    token: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<Response, ClientError> {
    let bad = |m: &str| ClientError::Url(url.to_string(), m.to_string());
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(bad(
                "https is not supported: the admin API is plain HTTP (use an SSH tunnel or a TLS proxy)",
            ))
        }
        _ => return Err(bad("expected http://HOST:PORT")),
    }
    let auth = uri.authority().ok_or_else(|| bad("no host"))?.clone();
    let host = auth.host().trim_start_matches('[').trim_end_matches(']');
    let port = auth.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| ClientError::Connect(auth.to_string(), e))?;
    let http = |e: hyper::Error| ClientError::Http(url.to_string(), e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, auth.as_str())
        .header(
            header::USER_AGENT,
            concat!("triage/", env!("CARGO_PKG_VERSION")),
        )
        .header(header::ACCEPT, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match json {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let req = req
        .body(Full::new(body))
        .map_err(|e| ClientError::Http(url.to_string(), e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().collect().await.map_err(http)?.to_bytes();
    Ok(Response {
        status,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths() {
        assert_eq!(
            join("http://h:1/", "/api/v1/status"),
            "http://h:1/api/v1/status"
        );
        assert_eq!(join("http://h:1/gw", "api"), "http://h:1/gw/api");
    }

    #[tokio::test]
    async fn refuses_https() {
        let e = request(
            Method::GET,
            "https://127.0.0.1:1/",
            None,
            None,
            Duration::from_secs(1),
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("https is not supported"), "{e}");
    }
}

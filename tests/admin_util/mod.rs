//! Helpers for the admin tests: a gateway started from a config file in a temp dir (so the
//! reload endpoint has a file to re-read), tagging backends on loopback, a client that reads
//! which backend it reached, and HTTP calls to the admin API. Every step has a time limit.
#![allow(dead_code)]

#[path = "../support/ports.rs"]
mod ports;

use hyper::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use triage::admin::client::{self, Response};
use triage::{Config, Runtime};

pub const STEP: Duration = Duration::from_secs(5);

/// A fresh temp dir for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "triage-admin-{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A backend that greets every connection with `tag\n`, then echoes lines back.
pub async fn tagger(tag: &str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = l.local_addr().expect("backend addr");
    let tag = tag.to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let tag = tag.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                if w.write_all(format!("{tag}\n").as_bytes()).await.is_err() {
                    return;
                }
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if w.write_all(format!("{tag}:{l}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A running gateway and the file it was started from.
pub struct Gw {
    pub rt: Arc<Runtime>,
    pub file: PathBuf,
}

impl Gw {
    /// Writes `toml` to a temp file and starts a runtime from it.
    pub async fn start(name: &str, toml: &str) -> Gw {
        let file = temp_dir(name).join("triage.toml");
        std::fs::write(&file, toml).expect("write config");
        let config = Config::load(&file).unwrap_or_else(|e| panic!("config refused:\n{e}"));
        let rt = Runtime::start(config, Some(file.clone()))
            .await
            .unwrap_or_else(|e| panic!("start failed: {e}"));
        Gw { rt, file }
    }

    /// `http://ADMIN`.
    pub fn admin(&self) -> String {
        format!(
            "http://{}",
            self.rt.admin_addr().expect("admin is configured")
        )
    }

    pub fn listen(&self, service: &str) -> SocketAddr {
        *self
            .rt
            .listen_addrs(service)
            .first()
            .expect("service listens")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        call(&self.admin(), method, path, token, body).await
    }

    pub async fn status(&self, token: Option<&str>) -> Value {
        let r = self.call(Method::GET, "/api/v1/status", token, None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json().expect("status is JSON")
    }

    /// `PUT .../state`; returns the answer.
    pub async fn set_state(&self, pool: &str, server: &str, state: &str) -> Response {
        let path = format!("/api/v1/pools/{pool}/servers/{server}/state");
        let body = serde_json::json!({ "state": state });
        self.call(Method::PUT, &path, None, Some(body)).await
    }
}

pub async fn call(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    client::request(
        method,
        &client::join(base, path),
        token,
        body.as_ref(),
        STEP,
    )
    .await
    .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A client connection that has read the backend's greeting.
pub struct Client {
    pub tag: String,
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let s = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let (r, w) = s.into_split();
        let mut lines = BufReader::new(r).lines();
        let tag = tokio::time::timeout(STEP, lines.next_line())
            .await
            .expect("greeting in time")
            .expect("read greeting")
            .expect("a greeting line");
        Client { tag, lines, w }
    }

    /// Sends a line and returns the echo (`tag:line`).
    pub async fn echo(&mut self, line: &str) -> String {
        self.w
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
        tokio::time::timeout(STEP, self.lines.next_line())
            .await
            .expect("echo in time")
            .expect("read echo")
            .expect("an echo line")
    }
}

/// The tags that `n` new connections reach.
pub async fn tags(addr: SocketAddr, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(Client::connect(addr).await.tag);
    }
    v
}

/// Polls `f` until true or the deadline.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A two-server pool `p` (servers `a`, `b`; round robin; no health checks; fallback `f`)
/// behind service `svc`, admin on a free loopback port, and `extra` appended.
pub fn two_server_config(a: SocketAddr, b: SocketAddr, f: SocketAddr, extra: &str) -> String {
    format!(
        r#"[admin]
listen = "127.0.0.1:0"
{extra}

[defaults]
drain_timeout = "1s"

[[service]]
name = "svc"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "p"

[[pool]]
name = "p"
balance = "roundrobin"
fallback = "{f}"
health = {{ kind = "none" }}

  [[pool.server]]
  name = "a"
  address = "{a}"

  [[pool.server]]
  name = "b"
  address = "{b}"
"#
    )
}

/// A port on 127.0.0.1 where nothing listens until the test binds it, given to nobody else in
/// this process (see `support/ports.rs`).
pub fn unused_port() -> u16 {
    ports::unused_port(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
}

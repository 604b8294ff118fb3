//! Helpers for the XDS tests: the test registry/repository responder ([`responder`]), a triage
//! config with a registry and a repository pool routed by SOAP action, and the real HTTP
//! clients — curl and Python `requests` (`fixtures/xds/clients/xds_client.py`, MTOM built by the
//! standard `email` package). The interpreter is `TRIAGE_PYTHON`, else `python3`; when curl or
//! `requests` is missing the test fails under `CI=true` and is skipped loudly otherwise.
#![allow(dead_code)]

mod answers;
pub mod responder;

#[allow(unused_imports)]
pub use responder::{Log, Mode, Responder, Seen, ITI18, ITI41, ITI42, ITI43};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The repository's `fixtures/xds` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/xds")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// A `.ct` fixture's Content-Type value.
pub fn fixture_ct(name: &str) -> String {
    std::fs::read_to_string(fixture(name))
        .expect("read .ct fixture")
        .trim()
        .to_string()
}

/// Missing tool: a failure under CI, a loud skip elsewhere.
fn missing(what: &str) -> Option<String> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required in CI (see .ci/run)");
    }
    eprintln!("SKIPPED: {what} is not available here (required when CI=true)");
    None
}

/// The Python interpreter with `requests`, or `None` (test skipped outside CI).
pub fn python() -> Option<String> {
    static PY: OnceLock<Result<String, String>> = OnceLock::new();
    let r = PY.get_or_init(|| {
        let py = std::env::var("TRIAGE_PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&py)
            .args(["-c", "import requests, email.mime.multipart"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(py)
        } else {
            Err(format!("Python with the `requests` package ({py})"))
        }
    });
    match r {
        Ok(py) => Some(py.clone()),
        Err(what) => missing(what),
    }
}

/// Whether curl is there (`None`: test skipped outside CI).
pub fn curl_ok() -> Option<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        Some(())
    } else {
        missing("curl").map(|_| ())
    }
}

/// What curl got: HTTP status, response headers (lower-case names, last response), body and
/// curl's exit code; `write_out` is what `-w` printed.
#[derive(Debug)]
pub struct CurlOut {
    pub code: Option<i32>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub write_out: String,
    pub stderr: String,
}

impl CurlOut {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs `curl -sS ARGS` in a blocking thread, response body and headers to temp files.
pub async fn curl(args: Vec<String>) -> CurlOut {
    tokio::task::spawn_blocking(move || curl_blocking(&args))
        .await
        .expect("curl thread")
}

fn curl_blocking(args: &[String]) -> CurlOut {
    let dir = crate::support::TempDir::new("curl");
    let (hdr, body) = (dir.join("headers"), dir.join("body"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-D"])
        .arg(&hdr)
        .arg("-o")
        .arg(&body)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let headers_text = std::fs::read_to_string(&hdr).unwrap_or_default();
    // The last response's block (a 100 Continue may come first).
    let block = headers_text
        .trim_end()
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_string();
    let mut lines = block.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    CurlOut {
        code: out.status.code(),
        status,
        headers,
        body: String::from_utf8_lossy(&std::fs::read(&body).unwrap_or_default()).into_owned(),
        write_out: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `curl` args posting a file with a Content-Type (Content-Length framing unless `chunked`).
pub fn post_file(url: &str, file: &Path, ct: &str, chunked: bool) -> Vec<String> {
    let mut a = vec![
        "-H".into(),
        format!("Content-Type: {ct}"),
        "--data-binary".into(),
        format!("@{}", file.display()),
    ];
    if chunked {
        a.extend(["-H".into(), "Transfer-Encoding: chunked".into()]);
    }
    a.push(url.into());
    a
}

/// Runs the Python client (`xds_client.py ARGS`) and parses its JSON answer.
pub async fn py_client(py: &str, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(py);
    cmd.arg(fixtures().join("clients/xds_client.py")).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.stdin(Stdio::null()).output())
        .await
        .expect("python thread")
        .expect("run python");
    parse_py(&out)
}

pub fn parse_py(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed ({}):\n{}\n{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("python client output is not JSON ({e}): {stdout}"))
}

/// Two registries and two repositories recording into one log.
pub struct Backends {
    pub log: Log,
    pub reg: [Responder; 2],
    pub rep: [Responder; 2],
}

impl Backends {
    pub async fn start() -> Backends {
        let log = Log::default();
        let reg = [
            Responder::start("reg1", &log).await,
            Responder::start("reg2", &log).await,
        ];
        let rep = [
            Responder::start("rep1", &log).await,
            Responder::start("rep2", &log).await,
        ];
        Backends { log, reg, rep }
    }

    /// Placeholders for [`config`]: `reg1`, `reg2`, `rep1`, `rep2`.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("reg1", self.reg[0].addr.to_string()),
            ("reg2", self.reg[1].addr.to_string()),
            ("rep1", self.rep[0].addr.to_string()),
            ("rep2", self.rep[1].addr.to_string()),
        ]
    }
}

/// An `xds` service on 127.0.0.1 (any port) as in the embedded default: ITI-43 and ITI-41 to
/// the repository pool, the rest to the registry pool (the default). `extra` is added to the
/// `[[service]]` table (e.g. `max_request_bytes = 4096`); no health checks.
pub fn config(b: &Backends, extra: &str) -> String {
    let t = format!(
        r#"
[[service]]
name     = "xds"
listen   = ["127.0.0.1:0"]
protocol = "xds"
pool     = "registry"
{extra}

  [[service.route]]
  action = "{ITI43}"
  pool   = "repository"

  [[service.route]]
  action = "{ITI41}"
  pool   = "repository"

[[pool]]
name    = "registry"
balance = "roundrobin"
health  = {{ kind = "none" }}

  [[pool.server]]
  name    = "reg1"
  address = "{{reg1}}"

  [[pool.server]]
  name    = "reg2"
  address = "{{reg2}}"

[[pool]]
name    = "repository"
balance = "roundrobin"
health  = {{ kind = "none" }}

  [[pool.server]]
  name    = "rep1"
  address = "{{rep1}}"

  [[pool.server]]
  name    = "rep2"
  address = "{{rep2}}"
"#
    );
    crate::support::render(&t, &b.vars())
}

/// `http://ADDR/xds/iti` for a triage listen address.
pub fn url(addr: std::net::SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// The head of a plain SOAP 1.2 POST (no action in the Content-Type) with a `len`-byte body,
/// for the raw TCP clients.
pub fn soap_post_head(len: usize) -> String {
    format!(
        "POST /xds HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml; charset=UTF-8\r\n\
         Content-Length: {len}\r\n\r\n"
    )
}

/// One HTTP/1.1 response with a Content-Length body.
pub async fn read_response(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("response within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "connection closed: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

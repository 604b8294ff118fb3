//! Orthanc (Debian `orthanc`, `/usr/sbin/Orthanc`) as a child process with its own JSON
//! config, for the called-AE rewrite tests.

use super::{log_file, read, wait_port, PORT_ATTEMPTS};
use crate::support::{free_port, ip, sa, TempDir};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running Orthanc (Debian `orthanc`, `/usr/sbin/Orthanc`) with its own config: loopback
/// HTTP API without remote access, DICOM server with `DicomCheckCalledAet`, storage in a temp
/// dir, no plugins. Killed on drop.
#[derive(Debug)]
pub struct Orthanc {
    pub dicom: SocketAddr,
    pub http: SocketAddr,
    pub aet: String,
    dir: TempDir,
    child: Child,
}

impl Orthanc {
    pub async fn start(aet: &str) -> Orthanc {
        let bin = Path::new("/usr/sbin/Orthanc");
        assert!(
            bin.exists(),
            "{} missing: install the Debian package orthanc",
            bin.display()
        );
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(bin, aet).await {
                Ok(o) => return o,
                Err(e) => last = e,
            }
        }
        panic!("Orthanc did not start: {last}");
    }

    async fn try_start(bin: &Path, aet: &str) -> Result<Orthanc, String> {
        let dir = TempDir::new("orthanc");
        let dicom = sa(1, free_port(ip(1)));
        let http = sa(1, free_port(ip(1)));
        let cfg = serde_json::json!({
            "Name": "triage-test",
            "StorageDirectory": dir.join("db"),
            "IndexDirectory": dir.join("db"),
            "HttpServerEnabled": true,
            "HttpPort": http.port(),
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "DicomServerEnabled": true,
            "DicomPort": dicom.port(),
            "DicomAet": aet,
            "DicomCheckCalledAet": true,
            "DicomCheckModalityHost": false,
            "DicomAlwaysAllowEcho": true,
            "DicomAlwaysAllowStore": true,
            "DicomAlwaysAllowFind": true,
            "DicomModalities": {},
            "Plugins": [],
            "StorageCompression": false,
            "SaveJobs": false,
            "HttpCompressionEnabled": false
        });
        let cfg_path = dir.join("orthanc.json");
        std::fs::write(&cfg_path, cfg.to_string()).expect("write orthanc.json");
        let log = dir.join("orthanc.log");
        let (o, e) = log_file(&log);
        let mut child = Command::new(bin)
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(o)
            .stderr(e)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn Orthanc");
        wait_port(dicom, &mut child, "Orthanc (DICOM)", &log).await?;
        wait_port(http, &mut child, "Orthanc (HTTP)", &log).await?;
        Ok(Orthanc {
            dicom,
            http,
            aet: aet.to_string(),
            dir,
            child,
        })
    }

    /// `GET path` on the REST API, as JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(self.http)
            .await
            .expect("connect Orthanc HTTP");
        let rq = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        s.write_all(rq.as_bytes()).await.expect("send HTTP request");
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("Orthanc HTTP answer in time")
            .expect("read HTTP answer");
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("HTTP answer with a body");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "GET {path}: {head}"
        );
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Instances stored so far.
    pub async fn instances(&self) -> u64 {
        self.get("/statistics").await["CountInstances"]
            .as_u64()
            .expect("CountInstances")
    }

    pub fn log(&self) -> String {
        read(&self.dir.join("orthanc.log"))
    }
}

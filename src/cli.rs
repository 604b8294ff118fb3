//! The command line (clap): `run`, `check-config`, `status`, `server`; later issues add `echo`,
//! `hl7-ping` and `xds-ping`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "triage",
    version,
    about = "Protocol-aware load balancer for DICOM, HL7 MLLP and IHE XDS"
)]
pub struct Cli {
    /// Config file for the default `run` (else ./triage.toml if present, else the embedded default).
    #[arg(short = 'c', long = "config", global = false)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the gateway (the default). SIGTERM/SIGINT: drain and exit; SIGHUP: reload the file.
    Run {
        /// Config file (else ./triage.toml if present, else the embedded default).
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
    },
    /// Validate a config file: exit 0 with a summary, or exit 1 with FILE:LINE:COL: message lines.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// One DICOM C-ECHO (verification): prints status and round-trip time; exit 0 only on 0x0000.
    Echo {
        /// HOST:PORT of the DICOM peer.
        target: String,
        /// Calling AE title (ours).
        #[arg(long = "aet", default_value = "TRIAGE")]
        aet: String,
        /// Called AE title (theirs).
        #[arg(long = "aec", default_value = "ANY-SCP")]
        aec: String,
        /// Time allowed for the whole exchange, e.g. 5s.
        #[arg(long, default_value = "5s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
    },
    /// Sends one HL7 test message over MLLP: prints MSA-1 and round-trip time; exit 0 only on AA/CA.
    Hl7Ping {
        /// HOST:PORT of the MLLP peer.
        target: String,
        /// Time allowed for the whole exchange, e.g. 5s.
        #[arg(long, default_value = "5s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
    },
    /// Sends the ITI-18 health query: exit 0 only on a Success response.
    XdsPing {
        /// Registry endpoint, e.g. http://registry:8080/xds/registry
        url: String,
        /// Time allowed for the whole exchange, e.g. 5s.
        #[arg(long, default_value = "5s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
    },
    /// Print the system overview (services, servers, state, health, connections) from the admin API.
    Status {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Change a server's state through the admin API.
    Server {
        /// Pool name.
        pool: String,
        /// Server name within the pool.
        server: String,
        /// New state.
        #[arg(value_parser = ["online", "drain", "halt"])]
        state: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Where the admin API is and how to authenticate (`triage status`, `triage server`).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Admin API base URL.
    #[arg(long = "admin", value_name = "URL", default_value = crate::admin::client::DEFAULT_ADMIN)]
    pub url: String,
    /// Bearer token ([admin] token of the gateway's config).
    #[arg(long, env = "TRIAGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Where the config comes from, in the spec's order: `-c FILE`, `./triage.toml`, embedded.
pub fn choose_config(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let local = PathBuf::from("triage.toml");
        local.is_file().then_some(local)
    })
}

/// Parses `--timeout` values such as `5s` or `500ms`.
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    crate::config::duration::parse_duration(s)
}

/// Resolves `HOST:PORT` (first address).
pub fn resolve(target: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {target:?}: no address"))
}

/// Splits `http://HOST[:PORT][/PATH]` into (host header, socket address, path).
pub fn parse_http_url(url: &str) -> Result<(String, std::net::SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if hostport.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let with_port = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    Ok((hostport.to_string(), resolve(&with_port)?, path))
}

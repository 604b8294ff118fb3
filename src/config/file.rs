//! The config file as written (TOML, `deny_unknown_fields` everywhere). Values that validation may
//! complain about are `Spanned` so the complaint can name `FILE:LINE:COL`.

use super::duration::Dur;
use serde::Deserialize;
use toml::Spanned;

pub type Sp<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub admin: Option<AdminFile>,
    #[serde(default)]
    pub defaults: DefaultsFile,
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceFile>,
    #[serde(default, rename = "pool")]
    pub pools: Vec<PoolFile>,
    #[serde(default, rename = "simulator")]
    pub simulators: Vec<SimulatorFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    pub listen: Option<Sp<String>>,
    pub token: Option<String>,
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsFile {
    pub connect_timeout: Option<Dur>,
    pub client_timeout: Option<Dur>,
    pub server_timeout: Option<Dur>,
    pub drain_timeout: Option<Dur>,
    pub max_connections: Option<Sp<u32>>,
    /// How many further servers a connection attempt may try after a failed connect.
    pub retries: Option<Sp<u32>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Dicom,
    Mllp,
    Xds,
    Http,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Dicom => "dicom",
            Protocol::Mllp => "mllp",
            Protocol::Xds => "xds",
            Protocol::Http => "http",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyProtocol {
    V1,
    V2,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub name: Sp<String>,
    pub listen: Sp<Vec<Sp<String>>>,
    pub protocol: Sp<Protocol>,
    /// The default pool; may be omitted by dicom/mllp/xds services with routes (then an
    /// unmatched request is refused at the protocol level).
    pub pool: Option<Sp<String>>,
    pub ae_title: Option<Sp<String>>,
    pub proxy_protocol: Option<ProxyProtocol>,
    pub allow: Option<Vec<Sp<String>>>,
    pub connect_timeout: Option<Dur>,
    pub client_timeout: Option<Dur>,
    pub server_timeout: Option<Dur>,
    pub max_connections: Option<Sp<u32>>,
    /// Cap on what is buffered before routing: dicom A-ASSOCIATE-RQ (default 64 KiB), mllp
    /// frame (default 16 MiB), xds SOAP header (default 64 KiB).
    pub max_request_bytes: Option<Sp<u32>>,
    /// How long the client may take to send what routing needs (dicom: the ARTIM timer,
    /// default 30 s).
    pub handshake_timeout: Option<Dur>,
    /// http, xds: add the client's address to `X-Forwarded-For` (default false).
    pub forwarded_for: Option<Sp<bool>>,
    /// http: what one balancing decision covers, `"request"` (default) or `"connection"`.
    pub balance_per: Option<Sp<BalancePer>>,
    /// dicom without routes or own AE: connect to the server while the A-ASSOCIATE-RQ is
    /// being read (default: true for such services unless they send a PROXY header).
    pub preconnect: Option<Sp<bool>>,
    #[serde(default)]
    pub route: Vec<Sp<RouteFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub called_ae: Option<Sp<String>>,
    pub calling_ae: Option<Sp<String>>,
    pub message_type: Option<Sp<String>>,
    pub sending_facility: Option<Sp<String>>,
    pub action: Option<Sp<String>>,
    pub pool: Sp<String>,
}

/// What one balancing decision of an `http` service covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BalancePer {
    /// Every request is balanced on its own (cookie persistence applies to each).
    #[default]
    Request,
    /// The first request of a client connection is balanced; the others follow it.
    Connection,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    #[default]
    Roundrobin,
    Leastconn,
    First,
    Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum PersistKind {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "source-ip")]
    SourceIp,
    #[serde(rename = "cookie+source-ip")]
    CookieSourceIp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistenceFile {
    pub kind: Sp<PersistKind>,
    pub timeout: Option<Dur>,
    pub cookie: Option<Sp<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum HealthKind {
    #[serde(rename = "connect")]
    Connect,
    #[serde(rename = "dicom-echo")]
    DicomEcho,
    #[serde(rename = "hl7-ack")]
    Hl7Ack,
    #[serde(rename = "xds-query")]
    XdsQuery,
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "script")]
    Script,
    #[serde(rename = "none")]
    None,
}

impl HealthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthKind::Connect => "connect",
            HealthKind::DicomEcho => "dicom-echo",
            HealthKind::Hl7Ack => "hl7-ack",
            HealthKind::XdsQuery => "xds-query",
            HealthKind::Http => "http",
            HealthKind::Script => "script",
            HealthKind::None => "none",
        }
    }
}

/// Health check settings: common keys plus kind-specific ones; validation refuses a
/// kind-specific key used with another kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthFile {
    pub kind: Sp<HealthKind>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    pub rise: Option<Sp<u32>>,
    pub fall: Option<Sp<u32>>,
    pub port: Option<Sp<u16>>,
    pub ports: Option<Sp<Vec<u16>>>,
    // script
    pub command: Option<Sp<String>>,
    // dicom-echo
    pub calling_ae: Option<Sp<String>>,
    pub called_ae: Option<Sp<String>>,
    // http / xds-query
    pub method: Option<Sp<String>>,
    pub path: Option<Sp<String>>,
    pub expect_status: Option<Sp<u16>>,
    pub expect_body: Option<Sp<String>>,
    // hl7-ack
    pub message: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    pub name: Sp<String>,
    #[serde(default)]
    pub balance: Balance,
    pub persistence: Option<PersistenceFile>,
    pub fallback: Option<Sp<String>>,
    pub health: Option<Sp<HealthFile>>,
    #[serde(default)]
    pub server: Vec<ServerFile>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    #[default]
    Online,
    Drain,
    Halt,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Online => "online",
            ServerState::Drain => "drain",
            ServerState::Halt => "halt",
        }
    }
}

impl std::str::FromStr for ServerState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "online" => Ok(ServerState::Online),
            "drain" => Ok(ServerState::Drain),
            "halt" => Ok(ServerState::Halt),
            o => Err(format!("unknown server state {o:?} (online, drain, halt)")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub name: Sp<String>,
    pub address: Sp<String>,
    pub weight: Option<Sp<i64>>,
    #[serde(default)]
    pub max_connections: u32,
    #[serde(default)]
    pub backup: bool,
    #[serde(default)]
    pub state: ServerState,
    pub ae_title: Option<Sp<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimulatorKind {
    /// Echoes every byte back (TCP).
    TcpEcho,
    Dicom,
    Hl7,
    Xds,
}

impl SimulatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SimulatorKind::TcpEcho => "tcp-echo",
            SimulatorKind::Dicom => "dicom",
            SimulatorKind::Hl7 => "hl7",
            SimulatorKind::Xds => "xds",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorFile {
    pub kind: Sp<SimulatorKind>,
    pub listen: Sp<String>,
    pub name: Option<String>,
}

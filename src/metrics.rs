//! Prometheus metrics (prometheus-client, OpenMetrics text).
//!
//! Two kinds of metrics, one exposition:
//! - **Event metrics** (health check durations, protocol counters) live in one process-wide
//!   [`Metrics`] reached with [`global()`]; code that sees the event increments them. Adding one
//!   is one line in the `metrics!` list below (field, type, name, help).
//! - **State metrics** (connections, bytes, server up/state) are read at scrape time from a
//!   runtime snapshot's atomics by [`SnapshotCollector`]: nothing is counted twice, no hot-path cost.
//!
//! Counters are registered without the `_total` suffix: the OpenMetrics encoder appends it to
//! the sample name, so `triage_connections` is scraped as `triage_connections_total`.

use crate::config::ServerState;
use crate::runtime::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// `{pool, server}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    pub pool: String,
    pub server: String,
}

/// `{service}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    pub service: String,
}

/// `{service, called_ae, result}`; result: `accepted`, `rejected`, `aborted`, `no-server`, ...
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DicomLabels {
    pub service: String,
    pub called_ae: String,
    pub result: String,
}

/// `{service, message_type, ack}`; ack: the MSA-1 code (`AA`, `AE`, `AR`, ...) or `none`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Hl7Labels {
    pub service: String,
    pub message_type: String,
    pub ack: String,
}

/// `{service, action, status}`; status: the HTTP status code returned to the client.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct XdsLabels {
    pub service: String,
    pub action: String,
    pub status: String,
}

/// Histogram family whose constructor sets the buckets.
pub type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets for network round trips: 1 ms .. 10 s.
fn rtt_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Declares the event metrics: each line is `field: Type = constructor, "name", "help";`.
macro_rules! metrics {
    ($($field:ident: $ty:ty = $new:expr, $name:literal, $help:literal;)*) => {
        /// The process-wide event metrics. See the module doc.
        #[derive(Debug)]
        pub struct Metrics {
            $(#[doc = $help] pub $field: $ty,)*
        }

        impl Metrics {
            fn new() -> Self {
                Self { $($field: $new,)* }
            }

            /// Registers every family (cheap clones sharing the same values) in `r`.
            pub fn register(&self, r: &mut Registry) {
                $(r.register($name, $help, self.$field.clone());)*
            }
        }
    };
}

metrics! {
    health_check_duration: HistogramFamily<ServerLabels> =
        HistogramFamily::new_with_constructor(rtt_histogram),
        "triage_health_check_duration_seconds", "Duration of health checks, per server";
    dicom_associations: Family<DicomLabels, Counter> = Family::default(),
        "triage_dicom_associations", "DICOM association requests by called AE and result";
    hl7_messages: Family<Hl7Labels, Counter> = Family::default(),
        "triage_hl7_messages", "HL7 messages by type (MSH-9) and ACK code returned";
    xds_requests: Family<XdsLabels, Counter> = Family::default(),
        "triage_xds_requests", "XDS requests by SOAP action and HTTP status returned";
    hl7_ack_seconds: HistogramFamily<ServiceLabels> =
        HistogramFamily::new_with_constructor(rtt_histogram),
        "triage_hl7_ack_seconds", "Time from receiving an HL7 message to returning its ACK";
    hl7_redeliveries: Family<ServiceLabels, Counter> = Family::default(),
        "triage_hl7_redeliveries", "HL7 messages sent again (to the same or another server) after a failure";
    xds_request_seconds: HistogramFamily<ServiceLabels> =
        HistogramFamily::new_with_constructor(rtt_histogram),
        "triage_xds_request_seconds", "Time from an XDS request to its response head";
}

/// The process-wide event metrics.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

/// Records one health check's duration (called by the health scheduler).
pub fn observe_health_check(pool: &str, server: &str, took: Duration) {
    let labels = ServerLabels {
        pool: pool.to_string(),
        server: server.to_string(),
    };
    global()
        .health_check_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// The Content-Type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The full exposition: event metrics plus the state metrics of `snap`.
pub fn encode(snap: Arc<Snapshot>) -> Result<String, std::fmt::Error> {
    let mut r = Registry::default();
    global().register(&mut r);
    r.register_collector(Box::new(SnapshotCollector(snap)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r)?;
    Ok(out)
}

/// State metrics read from a snapshot at scrape time.
#[derive(Debug)]
pub struct SnapshotCollector(pub Arc<Snapshot>);

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn labels(s: &crate::pool::Server) -> Labels<'_> {
    vec![("pool", s.pool.as_str()), ("server", s.name())]
}

/// Encodes one metric family with one sample per label set.
fn family<'a, M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels<'a>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut me = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, m) in samples {
        m.encode(me.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let snap = &self.0;
        let services = &snap.services;
        family(
            &mut enc,
            "triage_connections_active",
            "Open client connections, per service",
            MetricType::Gauge,
            services.iter().map(|s| {
                (
                    vec![("service", s.name())],
                    ConstGauge::new(i64::from(s.stats.active())),
                )
            }),
        )?;
        family(
            &mut enc,
            "triage_connections",
            "Client connections accepted, per service",
            MetricType::Counter,
            services.iter().map(|s| {
                let n = s.stats.total.load(Relaxed);
                (vec![("service", s.name())], ConstCounter::new(n))
            }),
        )?;
        family(
            &mut enc,
            "triage_connections_refused",
            "Client connections refused (allow list, connection limit), per service",
            MetricType::Counter,
            services.iter().map(|s| {
                let n = s.stats.refused.load(Relaxed);
                (vec![("service", s.name())], ConstCounter::new(n))
            }),
        )?;
        family(
            &mut enc,
            "triage_bytes",
            "Bytes relayed, per service; direction to_server (client to server) or to_client",
            MetricType::Counter,
            services.iter().flat_map(|s| {
                let t = &s.stats.traffic;
                [
                    ("to_server", t.up.load(Relaxed)),
                    ("to_client", t.down.load(Relaxed)),
                ]
                .map(|(d, n)| {
                    (
                        vec![("service", s.name()), ("direction", d)],
                        ConstCounter::new(n),
                    )
                })
            }),
        )?;
        let servers: Vec<_> = snap
            .pools
            .iter()
            .flat_map(|p| p.servers.iter().chain(p.fallback.iter()))
            .collect();
        family(
            &mut enc,
            "triage_server_up",
            "1 if the server passes its health check, else 0",
            MetricType::Gauge,
            servers
                .iter()
                .map(|s| (labels(s), ConstGauge::new(i64::from(s.healthy())))),
        )?;
        family(
            &mut enc,
            "triage_server_state",
            "Administrative state of the server: 1 for the current state (online, drain, halt)",
            MetricType::Gauge,
            servers.iter().flat_map(|s| {
                let now = s.state();
                [ServerState::Online, ServerState::Drain, ServerState::Halt].map(|st| {
                    let mut l = labels(s);
                    l.push(("state", st.as_str()));
                    (l, ConstGauge::new(i64::from(now == st)))
                })
            }),
        )?;
        family(
            &mut enc,
            "triage_server_connections_active",
            "Open connections to the server",
            MetricType::Gauge,
            servers
                .iter()
                .map(|s| (labels(s), ConstGauge::new(i64::from(s.active())))),
        )?;
        family(
            &mut enc,
            "triage_server_connections",
            "Connections sent to the server",
            MetricType::Counter,
            servers
                .iter()
                .map(|s| (labels(s), ConstCounter::new(s.total()))),
        )?;
        Ok(())
    }
}

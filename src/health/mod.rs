//! Health checks: the scheduler (timing, timeouts, rise/fall, flips) and the check kinds. A kind
//! only implements [`Check::probe`]; the scheduler never knows what protocol a probe speaks, so
//! protocol checks (C-ECHO, HL7 ACK, XDS query) plug in by adding a file and a line in [`build`].

mod connect;
mod dicom_echo;
mod hl7_ack;
mod http;
mod script;
mod xds_query;

use crate::config::{HealthKind, HealthSpec};
use crate::pool::{CheckResult, Pool, Server};
use rand::Rng;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outcome of one probe of one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub ok: bool,
    /// Short, PHI-free text for operators: "connected", "refused", "association rejected: ...".
    pub detail: String,
}

impl Probe {
    pub fn up(detail: impl Into<String>) -> Self {
        Probe {
            ok: true,
            detail: detail.into(),
        }
    }
    pub fn down(detail: impl Into<String>) -> Self {
        Probe {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// What a probe is aimed at.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
}

/// One kind of health check.
pub trait Check: Send + Sync {
    /// Probes once. The scheduler applies the timeout; a probe need not.
    fn probe<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Probe>;
}

/// Whether this build implements a health kind.
pub fn is_supported(kind: HealthKind) -> bool {
    matches!(
        kind,
        HealthKind::Connect
            | HealthKind::Script
            | HealthKind::None
            | HealthKind::DicomEcho
            | HealthKind::Hl7Ack
            | HealthKind::XdsQuery
            | HealthKind::Http
    )
}

/// The check for a spec; `None` for kind `none` (always up, no probes).
pub fn build(spec: &HealthSpec) -> Option<Arc<dyn Check>> {
    match spec.kind {
        HealthKind::Connect => Some(Arc::new(connect::ConnectCheck)),
        HealthKind::Script => Some(Arc::new(script::ScriptCheck::new(
            spec.command.clone().unwrap_or_default(),
        ))),
        HealthKind::DicomEcho => Some(Arc::new(dicom_echo::DicomEchoCheck {
            calling_ae: spec.calling_ae.clone().unwrap_or_else(|| "TRIAGE".into()),
            called_ae: spec.called_ae.clone(),
            timeout: spec.timeout,
        })),
        HealthKind::Hl7Ack => Some(Arc::new(hl7_ack::Hl7AckCheck {
            message: spec.message.clone(),
            timeout: spec.timeout,
        })),
        HealthKind::XdsQuery => Some(Arc::new(xds_query::XdsQueryCheck {
            path: spec.path.clone().unwrap_or_else(|| "/".into()),
            timeout: spec.timeout,
        })),
        HealthKind::Http => Some(Arc::new(http::HttpCheck::new(
            spec.method.as_deref(),
            spec.path.as_deref(),
            spec.expect_status,
            spec.expect_body.as_deref(),
        ))),
        HealthKind::None => None,
    }
}

/// Starts one probe loop per server of the pool; they stop when `stop` is cancelled. With no
/// check (kind `none`) every server is marked up.
pub fn spawn_pool(pool: &Arc<Pool>, stop: &CancellationToken) {
    let Some(check) = build(&pool.spec.health) else {
        for s in &pool.servers {
            s.set_healthy(true);
        }
        return;
    };
    for server in &pool.servers {
        let targets = targets(pool, server);
        let job = Job {
            server: server.clone(),
            check: check.clone(),
            spec: pool.spec.health.clone(),
            targets,
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = job.run() => {}
            }
        });
    }
}

/// The addresses a server is checked on: the `port`/`ports` of the check on the server's IP,
/// else its own port, else (port 0) the first port a service of the pool listens on.
fn targets(pool: &Pool, server: &Arc<Server>) -> Vec<Target> {
    let spec = &pool.spec.health;
    let ip = server.spec.address.ip();
    let ports: Vec<u16> = if !spec.ports.is_empty() {
        spec.ports.clone()
    } else if server.spec.address.port() != 0 {
        vec![server.spec.address.port()]
    } else {
        pool.spec.default_check_port.into_iter().collect()
    };
    ports
        .into_iter()
        .map(|p| Target {
            addr: SocketAddr::new(ip, p),
            server: server.clone(),
        })
        .collect()
}

struct Job {
    server: Arc<Server>,
    check: Arc<dyn Check>,
    spec: HealthSpec,
    targets: Vec<Target>,
}

/// Counts consecutive results and decides flips: down after `fall` failures while up, up after
/// `rise` successes while down.
#[derive(Debug, Default)]
pub struct Streak {
    ok: u32,
    fail: u32,
}

impl Streak {
    /// Feeds one result; returns the new health if it must flip.
    pub fn feed(&mut self, ok: bool, healthy: bool, rise: u32, fall: u32) -> Option<bool> {
        if ok {
            self.ok = self.ok.saturating_add(1);
            self.fail = 0;
            (!healthy && self.ok >= rise).then_some(true)
        } else {
            self.fail = self.fail.saturating_add(1);
            self.ok = 0;
            (healthy && self.fail >= fall).then_some(false)
        }
    }
}

impl Job {
    async fn run(self) {
        let first = self.spec.interval.min(Duration::from_secs(1));
        tokio::time::sleep(jitter(first, 1.0)).await;
        let mut streak = Streak::default();
        loop {
            let start = Instant::now();
            let probe = self.probe_all().await;
            let rtt = start.elapsed();
            let s = &self.server;
            crate::metrics::observe_health_check(&s.pool, s.name(), rtt);
            if let Some(up) = streak.feed(probe.ok, s.healthy(), self.spec.rise, self.spec.fall) {
                s.set_healthy(up);
                if up {
                    tracing::info!(pool = %s.pool, server = s.name(), check = self.spec.kind.as_str(), detail = %probe.detail, "server is UP");
                } else {
                    tracing::warn!(pool = %s.pool, server = s.name(), check = self.spec.kind.as_str(), detail = %probe.detail, "server is DOWN");
                }
            }
            s.record_check(CheckResult {
                ok: probe.ok,
                detail: probe.detail,
                rtt,
                at: SystemTime::now(),
            });
            tokio::time::sleep(jitter(self.spec.interval, 0.1)).await;
        }
    }

    /// Every target must pass; the first failure is the detail.
    async fn probe_all(&self) -> Probe {
        if self.targets.is_empty() {
            return Probe::down("no port to check");
        }
        let mut details = Vec::new();
        for t in &self.targets {
            let p = match tokio::time::timeout(self.spec.timeout, self.check.probe(t)).await {
                Ok(p) => p,
                Err(_) => Probe::down(format!("timeout after {:?}", self.spec.timeout)),
            };
            if !p.ok {
                let detail = if self.targets.len() > 1 {
                    format!("port {}: {}", t.addr.port(), p.detail)
                } else {
                    p.detail
                };
                return Probe::down(detail);
            }
            details.push(p.detail);
        }
        details.dedup();
        Probe::up(details.join(", "))
    }
}

/// `d` scaled by a random factor in [1 - spread, 1 + spread] (spread 1.0: [0, 2d]), so checks
/// of many servers do not fire in lockstep.
fn jitter(d: Duration, spread: f64) -> Duration {
    let f = 1.0 + rand::rng().random_range(-spread..=spread);
    d.mul_f64(f.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_only_after_rise_and_fall() {
        let mut s = Streak::default();
        // up, fall = 3: two failures do nothing, the third flips.
        assert_eq!(s.feed(false, true, 2, 3), None);
        assert_eq!(s.feed(false, true, 2, 3), None);
        assert_eq!(s.feed(false, true, 2, 3), Some(false));
        // down, rise = 2: a success then a failure resets.
        assert_eq!(s.feed(true, false, 2, 3), None);
        assert_eq!(s.feed(false, false, 2, 3), None);
        assert_eq!(s.feed(true, false, 2, 3), None);
        assert_eq!(s.feed(true, false, 2, 3), Some(true));
    }
}

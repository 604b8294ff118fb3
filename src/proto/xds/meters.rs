//! One client connection's handles on the XDS metrics it updates for every request
//! (`triage_xds_requests_total`, `triage_xds_request_seconds`): looked up in the process-wide
//! families once per connection and (action, status) instead of once per request (each lookup
//! allocates the label strings, hashes them and takes the family's lock). The handles share
//! the families' values, so what /metrics shows is the same. Requests of one connection are
//! answered one at a time (HTTP/1.1), so the lock is never contended.

use crate::metrics::{global, XdsLabels};
use crate::metrics_cache::{observe_service, CounterCache};
use prometheus_client::metrics::histogram::Histogram;
use std::sync::Mutex;

/// Most (action, status) pairs a connection keeps handles for; others are looked up each time.
const KEEP: usize = 8;

struct Handles {
    /// Looked up at the first observation (a connection that answers nothing adds no series).
    seconds: Option<Histogram>,
    counts: CounterCache<(String, u16)>,
}

pub struct Meters {
    service: String,
    handles: Mutex<Handles>,
}

impl Meters {
    pub fn new(service: &str) -> Self {
        Meters {
            service: service.to_string(),
            handles: Mutex::new(Handles {
                seconds: None,
                counts: CounterCache::new(KEEP),
            }),
        }
    }

    /// Counts one request with action label `action` answered with `status`.
    pub fn count(&self, action: &str, status: u16) {
        let mut h = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        let service = &self.service;
        h.counts.inc(
            |(a, s)| *s == status && a == action,
            || {
                let labels = XdsLabels {
                    service: service.clone(),
                    action: action.to_string(),
                    status: status.to_string(),
                };
                let c = global().xds_requests.get_or_create(&labels).clone();
                ((labels.action, status), c)
            },
        );
    }

    /// Observes the time from a request to its response head.
    pub fn seconds(&self, secs: f64) {
        let mut h = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        let family = &global().xds_request_seconds;
        observe_service(&mut h.seconds, family, &self.service, secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(service: &str, action: &str, status: &str) -> u64 {
        let labels = XdsLabels {
            service: service.into(),
            action: action.into(),
            status: status.into(),
        };
        global().xds_requests.get_or_create(&labels).get()
    }

    #[test]
    fn cached_handles_count_into_the_global_families() {
        let svc = "meters-test-xds";
        let m = Meters::new(svc);
        for _ in 0..3 {
            m.count("urn:a", 200);
        }
        m.count("urn:a", 503);
        // Beyond the cache: still counted.
        for i in 0..(KEEP as u16 + 2) {
            m.count("urn:b", 400 + i);
        }
        m.count("urn:b", 400);
        assert_eq!(requests(svc, "urn:a", "200"), 3);
        assert_eq!(requests(svc, "urn:a", "503"), 1);
        assert_eq!(requests(svc, "urn:b", "400"), 2);
        assert_eq!(
            requests(svc, "urn:b", &(400 + KEEP as u16 + 1).to_string()),
            1
        );
    }
}

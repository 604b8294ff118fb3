//! One client connection's handles on the HL7 metrics it updates for every message
//! (`triage_hl7_messages_total`, `triage_hl7_ack_seconds`): looked up in the process-wide
//! families once per connection and message type instead of once per message (each lookup
//! allocates the label strings, hashes them and takes the family's lock). The handles share
//! the families' values, so what /metrics shows is the same.

use crate::metrics::{global, Hl7Labels};
use crate::metrics_cache::{observe_service, CounterCache};
use prometheus_client::metrics::histogram::Histogram;

/// Most (message type, ACK code) pairs a connection keeps handles for; others are looked up
/// each time.
const KEEP: usize = 8;

pub struct Meters {
    service: String,
    /// Looked up at the first observation (so a connection that delivers nothing adds no
    /// series, as before).
    ack_seconds: Option<Histogram>,
    counts: CounterCache<(String, &'static str)>,
}

impl Meters {
    pub fn new(service: &str) -> Self {
        Meters {
            service: service.to_string(),
            ack_seconds: None,
            counts: CounterCache::new(KEEP),
        }
    }

    /// Observes the time from receiving a message to having its answer.
    pub fn ack_seconds(&mut self, secs: f64) {
        let family = &global().hl7_ack_seconds;
        observe_service(&mut self.ack_seconds, family, &self.service, secs);
    }

    /// Counts one message of `message_type` answered with `ack`.
    pub fn count(&mut self, message_type: &str, ack: &'static str) {
        let service = &self.service;
        self.counts.inc(
            |(t, a)| *a == ack && t == message_type,
            || {
                let labels = Hl7Labels {
                    service: service.clone(),
                    message_type: message_type.to_string(),
                    ack: ack.to_string(),
                };
                let c = global().hl7_messages.get_or_create(&labels).clone();
                ((labels.message_type, ack), c)
            },
        );
    }
}

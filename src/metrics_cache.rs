//! Metric handles one connection keeps for the label sets it counts under: looked up in the
//! process-wide family once per label set instead of once per event (a lookup allocates the
//! label strings, hashes them and takes the family's lock). The handles share the family's
//! values, so what /metrics shows is the same.

use crate::metrics::{HistogramFamily, ServiceLabels};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

/// Observes `value` on a service's histogram of `family`, looked up at the first observation
/// and kept in `slot` (a connection that observes nothing adds no series).
pub fn observe_service(
    slot: &mut Option<Histogram>,
    family: &HistogramFamily<ServiceLabels>,
    service: &str,
    value: f64,
) {
    slot.get_or_insert_with(|| {
        let labels = ServiceLabels {
            service: service.to_string(),
        };
        family.get_or_create(&labels).clone()
    })
    .observe(value);
}

/// Up to `keep` (key, counter) pairs; keys beyond that are looked up each time.
#[derive(Debug)]
pub struct CounterCache<K> {
    entries: Vec<(K, Counter)>,
    keep: usize,
}

impl<K> CounterCache<K> {
    pub const fn new(keep: usize) -> Self {
        CounterCache {
            entries: Vec::new(),
            keep,
        }
    }

    /// Increments the counter of the first kept key that `is` accepts, else the one `lookup`
    /// finds in the family (and keeps it while there is room).
    pub fn inc(&mut self, is: impl Fn(&K) -> bool, lookup: impl FnOnce() -> (K, Counter)) {
        if let Some((_, c)) = self.entries.iter().find(|(k, _)| is(k)) {
            c.inc();
            return;
        }
        let (k, c) = lookup();
        c.inc();
        if self.entries.len() < self.keep {
            self.entries.push((k, c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_and_looked_up_keys_count_into_the_same_counters() {
        let family: Vec<(u32, Counter)> = (0..4).map(|k| (k, Counter::default())).collect();
        let find = |k: u32| family.iter().find(|(f, _)| *f == k).cloned().unwrap();
        let mut cache = CounterCache::new(2);
        for k in [0, 1, 2, 3, 0, 1, 2, 3, 2] {
            cache.inc(|c| *c == k, || find(k));
        }
        let counts: Vec<u64> = family.iter().map(|(_, c)| c.get()).collect();
        assert_eq!(counts, [2, 2, 3, 2]);
        assert_eq!(cache.entries.len(), 2);
    }
}

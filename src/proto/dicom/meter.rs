//! `triage_dicom_associations_total{service,called_ae,result}`: one count per association
//! request. The counters are kept per (service, called AE, result) once looked up, so that an
//! association costs a short lock and a few string comparisons, not the family's lookup (label
//! strings allocated and hashed, the family's lock) and the AE-label set's lock and hash.

use crate::metrics_cache::CounterCache;
use crate::service::Service;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashSet;
use std::sync::Mutex;
use triage_dicom as codec;

/// Distinct `called_ae` label values kept; further AEs (any client can send any) count as "other".
const MAX_AE_LABELS: usize = 256;
/// Counters kept for reuse; other keys are looked up in the family each time.
const KEEP: usize = 64;

/// (service, called AE, result).
type Key = (String, String, &'static str);

/// Counts one association request (before the answer goes out, so that a client which saw the
/// answer also sees the count).
pub(super) fn count(svc: &Service, called_ae: &str, result: &'static str) {
    count_named(svc.name(), called_ae, result);
}

fn count_named(service: &str, called_ae: &str, result: &'static str) {
    static KEPT: Mutex<CounterCache<Key>> = Mutex::new(CounterCache::new(KEEP));
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    kept.inc(
        |(s, a, r)| *r == result && a == called_ae && s == service,
        || {
            let key = (service.to_string(), called_ae.to_string(), result);
            (key, lookup(service, called_ae, result))
        },
    );
}

/// The family's counter for the request's labels (a handle sharing the family's value).
fn lookup(service: &str, called_ae: &str, result: &str) -> Counter {
    let labels = crate::metrics::DicomLabels {
        service: service.to_string(),
        called_ae: ae_label(called_ae),
        result: result.to_string(),
    };
    crate::metrics::global()
        .dicom_associations
        .get_or_create(&labels)
        .clone()
}

/// The `called_ae` label: the AE itself for the first [`MAX_AE_LABELS`] distinct valid AEs
/// seen, else "other", so that clients cannot grow the metric without bound; empty when no
/// request could be read. Once decided, an AE's label never changes (the set only grows), so
/// a kept counter stays right.
fn ae_label(ae: &str) -> String {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if ae.is_empty() {
        return String::new(); // aborted before a request was read
    }
    if codec::validate_ae_title(ae).is_err() {
        return "other".into();
    }
    let Ok(mut seen) = SEEN.lock() else {
        return "other".into();
    };
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(ae) || (seen.len() < MAX_AE_LABELS && seen.insert(ae.to_string())) {
        ae.to_string()
    } else {
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(service: &str, called_ae: &str, result: &str) -> u64 {
        let labels = crate::metrics::DicomLabels {
            service: service.into(),
            called_ae: called_ae.into(),
            result: result.into(),
        };
        crate::metrics::global()
            .dicom_associations
            .get_or_create(&labels)
            .get()
    }

    #[test]
    fn kept_and_looked_up_counters_are_the_family_values() {
        // More keys than are kept: the first ones count through kept handles, the rest
        // through the family each time; /metrics must show the same either way.
        let aes: Vec<String> = (0..KEEP + 8).map(|i| format!("MT{i}")).collect();
        for _ in 0..3 {
            for ae in &aes {
                count_named("meter-test", ae, "accepted");
            }
        }
        count_named("meter-test", "MT0", "rejected");
        count_named("meter-test", "not\\valid", "rejected");
        for ae in &aes {
            assert_eq!(value("meter-test", ae, "accepted"), 3, "{ae}");
        }
        assert_eq!(value("meter-test", "MT0", "rejected"), 1);
        assert_eq!(value("meter-test", "other", "rejected"), 1);
    }
}

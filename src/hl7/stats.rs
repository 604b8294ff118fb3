//! Process-wide HL7 delivery counters by service name, for operators' logs and tests: how many
//! times a message had to be sent again (to the same server on a fresh connection, or to the
//! next server) before a server acknowledged it or the gateway gave up with an AE NAK.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

fn table() -> &'static Mutex<HashMap<String, u64>> {
    static T: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// Adds `n` re-deliveries to `service`'s count.
pub fn add_redeliveries(service: &str, n: u64) {
    if n == 0 {
        return;
    }
    if let Ok(mut t) = table().lock() {
        *t.entry(service.to_string()).or_insert(0) += n;
    }
}

/// Re-deliveries made by `service` since the process started (kept across reloads).
pub fn redeliveries(service: &str) -> u64 {
    table()
        .lock()
        .map_or(0, |t| t.get(service).copied().unwrap_or(0))
}

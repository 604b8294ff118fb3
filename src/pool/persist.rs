//! Source-IP persistence (the stick table): a client keeps going to the server it was given,
//! until it has been idle for the persistence timeout. Entries are refreshed on every use and
//! expire lazily on lookup and in periodic sweeps; the table size is capped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bound on entries; past it new clients are balanced but not remembered.
pub const MAX_ENTRIES: usize = 1_000_000;

#[derive(Debug)]
struct Entry {
    server: String,
    last: Instant,
}

#[derive(Debug)]
pub struct StickTable {
    timeout: Duration,
    map: Mutex<HashMap<IpAddr, Entry>>,
}

impl StickTable {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The server remembered for `ip`, if the entry has not expired.
    pub fn lookup(&self, ip: IpAddr, now: Instant) -> Option<String> {
        let mut m = self.map.lock().ok()?;
        match m.get(&ip) {
            Some(e) if now.saturating_duration_since(e.last) < self.timeout => {
                Some(e.server.clone())
            }
            Some(_) => {
                m.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Remembers (or refreshes) `ip` → `server`.
    pub fn record(&self, ip: IpAddr, server: &str, now: Instant) {
        let Ok(mut m) = self.map.lock() else { return };
        if let Some(e) = m.get_mut(&ip) {
            if e.server != server {
                e.server = server.to_string();
            }
            e.last = now;
            return;
        }
        if m.len() >= MAX_ENTRIES {
            let t = self.timeout;
            m.retain(|_, e| now.saturating_duration_since(e.last) < t);
            if m.len() >= MAX_ENTRIES {
                return;
            }
        }
        m.insert(
            ip,
            Entry {
                server: server.to_string(),
                last: now,
            },
        );
    }

    /// Drops expired entries; returns how many are left.
    pub fn sweep(&self, now: Instant) -> usize {
        let Ok(mut m) = self.map.lock() else { return 0 };
        let t = self.timeout;
        m.retain(|_, e| now.saturating_duration_since(e.last) < t);
        m.len()
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_after_idle_timeout() {
        let t = StickTable::new(Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        t.record(ip, "a", t0);
        assert_eq!(
            t.lookup(ip, t0 + Duration::from_secs(59)).as_deref(),
            Some("a")
        );
        t.record(ip, "a", t0 + Duration::from_secs(59));
        assert_eq!(
            t.lookup(ip, t0 + Duration::from_secs(118)).as_deref(),
            Some("a")
        );
        assert_eq!(t.lookup(ip, t0 + Duration::from_secs(200)), None);
        assert!(t.is_empty());
    }

    #[test]
    fn sweep_drops_expired() {
        let t = StickTable::new(Duration::from_secs(1));
        let t0 = Instant::now();
        t.record("10.0.0.1".parse().unwrap(), "a", t0);
        t.record(
            "10.0.0.2".parse().unwrap(),
            "b",
            t0 + Duration::from_secs(2),
        );
        assert_eq!(t.sweep(t0 + Duration::from_millis(2500)), 1);
    }
}

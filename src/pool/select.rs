//! Server selection algorithms: pure, synchronous, and independent of sockets. Each sees the
//! servers that may take the connection (already filtered for state, health, weight, limits
//! and exclusions) and returns the index of the chosen one.

use crate::config::Balance;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A server as selection sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the server in its pool (config order).
    pub index: usize,
    pub weight: u32,
    pub active: u32,
    /// Stable hash of the server's name (for `source`): same on every triage instance.
    pub id_hash: u64,
}

/// A selection algorithm.
pub trait Select: Send + Sync + std::fmt::Debug {
    /// Chooses among `cands` (non-empty, in config order) for a client.
    fn choose(&self, cands: &[Candidate], client: IpAddr) -> Option<usize>;
}

/// Builds the algorithm for a pool of `n` servers.
pub fn selector(balance: Balance, n: usize) -> Box<dyn Select> {
    match balance {
        Balance::First => Box::new(First),
        Balance::Roundrobin => Box::new(RoundRobin {
            current: Mutex::new(vec![0; n]),
        }),
        Balance::Leastconn => Box::new(LeastConn {
            rotate: AtomicUsize::new(0),
        }),
        Balance::Source => Box::new(SourceHash),
    }
}

/// Failover order: the first server (in config order) that can take the connection.
#[derive(Debug)]
pub struct First;

impl Select for First {
    fn choose(&self, cands: &[Candidate], _: IpAddr) -> Option<usize> {
        cands.first().map(|c| c.index)
    }
}

/// Smooth weighted round robin (as in nginx): spreads picks in proportion to weight without
/// bursts, and stays fair when some servers are temporarily out of the candidate list.
#[derive(Debug)]
pub struct RoundRobin {
    current: Mutex<Vec<i64>>,
}

impl Select for RoundRobin {
    fn choose(&self, cands: &[Candidate], _: IpAddr) -> Option<usize> {
        let mut cur = self.current.lock().ok()?;
        let total: i64 = cands.iter().map(|c| i64::from(c.weight)).sum();
        let mut best: Option<usize> = None;
        for c in cands {
            let v = {
                let slot = cur.get_mut(c.index)?;
                *slot += i64::from(c.weight);
                *slot
            };
            if best.is_none_or(|b| v > cur[b]) {
                best = Some(c.index);
            }
        }
        let b = best?;
        cur[b] -= total;
        Some(b)
    }
}

/// Weighted least connections: the lowest active/weight; ties are broken by rotation so that
/// idle servers share new connections evenly.
#[derive(Debug)]
pub struct LeastConn {
    rotate: AtomicUsize,
}

impl Select for LeastConn {
    fn choose(&self, cands: &[Candidate], _: IpAddr) -> Option<usize> {
        let n = cands.len();
        let start = self.rotate.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let mut best: Option<&Candidate> = None;
        for i in 0..n {
            let c = &cands[(start + i) % n];
            // c.active / c.weight < b.active / b.weight, without division.
            let better = best.is_none_or(|b| {
                u64::from(c.active) * u64::from(b.weight)
                    < u64::from(b.active) * u64::from(c.weight)
            });
            if better {
                best = Some(c);
            }
        }
        best.map(|c| c.index)
    }
}

/// Weighted rendezvous (highest random weight) hashing of the client IP: each client has a
/// preference order over all servers that depends only on the IP and the server names, so the
/// mapping survives servers going down and up and agrees across triage instances.
#[derive(Debug)]
pub struct SourceHash;

impl Select for SourceHash {
    fn choose(&self, cands: &[Candidate], client: IpAddr) -> Option<usize> {
        let ip = ip_hash(client);
        cands
            .iter()
            .map(|c| (rendezvous_score(ip, c.id_hash, c.weight), c.index))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, i)| i)
    }
}

/// `weight / -ln(u)` with `u` uniform in (0, 1) from the hash of (client, server).
fn rendezvous_score(ip: u64, id: u64, weight: u32) -> f64 {
    let h = mix(ip ^ mix(id));
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight) / -u.ln()
}

/// FNV-1a over bytes: fixed, so every instance and every version hashes alike.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64 finaliser: spreads FNV's weak low bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn ip_hash(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => fnv1a(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => fnv1a(&v4.octets()),
            None => fnv1a(&v6.octets()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Candidate {
                index: i,
                weight: *w,
                active: 0,
                id_hash: fnv1a(format!("s{i}").as_bytes()),
            })
            .collect()
    }
    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn roundrobin_follows_weights() {
        let s = selector(Balance::Roundrobin, 3);
        let c = cands(&[100, 50, 50]);
        let mut n = [0; 3];
        for _ in 0..400 {
            n[s.choose(&c, IP).unwrap()] += 1;
        }
        assert_eq!(n, [200, 100, 100]);
    }

    #[test]
    fn leastconn_prefers_lowest_ratio() {
        let s = selector(Balance::Leastconn, 3);
        let mut c = cands(&[100, 100, 200]);
        c[0].active = 3;
        c[1].active = 1;
        c[2].active = 1; // 1/200 < 1/100
        assert_eq!(s.choose(&c, IP), Some(2));
        c[2].active = 4; // 4/200 == 2/100 > 1/100
        assert_eq!(s.choose(&c, IP), Some(1));
    }

    #[test]
    fn leastconn_rotates_ties() {
        let s = selector(Balance::Leastconn, 2);
        let c = cands(&[100, 100]);
        let a = s.choose(&c, IP);
        let b = s.choose(&c, IP);
        assert_ne!(a, b);
    }

    #[test]
    fn first_is_config_order() {
        let c = cands(&[1, 1, 1]);
        assert_eq!(selector(Balance::First, 3).choose(&c[1..], IP), Some(1));
    }

    #[test]
    fn source_is_stable_and_walks_on() {
        let s = selector(Balance::Source, 3);
        let all = cands(&[100, 100, 100]);
        let mut moved = 0;
        for i in 0..=255u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i));
            let first = s.choose(&all, ip).unwrap();
            assert_eq!(s.choose(&all, ip), Some(first));
            // Without server 0, only its clients move.
            let rest: Vec<_> = all.iter().copied().filter(|c| c.index != 0).collect();
            let second = s.choose(&rest, ip).unwrap();
            if first != 0 {
                assert_eq!(second, first);
            } else {
                moved += 1;
            }
        }
        assert!(
            moved > 40 && moved < 130,
            "about a third of clients map to server 0: {moved}"
        );
    }
}

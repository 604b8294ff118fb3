//! A small hasher (the multiply-rotate of rustc's FxHash, started from a per-process random
//! seed) for maps whose keys are few and mostly from the configuration: a service's pools by
//! name, the services by listen address (looked up at every accept), and the idle server
//! connections by server address. SipHash cost ≈700 instructions per XDS request there (seven
//! runs over socket addresses and a pool name, under callgrind in `benches/load_xds.rs`), and
//! ≈280 per connection for the listen address. Where a PROXY header puts client addresses into
//! the idle-connection key, the seed keeps a client from computing colliding addresses ahead of
//! time, and the map drops a key's entry once its list is empty, so it stays as small as the
//! connections it holds.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// See the module docs; made by [`FastState`], from the process's seed.
#[derive(Clone, Copy, Debug)]
pub struct FastHasher(u64);

/// FxHash's multiplier.
const MULTIPLIER: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s from the process's seed.
#[derive(Clone, Copy, Debug)]
pub struct FastState(u64);

impl Default for FastState {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        FastState(*SEED.get_or_init(|| RandomState::new().hash_one(0u64)))
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, FastState>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;
    use std::net::SocketAddr;

    fn hash<T: Hash>(t: &T) -> u64 {
        FastState::default().hash_one(t)
    }

    #[test]
    fn tells_apart_what_the_maps_hold() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let c: SocketAddr = "127.0.0.2:8080".parse().unwrap();
        let hs = [
            hash(&a),
            hash(&b),
            hash(&c),
            hash(&"registry"),
            hash(&"repository"),
        ];
        for (i, x) in hs.iter().enumerate() {
            for y in &hs[i + 1..] {
                assert_ne!(x, y);
            }
        }
        // Same input, same hash (one seed per process).
        assert_eq!(
            hash(&a),
            hash(&"127.0.0.1:8080".parse::<SocketAddr>().unwrap())
        );
        // The tail of a byte string counts.
        assert_ne!(hash(&"abcdefgh1"), hash(&"abcdefgh2"));
    }

    #[test]
    fn a_map_works_with_it() {
        let mut m: FastMap<String, u32> = FastMap::default();
        for i in 0..1000 {
            m.insert(format!("pool-{i}"), i);
        }
        assert_eq!(m.len(), 1000);
        assert!((0..1000).all(|i| m.get(&format!("pool-{i}")) == Some(&i)));
    }
}

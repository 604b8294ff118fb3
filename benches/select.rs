//! Criterion benches of server selection: `Pool::pick` (and dropping the lease it returns) for
//! each balance algorithm, with 3 and 30 servers, with and without source-ip persistence.
//! Clients rotate over 1024 addresses so persistence and `source` hashing see many keys.
//!
//! Run: `cargo bench --bench select` (a few seconds per case; `-- roundrobin` filters).
//! Pools are built from config text through `Config::parse`, so the benches follow the config
//! model without naming its struct fields.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use triage::config::Config;
use triage::pool::{PickKey, Pool};

const ALGORITHMS: [&str; 4] = ["roundrobin", "leastconn", "first", "source"];
const SIZES: [usize; 2] = [3, 30];
/// Distinct client addresses the benches cycle through.
const CLIENTS: u32 = 1024;

/// A validated pool spec for `n` servers (health `none`: nothing probes them).
fn pool(balance: &str, n: usize, sticky: bool) -> Arc<Pool> {
    let mut t = format!(
        "[[service]]\nname = \"s\"\nlisten = [\"127.0.0.1:0\"]\nprotocol = \"tcp\"\npool = \"p\"\n\n\
         [[pool]]\nname = \"p\"\nbalance = \"{balance}\"\nhealth = {{ kind = \"none\" }}\n"
    );
    if sticky {
        t.push_str("persistence = { kind = \"source-ip\", timeout = \"1h\" }\n");
    }
    for i in 0..n {
        t.push_str(&format!(
            "\n  [[pool.server]]\n  name = \"srv{i}\"\n  address = \"127.0.0.1:{}\"\n  weight = {}\n",
            20000 + i,
            50 + (i % 3) * 50
        ));
    }
    let cfg = Config::parse("bench.toml", &t).unwrap_or_else(|e| panic!("{:?}", e.lines()));
    let spec = cfg.pools[0].clone();
    Pool::new(spec, |_| None, None)
}

fn client(i: u32) -> PickKey {
    PickKey {
        client: IpAddr::from((0x0a00_0000 | (i % CLIENTS)).to_be_bytes()),
        local_port: 104,
    }
}

fn bench_pick(c: &mut Criterion) {
    for sticky in [false, true] {
        let group_name = if sticky {
            "pick/source-ip-persistence"
        } else {
            "pick/no-persistence"
        };
        let mut g = c.benchmark_group(group_name);
        for alg in ALGORITHMS {
            for n in SIZES {
                let p = pool(alg, n, sticky);
                let mut i = 0u32;
                g.bench_with_input(BenchmarkId::new(alg, n), &p, |b, p| {
                    b.iter(|| {
                        i = i.wrapping_add(1);
                        let lease = p.pick(black_box(&client(i)), &[]);
                        black_box(lease.map(|l| l.addr))
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = bench_pick
}
criterion_main!(benches);

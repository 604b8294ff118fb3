//! Load harness: the same workloads on loopback, in one run, (a) direct to the backend,
//! (b) through HAProxy in TCP mode (`nbthread 1`), (c) through triage; prints one table with
//! the ratios triage/HAProxy.
//!
//! Workloads: a bulk upload (1 GiB) to a sink; short connections (1 KiB request, 1 KiB reply,
//! close); ping-pong of 1 KiB on persistent connections (rate, p50/p99); and thousands of idle
//! proxied connections. For each proxy: CPU time (utime+stime from /proc/PID/stat) per GiB, per
//! connection and per round trip, and VmRSS growth per idle connection.
//!
//! The harness re-executes itself under `taskset -c 1` (client and backends on core 1) and
//! starts each proxy under `taskset -c 0`.
//!
//! ```text
//! cargo build --release --bin triage && cargo bench --bench load            # full run
//! cargo bench --bench load -- --quick                                       # small run
//! cargo bench --bench load -- --rounds 5                      # medians of 5 interleaved rounds
//! cargo bench --bench load -- --triage PATH --haproxy PATH --rust-log warn
//! cargo bench --bench load -- --only triage --skip idle,bulk    # e.g. to profile one proxy
//! ```
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "load/args.rs"]
mod args;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/report.rs"]
mod report;
#[path = "load/tcp_proxies.rs"]
mod tcp_proxies;
#[path = "load/work.rs"]
mod work;

type Proxy = procs::Proxy<Addrs>;
use args::Args;
use report::Figures;
use std::process::ExitCode;
use std::time::Duration;
use work::Addrs;

/// Every phase is cut after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// How long a proxy may take to start listening (long enough for valgrind).
const READY_LIMIT: Duration = Duration::from_secs(60);

/// How much each workload does.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub bulk_bytes: u64,
    pub short_conns: usize,
    pub short_conc: usize,
    pub pp_conns: usize,
    pub pp_rts: usize,
    pub idle_conns: usize,
}

impl Sizes {
    fn new(quick: bool, scale: usize) -> Self {
        let s = if quick {
            Sizes {
                bulk_bytes: 128 << 20,
                short_conns: 2_000,
                short_conc: 16,
                pp_conns: 4,
                pp_rts: 2_500,
                idle_conns: 500,
            }
        } else {
            Sizes {
                bulk_bytes: 1 << 30,
                short_conns: 10_000,
                short_conc: 16,
                pp_conns: 4,
                pp_rts: 10_000,
                idle_conns: 2_000,
            }
        };
        Sizes {
            bulk_bytes: s.bulk_bytes * scale as u64,
            short_conns: s.short_conns * scale,
            pp_rts: s.pp_rts * scale,
            ..s
        }
    }
}

const WORKLOADS: [&str; 4] = ["idle", "short", "pingpong", "bulk"];

fn main() -> ExitCode {
    args::main("load", &WORKLOADS, run)
}

async fn run(args: Args) -> ExitCode {
    let sizes = Sizes::new(args.quick, args.scale);
    let tck = procs::clk_tck();
    let dir = match procs::WorkDir::new("load") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let back = match work::start_backends().await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("load: cannot start the backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let haproxy = procs::haproxy_version(&args.haproxy);
    let triage = procs::find_triage(args.triage.clone());
    report::header(
        &sizes,
        args.rounds,
        haproxy.as_deref(),
        &triage,
        &args.rust_log,
    );
    let load_before = procs::loadavg();

    // Start every proxy first, then measure in interleaved rounds (direct, haproxy, triage,
    // direct, ...) so that a burst of other work on the machine hits all of them alike.
    let mut targets: Vec<Target> = Vec::new();
    if args.wants("direct") {
        targets.push(Target::new("direct", Ok(None)));
    }
    match &haproxy {
        _ if !args.wants("haproxy") => {}
        None => println!(
            "HAProxy not found ({}): install it with `apt-get install -y haproxy`; measuring direct and triage only",
            args.haproxy.display()
        ),
        Some(_) => {
            let p = tcp_proxies::haproxy(&args.haproxy, &dir, &back).map_err(|e| e.to_string());
            targets.push(Target::new("haproxy", p.map(Some)));
        }
    }
    match &triage {
        _ if !args.wants("triage") => {}
        Err(e) => println!("triage not measured: {e}"),
        Ok(bin) => {
            let p =
                tcp_proxies::triage(bin, &dir, &back, &args.rust_log).map_err(|e| e.to_string());
            targets.push(Target::new("triage", p.map(Some)));
        }
    }
    for round in 0..args.rounds {
        for t in args::round_order(round, &mut targets) {
            let Ok(proxy) = &mut t.proxy else { continue };
            if t.error.is_some() {
                continue;
            }
            // Idle memory once, on the fresh process: later rounds would reuse freed memory.
            let mut skip = args.skip.clone();
            if round > 0 {
                skip.push("idle".into());
            }
            eprintln!("[{}] round {}/{}", t.name, round + 1, args.rounds);
            match measure(proxy.as_mut(), &back, &sizes, &skip, tck).await {
                Ok(f) => t.rounds.push(f),
                Err(e) => t.error = Some(e),
            }
        }
    }
    let results: Vec<report::Outcome> = targets
        .into_iter()
        .map(|t| report::Outcome {
            name: t.name,
            rounds: t.rounds,
            error: t.error.or(t.proxy.err()),
        })
        .collect();
    drop(dir);
    report::table(&results, &load_before, &procs::loadavg());
    if results.iter().any(|o| o.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One thing measured: the backends directly, or a proxy (kept running for all rounds).
struct Target {
    name: &'static str,
    proxy: Result<Option<Proxy>, String>,
    rounds: Vec<Figures>,
    error: Option<String>,
}

impl Target {
    fn new(name: &'static str, proxy: Result<Option<Proxy>, String>) -> Self {
        Target {
            name,
            proxy,
            rounds: Vec::new(),
            error: None,
        }
    }
}

async fn phase<T>(
    what: &str,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(PHASE_LIMIT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no result within {PHASE_LIMIT:?}")),
    }
}

/// Runs every workload against `proxy`'s frontends (or the backends themselves when `None`).
async fn measure(
    mut proxy: Option<&mut Proxy>,
    back: &Addrs,
    sizes: &Sizes,
    skip: &[String],
    tck: f64,
) -> Result<Figures, String> {
    let on = |w: &str| !skip.iter().any(|s| s == w);
    let name = proxy.as_ref().map_or("direct", |p| p.name);
    let front = proxy.as_ref().map_or(*back, |p| p.front);
    procs::await_ready(
        proxy.as_deref_mut(),
        &[front.sink, front.resp, front.echo],
        READY_LIMIT,
    )
    .await
    .map_err(|e| format!("{name}: {e}"))?;
    let pid = proxy.as_ref().map(|p| p.pid);
    let cpu = |pid: Option<u32>| procs::cpu_of(pid, tck);
    let mut f = Figures::default();
    eprintln!("[{name}] warm-up");
    phase("warm-up", work::short(front.resp, 64, 4)).await?;
    phase("warm-up", work::ping_pong(front.echo, 2, 100)).await?;

    if let (Some(pid), true) = (pid, on("idle")) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = procs::rss_kib(pid).map_err(|e| e.to_string())?;
        eprintln!("[{name}] {} idle connections", sizes.idle_conns);
        let held = phase("idle", work::open_idle(front.echo, sizes.idle_conns, 64)).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = procs::rss_kib(pid).map_err(|e| e.to_string())?;
        drop(held);
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.rss_base_kib = Some(before as f64);
        f.idle_kib = Some((after as f64 - before as f64) / sizes.idle_conns as f64);
    }

    if on("short") {
        eprintln!("[{name}] {} short connections", sizes.short_conns);
        let c0 = cpu(pid)?;
        let t = phase(
            "short connections",
            work::short(front.resp, sizes.short_conns, sizes.short_conc),
        )
        .await?;
        let c1 = cpu(pid)?;
        f.conn_per_s = Some(sizes.short_conns as f64 / t.as_secs_f64());
        f.cpu_us_per_conn = pid.map(|_| (c1 - c0) * 1e6 / sizes.short_conns as f64);
    }

    if on("pingpong") {
        eprintln!("[{name}] ping-pong");
        let c0 = cpu(pid)?;
        let pp = phase(
            "ping-pong",
            work::ping_pong(front.echo, sizes.pp_conns, sizes.pp_rts),
        )
        .await?;
        let c1 = cpu(pid)?;
        let rts = (sizes.pp_conns * sizes.pp_rts) as f64;
        f.rt_per_s = Some(rts / pp.elapsed.as_secs_f64());
        f.p50_us = Some(pp.percentile_us(0.50));
        f.p99_us = Some(pp.percentile_us(0.99));
        f.cpu_us_per_rt = pid.map(|_| (c1 - c0) * 1e6 / rts);
    }

    if on("bulk") {
        eprintln!("[{name}] bulk upload of {} MiB", sizes.bulk_bytes >> 20);
        let c0 = cpu(pid)?;
        let t = phase("bulk", work::bulk(front.sink, sizes.bulk_bytes)).await?;
        let c1 = cpu(pid)?;
        let gib = sizes.bulk_bytes as f64 / (1u64 << 30) as f64;
        f.mib_per_s = Some(sizes.bulk_bytes as f64 / (1 << 20) as f64 / t.as_secs_f64());
        f.cpu_s_per_gib = pid.map(|_| (c1 - c0) / gib);
    }
    if let Some(p) = proxy.as_mut() {
        if let Some(st) = p.exited() {
            return Err(format!("{name} exited during the run: {st}"));
        }
    }
    Ok(f)
}

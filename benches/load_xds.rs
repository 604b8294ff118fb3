//! Load harness for the `xds` protocol (issue 6): the same XDS.b workloads on loopback, in one
//! run, (a) direct to a lean registry and repository, (b) through HAProxy in HTTP mode
//! (`nbthread 1`, keep-alive, no routing), (c) through triage routing by SOAP action; prints
//! one table with the ratios triage/HAProxy.
//!
//! Workloads: `query`, ITI-18 SOAP 1.2 requests back to back on keep-alive connections, with 1
//! and with 16 concurrent clients (requests/s, p50/p99, proxy CPU µs per request); `upload`,
//! ITI-41 MTOM uploads streamed with Content-Length from a body made on the fly (MiB/s, proxy
//! CPU s per GiB, the proxy's peak RSS sampled during the uploads); `retrieve`, ITI-43
//! retrieves answered with a document of the upload size, streamed (MiB/s, proxy CPU s per
//! GiB; reported, the issue sets no target for them). Every answer is checked
//! (HTTP 200 with a Success status; the repository checks the byte count, both backends that
//! the request is their transaction). CPU = utime+stime of the proxy over the phase.
//!
//! The harness re-executes itself under `taskset -c 1` (clients and backends on core 1) and
//! starts each proxy under `taskset -c 0`; all proxies first, then interleaved rounds.
//!
//! ```text
//! cargo build --release --bin triage && cargo bench --bench load_xds     # full run
//! cargo bench --bench load_xds -- --quick                                # small run
//! cargo bench --bench load_xds -- --rounds 5 --rust-log warn --only haproxy,triage --skip upload
//! ```
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "load/args.rs"]
mod args;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/table.rs"]
mod table;
#[path = "load/xds_back.rs"]
mod xds_back;
#[path = "load/xds_proxies.rs"]
mod xds_proxies;
#[path = "load/xds_work.rs"]
mod xds_work;

use args::Args;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use table::{Goal, Table};
use xds_back::Addrs;

type Proxy = procs::Proxy<Addrs>;

/// Every phase is cut after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(180);
/// How long a proxy may take to start listening (long enough for valgrind).
const READY_LIMIT: Duration = Duration::from_secs(60);
const WORKLOADS: [&str; 3] = ["query", "upload", "retrieve"];

/// How much each workload does.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// (concurrent clients, requests in all)
    query: [(usize, usize); 2],
    uploads: usize,
    upload_bytes: u64,
}

impl Sizes {
    fn new(quick: bool, scale: usize) -> Self {
        let s = if quick {
            Sizes {
                query: [(1, 3_000), (16, 20_000)],
                uploads: 4,
                upload_bytes: 64 << 20,
            }
        } else {
            Sizes {
                query: [(1, 10_000), (16, 40_000)],
                uploads: 10,
                upload_bytes: 100 << 20,
            }
        };
        Sizes {
            query: s.query.map(|(c, n)| (c, n * scale)),
            uploads: s.uploads * scale,
            ..s
        }
    }
}

fn main() -> ExitCode {
    args::main("load_xds", &WORKLOADS, run)
}

/// One thing measured: the backends directly, or a proxy (kept running for all rounds).
struct Target {
    name: &'static str,
    index: usize,
    proxy: Option<Proxy>,
    error: Option<String>,
}

async fn run(args: Args) -> ExitCode {
    let sizes = Sizes::new(args.quick, args.scale);
    let tck = procs::clk_tck();
    let dir = match procs::WorkDir::new("load_xds") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let back = match xds_back::start().await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("load_xds: cannot start the backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let haproxy = procs::haproxy_version(&args.haproxy);
    let triage = procs::find_triage(args.triage.clone());
    println!(
        "load_xds: ITI-18 {:?} (clients, requests); ITI-41 {} x {} MiB; {} round(s); pinned: {}; \
         HAProxy: {}; triage: {}; RUST_LOG={}",
        sizes.query,
        sizes.uploads,
        sizes.upload_bytes >> 20,
        args.rounds,
        procs::pinned(),
        haproxy.as_deref().unwrap_or("not found"),
        triage
            .as_ref()
            .map_or_else(|e| e.clone(), |p| p.display().to_string()),
        args.rust_log
    );
    let load_before = procs::loadavg();

    let mut targets: Vec<Target> = Vec::new();
    let mut add = |name, index, p: std::io::Result<Option<Proxy>>| {
        let (proxy, error) = match p {
            Ok(p) => (p, None),
            Err(e) => (None, Some(format!("cannot start: {e}"))),
        };
        targets.push(Target {
            name,
            index,
            proxy,
            error,
        });
    };
    if args.wants("direct") {
        add("direct", 0, Ok(None));
    }
    match &haproxy {
        _ if !args.wants("haproxy") => {}
        None => println!(
            "HAProxy not found ({}): install it with `apt-get install -y haproxy`",
            args.haproxy.display()
        ),
        Some(_) => add(
            "haproxy",
            1,
            xds_proxies::haproxy(&args.haproxy, &dir, &back).map(Some),
        ),
    }
    match &triage {
        _ if !args.wants("triage") => {}
        Err(e) => println!("triage not measured: {e}"),
        Ok(bin) => add(
            "triage",
            2,
            xds_proxies::triage(bin, &dir, &back, &args.rust_log).map(Some),
        ),
    }
    let mut table = Table::default();
    declare_rows(&mut table, &sizes, &args);
    for round in 0..args.rounds {
        for t in args::round_order(round, &mut targets)
            .into_iter()
            .filter(|t| t.error.is_none())
        {
            eprintln!("[{}] round {}/{}", t.name, round + 1, args.rounds);
            let r = measure(t, &back, &sizes, &args, tck, &mut table).await;
            if let Err(e) = r {
                t.error = Some(e);
            }
        }
    }
    drop(dir);
    let missed = table.print("XDS load (ITI-18 queries, ITI-41 MTOM uploads, ITI-43 retrieves)");
    println!(
        "load average (1 min): {load_before} before, {} after; {missed} target(s) missed",
        procs::loadavg()
    );
    let mut failed = false;
    for t in &targets {
        if let Some(e) = &t.error {
            println!("{} FAILED: {e}", t.name);
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn query_label(what: &str, conns: usize) -> String {
    let s = if conns == 1 { "" } else { "s" };
    format!("ITI-18 {what}, {conns} client{s}")
}

fn upload_label(sizes: &Sizes) -> String {
    format!("ITI-41 {} MiB uploads, MiB/s", sizes.upload_bytes >> 20)
}

const CPU_PER_GIB: &str = "ITI-41 proxy CPU s/GiB";
const PEAK_RSS: &str = "ITI-41 proxy peak RSS MiB";

/// The rows in print order (direct has no proxy CPU, so recording alone would put those last).
fn declare_rows(table: &mut Table, sizes: &Sizes, args: &Args) {
    let queries = if args.runs("query") {
        &sizes.query[..]
    } else {
        &[]
    };
    for (conns, _) in queries.iter().copied() {
        table.declare(&query_label("requests/s", conns), Goal::AtLeastHaproxy);
        table.declare(&query_label("p50 µs", conns), Goal::AtMostHaproxy);
        table.declare(&query_label("p99 µs", conns), Goal::Report);
        table.declare(
            &query_label("proxy CPU µs/request", conns),
            Goal::AtMostHaproxy,
        );
    }
    if args.runs("upload") {
        table.declare(&upload_label(sizes), Goal::AtLeastHaproxy);
        table.declare(CPU_PER_GIB, Goal::AtMostHaproxy);
        table.declare(PEAK_RSS, Goal::Report);
    }
    if args.runs("retrieve") {
        table.declare(&retrieve_label(sizes), Goal::Report);
        table.declare(RETRIEVE_CPU_PER_GIB, Goal::Report);
    }
}

fn retrieve_label(sizes: &Sizes) -> String {
    format!("ITI-43 {} MiB retrieves, MiB/s", sizes.upload_bytes >> 20)
}

const RETRIEVE_CPU_PER_GIB: &str = "ITI-43 proxy CPU s/GiB";

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

/// Samples the proxy's VmRSS every 10 ms until dropped; the peak in KiB.
struct RssPeak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
}

impl RssPeak {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(procs::rss_kib(pid).unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Ok(k) = procs::rss_kib(pid) {
                    p.fetch_max(k, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        RssPeak { stop, peak }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.peak.load(Ordering::Relaxed)
    }
}

/// Runs every workload against `t`'s frontends (or the backends themselves) and records the
/// figures of this round in `table`.
async fn measure(
    t: &mut Target,
    back: &Addrs,
    sizes: &Sizes,
    args: &Args,
    tck: f64,
    table: &mut Table,
) -> Result<(), String> {
    let name = t.name;
    let front = t.proxy.as_ref().map_or(*back, |p| p.front);
    procs::await_ready(
        t.proxy.as_mut(),
        &[front.registry, front.repository],
        READY_LIMIT,
    )
    .await?;
    let pid = t.proxy.as_ref().map(|p| p.pid);
    let cpu = || procs::cpu_of(pid, tck);
    let i = t.index;
    eprintln!("[{name}] warm-up");
    phase("warm-up query", xds_work::query(front.registry, 4, 400)).await?;
    phase(
        "warm-up upload",
        xds_work::upload(front.repository, 1, 1 << 20),
    )
    .await?;

    if args.runs("query") {
        for (conns, n) in sizes.query {
            eprintln!("[{name}] {n} ITI-18 queries, {conns} client(s)");
            let c0 = cpu()?;
            let q = phase("query", xds_work::query(front.registry, conns, n)).await?;
            let c1 = cpu()?;
            let l = |what: &str| query_label(what, conns);
            table.record(
                &l("requests/s"),
                Goal::AtLeastHaproxy,
                i,
                n as f64 / q.elapsed.as_secs_f64(),
            );
            table.record(&l("p50 µs"), Goal::AtMostHaproxy, i, q.percentile_us(0.5));
            table.record(&l("p99 µs"), Goal::Report, i, q.percentile_us(0.99));
            if pid.is_some() {
                let us = (c1 - c0) * 1e6 / n as f64;
                table.record(&l("proxy CPU µs/request"), Goal::AtMostHaproxy, i, us);
            }
        }
    }

    if args.runs("upload") {
        let mib = sizes.upload_bytes >> 20;
        eprintln!("[{name}] {} ITI-41 uploads of {mib} MiB", sizes.uploads);
        let rss = pid.map(RssPeak::start);
        let c0 = cpu()?;
        let up = xds_work::upload(front.repository, sizes.uploads, sizes.upload_bytes);
        let (elapsed, bytes) = phase("upload", up).await?;
        let c1 = cpu()?;
        let peak = rss.map(RssPeak::finish);
        let label = upload_label(sizes);
        let rate = bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
        table.record(&label, Goal::AtLeastHaproxy, i, rate);
        if let Some(peak) = peak {
            let gib = bytes as f64 / (1u64 << 30) as f64;
            table.record(CPU_PER_GIB, Goal::AtMostHaproxy, i, (c1 - c0) / gib);
            table.record(PEAK_RSS, Goal::Report, i, peak as f64 / 1024.0);
        }
    }
    if args.runs("retrieve") {
        let mib = sizes.upload_bytes >> 20;
        eprintln!("[{name}] {} ITI-43 retrieves of {mib} MiB", sizes.uploads);
        let c0 = cpu()?;
        let r = xds_work::retrieve(front.repository, sizes.uploads, sizes.upload_bytes);
        let (elapsed, bytes) = phase("retrieve", r).await?;
        let c1 = cpu()?;
        let rate = bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
        table.record(&retrieve_label(sizes), Goal::Report, i, rate);
        if pid.is_some() {
            let gib = bytes as f64 / (1u64 << 30) as f64;
            table.record(RETRIEVE_CPU_PER_GIB, Goal::Report, i, (c1 - c0) / gib);
        }
    }
    if let Some(p) = t.proxy.as_mut() {
        if let Some(st) = p.exited() {
            return Err(format!("exited during the run: {st}"));
        }
    }
    Ok(())
}

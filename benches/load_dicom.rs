//! DICOM load harness (issue 4): the same DICOM workloads on loopback, in one run, (a) direct to
//! the backends, (b) through HAProxy in TCP mode (`nbthread 1`), (c) through triage's `dicom`
//! services (called-AE rewrite on); prints one table with the ratios triage/HAProxy and the
//! targets: throughput and association rate ≥ HAProxy's, CPU per GiB and per association ≤
//! HAProxy's, idle memory per open association ≤ 4 KiB beyond an idle TCP connection's.
//!
//! Workloads (names for `--skip`):
//! - `store`: dcmtk `storescu` sends one 5 MB Secondary Capture image 200 times (quick: 20) on
//!   one association to `storescp --ignore` → MiB/s, proxy CPU s per GiB;
//! - `assoc`: associations to a canned-answer acceptor (`dicom_canned.rs`; `--simulator`: the
//!   triage DICOM simulator), 8 at a time: A-ASSOCIATE (1 context),
//!   C-ECHO, A-RELEASE (replayed echoscu PDUs); and A-ASSOCIATE with storescu's 128 contexts,
//!   A-RELEASE (what a modality's association set-up costs) → associations/s, proxy CPU µs per
//!   association;
//! - `idle`: N plain TCP connections (through a `tcp` service to an echo) and then N storescu
//!   associations (128 presentation contexts) held open → proxy VmRSS growth per connection and
//!   per association, and the difference (first round only, on the fresh process).
//!
//! Client and backends run on core 1 (the harness re-executes itself under `taskset -c 1`),
//! each proxy under `taskset -c 0`; CPU = utime+stime of the proxy process over the phase.
//!
//! ```text
//! cargo build --release --bin triage && cargo bench --bench load_dicom      # full run
//! cargo bench --bench load_dicom -- --quick                                 # small run
//! cargo bench --bench load_dicom -- --rounds 5 --only haproxy,triage --skip idle
//! ```
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "load/args.rs"]
mod args;
#[path = "load/dicom_canned.rs"]
mod dicom_canned;
#[path = "load/dicom_peers.rs"]
mod dicom_peers;
#[path = "load/dicom_proxies.rs"]
mod dicom_proxies;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/table.rs"]
mod table;
#[allow(dead_code)]
#[path = "load/work.rs"]
mod work;

use args::Args;
use dicom_peers::Assoc;
use dicom_proxies::Addrs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use table::{Goal, Table};

type Proxy = procs::Proxy<Addrs>;

/// Every phase is cut after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(300);
/// How long a proxy may take to start listening (long enough for valgrind).
const READY_LIMIT: Duration = Duration::from_secs(60);
/// Pixel bytes of the test image (5000 rows × 1000 columns, 8 bit): a 5 MB file.
const IMAGE_PIXELS: usize = 5_000_000;
/// Associations in flight at once in the `assoc` workload.
const ASSOC_CONC: usize = 8;
/// Idle connections / associations opened at a time.
const IDLE_CONC: usize = 32;

/// How much each workload does.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    store_files: usize,
    assocs: usize,
    idle: usize,
}

impl Sizes {
    fn new(quick: bool, scale: usize) -> Self {
        let s = if quick {
            Sizes {
                store_files: 20,
                assocs: 4_000,
                idle: 500,
            }
        } else {
            Sizes {
                store_files: 200,
                assocs: 10_000,
                idle: 2_000,
            }
        };
        Sizes {
            store_files: s.store_files * scale,
            assocs: s.assocs * scale,
            ..s
        }
    }
}

const WORKLOADS: [&str; 3] = ["idle", "assoc", "store"];

fn main() -> ExitCode {
    args::main("load_dicom", &WORKLOADS, run)
}

/// One thing measured: the backends directly, or a proxy (kept running for all rounds).
struct Target {
    index: usize,
    proxy: Option<Proxy>,
    error: Option<String>,
}

async fn run(args: Args) -> ExitCode {
    let sizes = Sizes::new(args.quick, args.scale);
    let tck = procs::clk_tck();
    match procs::WorkDir::new("load_dicom") {
        Ok(dir) => run_in(&args, &sizes, tck, &dir).await,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_in(args: &Args, sizes: &Sizes, tck: f64, dir: &Path) -> ExitCode {
    let image = if args.runs("store") {
        match dicom_peers::make_image(dir, IMAGE_PIXELS).await {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("load_dicom: cannot make the test image: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let back = match dicom_proxies::start_backends(dir, args.simulator).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("load_dicom: cannot start the backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let haproxy = procs::haproxy_version(&args.haproxy);
    let triage = procs::find_triage(args.triage.clone());
    let image_len = image
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    println!(
        "DICOM load harness: store {} × {:.1} MB on one association, {} associations ({} at a time, to {}), {} idle; {} round(s)",
        sizes.store_files,
        image_len as f64 / 1e6,
        sizes.assocs,
        ASSOC_CONC,
        if args.simulator {
            "the triage DICOM simulator"
        } else {
            "canned storescp answers"
        },
        sizes.idle,
        args.rounds
    );
    println!(
        "haproxy: {}; triage: {}; RUST_LOG={}; pinned: {} (proxies on core {})",
        haproxy.as_deref().unwrap_or("not found"),
        triage
            .as_ref()
            .map_or_else(|e| e.clone(), |p| p.display().to_string()),
        args.rust_log,
        procs::pinned(),
        procs::proxy_core()
    );
    let load_before = procs::loadavg();

    let mut targets: Vec<Target> = Vec::new();
    let mut failed = false;
    if args.wants("direct") {
        targets.push(Target {
            index: 0,
            proxy: None,
            error: None,
        });
    }
    let mut start = |index: usize, p: std::io::Result<Proxy>| match p {
        Ok(p) => targets.push(Target {
            index,
            proxy: Some(p),
            error: None,
        }),
        Err(e) => {
            println!("{} not measured: {e}", table::TARGETS[index]);
            failed = true;
        }
    };
    match &haproxy {
        _ if !args.wants("haproxy") => {}
        None => println!(
            "HAProxy not found ({}): install it with `apt-get install -y haproxy`; measuring direct and triage only",
            args.haproxy.display()
        ),
        Some(_) => start(1, dicom_proxies::haproxy(&args.haproxy, dir, &back.addrs)),
    }
    match &triage {
        _ if !args.wants("triage") => {}
        Err(e) => {
            println!("triage not measured: {e}");
            failed = true;
        }
        Ok(bin) => start(
            2,
            dicom_proxies::triage(bin, dir, &back.addrs, &args.rust_log, args.no_preconnect),
        ),
    }

    let mut tab = Table::default();
    for round in 0..args.rounds {
        for t in args::round_order(round, &mut targets) {
            if t.error.is_some() {
                continue;
            }
            let name = table::TARGETS[t.index];
            if args.settle > 0 {
                procs::settle(Duration::from_secs(args.settle)).await;
            }
            eprintln!("[{name}] round {}/{}", round + 1, args.rounds);
            let w = Work {
                sizes,
                image: image.as_deref(),
                idle: round == 0 && args.runs("idle"),
                assoc: args.runs("assoc"),
                tck,
            };
            if let Err(e) = measure(t, &back.addrs, &w, &mut tab).await {
                t.error = Some(e);
            }
        }
    }
    for t in &targets {
        if let Some(e) = &t.error {
            println!("{} failed: {e}", table::TARGETS[t.index]);
            failed = true;
        }
    }
    let missed = tab.print(&format!(
        "DICOM through HAProxy (mode tcp) and triage (protocol dicom); medians of {} round(s); load average {} before, {} after",
        args.rounds,
        load_before,
        procs::loadavg()
    ));
    println!(
        "{missed} target(s) missed. Figures from a shared or busy machine are indicative only."
    );
    drop(back);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What one round does.
struct Work<'a> {
    sizes: &'a Sizes,
    image: Option<&'a Path>,
    idle: bool,
    assoc: bool,
    tck: f64,
}

/// CPU seconds of this process (the client and the backends).
fn harness_cpu(tck: f64) -> Result<f64, String> {
    procs::cpu_secs(std::process::id(), tck).map_err(|e| e.to_string())
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

/// Runs the workloads against `t`'s frontends (or the backends themselves for direct) and
/// records the figures.
async fn measure(
    t: &mut Target,
    back: &Addrs,
    w: &Work<'_>,
    tab: &mut Table,
) -> Result<(), String> {
    let name = table::TARGETS[t.index];
    let col = t.index;
    let front = t.proxy.as_ref().map_or(*back, |p| p.front);
    procs::await_ready(
        t.proxy.as_mut(),
        &[front.store, front.assoc, front.echo],
        READY_LIMIT,
    )
    .await?;
    let pid = t.proxy.as_ref().map(|p| p.pid);
    let tck = w.tck;
    let cpu = move || procs::cpu_of(pid, tck);
    eprintln!("[{name}] warm-up");
    phase(
        "warm-up",
        dicom_peers::assoc_rate(front.assoc, Assoc::Echo, 50, 4),
    )
    .await?;
    let held = phase("warm-up", work::open_idle(front.echo, 8, 8)).await?;
    drop(held);

    if let (Some(pid), true) = (pid, w.idle) {
        idle(pid, &front, w.sizes.idle, col, tab).await?;
    }

    if w.assoc {
        let kinds = [
            (Assoc::Echo, w.sizes.assocs, "echo"),
            (Assoc::Store128, w.sizes.assocs / 2, "128 contexts"),
        ];
        for (kind, n, what) in kinds {
            eprintln!("[{name}] {n} associations ({what})");
            let c0 = cpu()?;
            let h0 = harness_cpu(tck)?;
            let el = phase(
                "assoc",
                dicom_peers::assoc_rate(front.assoc, kind, n, ASSOC_CONC),
            )
            .await?;
            let c1 = cpu()?;
            let h1 = harness_cpu(tck)?;
            // The client and the backend share one core: when it is saturated, the rate
            // measures what each proxy costs this process per association, not the proxy.
            tab.record(
                &format!("harness CPU µs per association ({what})"),
                Goal::Report,
                col,
                (h1 - h0) * 1e6 / n as f64,
            );
            tab.record(
                &format!("associations/s ({what}, 8 at a time)"),
                Goal::AtLeastHaproxy,
                col,
                n as f64 / el.as_secs_f64(),
            );
            if pid.is_some() {
                tab.record(
                    &format!("proxy CPU µs per association ({what})"),
                    Goal::AtMostHaproxy,
                    col,
                    (c1 - c0) * 1e6 / n as f64,
                );
            }
        }
    }

    if let Some(image) = w.image {
        store(
            image,
            front.store,
            w.sizes.store_files,
            &cpu,
            name,
            col,
            tab,
        )
        .await?;
    }
    if let Some(p) = t.proxy.as_mut() {
        if let Some(st) = p.exited() {
            return Err(format!(
                "exited during the run: {st}; log:\n{}",
                p.log_tail()
            ));
        }
    }
    Ok(())
}

async fn store(
    image: &Path,
    addr: std::net::SocketAddr,
    n: usize,
    cpu: &dyn Fn() -> Result<f64, String>,
    name: &str,
    col: usize,
    tab: &mut Table,
) -> Result<(), String> {
    let bytes = std::fs::metadata(image).map_err(|e| e.to_string())?.len() * n as u64;
    eprintln!("[{name}] C-STORE of {n} files, {} MiB", bytes >> 20);
    let c0 = cpu()?;
    let el = phase("store", dicom_peers::storescu(addr, image, n)).await?;
    let c1 = cpu()?;
    let mib = bytes as f64 / (1u64 << 20) as f64;
    tab.record(
        "C-STORE MiB/s (storescu, one association)",
        Goal::AtLeastHaproxy,
        col,
        mib / el.as_secs_f64(),
    );
    if col > 0 {
        tab.record(
            "proxy CPU s per GiB stored",
            Goal::AtMostHaproxy,
            col,
            (c1 - c0) * 1024.0 / mib,
        );
    }
    Ok(())
}

/// Idle memory: N plain TCP connections first, then N associations on top (both held, so
/// that neither reuses memory the other freed); VmRSS growth per connection of each.
async fn idle(
    pid: u32,
    front: &Addrs,
    n: usize,
    col: usize,
    tab: &mut Table,
) -> Result<(), String> {
    let rss = || {
        procs::rss_kib(pid)
            .map(|k| k as f64)
            .map_err(|e| e.to_string())
    };
    let settle = || tokio::time::sleep(Duration::from_millis(500));
    let name = table::TARGETS[col];
    settle().await;
    let r0 = rss()?;
    eprintln!("[{name}] {n} idle TCP connections");
    let tcp = phase("idle tcp", work::open_idle(front.echo, n, IDLE_CONC)).await?;
    settle().await;
    let r1 = rss()?;
    eprintln!("[{name}] {n} idle associations");
    let assocs = phase(
        "idle associations",
        dicom_peers::open_idle(front.assoc, dicom_peers::STORE_RQ, n, IDLE_CONC),
    )
    .await?;
    settle().await;
    let r2 = rss()?;
    drop((tcp, assocs));
    settle().await;
    let (per_tcp, per_assoc) = ((r1 - r0) / n as f64, (r2 - r1) / n as f64);
    tab.record("proxy VmRSS at start, KiB", Goal::Report, col, r0);
    tab.record(
        "idle KiB per TCP connection (tcp service)",
        Goal::Report,
        col,
        per_tcp,
    );
    tab.record(
        "idle KiB per association (128 contexts)",
        Goal::Report,
        col,
        per_assoc,
    );
    tab.record(
        "idle KiB per association beyond TCP conn",
        Goal::AtMost(4.0),
        col,
        per_assoc - per_tcp,
    );
    Ok(())
}

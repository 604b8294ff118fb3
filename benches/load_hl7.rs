//! Load harness for HL7 v2 over MLLP: N concurrent senders (1, 8, 64), each on its own
//! connection with one message in flight (an ADT^A01 with a unique MSH-10; every ACK's MSA-2 is
//! checked), against two lean Rust ACK responders, (a) direct to the first responder, (b)
//! through HAProxy in TCP mode (`nbthread 1`, roundrobin: each connection pinned to one
//! responder), (c) through triage (`mllp`: routed by MSH-9 and balanced per message over both).
//! Figures: messages/s, p50/p99 ACK round trip, proxy CPU (utime+stime) per message.
//!
//! Two parts, each starting its proxies first and then measuring in interleaved rounds
//! (direct, haproxy, triage, direct, ...):
//! 1. `senders1`, `senders8`, `senders64`: client and responders on core 1, proxies on core 0.
//! 2. `onecore`: the proxies are restarted on core 1, next to client and responders, and one
//!    sender measures the latency at low load: p99 added latency = proxy p99 − direct p99
//!    (target for triage: ≤ 100 µs).
//!
//! With `--one-core` both parts run with the proxies on core 1.
//!
//! ```text
//! cargo build --release --bin triage && cargo bench --bench load_hl7     # full run
//! cargo bench --bench load_hl7 -- --quick                                # small run
//! cargo bench --bench load_hl7 -- --rounds 5 --skip senders64
//! cargo bench --bench load_hl7 -- --only direct,triage --skip onecore    # e.g. to profile
//! ```
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "load/args.rs"]
mod args;
#[path = "load/hl7_proxies.rs"]
mod hl7_proxies;
#[path = "load/hl7_work.rs"]
mod hl7_work;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/table.rs"]
mod table;

use args::Args;
use hl7_work::Responder;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use table::{Goal, Table};

type Proxy = procs::Proxy<SocketAddr>;

/// Every phase is cut after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// How long a proxy may take to start listening (long enough for valgrind).
const READY_LIMIT: Duration = Duration::from_secs(60);
/// Target of the one-core phase: triage's p99 minus direct p99, µs.
const ADDED_P99_LIMIT_US: f64 = 100.0;

const WORKLOADS: [&str; 4] = ["senders1", "senders8", "senders64", "onecore"];

/// One workload: `senders` connections, each sending `per_sender` messages.
#[derive(Clone, Copy, Debug)]
struct Load {
    name: &'static str,
    label: &'static str,
    senders: usize,
    per_sender: usize,
}

fn loads(quick: bool, scale: usize) -> [Load; 4] {
    let m = |full: usize, small: usize| scale * if quick { small } else { full };
    [
        Load {
            name: "senders1",
            label: "1 sender",
            senders: 1,
            per_sender: m(20_000, 4_000),
        },
        Load {
            name: "senders8",
            label: "8 senders",
            senders: 8,
            per_sender: m(10_000, 2_500),
        },
        Load {
            name: "senders64",
            label: "64 senders",
            senders: 64,
            per_sender: m(1_500, 300),
        },
        Load {
            name: "onecore",
            label: "one core, 1 sender",
            senders: 1,
            per_sender: m(50_000, 10_000),
        },
    ]
}

fn main() -> ExitCode {
    args::main("load_hl7", &WORKLOADS, run)
}

async fn run(args: Args) -> ExitCode {
    let tck = procs::clk_tck();
    let dir = match procs::WorkDir::new("load_hl7") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let back = match (
        hl7_work::start_responder().await,
        hl7_work::start_responder().await,
    ) {
        (Ok(a), Ok(b)) => [a, b],
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("load_hl7: cannot start the ACK responders: {e}");
            return ExitCode::FAILURE;
        }
    };
    let haproxy = procs::haproxy_version(&args.haproxy);
    let triage = procs::find_triage(args.triage.clone());
    let all = loads(args.quick, args.scale);
    println!("load_hl7: HL7 v2 MLLP, ADT^A01 of 256 bytes, one message in flight per connection");
    for l in &all {
        println!(
            "  {:<10} {} sender(s) x {} messages",
            l.name, l.senders, l.per_sender
        );
    }
    println!(
        "  rounds {}, haproxy: {}, triage: {}, RUST_LOG={}, pinned: {}",
        args.rounds,
        haproxy.as_deref().unwrap_or("not found"),
        triage
            .as_ref()
            .map_or_else(|e| e.clone(), |p| p.display().to_string()),
        args.rust_log,
        procs::pinned()
    );
    if args.rust_log.starts_with("info") || args.rust_log.starts_with("debug") {
        println!(
            "  note: at RUST_LOG={} triage logs one line per message (HAProxy here logs nothing); \
             `--rust-log warn` compares like with like",
            args.rust_log
        );
    }
    let load_before = procs::loadavg();

    let mut table = Table::default();
    let mut failed = false;
    let part1: Vec<Load> = all[..3]
        .iter()
        .copied()
        .filter(|l| args.runs(l.name))
        .collect();
    let env = Env {
        args: &args,
        dir: &dir,
        back: &back,
        haproxy: haproxy.is_some(),
        triage: triage.as_deref().ok(),
        tck,
    };
    if !part1.is_empty() {
        failed |= measure_part(&env, &part1, &mut table).await;
    }
    if args.runs("onecore") {
        // The proxies of part 1 are gone; these ones share core 1 with client and responders.
        procs::set_proxy_core(1);
        failed |= measure_part(&env, &all[3..], &mut table).await;
    }
    drop(dir);
    let missed = table.print(&format!(
        "HL7 MLLP (medians of {} round(s); load average {} before, {} after; CPU = proxy utime+stime)",
        args.rounds,
        load_before,
        procs::loadavg()
    ));
    println!("{missed} target(s) missed");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// What every part needs.
struct Env<'a> {
    args: &'a Args,
    dir: &'a Path,
    back: &'a [Responder; 2],
    haproxy: bool,
    triage: Option<&'a Path>,
    tck: f64,
}

/// One thing measured: the first responder directly, or a proxy.
struct Target {
    name: &'static str,
    index: usize,
    proxy: Option<Proxy>,
    error: Option<String>,
}

/// Starts the wanted proxies, measures `loads` in interleaved rounds, records the rows and
/// stops the proxies. Returns true if a target failed.
async fn measure_part(env: &Env<'_>, loads: &[Load], table: &mut Table) -> bool {
    let args = env.args;
    let addrs = [env.back[0].addr, env.back[1].addr];
    let mut targets = Vec::new();
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
    if args.wants("haproxy") {
        if env.haproxy {
            let p = hl7_proxies::haproxy(&args.haproxy, env.dir, addrs);
            add("haproxy", 1, p.map(Some));
        } else {
            println!("HAProxy not found ({}): install it with `apt-get install -y haproxy`; not measured", args.haproxy.display());
        }
    }
    if let (true, Some(bin)) = (args.wants("triage"), env.triage) {
        let p = hl7_proxies::triage(bin, env.dir, addrs, &args.rust_log);
        add("triage", 2, p.map(Some));
    } else if args.wants("triage") {
        println!("triage not measured: no binary (cargo build --release --bin triage)");
    }
    eprintln!("proxies on core {}", procs::proxy_core());
    let mut direct_p99: Option<f64> = None;
    for round in 0..args.rounds {
        for t in args::round_order(round, &mut targets) {
            if t.error.is_some() {
                continue;
            }
            eprintln!("[{}] round {}/{}", t.name, round + 1, args.rounds);
            if let Err(e) = measure(env, t, loads, table, &mut direct_p99).await {
                t.error = Some(e);
            }
        }
    }
    let mut failed = false;
    for t in &targets {
        if let Some(e) = &t.error {
            println!("{} FAILED: {e}", t.name);
            failed = true;
        }
    }
    failed
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

/// The rows of one workload, with their targets (from issue 5).
struct Rows {
    rate: (String, Goal),
    p50: (String, Goal),
    p99: (String, Goal),
    added: (String, Goal),
    cpu: (String, Goal),
    share: (String, Goal),
}

impl Rows {
    fn new(l: &Load) -> Self {
        let one_core = l.name == "onecore";
        let row = |what: &str, g: Goal| (format!("{}: {what}", l.label), g);
        let (rate_goal, p99_goal) = if one_core {
            (Goal::Report, Goal::AddedAtMost(ADDED_P99_LIMIT_US))
        } else {
            (Goal::AtLeastHaproxy, Goal::Report)
        };
        Rows {
            rate: row("messages/s", rate_goal),
            p50: row("p50 ACK round trip µs", Goal::Report),
            p99: row("p99 ACK round trip µs", p99_goal),
            added: row("p99 added over direct µs", Goal::Report),
            cpu: row("proxy CPU µs/message", Goal::AtMostHaproxy),
            share: row("% on 2nd responder", Goal::Report),
        }
    }

    /// Fixes the row order (direct, measured first, has no proxy figures).
    fn declare(&self, table: &mut Table, l: &Load) {
        let mut all = vec![&self.rate, &self.p50, &self.p99];
        if l.name == "onecore" {
            all.push(&self.added);
        }
        all.push(&self.cpu);
        if l.senders == 1 {
            all.push(&self.share);
        }
        for (label, goal) in all {
            table.declare(label, *goal);
        }
    }
}

/// Runs `loads` against one target and records its figures. `direct_p99` carries the direct
/// one-core p99 of this round to the proxies measured after it.
async fn measure(
    env: &Env<'_>,
    t: &mut Target,
    loads: &[Load],
    table: &mut Table,
    direct_p99: &mut Option<f64>,
) -> Result<(), String> {
    let front = t.proxy.as_ref().map_or(env.back[0].addr, |p| p.front);
    procs::await_ready(t.proxy.as_mut(), &[front], READY_LIMIT).await?;
    let pid = t.proxy.as_ref().map(|p| p.pid);
    let cpu = |pid: Option<u32>| procs::cpu_of(pid, env.tck);
    // Warm-up: pooled server connections for up to 64 senders, caches, the proxy's allocator.
    phase("warm-up", hl7_work::senders(front, 64, 5)).await?;
    phase("warm-up", hl7_work::senders(front, 1, 500)).await?;
    for l in loads {
        eprintln!("[{}] {}: {} x {}", t.name, l.name, l.senders, l.per_sender);
        let second0 = env.back[1].count();
        let acked0 = env.back[0].count() + second0;
        let c0 = cpu(pid)?;
        let r = phase(l.name, hl7_work::senders(front, l.senders, l.per_sender)).await?;
        let c1 = cpu(pid)?;
        let second = env.back[1].count() - second0;
        let acked = env.back[0].count() + env.back[1].count() - acked0;
        let one_core = l.name == "onecore";
        let rows = Rows::new(l);
        rows.declare(table, l);
        let p99 = r.percentile_us(0.99);
        table.record(&rows.rate.0, rows.rate.1, t.index, r.per_s());
        let p50 = r.percentile_us(0.50);
        table.record(&rows.p50.0, rows.p50.1, t.index, p50);
        table.record(&rows.p99.0, rows.p99.1, t.index, p99);
        if one_core {
            match (t.index, *direct_p99) {
                (0, _) => *direct_p99 = Some(p99),
                (i, Some(d)) => table.record(&rows.added.0, rows.added.1, i, p99 - d),
                _ => {}
            }
        }
        if pid.is_some() {
            let us = (c1 - c0) * 1e6 / r.messages as f64;
            table.record(&rows.cpu.0, rows.cpu.1, t.index, us);
        }
        if l.senders == 1 && acked > 0 {
            let share = second as f64 * 100.0 / acked as f64;
            table.record(&rows.share.0, rows.share.1, t.index, share);
        }
    }
    if let Some(p) = t.proxy.as_mut() {
        if let Some(st) = p.exited() {
            return Err(format!("exited during the run: {st}"));
        }
    }
    Ok(())
}

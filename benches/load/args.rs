//! The command line every load harness takes (after `cargo bench --bench NAME --`), and the
//! start every harness makes: parse, re-exec pinned, build the current-thread runtime.

// Shared by every harness; each uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

/// What a harness was asked to do.
#[derive(Debug)]
pub struct Args {
    pub quick: bool,
    pub triage: Option<PathBuf>,
    pub haproxy: PathBuf,
    pub rust_log: String,
    /// Interleaved measuring rounds; the table shows medians.
    pub rounds: usize,
    /// Targets to measure (direct, haproxy, triage); empty = all.
    pub only: Vec<String>,
    /// Workloads to leave out (the harness's own names).
    pub skip: Vec<String>,
    /// `--one-core`: proxy, client and backends all on core 1 (latency at low load).
    pub one_core: bool,
    /// `--scale N`: N times the work per phase (long enough to attach `perf` or `strace`).
    pub scale: usize,
    /// `--no-preconnect` (load_dicom): triage's dicom services with `preconnect = false` (the
    /// default for them is on; before 2026-12-02 it was off and `--preconnect` turned it on).
    pub no_preconnect: bool,
    /// `--haproxy-no-tcpka`: HAProxy without the TCP keepalive triage keeps on both legs.
    pub haproxy_tcpka: bool,
    /// `--settle SECS` (load_dicom): before each target's round, wait (at most this long) for
    /// the TIME_WAIT sockets of the phases before to expire.
    pub settle: u64,
    /// `--simulator` (load_dicom): the association workloads' backend is the triage DICOM
    /// simulator instead of the canned-answer acceptor.
    pub simulator: bool,
}

impl Args {
    pub fn wants(&self, target: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|t| t == target)
    }

    pub fn runs(&self, workload: &str) -> bool {
        !self.skip.iter().any(|s| s == workload)
    }
}

const TARGETS: [&str; 3] = ["direct", "haproxy", "triage"];

fn usage(bench: &str, workloads: &[&str]) -> String {
    format!(
        "usage: cargo bench --bench {bench} -- [--quick] [--triage PATH] [--haproxy PATH] \
         [--rust-log FILTER] [--rounds N] [--scale N] [--one-core] [--no-preconnect] [--simulator] [--haproxy-no-tcpka] [--settle SECS] [--only direct,haproxy,triage] [--skip {}]",
        workloads.join(",")
    )
}

fn list(v: String, allowed: &[&str], usage: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = v.split(',').map(str::to_string).collect();
    match items.iter().find(|i| !allowed.contains(&i.as_str())) {
        Some(bad) => Err(format!(
            "unknown name {bad:?} (one of {allowed:?})\n{usage}"
        )),
        None => Ok(items),
    }
}

/// `Ok(None)`: not asked to run (no `--bench`, as under `cargo test --benches`).
pub fn parse(bench: &str, workloads: &[&str]) -> Result<Option<Args>, String> {
    let usage = usage(bench, workloads);
    let mut a = Args {
        quick: false,
        triage: None,
        haproxy: PathBuf::from("haproxy"),
        rust_log: "info".into(),
        rounds: 0,
        only: Vec::new(),
        skip: Vec::new(),
        one_core: false,
        scale: 1,
        no_preconnect: false,
        haproxy_tcpka: true,
        settle: 0,
        simulator: false,
    };
    let mut run = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{usage}"));
        match arg.as_str() {
            "--bench" => run = true,
            "--quick" => a.quick = true,
            "--one-core" => a.one_core = true,
            "--no-preconnect" => a.no_preconnect = true,
            "--simulator" => a.simulator = true,
            "--haproxy-no-tcpka" => a.haproxy_tcpka = false,
            "--triage" => a.triage = Some(value("--triage")?.into()),
            "--haproxy" => a.haproxy = value("--haproxy")?.into(),
            "--rust-log" => a.rust_log = value("--rust-log")?,
            "--rounds" => {
                a.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--rounds needs a number >= 1\n{usage}"))?
            }
            "--scale" => {
                a.scale = value("--scale")?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(format!("--scale needs a number >= 1\n{usage}"))?
            }
            "--settle" => {
                a.settle = value("--settle")?
                    .parse()
                    .map_err(|_| format!("--settle needs seconds\n{usage}"))?
            }
            "--only" => a.only = list(value("--only")?, &TARGETS, &usage)?,
            "--skip" => a.skip = list(value("--skip")?, workloads, &usage)?,
            "-h" | "--help" => return Err(usage),
            other => return Err(format!("unknown argument {other:?}\n{usage}")),
        }
    }
    if a.rounds == 0 {
        a.rounds = if a.quick { 1 } else { 3 };
    }
    Ok(run.then_some(a))
}

/// Parses the arguments, re-executes pinned (see [`crate::procs::pin_self`]) and runs `body`
/// on a current-thread runtime. The exit code of a harness run.
pub fn main<F, Fut>(bench: &str, workloads: &[&str], body: F) -> ExitCode
where
    F: FnOnce(Args) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    let args = match parse(bench, workloads) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("load harness {bench}: not run (use `cargo bench --bench {bench}`)");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(code) = crate::procs::pin_self() {
        return code;
    }
    if args.one_core {
        crate::procs::set_proxy_core(1);
    }
    crate::procs::set_haproxy_tcpka(args.haproxy_tcpka);
    if args.wants("haproxy") {
        println!(
            "HAProxy {}",
            if args.haproxy_tcpka {
                "with option tcpka, cli/srvtcpka-idle 60s: the TCP keepalive triage keeps on both legs"
            } else {
                "without TCP keepalive (--haproxy-no-tcpka; triage keeps it on both legs)"
            }
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{bench}: cannot build the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(body(args))
}

/// The order the measured things (direct, HAProxy, triage) run in within `round`: as listed
/// in even rounds, reversed in odd ones, so that none always runs in the wake of another. A
/// connection-rate phase leaves tens of thousands of TIME_WAIT sockets on loopback (60 s
/// each), which make every connect of the phase after it dearer: with a fixed order triage
/// always ran after HAProxy's build-up.
pub fn round_order<T>(round: usize, items: &mut [T]) -> Vec<&mut T> {
    let mut v: Vec<&mut T> = items.iter_mut().collect();
    if round % 2 == 1 {
        v.reverse();
    }
    v
}

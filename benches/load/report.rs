//! What the load harness prints: a header (sizes, versions, pinning, load) and the table of
//! figures (medians over the rounds) with the ratios triage/HAProxy, the range of that ratio
//! over the rounds (how noisy the machine was), and triage's targets from issue 2.

use crate::Sizes;
use std::path::PathBuf;

/// The figures of one target (direct, haproxy, triage) in one round; CPU and memory only for
/// proxies.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub mib_per_s: Option<f64>,
    pub conn_per_s: Option<f64>,
    pub rt_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub cpu_s_per_gib: Option<f64>,
    pub cpu_us_per_conn: Option<f64>,
    pub cpu_us_per_rt: Option<f64>,
    pub rss_base_kib: Option<f64>,
    pub idle_kib: Option<f64>,
}

/// Everything measured for one target.
#[derive(Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub rounds: Vec<Figures>,
    pub error: Option<String>,
}

fn median_of(fs: &[Figures], g: Getter) -> Option<f64> {
    let mut v: Vec<f64> = fs.iter().filter_map(g).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of each figure over the rounds.
fn median(fs: &[Figures]) -> Figures {
    let m = |g: Getter| median_of(fs, g);
    Figures {
        mib_per_s: m(|f| f.mib_per_s),
        conn_per_s: m(|f| f.conn_per_s),
        rt_per_s: m(|f| f.rt_per_s),
        p50_us: m(|f| f.p50_us),
        p99_us: m(|f| f.p99_us),
        cpu_s_per_gib: m(|f| f.cpu_s_per_gib),
        cpu_us_per_conn: m(|f| f.cpu_us_per_conn),
        cpu_us_per_rt: m(|f| f.cpu_us_per_rt),
        rss_base_kib: m(|f| f.rss_base_kib),
        idle_kib: m(|f| f.idle_kib),
    }
}

/// Smallest and largest triage/HAProxy ratio over the rounds (round i against round i).
fn ratio_range(t: &[Figures], h: &[Figures], g: Getter) -> Option<(f64, f64)> {
    let rs: Vec<f64> = t
        .iter()
        .zip(h)
        .filter_map(|(t, h)| Some(g(t)? / g(h).filter(|h| h.abs() > f64::EPSILON)?))
        .collect();
    let lo = rs.iter().copied().reduce(f64::min)?;
    let hi = rs.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

pub fn header(
    s: &Sizes,
    rounds: usize,
    haproxy: Option<&str>,
    triage: &Result<PathBuf, String>,
    rust_log: &str,
) {
    println!("triage load harness (loopback)");
    println!(
        "  pinning: {}",
        if crate::procs::pinned() {
            format!(
                "proxy on core {}, client + backends on core 1",
                crate::procs::proxy_core()
            )
        } else {
            "none".into()
        }
    );
    println!(
        "  bulk {} MiB | short {} conns ({} at a time) | ping-pong {} conns x {} round trips | idle {} conns",
        s.bulk_bytes >> 20,
        s.short_conns,
        s.short_conc,
        s.pp_conns,
        s.pp_rts,
        s.idle_conns
    );
    println!("  rounds: {rounds} (interleaved; the table shows medians)");
    println!("  haproxy: {}", haproxy.unwrap_or("not found"));
    match triage {
        Ok(p) => {
            let age = std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map_or(String::new(), |d| format!(", built {} s ago", d.as_secs()));
            println!("  triage:  {} (RUST_LOG={rust_log}{age})", p.display());
        }
        Err(_) => println!("  triage:  not found"),
    }
    println!();
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if !x.is_finite() => "?".into(),
        Some(x) if x.abs() >= 1000.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

type Getter = fn(&Figures) -> Option<f64>;

const ROWS: [(&str, Getter); 10] = [
    ("bulk upload, MiB/s", |f| f.mib_per_s),
    ("short connections, conn/s", |f| f.conn_per_s),
    ("ping-pong, round trips/s", |f| f.rt_per_s),
    ("ping-pong p50, us", |f| f.p50_us),
    ("ping-pong p99, us", |f| f.p99_us),
    ("proxy CPU per GiB, s", |f| f.cpu_s_per_gib),
    ("proxy CPU per connection, us", |f| f.cpu_us_per_conn),
    ("proxy CPU per round trip, us", |f| f.cpu_us_per_rt),
    ("proxy RSS after warm-up, KiB", |f| f.rss_base_kib),
    ("RSS growth per idle conn, KiB", |f| f.idle_kib),
];

pub fn table(results: &[Outcome], load_before: &str, load_after: &str) {
    println!();
    for o in results {
        if let Some(e) = &o.error {
            println!("{}: FAILED: {e}", o.name);
        }
    }
    let rounds = |n: &str| -> &[Figures] {
        results
            .iter()
            .find(|o| o.name == n && o.error.is_none())
            .map_or(&[], |o| &o.rounds[..])
    };
    let (dr, hr, tr) = (rounds("direct"), rounds("haproxy"), rounds("triage"));
    let (dm, hm, tm) = (median(dr), median(hr), median(tr));
    let some = |r: &[Figures], m| if r.is_empty() { None } else { Some(m) };
    let (d, h, t) = (some(dr, &dm), some(hr, &hm), some(tr, &tm));
    println!(
        "{:<31} {:>10} {:>10} {:>10} {:>15} {:>12}",
        "figure", "direct", "haproxy", "triage", "triage/haproxy", "ratio range"
    );
    println!("{}", "-".repeat(93));
    for (label, g) in ROWS {
        let (dv, hv, tv) = (d.and_then(g), h.and_then(g), t.and_then(g));
        let ratio = match (tv, hv) {
            (Some(t), Some(h)) if h.abs() > f64::EPSILON => Some(t / h),
            _ => None,
        };
        let range = match ratio_range(tr, hr, g) {
            Some((lo, hi)) if tr.len() > 1 => format!("{lo:.2}-{hi:.2}"),
            _ => "-".into(),
        };
        println!(
            "{label:<31} {:>10} {:>10} {:>10} {:>15} {:>12}",
            num(dv),
            num(hv),
            num(tv),
            num(ratio),
            range
        );
    }
    println!("{}", "-".repeat(93));
    let vs_direct =
        |p: Option<&Figures>| match (p.and_then(|f| f.mib_per_s), d.and_then(|f| f.mib_per_s)) {
            (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
            _ => "-".into(),
        };
    println!(
        "bulk vs direct: haproxy {}, triage {}",
        vs_direct(h),
        vs_direct(t)
    );
    if let Some(t) = t {
        let check = |what: &str, ok: Option<bool>| {
            let v = match ok {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            println!("target {what}: {v}");
        };
        // 2% slack: CPU times come in clock ticks (10 ms), a few ticks per figure.
        let le = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a <= b * 1.02);
        check(
            "CPU per GiB <= HAProxy's (+2% tick slack)",
            le(t.cpu_s_per_gib, h.and_then(|h| h.cpu_s_per_gib)),
        );
        check(
            "CPU per connection <= HAProxy's (+2% tick slack)",
            le(t.cpu_us_per_conn, h.and_then(|h| h.cpu_us_per_conn)),
        );
        check(
            "idle memory <= 4 KiB per connection",
            t.idle_kib.map(|v| v <= 4.0),
        );
    }
    println!(
        "load average (1 min) before/after: {load_before} / {load_after} (other work on the machine makes figures noisy)"
    );
}

//! The table the protocol harnesses (`load_dicom`, `load_hl7`, `load_xds`) print: one row per
//! figure with the median over the rounds for direct, HAProxy and triage, the ratio
//! triage/HAProxy with its range over the rounds (how noisy the machine was), and a verdict
//! against the figure's target from the issue.

// Shared by every harness; each uses a part of it.
#![allow(dead_code)]

/// Column order of every row.
pub const TARGETS: [&str; 3] = ["direct", "haproxy", "triage"];

/// What a figure's target is (checked on the medians).
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// Reported only.
    Report,
    /// triage ≥ HAProxy (rates, throughput).
    AtLeastHaproxy,
    /// triage ≤ HAProxy, with 2% slack for CPU clock ticks (CPU, memory, latency).
    AtMostHaproxy,
    /// triage ≤ the limit (e.g. KiB per idle connection).
    AtMost(f64),
    /// triage − direct ≤ the limit (added latency, µs).
    AddedAtMost(f64),
}

/// One figure: the values of each round, per target.
#[derive(Debug)]
pub struct Row {
    pub label: String,
    pub goal: Goal,
    pub vals: [Vec<f64>; 3],
}

/// Rows in the order they were first recorded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
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

impl Table {
    /// Adds the row `label` (empty) unless it exists: fixes the row order when the first
    /// target measured has no value for it (e.g. direct has no proxy CPU).
    pub fn declare(&mut self, label: &str, goal: Goal) {
        if !self.rows.iter().any(|r| r.label == label) {
            self.rows.push(Row {
                label: label.to_string(),
                goal,
                vals: Default::default(),
            });
        }
    }

    /// Records one round's value of `label` for target `target` (an index into [`TARGETS`]).
    pub fn record(&mut self, label: &str, goal: Goal, target: usize, v: f64) {
        let i = match self.rows.iter().position(|r| r.label == label) {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    label: label.to_string(),
                    goal,
                    vals: Default::default(),
                });
                self.rows.len() - 1
            }
        };
        if let Some(col) = self.rows[i].vals.get_mut(target) {
            col.push(v);
        }
    }

    /// `None` where the goal cannot be judged (no value, or it needs HAProxy and there is none).
    fn verdict(r: &Row) -> Option<bool> {
        let [d, h, t] = [&r.vals[0], &r.vals[1], &r.vals[2]].map(|v| median(v));
        match r.goal {
            Goal::Report => None,
            Goal::AtLeastHaproxy => Some(t? >= h?),
            Goal::AtMostHaproxy => Some(t? <= h? * 1.02),
            Goal::AtMost(lim) => Some(t? <= lim),
            Goal::AddedAtMost(lim) => Some(t? - d? <= lim),
        }
    }

    /// Prints the table; returns how many targets were missed.
    pub fn print(&self, title: &str) -> usize {
        println!();
        println!("{title}");
        println!(
            "{:<44} {:>9} {:>9} {:>9} {:>8} {:>11}  target",
            "figure", "direct", "haproxy", "triage", "t/h", "t/h range"
        );
        println!("{}", "-".repeat(106));
        let mut missed = 0;
        for r in &self.rows {
            let [d, h, t] = [&r.vals[0], &r.vals[1], &r.vals[2]].map(|v| median(v));
            let ratio = t
                .zip(h.filter(|h| h.abs() > f64::EPSILON))
                .map(|(t, h)| t / h);
            let rs: Vec<f64> = r.vals[2]
                .iter()
                .zip(&r.vals[1])
                .filter(|(_, h)| h.abs() > f64::EPSILON)
                .map(|(t, h)| t / h)
                .collect();
            let range = match (
                rs.iter().copied().reduce(f64::min),
                rs.iter().copied().reduce(f64::max),
            ) {
                (Some(lo), Some(hi)) if rs.len() > 1 => format!("{lo:.2}-{hi:.2}"),
                _ => "-".into(),
            };
            let goal = match r.goal {
                Goal::Report => String::new(),
                Goal::AtLeastHaproxy => ">= haproxy".into(),
                Goal::AtMostHaproxy => "<= haproxy".into(),
                Goal::AtMost(l) => format!("<= {l}"),
                Goal::AddedAtMost(l) => format!("triage-direct <= {l}"),
            };
            let verdict = match Self::verdict(r) {
                Some(true) => " met",
                Some(false) => {
                    missed += 1;
                    " MISSED"
                }
                None if matches!(r.goal, Goal::Report) => "",
                None => " n/a",
            };
            println!(
                "{:<44} {:>9} {:>9} {:>9} {:>8} {:>11}  {goal}{verdict}",
                r.label,
                num(d),
                num(h),
                num(t),
                num(ratio),
                range
            );
        }
        println!("{}", "-".repeat(106));
        missed
    }
}

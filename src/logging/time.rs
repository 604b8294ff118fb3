//! Log timestamps: RFC 3339 in UTC with microseconds (`2026-12-01T20:17:04.814158Z`), the text
//! tracing-subscriber's default `SystemTime` timer writes, without its `fmt` machinery: the
//! date and time of day are worked out once per second (per thread) and kept.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};
use triage_hl7::ts::civil_from_days;

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`.
pub const LEN: usize = 27;

/// The first 20 bytes (`YYYY-MM-DDTHH:MM:SS.`) of the last second formatted on this thread.
#[derive(Clone, Copy)]
struct Cached {
    secs: u64,
    prefix: [u8; 20],
}

thread_local! {
    static LAST: Cell<Option<Cached>> = const { Cell::new(None) };
}

/// `t` as a timestamp, or `None` before 1970 or after 9999 (the caller falls back to the
/// general formatter for those).
pub fn format(t: SystemTime) -> Option<[u8; LEN]> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    let secs = d.as_secs();
    let prefix = match LAST.with(Cell::get) {
        Some(c) if c.secs == secs => c.prefix,
        _ => {
            let prefix = second_prefix(secs)?;
            LAST.with(|l| l.set(Some(Cached { secs, prefix })));
            prefix
        }
    };
    let mut out = [0u8; LEN];
    out[..20].copy_from_slice(&prefix);
    digits(&mut out[20..26], d.subsec_micros());
    out[26] = b'Z';
    Some(out)
}

fn second_prefix(secs: u64) -> Option<[u8; 20]> {
    let days = i64::try_from(secs / 86_400).ok()?;
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let s = secs % 86_400;
    let mut p = *b"0000-00-00T00:00:00.";
    digits(&mut p[0..4], y as u32);
    digits(&mut p[5..7], m);
    digits(&mut p[8..10], d);
    digits(&mut p[11..13], (s / 3600) as u32);
    digits(&mut p[14..16], (s / 60 % 60) as u32);
    digits(&mut p[17..19], (s % 60) as u32);
    Some(p)
}

/// Writes `v` in decimal into all of `out`, zero-padded (higher digits dropped).
fn digits(out: &mut [u8], mut v: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;
    use triage_hl7::ts::civil_from_days;

    fn at(secs: u64, micros: u32) -> String {
        let t = UNIX_EPOCH + Duration::new(secs, micros * 1000 + 999);
        String::from_utf8(format(t).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(at(1_796_156_224, 814_158), "2026-12-01T20:17:04.814158Z");
        assert_eq!(at(4_107_542_399, 1), "2100-02-28T23:59:59.000001Z");
        assert_eq!(at(4_107_542_400, 1), "2100-03-01T00:00:00.000001Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
        assert!(format(UNIX_EPOCH + Duration::from_secs(253_402_300_800)).is_none());
        assert!(format(UNIX_EPOCH - Duration::from_secs(1)).is_none());
    }

    #[test]
    fn the_cached_second_is_the_right_one() {
        // Same second twice, then the next: the cache must not leak into another second.
        assert_eq!(at(86_399, 1), "1970-01-01T23:59:59.000001Z");
        assert_eq!(at(86_399, 2), "1970-01-01T23:59:59.000002Z");
        assert_eq!(at(86_400, 3), "1970-01-02T00:00:00.000003Z");
    }

    /// Now, against tracing-subscriber's default timer (its own date algorithm); and every day
    /// of 1999–2001 and one day in 30 over a 400-year cycle against a count of days.
    #[test]
    fn agrees_with_the_default_timer_and_a_day_count() {
        let ours = format(SystemTime::now()).unwrap();
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut theirs))
            .unwrap();
        // Taken a moment apart: compare to the minute (a second boundary may fall between).
        assert_eq!(&ours[..16], &theirs.as_bytes()[..16], "{theirs}");
        let mut day = 10_592; // 1999-01-01
        while day < 10_592 + 3 * 366 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            day += 1;
        }
        let mut day = 0;
        while day < 146_097 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            day += 30;
        }
    }

    /// The inverse, by counting: days in the years and months before.
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mut days: i64 = (1970..y).map(|y| if leap(y) { 366 } else { 365 }).sum();
        let month_len = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (i, len) in month_len.iter().enumerate().take(m as usize - 1) {
            days += len + i64::from(i == 1 && leap(y));
        }
        days + i64::from(d) - 1
    }
}

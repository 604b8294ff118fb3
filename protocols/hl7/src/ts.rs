//! HL7 timestamps (TS/DTM, HL7 v2.5.1 §2.A.74 TS: `YYYYMMDDHHMMSS+ZZZZ`)
//! from a Unix time supplied by the caller: this crate reads no clock, so the
//! gateway passes `SystemTime` seconds and gets the MSH-7 text back.

/// Format `unix_secs` (UTC) as `YYYYMMDDHHMMSS+0000`. Times before year 0 or
/// after 9999 are clamped to those years' bounds.
pub fn hl7_timestamp(unix_secs: i64) -> String {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    let secs = unix_secs.clamp(-62_167_219_200, 253_402_300_799);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`). Public for the gateway's log timestamps,
/// the one other calendar date triage writes.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // doy < 366 and mp < 12: both fit in u32.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::hl7_timestamp;

    #[test]
    fn formats() {
        assert_eq!(hl7_timestamp(0), "19700101000000+0000");
        assert_eq!(hl7_timestamp(951_782_400), "20000229000000+0000");
        assert_eq!(hl7_timestamp(1_700_000_000), "20231114221320+0000");
        assert_eq!(hl7_timestamp(i64::MAX), "99991231235959+0000");
        assert_eq!(hl7_timestamp(i64::MIN), "00000101000000+0000");
    }
}

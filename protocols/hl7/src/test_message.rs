//! The synthetic health-check message sent to backends.
//!
//! It is a `QRY^A19` patient query (HL7 v2.5.1 ch. 3 §3.3.19, original-mode
//! query with QRD, ch. 5 §5.10.5.3) rather than an `ADT^A01`: a query has no
//! side effect, whereas an admit would create a patient record on a backend
//! that processes it. Any reply carrying an MSA for MSH-10 (ADR^A19, or an
//! ACK with AR / table 0357 code 200 from a backend that does not support
//! queries) proves the application layer is alive; read it with
//! [`crate::parse_ack`]. The content is obviously synthetic: sending
//! application `TRIAGE`, facility `HEALTHCHECK`, subject
//! `TRIAGE-HEALTHCHECK`, no patient data.

use crate::delims::Delimiters;
use crate::escape::escape_text;
use crate::version::message_type_field;

/// Health-check query with MSH-10 = `control_id`, MSH-12 = `version` and
/// the fixed timestamp `19700101000000` (no clock here).
pub fn build_test_message(control_id: &str, version: &str) -> Vec<u8> {
    build_test_message_at(control_id, version, "19700101000000")
}

/// Health-check query with MSH-7 and QRD-1 = `timestamp` (raw TS, e.g. from
/// [`crate::hl7_timestamp`]).
pub fn build_test_message_at(control_id: &str, version: &str, timestamp: &str) -> Vec<u8> {
    let d = Delimiters::default();
    let ctrl = escape_text(control_id, &d);
    let version = escape_text(version, &d);
    let ts = escape_text(timestamp, &d);
    let msg_type = message_type_field(&version, "QRY", "A19", "QRY_A19", '^');
    // MSH-3..MSH-12: sender TRIAGE/HEALTHCHECK, no receiver, processing id P.
    // QRD: date/time, R(ecord) format, I(mmediate), query id, -, -,
    // 1^RD (one record), who = TRIAGE-HEALTHCHECK, what = DEM(ographics),
    // department = HEALTHCHECK (QRD-10, required in v2.5.1).
    format!(
        "MSH|^~\\&|TRIAGE|HEALTHCHECK|||{ts}||{msg_type}|{ctrl}|P|{version}\r\
         QRD|{ts}|R|I|{ctrl}|||1^RD|TRIAGE-HEALTHCHECK|DEM|HEALTHCHECK\r"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msh::parse_msh;

    #[test]
    fn parses_back() {
        let m = parse_msh(&build_test_message("HC-1", "2.5.1")).unwrap();
        assert_eq!(m.message_type_full(), "QRY^A19");
        assert_eq!(m.message_structure, "QRY_A19");
        assert_eq!(m.control_id, "HC-1");
        assert_eq!(m.version, "2.5.1");
        let m = parse_msh(&build_test_message("a|b", "2.3")).unwrap();
        assert_eq!(m.control_id, r"a\F\b");
        assert_eq!(m.message_type_full(), "QRY^A19");
        assert_eq!(m.message_structure, "");
    }
}

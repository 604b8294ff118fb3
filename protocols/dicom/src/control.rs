//! A-RELEASE-RQ/RP and A-ABORT: the fixed 10-byte control PDUs.
//!
//! PS3.8 §9.3.6 (A-RELEASE-RQ), §9.3.7 (A-RELEASE-RP): PDU-length 4, four
//! reserved bytes. PS3.8 §9.3.8 (A-ABORT, Table 9-26): PDU-length 4, two
//! reserved bytes, Source, Reason/Diag.

use crate::associate::check_whole_pdu;
use crate::error::DicomError;
use crate::header::PduType;

/// A-ABORT source 0: DICOM UL service-user initiated abort.
pub const ABORT_SOURCE_SERVICE_USER: u8 = 0;
/// A-ABORT source 2: DICOM UL service-provider initiated abort.
pub const ABORT_SOURCE_SERVICE_PROVIDER: u8 = 2;
/// A-ABORT reason 0: reason-not-specified.
pub const ABORT_REASON_NOT_SPECIFIED: u8 = 0;
/// A-ABORT reason 1: unrecognized-PDU.
pub const ABORT_REASON_UNRECOGNIZED_PDU: u8 = 1;
/// A-ABORT reason 2: unexpected-PDU.
pub const ABORT_REASON_UNEXPECTED_PDU: u8 = 2;
/// A-ABORT reason 4: unrecognized-PDU-parameter.
pub const ABORT_REASON_UNRECOGNIZED_PARAMETER: u8 = 4;
/// A-ABORT reason 5: unexpected-PDU-parameter.
pub const ABORT_REASON_UNEXPECTED_PARAMETER: u8 = 5;
/// A-ABORT reason 6: invalid-PDU-parameter value.
pub const ABORT_REASON_INVALID_PARAMETER: u8 = 6;

fn fixed_pdu(pdu_type: PduType, b9: u8, b10: u8) -> Vec<u8> {
    vec![pdu_type.as_u8(), 0, 0, 0, 0, 4, 0, 0, b9, b10]
}

/// A-ABORT PDU with the given Source and Reason/Diag. (PS3.8 §9.3.8). The
/// reason is only significant when source is 2 (service-provider).
pub fn encode_abort(source: u8, reason: u8) -> Vec<u8> {
    fixed_pdu(PduType::Abort, source, reason)
}

/// A-RELEASE-RQ PDU (PS3.8 §9.3.6).
pub fn encode_release_rq() -> Vec<u8> {
    fixed_pdu(PduType::ReleaseRq, 0, 0)
}

/// A-RELEASE-RP PDU (PS3.8 §9.3.7).
pub fn encode_release_rp() -> Vec<u8> {
    fixed_pdu(PduType::ReleaseRp, 0, 0)
}

/// Read (source, reason) from an A-ABORT PDU (header included).
pub fn parse_abort(pdu: &[u8]) -> Result<(u8, u8), DicomError> {
    check_whole_pdu(pdu, PduType::Abort)?;
    match pdu {
        [_, _, _, _, _, _, _, _, source, reason] => Ok((*source, *reason)),
        _ => Err(DicomError::InvalidLength {
            field: "PDU-length",
            length: pdu.len().saturating_sub(6) as u64,
            expected: "4 for A-ABORT",
        }),
    }
}

/// Human text for an A-ABORT source/reason pair (PS3.8 Table 9-26).
pub fn abort_description(source: u8, reason: u8) -> &'static str {
    match (source, reason) {
        (0, _) => "service-user abort",
        (2, 0) => "service-provider abort: reason-not-specified",
        (2, 1) => "service-provider abort: unrecognized-PDU",
        (2, 2) => "service-provider abort: unexpected-PDU",
        (2, 4) => "service-provider abort: unrecognized-PDU-parameter",
        (2, 5) => "service-provider abort: unexpected-PDU-parameter",
        (2, 6) => "service-provider abort: invalid-PDU-parameter-value",
        _ => "abort with reserved source/reason",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYNETDICOM_ABORT: &[u8] = include_bytes!("../../../fixtures/dicom/pynetdicom_abort.bin");
    const RELEASE_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_release_rq.bin");
    const RELEASE_RP: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_release_rp.bin");

    #[test]
    fn matches_real_bytes() {
        assert_eq!(encode_release_rq(), RELEASE_RQ);
        assert_eq!(encode_release_rp(), RELEASE_RP);
        assert_eq!(
            encode_abort(ABORT_SOURCE_SERVICE_USER, ABORT_REASON_NOT_SPECIFIED),
            PYNETDICOM_ABORT
        );
        assert_eq!(parse_abort(PYNETDICOM_ABORT).unwrap(), (0, 0));
    }

    #[test]
    fn provider_abort() {
        let pdu = encode_abort(ABORT_SOURCE_SERVICE_PROVIDER, ABORT_REASON_UNRECOGNIZED_PDU);
        assert_eq!(pdu, [7, 0, 0, 0, 0, 4, 0, 0, 2, 1]);
        let (s, r) = parse_abort(&pdu).unwrap();
        assert_eq!(
            abort_description(s, r),
            "service-provider abort: unrecognized-PDU"
        );
        assert!(parse_abort(RELEASE_RQ).is_err());
        assert!(parse_abort(&pdu[..9]).is_err());
    }
}

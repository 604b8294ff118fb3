//! A-ASSOCIATE-RJ: building and reading association rejections.
//!
//! PS3.8 §9.3.4 (A-ASSOCIATE-RJ PDU structure, Table 9-21): header with
//! PDU-length 4, then reserved, Result, Source, Reason/Diag. bytes.

use std::fmt;

use crate::associate::check_whole_pdu;
use crate::error::DicomError;
use crate::header::PduType;

/// Result 1: rejected-permanent.
pub const RJ_RESULT_PERMANENT: u8 = 1;
/// Result 2: rejected-transient (the requestor may retry later).
pub const RJ_RESULT_TRANSIENT: u8 = 2;
/// Source 1: DICOM UL service-user.
pub const RJ_SOURCE_SERVICE_USER: u8 = 1;
/// Source 2: DICOM UL service-provider (ACSE related function).
pub const RJ_SOURCE_PROVIDER_ACSE: u8 = 2;
/// Source 3: DICOM UL service-provider (Presentation related function).
pub const RJ_SOURCE_PROVIDER_PRESENTATION: u8 = 3;

/// Decoded or to-be-sent A-ASSOCIATE-RJ fields (PS3.8 §9.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssociateRj {
    /// 1 rejected-permanent, 2 rejected-transient.
    pub result: u8,
    /// 1 service-user, 2 service-provider (ACSE), 3 service-provider
    /// (presentation).
    pub source: u8,
    /// Reason/Diag., meaning depends on `source`.
    pub reason: u8,
}

impl AssociateRj {
    /// Permanent, service-user, no-reason-given (1/1/1).
    pub const NO_REASON: AssociateRj = AssociateRj::new(1, 1, 1);
    /// Permanent, service-user, application-context-name-not-supported (1/1/2).
    pub const APPLICATION_CONTEXT_NOT_SUPPORTED: AssociateRj = AssociateRj::new(1, 1, 2);
    /// Permanent, service-user, calling-AE-title-not-recognized (1/1/3).
    pub const CALLING_AE_NOT_RECOGNIZED: AssociateRj = AssociateRj::new(1, 1, 3);
    /// Permanent, service-user, called-AE-title-not-recognized (1/1/7).
    pub const CALLED_AE_NOT_RECOGNIZED: AssociateRj = AssociateRj::new(1, 1, 7);
    /// Permanent, service-provider (ACSE), protocol-version-not-supported (1/2/2).
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: AssociateRj = AssociateRj::new(1, 2, 2);
    /// Transient, service-provider (presentation), temporary-congestion (2/3/1).
    pub const TEMPORARY_CONGESTION: AssociateRj = AssociateRj::new(2, 3, 1);
    /// Transient, service-provider (presentation), local-limit-exceeded (2/3/2).
    pub const LOCAL_LIMIT_EXCEEDED: AssociateRj = AssociateRj::new(2, 3, 2);

    /// Any combination of result, source and reason.
    pub const fn new(result: u8, source: u8, reason: u8) -> Self {
        AssociateRj {
            result,
            source,
            reason,
        }
    }

    /// Called AE title not recognized (permanent, service-user, reason 7).
    pub const fn called_ae_not_recognized() -> Self {
        Self::CALLED_AE_NOT_RECOGNIZED
    }

    /// Calling AE title not recognized (permanent, service-user, reason 3).
    pub const fn calling_ae_not_recognized() -> Self {
        Self::CALLING_AE_NOT_RECOGNIZED
    }

    /// No reason given (permanent, service-user, reason 1).
    pub const fn no_reason() -> Self {
        Self::NO_REASON
    }

    /// Local limit exceeded (transient, presentation provider, reason 2):
    /// e.g. every backend is at its association limit.
    pub const fn local_limit_exceeded() -> Self {
        Self::LOCAL_LIMIT_EXCEEDED
    }

    /// Temporary congestion (transient, presentation provider, reason 1):
    /// e.g. no healthy backend right now.
    pub const fn temporary_congestion() -> Self {
        Self::TEMPORARY_CONGESTION
    }

    /// True for rejected-transient (result 2): the requestor may retry.
    pub const fn is_transient(&self) -> bool {
        self.result == RJ_RESULT_TRANSIENT
    }

    /// The 10-byte A-ASSOCIATE-RJ PDU.
    pub fn encode(&self) -> Vec<u8> {
        vec![
            PduType::AssociateRj.as_u8(),
            0,
            0,
            0,
            0,
            4,
            0,
            self.result,
            self.source,
            self.reason,
        ]
    }

    /// Read an A-ASSOCIATE-RJ PDU (header included). Values are returned as
    /// sent, even if reserved; use `Display` for a readable form.
    pub fn parse(pdu: &[u8]) -> Result<AssociateRj, DicomError> {
        check_whole_pdu(pdu, PduType::AssociateRj)?;
        match pdu {
            [_, _, _, _, _, _, _, result, source, reason] => {
                Ok(AssociateRj::new(*result, *source, *reason))
            }
            _ => Err(DicomError::InvalidLength {
                field: "PDU-length",
                length: pdu.len().saturating_sub(6) as u64,
                expected: "4 for A-ASSOCIATE-RJ",
            }),
        }
    }

    fn result_name(&self) -> &'static str {
        match self.result {
            RJ_RESULT_PERMANENT => "rejected-permanent",
            RJ_RESULT_TRANSIENT => "rejected-transient",
            _ => "rejected-unknown-result",
        }
    }

    fn source_name(&self) -> &'static str {
        match self.source {
            RJ_SOURCE_SERVICE_USER => "service-user",
            RJ_SOURCE_PROVIDER_ACSE => "service-provider (ACSE)",
            RJ_SOURCE_PROVIDER_PRESENTATION => "service-provider (presentation)",
            _ => "unknown-source",
        }
    }

    fn reason_name(&self) -> Option<&'static str> {
        match (self.source, self.reason) {
            (1, 1) | (2, 1) => Some("no-reason-given"),
            (1, 2) => Some("application-context-name-not-supported"),
            (1, 3) => Some("calling-AE-title-not-recognized"),
            (1, 7) => Some("called-AE-title-not-recognized"),
            (2, 2) => Some("protocol-version-not-supported"),
            (3, 1) => Some("temporary-congestion"),
            (3, 2) => Some("local-limit-exceeded"),
            _ => None,
        }
    }
}

impl fmt::Display for AssociateRj {
    /// e.g. "rejected-transient, service-user: called-AE-title-not-recognized".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}: ", self.result_name(), self.source_name())?;
        match self.reason_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "reserved-reason-{}", self.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYNETDICOM_RJ: &[u8] =
        include_bytes!("../../../fixtures/dicom/pynetdicom_associate_rj.bin");

    #[test]
    fn real_rj_from_pynetdicom() {
        let rj = AssociateRj::parse(PYNETDICOM_RJ).unwrap();
        assert_eq!(rj, AssociateRj::called_ae_not_recognized());
        assert!(!rj.is_transient());
        assert_eq!(
            rj.to_string(),
            "rejected-permanent, service-user: called-AE-title-not-recognized"
        );
        assert_eq!(rj.encode(), PYNETDICOM_RJ);
    }

    #[test]
    fn common_cases() {
        assert_eq!(
            AssociateRj::calling_ae_not_recognized(),
            AssociateRj::new(1, 1, 3)
        );
        assert_eq!(AssociateRj::no_reason(), AssociateRj::new(1, 1, 1));
        let lim = AssociateRj::local_limit_exceeded();
        assert_eq!((lim.source, lim.reason), (3, 2));
        assert!(lim.is_transient());
        assert_eq!(
            lim.to_string(),
            "rejected-transient, service-provider (presentation): local-limit-exceeded"
        );
        let cong = AssociateRj::temporary_congestion();
        assert_eq!((cong.result, cong.source, cong.reason), (2, 3, 1));
        assert_eq!(
            AssociateRj::new(2, 1, 7).to_string(),
            "rejected-transient, service-user: called-AE-title-not-recognized"
        );
        assert_eq!(
            AssociateRj::new(1, 1, 9).to_string(),
            "rejected-permanent, service-user: reserved-reason-9"
        );
    }

    #[test]
    fn round_trip_and_errors() {
        for rj in [
            AssociateRj::NO_REASON,
            AssociateRj::PROTOCOL_VERSION_NOT_SUPPORTED,
            AssociateRj::TEMPORARY_CONGESTION,
        ] {
            assert_eq!(AssociateRj::parse(&rj.encode()).unwrap(), rj);
        }
        // Reserved byte 7 is not tested on receipt (PS3.8 §9.3.4).
        assert_eq!(
            AssociateRj::parse(&[3, 0, 0, 0, 0, 4, 7, 1, 1, 7]).unwrap(),
            AssociateRj::CALLED_AE_NOT_RECOGNIZED
        );
        assert!(AssociateRj::parse(&[3, 0, 0, 0, 0, 4, 0, 1]).is_err());
        assert!(AssociateRj::parse(&[3, 0, 0, 0, 0, 5, 0, 1, 1, 1, 0]).is_err());
        assert!(AssociateRj::parse(&[7, 0, 0, 0, 0, 4, 0, 0, 0, 0]).is_err());
    }
}

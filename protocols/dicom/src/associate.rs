//! A-ASSOCIATE-RQ / -AC parsing into summaries the gateway can route on.
//!
//! PS3.8 §9.3.2 (A-ASSOCIATE-RQ PDU structure) and §9.3.3 (A-ASSOCIATE-AC):
//! fixed part (protocol version, AE titles, reserved) then variable items:
//! Application Context (§9.3.2.1), Presentation Context (§9.3.2.2 /
//! §9.3.3.2) and User Information (§9.3.2.3, Annex D: maximum length
//! §D.1, implementation class UID / version name PS3.7 §D.3.3.2).
//! The structured parse is done by `dicom_ul::pdu::read_pdu`, after this
//! module has checked the header and that the slice holds exactly one PDU.

use dicom_ul::pdu::{
    read_pdu, AssociationAC, AssociationRQ, Pdu, UserVariableItem, MAXIMUM_PDU_SIZE,
};

use crate::error::DicomError;
use crate::header::{peek_header, PduType, PDU_HEADER_LEN};
use crate::uids::{trim_uid, VERIFICATION_SOP_CLASS};

/// One proposed presentation context (PS3.8 §9.3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedContext {
    /// Presentation-context-ID (odd, 1..=255).
    pub id: u8,
    /// Abstract syntax (SOP class) UID, padding removed.
    pub abstract_syntax: String,
    /// Proposed transfer syntax UIDs, in the requestor's order.
    pub transfer_syntaxes: Vec<String>,
}

/// What the gateway needs from an A-ASSOCIATE-RQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociateInfo {
    /// Called-AE-title, padding removed.
    pub called_ae: String,
    /// Calling-AE-title, padding removed.
    pub calling_ae: String,
    /// Number of presentation context items.
    pub presentation_contexts: usize,
    /// Abstract syntax of each presentation context, in order.
    pub abstract_syntaxes: Vec<String>,
    /// Maximum-length-received from the Maximum Length sub-item (PS3.8
    /// §D.1); `Some(0)` means "no limit".
    pub max_pdu_length: Option<u32>,
    /// Implementation Class UID (PS3.7 §D.3.3.2).
    pub implementation_class_uid: Option<String>,
    /// Implementation Version Name (PS3.7 §D.3.3.2).
    pub implementation_version_name: Option<String>,
    /// Application Context Name (PS3.8 §9.3.2.1).
    pub application_context: String,
    /// Full presentation contexts, in order.
    pub contexts: Vec<ProposedContext>,
}

/// One presentation context result of an A-ASSOCIATE-AC (PS3.8 §9.3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextResult {
    /// Presentation-context-ID.
    pub id: u8,
    /// Result/Reason: 0 acceptance, 1 user-rejection, 2 no-reason,
    /// 3 abstract-syntax-not-supported, 4 transfer-syntaxes-not-supported.
    pub result: u8,
    /// Accepted transfer syntax (not significant unless `result == 0`).
    pub transfer_syntax: String,
}

/// What the gateway needs from an A-ASSOCIATE-AC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociateAcInfo {
    /// Called-AE field echoed by the acceptor, padding removed.
    pub called_ae: String,
    /// Calling-AE field echoed by the acceptor, padding removed.
    pub calling_ae: String,
    /// Presentation context results, in order.
    pub contexts: Vec<ContextResult>,
    /// Acceptor's Maximum-length-received (PS3.8 §D.1).
    pub max_pdu_length: Option<u32>,
    /// Acceptor's Implementation Class UID.
    pub implementation_class_uid: Option<String>,
}

/// Check that `pdu` is exactly one PDU of `expected` type.
pub(crate) fn check_whole_pdu(pdu: &[u8], expected: PduType) -> Result<(), DicomError> {
    let header = peek_header(pdu).ok_or(DicomError::Truncated {
        field: "PDU header",
        needed: PDU_HEADER_LEN as u64,
        available: pdu.len() as u64,
    })?;
    if header.pdu_type != expected.as_u8() {
        return Err(DicomError::UnexpectedPduType {
            expected: expected.name(),
            actual: header.pdu_type,
        });
    }
    let have = pdu.len() as u64;
    if have < header.total_len() {
        return Err(DicomError::Truncated {
            field: expected.name(),
            needed: header.total_len(),
            available: have,
        });
    }
    if have > header.total_len() {
        return Err(DicomError::InvalidLength {
            field: "PDU-length",
            length: u64::from(header.length),
            expected: "the number of bytes after the header",
        });
    }
    Ok(())
}

fn structured(pdu: &[u8], expected: PduType) -> Result<Pdu, DicomError> {
    check_whole_pdu(pdu, expected)?;
    // The fixed part is 68 bytes after the header (PS3.8 §9.3.2 items 7-74).
    let body = pdu.len().saturating_sub(PDU_HEADER_LEN);
    if body < 68 {
        return Err(DicomError::InvalidLength {
            field: "PDU-length",
            length: body as u64,
            expected: "at least 68 for A-ASSOCIATE-RQ/AC",
        });
    }
    match read_pdu(pdu, MAXIMUM_PDU_SIZE, false) {
        Ok(Some(parsed)) => Ok(parsed),
        Ok(None) => Err(DicomError::Malformed {
            pdu: expected.name(),
            message: "incomplete PDU".to_owned(),
        }),
        Err(e) => Err(DicomError::Malformed {
            pdu: expected.name(),
            message: e.to_string(),
        }),
    }
}

/// Parse an A-ASSOCIATE-RQ into `dicom-ul`'s structured form.
pub fn parse_associate_rq_full(pdu: &[u8]) -> Result<AssociationRQ, DicomError> {
    match structured(pdu, PduType::AssociateRq)? {
        Pdu::AssociationRQ(rq) => Ok(rq),
        _ => Err(DicomError::UnexpectedPduType {
            expected: PduType::AssociateRq.name(),
            actual: pdu.first().copied().unwrap_or(0),
        }),
    }
}

/// Parse an A-ASSOCIATE-AC into `dicom-ul`'s structured form.
pub fn parse_associate_ac_full(pdu: &[u8]) -> Result<AssociationAC, DicomError> {
    match structured(pdu, PduType::AssociateAc)? {
        Pdu::AssociationAC(ac) => Ok(ac),
        _ => Err(DicomError::UnexpectedPduType {
            expected: PduType::AssociateAc.name(),
            actual: pdu.first().copied().unwrap_or(0),
        }),
    }
}

struct UserInfo {
    max_pdu_length: Option<u32>,
    class_uid: Option<String>,
    version_name: Option<String>,
}

fn user_info(items: &[UserVariableItem]) -> UserInfo {
    let mut info = UserInfo {
        max_pdu_length: None,
        class_uid: None,
        version_name: None,
    };
    for item in items {
        match item {
            UserVariableItem::MaxLength(n) => info.max_pdu_length = Some(*n),
            UserVariableItem::ImplementationClassUID(uid) => {
                info.class_uid = Some(trim_uid(uid).to_owned());
            }
            UserVariableItem::ImplementationVersionName(name) => {
                info.version_name = Some(name.trim_end_matches('\0').trim().to_owned());
            }
            _ => {}
        }
    }
    info
}

/// Summarise an A-ASSOCIATE-RQ (one whole PDU, header included).
pub fn parse_associate_rq(pdu: &[u8]) -> Result<AssociateInfo, DicomError> {
    let rq = parse_associate_rq_full(pdu)?;
    let contexts: Vec<ProposedContext> = rq
        .presentation_contexts
        .iter()
        .map(|pc| ProposedContext {
            id: pc.id,
            abstract_syntax: trim_uid(&pc.abstract_syntax).to_owned(),
            transfer_syntaxes: pc
                .transfer_syntaxes
                .iter()
                .map(|ts| trim_uid(ts).to_owned())
                .collect(),
        })
        .collect();
    let user = user_info(&rq.user_variables);
    Ok(AssociateInfo {
        called_ae: rq.called_ae_title.trim_matches('\0').trim().to_owned(),
        calling_ae: rq.calling_ae_title.trim_matches('\0').trim().to_owned(),
        presentation_contexts: contexts.len(),
        abstract_syntaxes: contexts.iter().map(|c| c.abstract_syntax.clone()).collect(),
        max_pdu_length: user.max_pdu_length,
        implementation_class_uid: user.class_uid,
        implementation_version_name: user.version_name,
        application_context: trim_uid(&rq.application_context_name).to_owned(),
        contexts,
    })
}

/// Summarise an A-ASSOCIATE-AC (one whole PDU, header included).
pub fn parse_associate_ac(pdu: &[u8]) -> Result<AssociateAcInfo, DicomError> {
    let ac = parse_associate_ac_full(pdu)?;
    let user = user_info(&ac.user_variables);
    Ok(AssociateAcInfo {
        called_ae: ac.called_ae_title.trim_matches('\0').trim().to_owned(),
        calling_ae: ac.calling_ae_title.trim_matches('\0').trim().to_owned(),
        contexts: ac
            .presentation_contexts
            .iter()
            .map(|pc| ContextResult {
                id: pc.id,
                result: pc.reason.clone() as u8,
                transfer_syntax: trim_uid(&pc.transfer_syntax).to_owned(),
            })
            .collect(),
        max_pdu_length: user.max_pdu_length,
        implementation_class_uid: user.class_uid,
    })
}

/// True if the A-ASSOCIATE-RQ parses and proposes at least one presentation
/// context for the Verification SOP Class (C-ECHO, PS3.4 Annex A).
pub fn proposes_verification(rq_pdu: &[u8]) -> bool {
    parse_associate_rq(rq_pdu)
        .map(|info| {
            info.abstract_syntaxes
                .iter()
                .any(|a| a == VERIFICATION_SOP_CLASS)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uids::{APPLICATION_CONTEXT_NAME, IMPLICIT_VR_LITTLE_ENDIAN};

    const ECHOSCU_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_associate_rq.bin");
    const STORESCU_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/storescu_associate_rq.bin");
    const PYNETDICOM_RQ: &[u8] =
        include_bytes!("../../../fixtures/dicom/pynetdicom_associate_rq.bin");
    const STORESCP_AC: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescp_echo_associate_ac.bin");
    const TRUNCATED: &[u8] = include_bytes!("../../../fixtures/dicom/truncated_associate_rq.bin");

    #[test]
    fn echoscu_rq() {
        let info = parse_associate_rq(ECHOSCU_RQ).unwrap();
        assert_eq!(info.called_ae, "ARCHIVE");
        assert_eq!(info.calling_ae, "ECHOSCU");
        assert_eq!(info.presentation_contexts, 1);
        assert_eq!(info.abstract_syntaxes, vec![VERIFICATION_SOP_CLASS]);
        assert_eq!(info.max_pdu_length, Some(16384));
        assert_eq!(
            info.implementation_class_uid.as_deref(),
            Some("1.2.276.0.7230010.3.0.3.6.7")
        );
        assert_eq!(
            info.implementation_version_name.as_deref(),
            Some("OFFIS_DCMTK_367")
        );
        assert_eq!(info.application_context, APPLICATION_CONTEXT_NAME);
        assert_eq!(info.contexts[0].id, 1);
        assert_eq!(
            info.contexts[0].transfer_syntaxes,
            vec![IMPLICIT_VR_LITTLE_ENDIAN]
        );
        assert!(proposes_verification(ECHOSCU_RQ));
    }

    #[test]
    fn storescu_rq_many_contexts() {
        let info = parse_associate_rq(STORESCU_RQ).unwrap();
        assert_eq!(info.calling_ae, "STORESCU");
        assert!(info.presentation_contexts > 100);
        assert!(info
            .abstract_syntaxes
            .iter()
            .any(|a| a == "1.2.840.10008.5.1.4.1.1.2"));
        let ids: Vec<u8> = info.contexts.iter().map(|c| c.id).collect();
        assert!(ids.iter().all(|id| id % 2 == 1));
    }

    #[test]
    fn pynetdicom_rq() {
        let info = parse_associate_rq(PYNETDICOM_RQ).unwrap();
        assert_eq!(info.called_ae, "ARCHIVE");
        assert_eq!(info.calling_ae, "PYNETDICOM");
        assert_eq!(info.presentation_contexts, 3);
        assert_eq!(info.contexts[0].transfer_syntaxes.len(), 4);
        assert!(info
            .implementation_class_uid
            .unwrap()
            .starts_with("1.2.826.0.1.3680043.9.3811."));
        assert!(proposes_verification(PYNETDICOM_RQ));
    }

    #[test]
    fn rejects_wrong_or_broken_input() {
        assert!(matches!(
            parse_associate_rq(TRUNCATED),
            Err(DicomError::Truncated {
                needed: 211,
                available: 100,
                ..
            })
        ));
        assert!(matches!(
            parse_associate_rq(STORESCP_AC),
            Err(DicomError::UnexpectedPduType { actual: 2, .. })
        ));
        let mut long = ECHOSCU_RQ.to_vec();
        long.push(0);
        assert!(parse_associate_rq(&long).is_err());
        // Corrupt the first item length so it runs past the end.
        let mut bad = ECHOSCU_RQ.to_vec();
        bad[76] = 0xFF;
        assert!(matches!(
            parse_associate_rq(&bad),
            Err(DicomError::Malformed { .. })
        ));
        assert!(!proposes_verification(TRUNCATED));
        assert!(!proposes_verification(&bad));
    }

    #[test]
    fn storescp_ac() {
        let ac = parse_associate_ac(STORESCP_AC).unwrap();
        assert_eq!(ac.called_ae, "ARCHIVE");
        assert_eq!(ac.calling_ae, "ECHOSCU");
        assert_eq!(
            ac.contexts,
            vec![ContextResult {
                id: 1,
                result: 0,
                transfer_syntax: IMPLICIT_VR_LITTLE_ENDIAN.to_owned()
            }]
        );
        assert_eq!(ac.max_pdu_length, Some(16384));
    }
}

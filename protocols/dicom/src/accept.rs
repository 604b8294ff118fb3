//! Building A-ASSOCIATE-AC PDUs for associations triage accepts itself.
//!
//! PS3.8 §9.3.3 (A-ASSOCIATE-AC PDU structure): bytes 11-74 "shall be sent
//! with a value identical to the value received" in the RQ, then an
//! Application Context item, one Presentation Context result item per
//! proposed context (§9.3.3.2, Table 9-18 result/reason) and a User
//! Information item (§9.3.3.3: Maximum Length §D.1, Implementation Class UID
//! and Version Name, PS3.7 §D.3.3.2). The PDU is written by
//! `dicom_ul::pdu::write_pdu`; the echoed bytes are then copied verbatim.

use dicom_ul::pdu::{
    write_pdu, AssociationAC, Pdu, PresentationContextResult, PresentationContextResultReason,
    UserVariableItem,
};

use crate::ae::{encode_ae_field, AE_TITLE_LEN, CALLED_AE_OFFSET, CALLING_AE_OFFSET};
use crate::associate::{parse_associate_rq, ProposedContext};
use crate::error::DicomError;
use crate::uids::{
    IMPLICIT_VR_LITTLE_ENDIAN, TRIAGE_IMPLEMENTATION_CLASS_UID, TRIAGE_IMPLEMENTATION_VERSION_NAME,
    VERIFICATION_SOP_CLASS,
};

/// Maximum-length-received triage advertises in its own ACs (PS3.8 §D.1).
pub const AC_MAX_PDU_LENGTH: u32 = 16_384;

/// Presentation context result/reason values (PS3.8 Table 9-18).
pub mod pc_result {
    /// 0: acceptance.
    pub const ACCEPTANCE: u8 = 0;
    /// 1: user-rejection.
    pub const USER_REJECTION: u8 = 1;
    /// 2: no-reason (provider rejection).
    pub const NO_REASON: u8 = 2;
    /// 3: abstract-syntax-not-supported (provider rejection).
    pub const ABSTRACT_SYNTAX_NOT_SUPPORTED: u8 = 3;
    /// 4: transfer-syntaxes-not-supported (provider rejection).
    pub const TRANSFER_SYNTAXES_NOT_SUPPORTED: u8 = 4;
}

/// Answer for one proposed presentation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextDecision {
    /// Result/reason, see [`pc_result`].
    pub result: u8,
    /// Accepted transfer syntax (ignored by the peer unless accepted).
    pub transfer_syntax: String,
}

impl ContextDecision {
    /// Accept with `transfer_syntax`.
    pub fn accept(transfer_syntax: &str) -> Self {
        ContextDecision {
            result: pc_result::ACCEPTANCE,
            transfer_syntax: transfer_syntax.to_owned(),
        }
    }

    /// Reject with `result` (1..=4).
    pub fn reject(result: u8) -> Self {
        ContextDecision {
            result,
            transfer_syntax: IMPLICIT_VR_LITTLE_ENDIAN.to_owned(),
        }
    }
}

fn reason(result: u8) -> Result<PresentationContextResultReason, DicomError> {
    Ok(match result {
        0 => PresentationContextResultReason::Acceptance,
        1 => PresentationContextResultReason::UserRejection,
        2 => PresentationContextResultReason::NoReason,
        3 => PresentationContextResultReason::AbstractSyntaxNotSupported,
        4 => PresentationContextResultReason::TransferSyntaxesNotSupported,
        other => {
            return Err(DicomError::InvalidValue {
                field: "presentation context result",
                value: u32::from(other),
            })
        }
    })
}

/// Build an A-ASSOCIATE-AC answering `rq_pdu`, letting `decide` answer each
/// proposed context. Called-AE is set to `our_ae`; Calling-AE and the 32
/// reserved bytes are echoed verbatim from the RQ (PS3.8 §9.3.3).
pub fn build_associate_ac<F>(
    rq_pdu: &[u8],
    our_ae: &str,
    mut decide: F,
) -> Result<Vec<u8>, DicomError>
where
    F: FnMut(&ProposedContext) -> ContextDecision,
{
    let called = encode_ae_field(our_ae)?;
    let info = parse_associate_rq(rq_pdu)?;
    let mut results = Vec::with_capacity(info.contexts.len());
    for pc in &info.contexts {
        let d = decide(pc);
        results.push(PresentationContextResult {
            id: pc.id,
            reason: reason(d.result)?,
            transfer_syntax: d.transfer_syntax,
        });
    }
    let ac = AssociationAC {
        protocol_version: 1,
        // Placeholder, overwritten below with the RQ's exact bytes.
        calling_ae_title: "CALLING".to_owned(),
        called_ae_title: our_ae.to_owned(),
        application_context_name: info.application_context,
        presentation_contexts: results,
        user_variables: vec![
            UserVariableItem::MaxLength(AC_MAX_PDU_LENGTH),
            UserVariableItem::ImplementationClassUID(TRIAGE_IMPLEMENTATION_CLASS_UID.to_owned()),
            UserVariableItem::ImplementationVersionName(
                TRIAGE_IMPLEMENTATION_VERSION_NAME.to_owned(),
            ),
        ],
    };
    let mut out = Vec::with_capacity(
        info.presentation_contexts
            .saturating_mul(64)
            .saturating_add(256),
    );
    write_pdu(&mut out, &Pdu::AssociationAC(ac)).map_err(|e| DicomError::Encode {
        what: "A-ASSOCIATE-AC",
        message: e.to_string(),
    })?;
    // Bytes 27-74 (Calling-AE-title + reserved) echoed from the RQ.
    let echoed = CALLING_AE_OFFSET..CALLING_AE_OFFSET + AE_TITLE_LEN + 32;
    let truncated = DicomError::Truncated {
        field: "A-ASSOCIATE fixed part",
        needed: echoed.end as u64,
        available: rq_pdu.len() as u64,
    };
    let src = rq_pdu.get(echoed.clone()).ok_or(truncated.clone())?;
    out.get_mut(echoed)
        .ok_or(truncated.clone())?
        .copy_from_slice(src);
    out.get_mut(CALLED_AE_OFFSET..CALLED_AE_OFFSET + AE_TITLE_LEN)
        .ok_or(truncated)?
        .copy_from_slice(&called);
    Ok(out)
}

/// Decision used for gateway-local C-ECHO: accept Verification with
/// Implicit VR LE if proposed (else its first transfer syntax), reject
/// everything else as abstract-syntax-not-supported.
pub fn verification_decision(pc: &ProposedContext) -> ContextDecision {
    if pc.abstract_syntax != VERIFICATION_SOP_CLASS {
        return ContextDecision::reject(pc_result::ABSTRACT_SYNTAX_NOT_SUPPORTED);
    }
    if pc
        .transfer_syntaxes
        .iter()
        .any(|t| t == IMPLICIT_VR_LITTLE_ENDIAN)
    {
        return ContextDecision::accept(IMPLICIT_VR_LITTLE_ENDIAN);
    }
    match pc.transfer_syntaxes.first() {
        Some(ts) => ContextDecision::accept(ts),
        None => ContextDecision::reject(pc_result::TRANSFER_SYNTAXES_NOT_SUPPORTED),
    }
}

/// A-ASSOCIATE-AC for triage answering C-ECHO itself (see
/// [`verification_decision`]). Check [`crate::proposes_verification`] first
/// and send an A-ASSOCIATE-RJ if it is false.
pub fn build_verification_ac(rq_pdu: &[u8], our_ae: &str) -> Result<Vec<u8>, DicomError> {
    build_associate_ac(rq_pdu, our_ae, verification_decision)
}

/// A-ASSOCIATE-AC accepting every proposed context with its first transfer
/// syntax (a storage simulator that accepts and discards).
pub fn build_associate_ac_accept_all(rq_pdu: &[u8], our_ae: &str) -> Result<Vec<u8>, DicomError> {
    build_associate_ac(rq_pdu, our_ae, |pc| match pc.transfer_syntaxes.first() {
        Some(ts) => ContextDecision::accept(ts),
        None => ContextDecision::reject(pc_result::TRANSFER_SYNTAXES_NOT_SUPPORTED),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::associate::parse_associate_ac;
    use crate::uids::EXPLICIT_VR_LITTLE_ENDIAN;

    const ECHOSCU_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_associate_rq.bin");
    const STORESCU_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/storescu_associate_rq.bin");
    const PYNETDICOM_RQ: &[u8] =
        include_bytes!("../../../fixtures/dicom/pynetdicom_associate_rq.bin");
    const STORESCP_AC: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescp_echo_associate_ac.bin");

    #[test]
    fn verification_ac_for_echoscu_matches_storescp_layout() {
        let ac = build_verification_ac(ECHOSCU_RQ, "ARCHIVE").unwrap();
        // Same fixed part and variable items as dcmtk's own AC, up to the
        // user information item (which carries triage's identity).
        let user_info_at = 0x80;
        assert_eq!(STORESCP_AC[user_info_at], 0x50);
        assert_eq!(&ac[6..user_info_at], &STORESCP_AC[6..user_info_at]);
        let info = parse_associate_ac(&ac).unwrap();
        assert_eq!(info.called_ae, "ARCHIVE");
        assert_eq!(info.calling_ae, "ECHOSCU");
        assert_eq!(info.max_pdu_length, Some(AC_MAX_PDU_LENGTH));
        assert_eq!(
            info.implementation_class_uid.as_deref(),
            Some(TRIAGE_IMPLEMENTATION_CLASS_UID)
        );
        assert_eq!(info.contexts.len(), 1);
        assert_eq!(info.contexts[0].result, 0);
    }

    #[test]
    fn verification_ac_rejects_other_contexts() {
        let ac = build_verification_ac(PYNETDICOM_RQ, "TRIAGE").unwrap();
        let info = parse_associate_ac(&ac).unwrap();
        assert_eq!(info.called_ae, "TRIAGE");
        assert_eq!(info.calling_ae, "PYNETDICOM");
        let results: Vec<(u8, u8)> = info.contexts.iter().map(|c| (c.id, c.result)).collect();
        assert_eq!(results, vec![(1, 0), (3, 3), (5, 3)]);
        assert_eq!(info.contexts[0].transfer_syntax, IMPLICIT_VR_LITTLE_ENDIAN);
        assert_eq!(&ac[26..74], &PYNETDICOM_RQ[26..74]);
    }

    #[test]
    fn verification_falls_back_to_first_ts() {
        let pc = ProposedContext {
            id: 1,
            abstract_syntax: VERIFICATION_SOP_CLASS.into(),
            transfer_syntaxes: vec![EXPLICIT_VR_LITTLE_ENDIAN.into()],
        };
        assert_eq!(
            verification_decision(&pc),
            ContextDecision::accept(EXPLICIT_VR_LITTLE_ENDIAN)
        );
        let none = ProposedContext {
            transfer_syntaxes: vec![],
            ..pc
        };
        assert_eq!(verification_decision(&none).result, 4);
    }

    #[test]
    fn accept_all_for_storescu() {
        let rq = parse_associate_rq(STORESCU_RQ).unwrap();
        let ac = build_associate_ac_accept_all(STORESCU_RQ, "SIM").unwrap();
        let info = parse_associate_ac(&ac).unwrap();
        assert_eq!(info.contexts.len(), rq.presentation_contexts);
        for (res, pc) in info.contexts.iter().zip(&rq.contexts) {
            assert_eq!(res.id, pc.id);
            assert_eq!(res.result, 0);
            assert_eq!(&res.transfer_syntax, &pc.transfer_syntaxes[0]);
        }
    }

    #[test]
    fn bad_inputs() {
        assert!(matches!(
            build_verification_ac(ECHOSCU_RQ, "BAD\\AE"),
            Err(DicomError::InvalidAeTitle { .. })
        ));
        assert!(build_verification_ac(&ECHOSCU_RQ[..100], "OK").is_err());
        assert!(build_associate_ac(ECHOSCU_RQ, "OK", |_| ContextDecision::reject(9)).is_err());
    }
}

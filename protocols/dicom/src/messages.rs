//! Ready-made P-DATA-TF PDUs carrying DIMSE commands triage sends itself.
//!
//! C-ECHO (PS3.7 §9.3.5: C-ECHO-RQ / C-ECHO-RSP fields) for gateway-local
//! verification and health checks; C-STORE-RSP (PS3.7 §9.3.1.2) for the
//! storage simulator. Each command set goes in one PDV with the message
//! control header "command, last fragment" (PS3.8 §9.3.5, Annex E.2).
//! Field order and padding match what dcmtk sends, byte for byte.

use crate::command::{Command, C_ECHO_RQ, C_ECHO_RSP, C_STORE_RSP, NO_DATA_SET};
use crate::pdata::single_pdv_pdu;
use crate::uids::VERIFICATION_SOP_CLASS;

/// A full P-DATA-TF PDU carrying `command` as one last command fragment on
/// presentation context `context_id`.
pub fn build_command_pdata(context_id: u8, command: &Command) -> Vec<u8> {
    single_pdv_pdu(context_id, true, &command.encode())
}

/// C-ECHO-RQ (PS3.7 §9.3.5.1): AffectedSOPClassUID Verification,
/// MessageID, no data set.
pub fn build_echo_rq_pdata(context_id: u8, message_id: u16) -> Vec<u8> {
    build_command_pdata(
        context_id,
        &Command {
            command_field: C_ECHO_RQ,
            message_id: Some(message_id),
            affected_sop_class_uid: Some(VERIFICATION_SOP_CLASS.to_owned()),
            command_data_set_type: NO_DATA_SET,
            ..Command::default()
        },
    )
}

/// C-ECHO-RSP (PS3.7 §9.3.5.2) answering `message_id` with `status`
/// (0x0000 success).
pub fn build_echo_rsp_pdata(context_id: u8, message_id: u16, status: u16) -> Vec<u8> {
    build_command_pdata(
        context_id,
        &Command {
            command_field: C_ECHO_RSP,
            message_id_being_responded_to: Some(message_id),
            affected_sop_class_uid: Some(VERIFICATION_SOP_CLASS.to_owned()),
            command_data_set_type: NO_DATA_SET,
            status: Some(status),
            ..Command::default()
        },
    )
}

/// C-STORE-RSP (PS3.7 §9.3.1.2) answering the C-STORE-RQ `message_id` for
/// the given SOP class / instance (copy them from the request).
pub fn build_store_rsp_pdata(
    context_id: u8,
    message_id: u16,
    affected_sop_class: &str,
    affected_sop_instance: &str,
    status: u16,
) -> Vec<u8> {
    build_command_pdata(
        context_id,
        &Command {
            command_field: C_STORE_RSP,
            message_id_being_responded_to: Some(message_id),
            affected_sop_class_uid: Some(affected_sop_class.to_owned()),
            affected_sop_instance_uid: Some(affected_sop_instance.to_owned()),
            command_data_set_type: NO_DATA_SET,
            status: Some(status),
            ..Command::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{parse_command, STATUS_SUCCESS};
    use crate::pdata::parse_pdata;

    const ECHO_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_echo_rq_pdata.bin");
    const ECHO_RSP: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_echo_rsp_pdata.bin");
    const STORE_RSP: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_store_rsp_pdata.bin");

    #[test]
    fn echo_matches_dcmtk_bytes() {
        assert_eq!(build_echo_rq_pdata(1, 1), ECHO_RQ);
        assert_eq!(build_echo_rsp_pdata(1, 1, STATUS_SUCCESS), ECHO_RSP);
    }

    #[test]
    fn store_rsp_matches_dcmtk_bytes() {
        let pdu = build_store_rsp_pdata(
            0x29,
            1,
            "1.2.840.10008.5.1.4.1.1.2",
            "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
            STATUS_SUCCESS,
        );
        assert_eq!(pdu, STORE_RSP);
    }

    #[test]
    fn echo_rsp_round_trip() {
        let pdu = build_echo_rsp_pdata(7, 0xBEEF, 0x0110);
        let pdvs = parse_pdata(&pdu).unwrap();
        assert_eq!(pdvs.len(), 1);
        assert!(pdvs[0].is_command && pdvs[0].is_last);
        assert_eq!(pdvs[0].context_id, 7);
        let cmd = parse_command(&pdvs[0].data).unwrap();
        assert_eq!(cmd.command_field, C_ECHO_RSP);
        assert_eq!(cmd.message_id_being_responded_to, Some(0xBEEF));
        assert_eq!(cmd.status, Some(0x0110));
    }
}

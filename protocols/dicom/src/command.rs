//! DIMSE command sets: reading and writing group 0000 in Implicit VR LE.
//!
//! PS3.7 §6.3.1 and §E.1: a command set is a list of group 0000 elements
//! (tag, 4-byte length, value), always Implicit VR Little Endian, starting
//! with CommandGroupLength (0000,0000) whose value counts the bytes of every
//! element after it. PS3.7 §9.3 (C-STORE/C-ECHO/... fields) and Annex E
//! (CommandField values, CommandDataSetType 0101H = no data set). Commands
//! travel in P-DATA-TF PDVs with the command bit set (PS3.8 Annex E.2).

use crate::error::DicomError;
use crate::uids::trim_uid;

/// CommandField C-STORE-RQ (PS3.7 Annex E).
pub const C_STORE_RQ: u16 = 0x0001;
/// CommandField C-STORE-RSP.
pub const C_STORE_RSP: u16 = 0x8001;
/// CommandField C-GET-RQ.
pub const C_GET_RQ: u16 = 0x0010;
/// CommandField C-GET-RSP.
pub const C_GET_RSP: u16 = 0x8010;
/// CommandField C-FIND-RQ.
pub const C_FIND_RQ: u16 = 0x0020;
/// CommandField C-FIND-RSP.
pub const C_FIND_RSP: u16 = 0x8020;
/// CommandField C-MOVE-RQ.
pub const C_MOVE_RQ: u16 = 0x0021;
/// CommandField C-MOVE-RSP.
pub const C_MOVE_RSP: u16 = 0x8021;
/// CommandField C-ECHO-RQ.
pub const C_ECHO_RQ: u16 = 0x0030;
/// CommandField C-ECHO-RSP.
pub const C_ECHO_RSP: u16 = 0x8030;
/// CommandField C-CANCEL-RQ.
pub const C_CANCEL_RQ: u16 = 0x0FFF;
/// CommandDataSetType value meaning "no data set follows" (PS3.7 §E.1).
pub const NO_DATA_SET: u16 = 0x0101;
/// CommandDataSetType value used by senders for "a data set follows".
pub const DATA_SET_PRESENT: u16 = 0x0000;

/// Status Success (PS3.7 Annex C).
pub const STATUS_SUCCESS: u16 = 0x0000;
/// Status Refused: Out of Resources (C-STORE, PS3.4 §B.2.3).
pub const STATUS_OUT_OF_RESOURCES: u16 = 0xA700;
/// Status Error: Cannot Understand (C-STORE, PS3.4 §B.2.3).
pub const STATUS_CANNOT_UNDERSTAND: u16 = 0xC000;
/// Status Refused: SOP Class Not Supported (PS3.7 §C.5.7).
pub const STATUS_SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;

// Element numbers within group 0000 (PS3.7 §E.1).
const GROUP_LENGTH: u16 = 0x0000;
const AFFECTED_SOP_CLASS: u16 = 0x0002;
const REQUESTED_SOP_CLASS: u16 = 0x0003;
const COMMAND_FIELD: u16 = 0x0100;
const MESSAGE_ID: u16 = 0x0110;
const MESSAGE_ID_RESPONDED: u16 = 0x0120;
const MOVE_DESTINATION: u16 = 0x0600;
const PRIORITY: u16 = 0x0700;
const DATA_SET_TYPE: u16 = 0x0800;
const STATUS: u16 = 0x0900;
const AFFECTED_SOP_INSTANCE: u16 = 0x1000;
const REQUESTED_SOP_INSTANCE: u16 = 0x1001;

/// The command-set fields triage looks at (PS3.7 §9.3, §E.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// CommandField (0000,0100), e.g. [`C_ECHO_RQ`].
    pub command_field: u16,
    /// MessageID (0000,0110), requests only.
    pub message_id: Option<u16>,
    /// MessageIDBeingRespondedTo (0000,0120), responses only.
    pub message_id_being_responded_to: Option<u16>,
    /// AffectedSOPClassUID (0000,0002), padding removed.
    pub affected_sop_class_uid: Option<String>,
    /// RequestedSOPClassUID (0000,0003).
    pub requested_sop_class_uid: Option<String>,
    /// MoveDestination (0000,0600), C-MOVE-RQ only.
    pub move_destination: Option<String>,
    /// Priority (0000,0700).
    pub priority: Option<u16>,
    /// CommandDataSetType (0000,0800); [`NO_DATA_SET`] means none follows.
    pub command_data_set_type: u16,
    /// Status (0000,0900), responses only.
    pub status: Option<u16>,
    /// AffectedSOPInstanceUID (0000,1000), padding removed.
    pub affected_sop_instance_uid: Option<String>,
    /// RequestedSOPInstanceUID (0000,1001).
    pub requested_sop_instance_uid: Option<String>,
}

impl Command {
    /// True if a data set follows this command (CommandDataSetType is
    /// anything but 0101H, PS3.7 §E.1).
    pub const fn has_data_set(&self) -> bool {
        self.command_data_set_type != NO_DATA_SET
    }

    /// True for response commands (high bit of CommandField set).
    pub const fn is_response(&self) -> bool {
        self.command_field & 0x8000 != 0
    }

    /// DIMSE name of the command, e.g. "C-ECHO-RQ".
    pub const fn name(&self) -> &'static str {
        match self.command_field {
            C_STORE_RQ => "C-STORE-RQ",
            C_STORE_RSP => "C-STORE-RSP",
            C_GET_RQ => "C-GET-RQ",
            C_GET_RSP => "C-GET-RSP",
            C_FIND_RQ => "C-FIND-RQ",
            C_FIND_RSP => "C-FIND-RSP",
            C_MOVE_RQ => "C-MOVE-RQ",
            C_MOVE_RSP => "C-MOVE-RSP",
            C_ECHO_RQ => "C-ECHO-RQ",
            C_ECHO_RSP => "C-ECHO-RSP",
            C_CANCEL_RQ => "C-CANCEL-RQ",
            0x0100..=0x0180 => "N-service-RQ",
            0x8100..=0x8180 => "N-service-RSP",
            _ => "unknown-command",
        }
    }

    /// Encode as an Implicit VR LE command set with a correct
    /// CommandGroupLength, elements in ascending tag order.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(128);
        let uid = |v: &Option<String>| v.as_deref().map(|s| padded(s, 0));
        put(
            &mut body,
            AFFECTED_SOP_CLASS,
            uid(&self.affected_sop_class_uid),
        );
        put(
            &mut body,
            REQUESTED_SOP_CLASS,
            uid(&self.requested_sop_class_uid),
        );
        put_us(&mut body, COMMAND_FIELD, Some(self.command_field));
        put_us(&mut body, MESSAGE_ID, self.message_id);
        put_us(
            &mut body,
            MESSAGE_ID_RESPONDED,
            self.message_id_being_responded_to,
        );
        let dest = self.move_destination.as_deref().map(|s| padded(s, b' '));
        put(&mut body, MOVE_DESTINATION, dest);
        put_us(&mut body, PRIORITY, self.priority);
        put_us(&mut body, DATA_SET_TYPE, Some(self.command_data_set_type));
        put_us(&mut body, STATUS, self.status);
        put(
            &mut body,
            AFFECTED_SOP_INSTANCE,
            uid(&self.affected_sop_instance_uid),
        );
        put(
            &mut body,
            REQUESTED_SOP_INSTANCE,
            uid(&self.requested_sop_instance_uid),
        );
        let mut out = Vec::with_capacity(body.len().saturating_add(12));
        let group_len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        put(
            &mut out,
            GROUP_LENGTH,
            Some(group_len.to_le_bytes().to_vec()),
        );
        out.extend_from_slice(&body);
        out
    }
}

/// Encode text as Latin-1 (the inverse of how it is read; characters
/// beyond U+00FF become '?') padded to even length (PS3.5 §6.2: UI with
/// NUL, other VRs with space).
fn padded(s: &str, pad: u8) -> Vec<u8> {
    let mut v: Vec<u8> = s
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    v
}

fn put(out: &mut Vec<u8>, element: u16, value: Option<Vec<u8>>) {
    if let Some(value) = value {
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&value);
    }
}

fn put_us(out: &mut Vec<u8>, element: u16, value: Option<u16>) {
    put(out, element, value.map(|v| v.to_le_bytes().to_vec()));
}

fn read_us(field: &'static str, value: &[u8]) -> Result<u16, DicomError> {
    match value {
        [a, b] => Ok(u16::from_le_bytes([*a, *b])),
        _ => Err(DicomError::InvalidLength {
            field,
            length: value.len() as u64,
            expected: "2 for a US element",
        }),
    }
}

fn read_text(value: &[u8]) -> String {
    let text: String = value.iter().map(|&b| char::from(b)).collect();
    trim_uid(&text).to_owned()
}

/// Parse a complete command set (all command PDV fragments concatenated,
/// PS3.8 Annex E.2) encoded in Implicit VR Little Endian (PS3.7 §6.3.1).
///
/// Unknown group 0000 elements are skipped. CommandField and
/// CommandDataSetType are mandatory in every command (PS3.7 §9.3, §10.3).
pub fn parse_command(data: &[u8]) -> Result<Command, DicomError> {
    let mut cmd = Command::default();
    let (mut field, mut data_set_type) = (None, None);
    let mut rest = data;
    while !rest.is_empty() {
        let available = rest.len() as u64;
        let (head, tail) = rest.split_first_chunk::<8>().ok_or(DicomError::Truncated {
            field: "command element header",
            needed: 8,
            available,
        })?;
        let [g0, g1, e0, e1, l0, l1, l2, l3] = *head;
        let group = u16::from_le_bytes([g0, g1]);
        let element = u16::from_le_bytes([e0, e1]);
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        if group != 0x0000 {
            return Err(DicomError::InvalidValue {
                field: "command element group (must be 0000)",
                value: u32::from(group),
            });
        }
        let (value, tail) = usize::try_from(len)
            .ok()
            .and_then(|l| tail.split_at_checked(l))
            .ok_or(DicomError::Truncated {
                field: "command element value",
                needed: u64::from(len).saturating_add(8),
                available,
            })?;
        match element {
            AFFECTED_SOP_CLASS => cmd.affected_sop_class_uid = Some(read_text(value)),
            REQUESTED_SOP_CLASS => cmd.requested_sop_class_uid = Some(read_text(value)),
            COMMAND_FIELD => field = Some(read_us("CommandField (0000,0100)", value)?),
            MESSAGE_ID => cmd.message_id = Some(read_us("MessageID (0000,0110)", value)?),
            MESSAGE_ID_RESPONDED => {
                cmd.message_id_being_responded_to =
                    Some(read_us("MessageIDBeingRespondedTo (0000,0120)", value)?);
            }
            MOVE_DESTINATION => cmd.move_destination = Some(read_text(value)),
            PRIORITY => cmd.priority = Some(read_us("Priority (0000,0700)", value)?),
            DATA_SET_TYPE => {
                data_set_type = Some(read_us("CommandDataSetType (0000,0800)", value)?);
            }
            STATUS => cmd.status = Some(read_us("Status (0000,0900)", value)?),
            AFFECTED_SOP_INSTANCE => cmd.affected_sop_instance_uid = Some(read_text(value)),
            REQUESTED_SOP_INSTANCE => cmd.requested_sop_instance_uid = Some(read_text(value)),
            _ => {}
        }
        rest = tail;
    }
    cmd.command_field = field.ok_or(DicomError::MissingElement {
        field: "CommandField (0000,0100)",
    })?;
    cmd.command_data_set_type = data_set_type.ok_or(DicomError::MissingElement {
        field: "CommandDataSetType (0000,0800)",
    })?;
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::parse_pdata;

    const STORE_RQ: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescu_store_rq_command_pdata.bin");
    const STORE_RSP: &[u8] = include_bytes!("../../../fixtures/dicom/storescp_store_rsp_pdata.bin");
    const ECHO_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_echo_rq_pdata.bin");

    fn command_bytes(pdu: &[u8]) -> Vec<u8> {
        parse_pdata(pdu).unwrap()[0].data.to_vec()
    }

    #[test]
    fn real_store_rq() {
        let data = command_bytes(STORE_RQ);
        let cmd = parse_command(&data).unwrap();
        assert_eq!(cmd.command_field, C_STORE_RQ);
        assert_eq!(cmd.name(), "C-STORE-RQ");
        assert_eq!(cmd.message_id, Some(1));
        assert_eq!(cmd.priority, Some(0));
        assert!(cmd.has_data_set());
        assert!(!cmd.is_response());
        assert_eq!(
            cmd.affected_sop_class_uid.as_deref(),
            Some("1.2.840.10008.5.1.4.1.1.2")
        );
        assert_eq!(
            cmd.affected_sop_instance_uid.as_deref(),
            Some("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
        );
        assert_eq!(cmd.encode(), data, "re-encoding is byte exact");
    }

    #[test]
    fn real_store_rsp_and_echo_rq() {
        let data = command_bytes(STORE_RSP);
        let cmd = parse_command(&data).unwrap();
        assert_eq!(cmd.command_field, C_STORE_RSP);
        assert_eq!(cmd.status, Some(STATUS_SUCCESS));
        assert_eq!(cmd.message_id_being_responded_to, Some(1));
        assert!(!cmd.has_data_set() && cmd.is_response());
        assert_eq!(cmd.encode(), data);

        let data = command_bytes(ECHO_RQ);
        let cmd = parse_command(&data).unwrap();
        assert_eq!(cmd.name(), "C-ECHO-RQ");
        assert_eq!(cmd.encode(), data);
    }

    #[test]
    fn group_length_is_correct() {
        let cmd = Command {
            command_field: C_MOVE_RQ,
            message_id: Some(7),
            move_destination: Some("DEST".into()),
            affected_sop_class_uid: Some("1.2.3".into()),
            command_data_set_type: DATA_SET_PRESENT,
            ..Command::default()
        };
        let bytes = cmd.encode();
        let group_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        assert_eq!(group_len as usize, bytes.len() - 12);
        assert_eq!(parse_command(&bytes).unwrap(), cmd);
    }

    #[test]
    fn rejects_malformed() {
        let data = command_bytes(ECHO_RQ);
        assert!(matches!(
            parse_command(&data[..data.len() - 1]),
            Err(DicomError::Truncated { .. })
        ));
        assert!(matches!(
            parse_command(&data[..5]),
            Err(DicomError::Truncated { .. })
        ));
        let mut bad_group = data.clone();
        bad_group[0] = 8;
        assert!(matches!(
            parse_command(&bad_group),
            Err(DicomError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse_command(&[]),
            Err(DicomError::MissingElement { .. })
        ));
        // Undefined length must not wrap around.
        let huge = [0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, b'1'];
        assert!(parse_command(&huge).is_err());
        // CommandField with a 4-byte value.
        let wide = [0, 0, 0, 1, 4, 0, 0, 0, 1, 0, 0, 0];
        assert!(matches!(
            parse_command(&wide),
            Err(DicomError::InvalidLength { .. })
        ));
    }
}

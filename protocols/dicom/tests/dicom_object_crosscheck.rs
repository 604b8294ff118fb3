//! Cross-checks the hand-rolled command-set codec (PS3.7 §6.3.1, §E.1)
//! against dicom-object's Implicit VR Little Endian reader and writer.

use dicom_core::{dicom_value, DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use triage_dicom::*;

fn read(data: &[u8]) -> InMemDicomObject {
    InMemDicomObject::read_dataset_with_ts(data, &IMPLICIT_VR_LITTLE_ENDIAN.erased()).unwrap()
}

fn us(obj: &InMemDicomObject, tag: dicom_core::Tag) -> u16 {
    obj.element(tag).unwrap().to_int::<u16>().unwrap()
}

fn command_of(pdu: &[u8]) -> Vec<u8> {
    parse_pdata(pdu).unwrap().remove(0).data.to_vec()
}

#[test]
fn our_messages_read_back_with_dicom_object() {
    let rsp = command_of(&build_store_rsp_pdata(
        3,
        42,
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.3.4.5.6.7",
        STATUS_OUT_OF_RESOURCES,
    ));
    let obj = read(&rsp);
    assert_eq!(us(&obj, tags::COMMAND_FIELD), C_STORE_RSP);
    assert_eq!(us(&obj, tags::MESSAGE_ID_BEING_RESPONDED_TO), 42);
    assert_eq!(us(&obj, tags::STATUS), STATUS_OUT_OF_RESOURCES);
    assert_eq!(us(&obj, tags::COMMAND_DATA_SET_TYPE), NO_DATA_SET);
    let inst = obj.element(tags::AFFECTED_SOP_INSTANCE_UID).unwrap();
    assert_eq!(
        inst.to_str().unwrap().trim_end_matches('\0'),
        "1.2.3.4.5.6.7"
    );
    let group_len = obj
        .element(tags::COMMAND_GROUP_LENGTH)
        .unwrap()
        .to_int::<u32>()
        .unwrap();
    assert_eq!(group_len as usize, rsp.len() - 12);
}

#[test]
fn dicom_object_written_echo_rsp_equals_ours() {
    let obj = InMemDicomObject::command_from_element_iter([
        DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            dicom_value!(Str, VERIFICATION_SOP_CLASS),
        ),
        DataElement::new(tags::COMMAND_FIELD, VR::US, dicom_value!(U16, [C_ECHO_RSP])),
        DataElement::new(
            tags::MESSAGE_ID_BEING_RESPONDED_TO,
            VR::US,
            dicom_value!(U16, [9]),
        ),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            dicom_value!(U16, [NO_DATA_SET]),
        ),
        DataElement::new(tags::STATUS, VR::US, dicom_value!(U16, [STATUS_SUCCESS])),
    ]);
    let mut theirs = Vec::new();
    obj.write_dataset_with_ts(&mut theirs, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .unwrap();
    assert_eq!(
        command_of(&build_echo_rsp_pdata(1, 9, STATUS_SUCCESS)),
        theirs
    );
    let cmd = parse_command(&theirs).unwrap();
    assert_eq!(cmd.message_id_being_responded_to, Some(9));
}

#[test]
fn real_store_rq_fields_agree() {
    let data = command_of(include_bytes!(
        "../../../fixtures/dicom/storescu_store_rq_command_pdata.bin"
    ));
    let obj = read(&data);
    let cmd = parse_command(&data).unwrap();
    assert_eq!(us(&obj, tags::COMMAND_FIELD), cmd.command_field);
    assert_eq!(Some(us(&obj, tags::MESSAGE_ID)), cmd.message_id);
    assert_eq!(
        us(&obj, tags::COMMAND_DATA_SET_TYPE),
        cmd.command_data_set_type
    );
    let uid = obj.element(tags::AFFECTED_SOP_INSTANCE_UID).unwrap();
    assert_eq!(
        uid.to_str().unwrap().trim_end_matches('\0'),
        cmd.affected_sop_instance_uid.unwrap()
    );
}

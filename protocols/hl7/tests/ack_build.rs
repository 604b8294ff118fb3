//! ACK/NAK building (HL7 v2.5.1 §2.9.2, §2.14.8 MSA, §2.14.5 ERR) checked
//! byte-for-byte and read back with `parse_ack`. Set TRIAGE_HL7_DUMP_ACKS to
//! a directory to write every built ACK there (for cross-checking with other
//! HL7 parsers, e.g. python-hl7 and hl7apy).

mod common;
use common::fixture;
use triage_hl7::{
    build_ack, build_ack_at, build_nak_without_msh, build_nak_without_msh_at, build_test_message,
    build_test_message_at, hl7_timestamp, parse_ack, parse_msh, salvage_control_id, AckCode,
    AckError, ErrorCode, MshError,
};

fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("TRIAGE_HL7_DUMP_ACKS") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

fn s(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn aa_for_adt_v251() {
    let m = parse_msh(&fixture("adt_a01_v251.hl7")).unwrap();
    let ack = build_ack(&m, AckCode::AA, "TRG0001", None);
    dump("aa_v251.hl7", &ack);
    assert_eq!(
        s(&ack),
        "MSH|^~\\&|SYNTH_EMR|SYNTH_HOSP|SYNTH_ADT|SYNTH_HOSP|20240102030405||ACK^A01^ACK|TRG0001|P|2.5.1||||||UNICODE UTF-8\r\
         MSA|AA|ADT0001\r"
    );
    let (h, msa) = parse_ack(&ack).unwrap();
    assert_eq!(h.message_type_full(), "ACK^A01");
    assert_eq!(h.control_id, "TRG0001");
    assert_eq!(
        (msa.code, msa.control_id.as_str(), msa.text),
        (AckCode::AA, "ADT0001", None)
    );
}

#[test]
fn ae_with_err_for_v251() {
    let m = parse_msh(&fixture("adt_a01_v251.hl7")).unwrap();
    let err = AckError::new(ErrorCode::ApplicationInternalError, "backend pool|down");
    let ack = build_ack_at(
        &m,
        AckCode::AE,
        "TRG0002",
        Some(&err),
        &hl7_timestamp(1_700_000_000),
    );
    dump("ae_v251.hl7", &ack);
    assert_eq!(
        s(&ack),
        "MSH|^~\\&|SYNTH_EMR|SYNTH_HOSP|SYNTH_ADT|SYNTH_HOSP|20231114221320+0000||ACK^A01^ACK|TRG0002|P|2.5.1||||||UNICODE UTF-8\r\
         MSA|AE|ADT0001|backend pool\\F\\down\r\
         ERR|||207^Application internal error^HL70357|E||||backend pool\\F\\down\r"
    );
    let (_, msa) = parse_ack(&ack).unwrap();
    assert_eq!(msa.text.as_deref(), Some("backend pool\\F\\down"));
}

#[test]
fn v23_uses_two_component_type_and_msa6() {
    let m = parse_msh(&fixture("orm_o01_v23.hl7")).unwrap();
    let err = AckError::new(ErrorCode::UnsupportedMessageType, "no route");
    let ack = build_ack(&m, AckCode::AR, "TRG0003", Some(&err));
    dump("ar_v23.hl7", &ack);
    assert_eq!(
        s(&ack),
        "MSH|^~\\&|SYNTH_PACS|SYNTH_HOSP|SYNTH_RIS|SYNTH_HOSP|20240102040000||ACK^O01|TRG0003|P|2.3\r\
         MSA|AR|ORM0001|no route|||200^Unsupported message type^HL70357\r"
    );
    let ok = build_ack(&m, AckCode::AA, "TRG0004", None);
    dump("aa_v23.hl7", &ok);
    assert!(s(&ok).ends_with("MSA|AA|ORM0001\r"));
}

#[test]
fn v21_bare_ack_and_v231_three_components() {
    let mut m = parse_msh(&fixture("orm_o01_v23.hl7")).unwrap();
    m.version = "2.1".into();
    assert!(s(&build_ack(&m, AckCode::AA, "X", None)).contains("||ACK|X|P|2.1\r"));
    m.version = "2.3.1".into();
    assert!(s(&build_ack(&m, AckCode::AA, "X", None)).contains("||ACK^O01^ACK|X|P|2.3.1\r"));
    m.version = "2.4".into();
    let err = AckError::new(ErrorCode::DataType, "bad");
    let ack = s(&build_ack(&m, AckCode::AE, "X", Some(&err)));
    assert!(
        ack.contains("MSA|AE|ORM0001|bad|||102^Data type error^HL70357\r"),
        "{ack}"
    );
    assert!(!ack.contains("ERR"));
}

#[test]
fn custom_delimiters_are_kept() {
    let m = parse_msh(&fixture("custom_delims_v24.hl7")).unwrap();
    let err = AckError::new(ErrorCode::ApplicationInternalError, "a$b%c");
    let ack = build_ack(&m, AckCode::AE, "T$5", Some(&err));
    dump("ae_custom_v24.hl7", &ack);
    assert_eq!(
        s(&ack),
        "MSH$%~\\&$SYNTH_RCV$SYNTH_RFAC$SYNTH_APP$SYNTH_FAC$20240102060000$$ACK%A08%ACK$T\\F\\5$P$2.4\r\
         MSA$AE$CUST0001$a\\F\\b\\S\\c$$$207%Application internal error%HL70357\r"
    );
    let (h, msa) = parse_ack(&ack).unwrap();
    assert_eq!(h.control_id, "T\\F\\5");
    assert_eq!(msa.control_id, "CUST0001");
}

#[test]
fn v27_truncation_and_enhanced_commit() {
    let m = parse_msh(&fixture("adt_a04_v27_truncation.hl7")).unwrap();
    assert!(m.enhanced_mode());
    let ack = build_ack(&m, AckCode::CA, "TRG0005", None);
    dump("ca_v27.hl7", &ack);
    assert!(s(&ack).starts_with("MSH|^~\\&#|SYNTH_RCV|SYNTH_RFAC|SYNTH_APP|SYNTH_FAC|"));
    let err = AckError::new(ErrorCode::ApplicationRecordLocked, "#locked");
    let ack = build_ack(&m, AckCode::CE, "TRG0006", Some(&err));
    dump("ce_v27.hl7", &ack);
    assert!(s(&ack).contains(
        "MSA|CE|V270001\rERR|||206^Application record locked^HL70357|E||||\\P\\locked\r"
    ));
    let (h, msa) = parse_ack(&ack).unwrap();
    assert_eq!(h.truncation, Some(b'#'));
    assert_eq!(msa.code, AckCode::CE);
    assert_eq!(msa.text, None, "MSA-3 is withdrawn in v2.7");
    assert!(msa.code.is_commit() && !msa.code.is_accept());
}

#[test]
fn nak_without_msh() {
    let nak = build_nak_without_msh(AckCode::AR, "no MSH segment", "TRG0007");
    dump("ar_no_msh.hl7", &nak);
    assert_eq!(
        s(&nak),
        "MSH|^~\\&|TRIAGE||||||ACK^^ACK|TRG0007|P|2.5.1\r\
         MSA|AR||no MSH segment\r\
         ERR|||100^Segment sequence error^HL70357|E||||no MSH segment\r"
    );
    let payload = fixture("broken_non_utf8.hl7");
    let e = parse_msh(&payload).unwrap_err();
    let err = AckError::new(e.error_code(), e.to_string());
    let acked = salvage_control_id(&payload).unwrap();
    let nak = build_nak_without_msh_at(AckCode::AE, &err, "TRG0008", &acked, "20240101000000");
    dump("ae_no_msh.hl7", &nak);
    assert!(s(&nak).contains("\rMSA|AE|BAD0002|MSH segment is not valid UTF-8"));
    assert!(
        s(&nak).contains("ERR|||102^Data type error^HL70357|E||||MSH segment is not valid UTF-8")
    );
    assert_eq!(parse_ack(&nak).unwrap().1.code, AckCode::AE);
}

#[test]
fn nak_for_missing_control_id_uses_partial_header() {
    let e = parse_msh(&fixture("broken_missing_control_id.hl7")).unwrap_err();
    let m = e.partial_msh().unwrap();
    let err = AckError::new(e.error_code(), e.to_string());
    let nak = s(&build_ack(m, AckCode::AR, "TRG0009", Some(&err)));
    assert!(
        nak.contains("MSA|AR||required field MSH-10 is empty\r"),
        "{nak}"
    );
    assert!(nak.contains("ERR|||101^Required field missing^HL70357|E|"));
}

#[test]
fn parse_ack_fixtures() {
    let (m, msa) = parse_ack(&fixture("ack_aa_v251.hl7")).unwrap();
    assert_eq!(m.message_type_full(), "ACK^A01");
    assert_eq!(
        (msa.code, msa.control_id.as_str()),
        (AckCode::AA, "ADT0001")
    );
    let (_, msa) = parse_ack(&fixture("ack_ae_v23.hl7")).unwrap();
    assert_eq!(msa.code, AckCode::AE);
    assert_eq!(
        msa.text.as_deref(),
        Some("Synthetic failure: unknown procedure")
    );
    assert_eq!(
        parse_ack(&fixture("adt_a01_v251.hl7")).unwrap_err(),
        MshError::MissingMsa
    );
    assert_eq!(
        parse_ack(&fixture("broken_empty.hl7")).unwrap_err(),
        MshError::Empty
    );
}

#[test]
fn health_check_message_and_its_reply() {
    let q = build_test_message_at("HC-0001", "2.5.1", &hl7_timestamp(1_700_000_000));
    dump("qry_a19_v251.hl7", &q);
    let m = parse_msh(&q).unwrap();
    assert_eq!(m.message_type_full(), "QRY^A19");
    assert_eq!(m.control_id, "HC-0001");
    let reply = build_ack(
        &m,
        AckCode::AR,
        "B1",
        Some(&AckError::new(ErrorCode::UnsupportedMessageType, "x")),
    );
    let (_, msa) = parse_ack(&reply).unwrap();
    assert_eq!(
        (msa.code, msa.control_id.as_str()),
        (AckCode::AR, "HC-0001")
    );
    dump("qry_a19_v23.hl7", &build_test_message("HC-0002", "2.3"));
}

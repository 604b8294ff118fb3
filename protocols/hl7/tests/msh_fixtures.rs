//! MSH reading (HL7 v2.5.1 §2.14.9) on every payload fixture, including the
//! broken ones, which must fail with the right error (a NAK case), never panic.

mod common;
use common::fixture;
use triage_hl7::{parse_msh, ErrorCode, MshError};

#[test]
fn adt_a01_v251_all_line_endings() {
    for name in [
        "adt_a01_v251.hl7",
        "adt_a01_v251_lf.hl7",
        "adt_a01_v251_crlf.hl7",
    ] {
        let m = parse_msh(&fixture(name)).unwrap();
        assert_eq!(m.sending_application, "SYNTH_ADT", "{name}");
        assert_eq!(m.sending_facility, "SYNTH_HOSP");
        assert_eq!(m.receiving_application, "SYNTH_EMR");
        assert_eq!(m.datetime, "20240102030405");
        assert_eq!(m.message_type_full(), "ADT^A01");
        assert_eq!(m.message_structure, "ADT_A01");
        assert_eq!(m.control_id, "ADT0001");
        assert_eq!(m.processing_id, "P");
        assert_eq!(m.version, "2.5.1");
        assert_eq!(m.accept_ack_type.as_deref(), Some("AL"));
        assert_eq!(m.application_ack_type.as_deref(), Some("NE"));
        assert_eq!(m.charset.as_deref(), Some("UNICODE UTF-8"), "{name}");
        assert!(m.enhanced_mode());
        assert!(m.accept_ack_wanted(true));
    }
}

#[test]
fn orm_o01_v23_original_mode() {
    let m = parse_msh(&fixture("orm_o01_v23.hl7")).unwrap();
    assert_eq!(m.message_type_full(), "ORM^O01");
    assert_eq!(m.message_structure, "");
    assert_eq!(m.version, "2.3");
    assert_eq!(m.accept_ack_type, None);
    assert!(!m.enhanced_mode());
}

#[test]
fn oru_with_ed_reads_only_msh() {
    let m = parse_msh(&fixture("oru_r01_ed_v251.hl7")).unwrap();
    assert_eq!(m.message_type_full(), "ORU^R01");
    assert_eq!(m.control_id, "ORU0001");
}

#[test]
fn custom_delimiters() {
    let m = parse_msh(&fixture("custom_delims_v24.hl7")).unwrap();
    assert_eq!((m.field_sep, m.components), (b'$', b'%'));
    assert_eq!(m.message_type, "ADT");
    assert_eq!(m.trigger_event, "A08");
    assert_eq!(m.message_type_full(), "ADT^A08");
    assert_eq!(m.control_id, "CUST0001");
    assert_eq!(m.version, "2.4");
}

#[test]
fn v27_truncation_character() {
    let m = parse_msh(&fixture("adt_a04_v27_truncation.hl7")).unwrap();
    assert_eq!(m.truncation, Some(b'#'));
    assert_eq!(m.sending_application, "SYNTH_APP");
    assert_eq!(m.message_type_full(), "ADT^A04");
    assert_eq!(m.control_id, "V270001");
    assert_eq!(m.version, "2.7");
}

/// Fixture name, expected error shape, expected table 0357 code.
type Case = (&'static str, fn(&MshError) -> bool, ErrorCode);

#[test]
fn broken_fixtures_are_errors() {
    let cases: [Case; 5] = [
        (
            "broken_empty.hl7",
            |e| *e == MshError::Empty,
            ErrorCode::SegmentSequence,
        ),
        (
            "broken_no_msh.hl7",
            |e| matches!(e, MshError::NotMsh { .. }),
            ErrorCode::SegmentSequence,
        ),
        (
            "broken_bad_delimiters.hl7",
            |e| matches!(e, MshError::BadDelimiters { .. }),
            ErrorCode::DataType,
        ),
        (
            "broken_non_utf8.hl7",
            |e| matches!(e, MshError::NotUtf8 { offset: 20 }),
            ErrorCode::DataType,
        ),
        (
            "broken_missing_control_id.hl7",
            |e| {
                matches!(
                    e,
                    MshError::MissingField {
                        field: "MSH-10",
                        ..
                    }
                )
            },
            ErrorCode::RequiredFieldMissing,
        ),
    ];
    for (name, check, code) in cases {
        let e = parse_msh(&fixture(name)).unwrap_err();
        assert!(check(&e), "{name}: {e:?}");
        assert_eq!(e.error_code(), code, "{name}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    for input in [
        &b"MSH"[..],
        b"MSH|",
        b"MSH|^~\\&",
        b"MSH|^~\\&|",
        b"MSH|^~\\&#",
        b"\r\n\r\n",
        b"\xEF\xBB\xBFMSH|^~\\&|A||||||X^Y|1",
        b"MSH|^~\\&|\xc3\xa9\\F\\|||||ADT^A01|1|P|2.5.1",
    ] {
        let _ = parse_msh(input);
    }
    let m = parse_msh(b"\xEF\xBB\xBFMSH|^~\\&|A||||||X^Y|1").unwrap();
    assert_eq!(m.message_type_full(), "X^Y");
}

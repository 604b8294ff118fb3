//! Fault, ITI-18 query and responder builders, read back with this crate's
//! own parsers.

mod common;

use common::*;
use triage_xds::*;

#[test]
fn soap12_fault_roundtrip() {
    let xml = build_fault(
        FaultCode::Sender,
        "bad <action> & \"quotes\" \u{0}",
        Some("urn:uuid:req-1"),
        Some(subcode::ACTION_NOT_SUPPORTED),
    );
    assert!(xml.contains("<env:Value>env:Sender</env:Value>"));
    assert!(
        xml.contains("<env:Subcode><env:Value>wsa:ActionNotSupported</env:Value></env:Subcode>")
    );
    assert!(xml.contains("<wsa:RelatesTo>urn:uuid:req-1</wsa:RelatesTo>"));
    let info = found(find_action(&soap12(), xml.as_bytes(), 4096));
    assert_eq!(info.action.as_deref(), Some(WSA_SOAP_FAULT_ACTION));
    let r = parse_registry_response(None, xml.as_bytes()).unwrap();
    assert_eq!(
        r.fault.as_deref(),
        Some("bad <action> & \"quotes\" \u{FFFD}")
    );
    let plain = build_fault(FaultCode::Receiver, "down", None, None);
    assert!(
        plain.contains("env:Receiver")
            && !plain.contains("RelatesTo")
            && !plain.contains("Subcode")
    );
}

#[test]
fn soap11_fault_roundtrip() {
    let xml = build_fault_11(FaultCode::Sender, "nope", Some("urn:uuid:2"));
    assert!(xml.contains("<faultcode>env:Client</faultcode>"));
    let info = found(find_action(&soap11(), xml.as_bytes(), 4096));
    assert_eq!(info.soap_version, SoapVersion::V11);
    let r = parse_registry_response(None, xml.as_bytes()).unwrap();
    assert_eq!(r.fault.as_deref(), Some("nope"));
}

#[test]
fn iti18_get_documents() {
    let xml = build_iti18_get_documents(
        "urn:uuid:11111111-2222-3333-4444-555555555555",
        "7edca82f-054d-47f2-a032-9b2a5b5186c1",
        Some("http://registry.example.invalid/iti18?a=1&b=2"),
    );
    let info = found(find_action(&soap12(), xml.as_bytes(), 4096));
    assert_eq!(info.action.as_deref(), Some(ITI18_ACTION));
    assert_eq!(
        info.message_id.as_deref(),
        Some("urn:uuid:11111111-2222-3333-4444-555555555555")
    );
    assert!(xml.contains("returnType=\"ObjectRef\""));
    assert!(xml.contains(&format!("<rim:AdhocQuery id=\"{GET_DOCUMENTS_QUERY_ID}\">")));
    assert!(xml.contains("<rim:Slot name=\"$XDSDocumentEntryEntryUUID\">"));
    assert!(xml.contains("('urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1')"));
    assert!(xml.contains("iti18?a=1&amp;b=2</wsa:To>"));
    // Already prefixed ids are kept; hostile ids stay well-formed.
    let xml = build_iti18_get_documents("m", "urn:uuid:abc", None);
    assert!(xml.contains("('urn:uuid:abc')") && !xml.contains("wsa:To"));
    let xml = build_iti18_get_documents("<m>", "x')</rim:Value>", None);
    assert!(
        found(find_action(&soap12(), xml.as_bytes(), 4096))
            .message_id
            .as_deref()
            == Some("<m>")
    );
}

#[test]
fn responder_builders() {
    let xml = build_adhoc_query_response_success("urn:uuid:q");
    let info = found(find_action(&soap12(), xml.as_bytes(), 4096));
    assert_eq!(info.action.as_deref(), Some(ITI18_RESPONSE_ACTION));
    let r = parse_registry_response(None, xml.as_bytes()).unwrap();
    assert_eq!(r.status, RegistryStatus::Success);

    for status in [
        RegistryStatus::Success,
        RegistryStatus::PartialSuccess,
        RegistryStatus::Failure,
    ] {
        let xml = build_registry_response("urn:uuid:r", ITI41_RESPONSE_ACTION, status.clone());
        let r = parse_registry_response(Some(&soap12()), xml.as_bytes()).unwrap();
        assert_eq!(r.status, status);
        assert_eq!(r.errors.is_empty(), status == RegistryStatus::Success);
        let info = found(find_action(&soap12(), xml.as_bytes(), 4096));
        assert_eq!(info.action.as_deref(), Some(ITI41_RESPONSE_ACTION));
    }
}

#[test]
fn retrieve_response_mtom() {
    let doc = b"hello\r\n--MIMEBoundary_triage_xds_0 inside content";
    let m = build_retrieve_response(
        "urn:uuid:ret",
        RegistryStatus::Success,
        &[RetrievedDocument {
            repository_unique_id: "1.2.3",
            document_unique_id: "1.2.3.4",
            mime_type: "text/plain",
            content: doc,
        }],
    );
    let ct = parse_content_type(&m.content_type).unwrap();
    assert_eq!(ct.boundary.as_deref(), Some("MIMEBoundary_triage_xds_1"));
    let r = parse_registry_response(Some(&ct), &m.body).unwrap();
    assert_eq!(r.status, RegistryStatus::Success);
    let info = found(find_action(&without_action(ct.clone()), &m.body, 4096));
    assert_eq!(info.action.as_deref(), Some(ITI43_RESPONSE_ACTION));
    assert!(m.body.windows(doc.len()).any(|w| w == doc));
}

//! parse_registry_response on fixtures and on hostile input.

mod common;

use common::*;
use triage_xds::*;

#[test]
fn iti18_success() {
    let r = parse_registry_response(Some(&soap12()), &fixture("iti18-response.xml")).unwrap();
    assert_eq!(r.status, RegistryStatus::Success);
    assert!(r.errors.is_empty());
    assert_eq!(r.fault, None);
}

#[test]
fn iti41_success_without_content_type() {
    let r = parse_registry_response(None, &fixture("iti41-response.xml")).unwrap();
    assert_eq!(r.status, RegistryStatus::Success);
}

#[test]
fn failure_with_errors() {
    let r = parse_registry_response(None, &fixture("registry-failure-response.xml")).unwrap();
    assert_eq!(r.status, RegistryStatus::Failure);
    assert_eq!(
        r.errors,
        vec![
            "XDSUnknownPatientId: Patient ID st3498702 is not known".to_string(),
            "XDSRegistryMetadataError: creationTime & hash check".to_string(),
        ]
    );
}

#[test]
fn soap_fault() {
    let r = parse_registry_response(None, &fixture("soap12-fault.xml")).unwrap();
    assert_eq!(r.status, RegistryStatus::Failure);
    assert_eq!(r.fault.as_deref(), Some("Action <urn:x> not supported"));
}

#[test]
fn iti43_mtom_response() {
    let ct = fixture_ct("iti43-response-mtom.ct");
    let body = fixture("iti43-response-mtom.txt");
    let r = parse_registry_response(Some(&ct), &body).unwrap();
    assert_eq!(r.status, RegistryStatus::Success);
    // Boundary sniffed from the body when no Content-Type is at hand.
    assert_eq!(parse_registry_response(None, &body).unwrap(), r);
}

#[test]
fn status_uris() {
    for s in [
        RegistryStatus::Success,
        RegistryStatus::PartialSuccess,
        RegistryStatus::Failure,
    ] {
        assert_eq!(RegistryStatus::from_uri(s.as_uri()), s);
    }
    assert_eq!(
        RegistryStatus::from_uri("urn:x"),
        RegistryStatus::Other("urn:x".to_string())
    );
}

#[test]
fn hostile_and_broken_bodies() {
    assert!(matches!(
        parse_registry_response(None, &fixture("doctype-bomb.xml")),
        Err(XdsError::DoctypeForbidden { .. })
    ));
    assert!(matches!(
        parse_registry_response(None, &fixture("not-xml.txt")),
        Err(XdsError::NotXml { .. })
    ));
    assert_eq!(
        parse_registry_response(None, &fixture("iti18-request.xml")),
        Err(XdsError::NoRegistryResponse)
    );
    let ct = fixture_ct("wrong-boundary.ct");
    assert!(parse_registry_response(Some(&ct), &fixture("wrong-boundary.txt")).is_err());
    let truncated = fixture("registry-failure-response.xml");
    assert!(parse_registry_response(None, &truncated[..truncated.len() / 2]).is_err());
    let bad_attr = format!("<rs:RegistryResponse xmlns:rs=\"{RS_NS}\" status=\"&bomb;\"/>");
    assert!(parse_registry_response(None, bad_attr.as_bytes()).is_err());
}

#[test]
fn errors_are_capped() {
    let mut xml = format!(
        "<rs:RegistryResponse xmlns:rs=\"{RS_NS}\" status=\"{STATUS_FAILURE}\"><rs:RegistryErrorList>"
    );
    for i in 0..1000 {
        xml.push_str(&format!(
            "<rs:RegistryError errorCode=\"E{i}\" codeContext=\"c\"/>"
        ));
    }
    xml.push_str("</rs:RegistryErrorList></rs:RegistryResponse>");
    let r = parse_registry_response(None, xml.as_bytes()).unwrap();
    assert_eq!(r.errors.len(), MAX_REGISTRY_ERRORS);
}

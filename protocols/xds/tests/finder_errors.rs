//! ActionFinder on broken and hostile input: not XML, DTD bombs, undeclared
//! entities, wrong MIME boundary, truncation, duplicates, deep nesting.

mod common;

use common::*;
use triage_xds::*;

#[test]
fn broken_inputs_are_errors() {
    let b = DEFAULT_HEADER_BUDGET;
    assert!(matches!(
        find_action(&soap12(), &fixture("not-xml.txt"), b),
        Err(XdsError::NotXml { offset: 0 })
    ));
    assert!(matches!(
        find_action(&soap12(), &fixture("doctype-bomb.xml"), b),
        Err(XdsError::DoctypeForbidden { .. })
    ));
    assert!(matches!(
        find_action(&soap12(), &fixture("entity-ref.xml"), b),
        Err(XdsError::UnknownEntity { ref name, .. }) if name == "lol9"
    ));
    let ct = fixture_ct("wrong-boundary.ct");
    assert!(matches!(
        find_action(&ct, &fixture("wrong-boundary.txt"), b),
        Err(XdsError::Mime { offset: 0, .. })
    ));
    // Not a SOAP envelope.
    assert!(matches!(
        find_action(&soap12(), b"<html><head/></html>", b),
        Err(XdsError::NotSoapEnvelope { .. })
    ));
    // Unsupported media type and charset surface on the first feed.
    let json = parse_content_type("application/json").unwrap();
    assert!(matches!(
        find_action(&json, b"{}", b),
        Err(XdsError::UnsupportedMediaType { .. })
    ));
    let utf16 = parse_content_type("application/soap+xml; charset=UTF-16").unwrap();
    assert!(matches!(
        find_action(&utf16, b"", b),
        Err(XdsError::UnsupportedCharset { .. })
    ));
    let no_boundary =
        parse_content_type("multipart/related; type=\"application/xop+xml\"").unwrap();
    assert_eq!(
        find_action(&no_boundary, b"", b),
        Err(XdsError::MissingBoundary)
    );
}

#[test]
fn doctype_is_refused_before_it_is_complete() {
    // Only the first bytes of the DTD are needed to refuse it.
    let bomb = fixture("doctype-bomb.xml");
    let at = find(&bomb, b"<!DOCTYPE");
    for cut in [at + 3, at + 20] {
        assert!(matches!(
            find_action(&soap12(), &bomb[..cut], DEFAULT_HEADER_BUDGET),
            Err(XdsError::DoctypeForbidden { .. })
        ));
    }
}

#[test]
fn truncated_body_needs_more_then_finish_fails() {
    let body = fixture("iti18-request.xml");
    let mut f = ActionFinder::new(&soap12(), DEFAULT_HEADER_BUDGET);
    assert_eq!(f.feed(&body[..200]), Ok(FindState::NeedMore));
    assert!(matches!(f.finish(), Err(XdsError::Truncated { .. })));
    // Sticky.
    assert!(matches!(
        f.feed(&body[200..]),
        Err(XdsError::Truncated { .. })
    ));
    // Root part ends before the header does.
    let ct = parse_content_type("multipart/related; boundary=b").unwrap();
    let body = format!("--b\r\n\r\n<s:Envelope xmlns:s=\"{SOAP12_NS}\"><s:Header>\r\n--b--\r\n");
    assert!(matches!(
        find_action(&ct, body.as_bytes(), 4096),
        Err(XdsError::Truncated { .. })
    ));
}

#[test]
fn duplicate_action_and_mismatched_tags() {
    let dup = format!(
        "<e:Envelope xmlns:e=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\"><e:Header>\
<a:Action>urn:1</a:Action><a:Action>urn:2</a:Action></e:Header></e:Envelope>"
    );
    assert!(matches!(
        find_action(&soap12(), dup.as_bytes(), 4096),
        Err(XdsError::DuplicateHeader {
            header: "Action",
            ..
        })
    ));
    let bad = format!("<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Header><x></y></e:Header>");
    assert!(matches!(
        find_action(&soap12(), bad.as_bytes(), 4096),
        Err(XdsError::Xml { .. })
    ));
    let undeclared = format!("<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Header><q:x/></e:Header>");
    assert!(matches!(
        find_action(&soap12(), undeclared.as_bytes(), 4096),
        Err(XdsError::Xml { .. })
    ));
}

#[test]
fn deep_nesting_is_bounded() {
    let body = format!(
        "<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Header>{}",
        "<x>".repeat(200)
    );
    assert!(matches!(
        find_action(&soap12(), body.as_bytes(), 8192),
        Err(XdsError::TooDeep { .. })
    ));
}

#[test]
fn delimiter_bytes_never_reach_the_xml_scanner() {
    // Regression (fuzz): a root part that is empty or ends in a partial
    // delimiter must give the same outcome however it is chunked.
    let ct = parse_content_type("multipart/related; boundary=b; start=\"<root>\"").unwrap();
    let env = format!(
        "<s:Envelope xmlns:s=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\"><s:Header><a:Action>urn:x</a:Action>"
    );
    for body in [
        "--b\r\nContent-ID: <root>\r\n\r\n\r\n--b--\r\n".to_string(),
        format!("--b\r\nContent-ID: <root>\r\n\r\n{env}\r\n--b--\r\n"),
        format!("--b\r\nContent-ID: <root>\r\n\r\n{env}\r\n--bx</s:Header>\r\n--b--\r\n"),
    ] {
        let (whole, _) = feed_chunks(&ct, body.as_bytes(), body.len(), 4096);
        let (bytewise, _) = feed_chunks(&ct, body.as_bytes(), 1, 4096);
        assert_eq!(whole, bytewise, "{body:?}");
    }
}

#[test]
fn invalid_utf8_offset_does_not_depend_on_chunking() {
    // Regression (fuzz): the error is reported at its absolute offset.
    let mut body =
        format!("<s:Envelope xmlns:s=\"{SOAP12_NS}\"><s:Header><!--c-->\u{FEFF}R").into_bytes();
    let bad_at = body.len();
    body.extend_from_slice(b"\xFFx<y/></s:Header>");
    let whole = feed_chunks(&soap12(), &body, body.len(), 4096).0;
    assert!(
        matches!(whole, Err(XdsError::Xml { offset, .. }) if offset == bad_at),
        "{whole:?}"
    );
    for n in 1..6 {
        assert_eq!(feed_chunks(&soap12(), &body, n, 4096).0, whole, "chunk {n}");
    }
}

//! ActionFinder on the fixtures: plain SOAP 1.2/1.1, MTOM, chunking, budget,
//! namespaces and text forms.

mod common;

use common::*;
use triage_xds::*;

#[test]
fn plain_soap12_requests() {
    let cases = [
        (
            "iti18-request.xml",
            ITI18_ACTION,
            "urn:uuid:a02ca8cd-86fa-4afc-a27c-16c183b20555",
        ),
        (
            "iti42-request.xml",
            ITI42_ACTION,
            "urn:uuid:c4e2f0a1-42bb-4d6f-8a9b-1c2d3e4f5a6b",
        ),
        (
            "iti43-request.xml",
            ITI43_ACTION,
            "urn:uuid:d5f3a1b2-43cc-4e70-9bac-2d3e4f5a6b7c",
        ),
    ];
    for (name, action, id) in cases {
        let info = found(find_action(
            &soap12(),
            &fixture(name),
            DEFAULT_HEADER_BUDGET,
        ));
        assert_eq!(info.action.as_deref(), Some(action), "{name}");
        assert_eq!(info.message_id.as_deref(), Some(id), "{name}");
        assert_eq!(info.soap_version, SoapVersion::V12);
        assert_eq!(
            Transaction::from_request_action(action)
                .unwrap()
                .request_action(),
            action
        );
    }
}

#[test]
fn soap11_request() {
    let info = found(find_action(
        &soap11(),
        &fixture("soap11-request.xml"),
        DEFAULT_HEADER_BUDGET,
    ));
    assert_eq!(info.action.as_deref(), Some(ITI18_ACTION));
    assert_eq!(info.soap_version, SoapVersion::V11);
}

#[test]
fn mtom_action_param_is_authoritative() {
    let ct = fixture_ct("iti41-mtom.ct");
    assert_eq!(action_from_headers(&ct).as_deref(), Some(ITI41_ACTION));
    // Nothing of the body is needed.
    let info = found(find_action(&ct, b"", 16));
    assert_eq!(info.action.as_deref(), Some(ITI41_ACTION));
    assert_eq!(info.message_id, None);
    let info = found(find_action(&ct, b"garbage", 16));
    assert_eq!(info.action.as_deref(), Some(ITI41_ACTION));
}

#[test]
fn mtom_body_is_read_without_action_param() {
    let ct = without_action(fixture_ct("iti41-mtom.ct"));
    let body = fixture("iti41-mtom.txt");
    let info = found(find_action(&ct, &body, DEFAULT_HEADER_BUDGET));
    assert_eq!(info.action.as_deref(), Some(ITI41_ACTION));
    assert_eq!(
        info.message_id.as_deref(),
        Some("urn:uuid:b9d1b1a2-41aa-4c5e-9e7b-0a1b2c3d4e5f")
    );
    // Stops at the end of the header: the document part is never needed.
    let header_end = find(&body, b"</soapenv:Header>") + b"</soapenv:Header>".len();
    assert!(
        found(find_action(&ct, &body[..header_end], DEFAULT_HEADER_BUDGET))
            .action
            .is_some()
    );
    assert_eq!(
        find_action(&ct, &body[..header_end - 1], DEFAULT_HEADER_BUDGET),
        Ok(FindState::NeedMore)
    );
}

#[test]
fn mtom_root_part_not_first() {
    // Move the document part in front of the root part: `start` must win.
    let ct = without_action(fixture_ct("iti41-mtom.ct"));
    let body = fixture("iti41-mtom.txt");
    let b = format!("--{}", ct.boundary.as_deref().unwrap());
    let text = String::from_utf8(body).unwrap();
    let parts: Vec<&str> = text.split(&b).collect(); // "", root, doc, "--\r\n"
    assert_eq!(parts.len(), 4);
    let swapped = format!("{b}{}{b}{}{b}{}", parts[2], parts[1], parts[3]);
    let info = found(find_action(&ct, swapped.as_bytes(), DEFAULT_HEADER_BUDGET));
    assert_eq!(info.action.as_deref(), Some(ITI41_ACTION));
    // Without `start`, the first part (the text document) is the root.
    let mut no_start = ct.clone();
    no_start.start = None;
    assert!(matches!(
        find_action(&no_start, swapped.as_bytes(), DEFAULT_HEADER_BUDGET),
        Err(XdsError::NotXml { .. })
    ));
}

#[test]
fn mtom_response_fixture_finds_action() {
    let ct = fixture_ct("iti43-response-mtom.ct");
    let info = found(find_action(
        &ct,
        &fixture("iti43-response-mtom.txt"),
        DEFAULT_HEADER_BUDGET,
    ));
    assert_eq!(info.action.as_deref(), Some(ITI43_RESPONSE_ACTION));
}

#[test]
fn every_chunk_size_gives_the_same_answer() {
    let cases = [
        (soap12(), fixture("iti18-request.xml")),
        (soap11(), fixture("soap11-request.xml")),
        (soap12(), fixture("iti43-request.xml")),
        (
            without_action(fixture_ct("iti41-mtom.ct")),
            fixture("iti41-mtom.txt"),
        ),
        (
            fixture_ct("iti43-response-mtom.ct"),
            fixture("iti43-response-mtom.txt"),
        ),
    ];
    for (ct, body) in cases {
        let whole = found(find_action(&ct, &body, DEFAULT_HEADER_BUDGET));
        for n in (1..64).chain([97, 500, 1024]) {
            let (r, _) = feed_chunks(&ct, &body, n, DEFAULT_HEADER_BUDGET);
            assert_eq!(found(r), whole, "chunk size {n}");
        }
    }
}

#[test]
fn found_exactly_at_the_end_of_the_header() {
    let cases = [
        (soap12(), fixture("iti18-request.xml"), &b"</s:Header>"[..]),
        (soap12(), fixture("iti43-request.xml"), &b"</Header>"[..]),
        (soap12(), fixture("no-header.xml"), &b"<soap:Body>"[..]),
        (
            without_action(fixture_ct("iti41-mtom.ct")),
            fixture("iti41-mtom.txt"),
            &b"</soapenv:Header>"[..],
        ),
    ];
    for (ct, body, end_tag) in cases {
        let (r, fed) = feed_chunks(&ct, &body, 1, DEFAULT_HEADER_BUDGET);
        found(r);
        assert_eq!(fed, find(&body, end_tag) + end_tag.len());
    }
}

#[test]
fn drip_fed_long_text_and_comments() {
    let pad = format!(
        "<!--{}-->{}<x a='{}'/>",
        "-> ".repeat(5000),
        "t>".repeat(5000),
        ">".repeat(5000)
    );
    let body = format!(
        "<s:Envelope xmlns:s=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\"><s:Header>{pad}\
<a:Action>{ITI18_ACTION}</a:Action></s:Header><s:Body/></s:Envelope>"
    );
    let t = std::time::Instant::now();
    let (r, fed) = feed_chunks(&soap12(), body.as_bytes(), 1, DEFAULT_HEADER_BUDGET);
    assert_eq!(found(r).action.as_deref(), Some(ITI18_ACTION));
    assert_eq!(fed, find(body.as_bytes(), b"</s:Header>") + 11);
    // Linear: generous bound even for a debug build on a slow machine.
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn budget_exceeded_by_big_header() {
    let pad = "<x:Pad xmlns:x=\"urn:pad\">".to_string() + &"p".repeat(100_000) + "</x:Pad>";
    let body = format!(
        "<s:Envelope xmlns:s=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\"><s:Header>{pad}\
<a:Action>{ITI18_ACTION}</a:Action></s:Header><s:Body/></s:Envelope>"
    );
    for n in [1000, 4096, body.len()] {
        let (r, fed) = feed_chunks(&soap12(), body.as_bytes(), n, DEFAULT_HEADER_BUDGET);
        assert_eq!(
            r,
            Err(XdsError::HeaderTooLarge {
                budget: DEFAULT_HEADER_BUDGET
            })
        );
        assert!(fed <= DEFAULT_HEADER_BUDGET + n, "stopped late: {fed}");
    }
    // The same message fits a bigger budget.
    let info = found(find_action(&soap12(), body.as_bytes(), 200_000));
    assert_eq!(info.action.as_deref(), Some(ITI18_ACTION));
}

#[test]
fn budget_is_exact() {
    let body = fixture("iti18-request.xml");
    let header_end = find(&body, b"</s:Header>") + b"</s:Header>".len();
    assert!(found(find_action(&soap12(), &body, header_end))
        .action
        .is_some());
    assert_eq!(
        find_action(&soap12(), &body, header_end - 1),
        Err(XdsError::HeaderTooLarge {
            budget: header_end - 1
        })
    );
}

#[test]
fn mtom_skipped_part_counts_against_budget() {
    let ct = without_action(fixture_ct("iti41-mtom.ct"));
    let b = ct.boundary.clone().unwrap();
    let big = format!(
        "--{b}\r\nContent-ID: <big>\r\n\r\n{}\r\n",
        "x".repeat(80_000)
    );
    let mut body = big.into_bytes();
    body.extend_from_slice(&fixture("iti41-mtom.txt"));
    let (r, _) = feed_chunks(&ct, &body, 8192, DEFAULT_HEADER_BUDGET);
    assert_eq!(
        r,
        Err(XdsError::HeaderTooLarge {
            budget: DEFAULT_HEADER_BUDGET
        })
    );
}

#[test]
fn no_header_reports_no_action() {
    let info = found(find_action(
        &soap12(),
        &fixture("no-header.xml"),
        DEFAULT_HEADER_BUDGET,
    ));
    assert_eq!(info.action, None);
    assert_eq!(info.message_id, None);
}

#[test]
fn namespaces_not_prefixes() {
    // `wsa` bound to another namespace must not count; `zz` bound to WSA must.
    let body = format!(
        "<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Header xmlns:wsa=\"urn:not-wsa\">\
<wsa:Action>urn:fake</wsa:Action>\
<zz:Action xmlns:zz=\"{WSA_NS}\">{ITI43_ACTION}</zz:Action>\
<zz:MessageID xmlns:zz=\"{WSA_NS}\">  urn:uuid:1  </zz:MessageID></e:Header><e:Body/></e:Envelope>"
    );
    let info = found(find_action(&soap12(), body.as_bytes(), 4096));
    assert_eq!(info.action.as_deref(), Some(ITI43_ACTION));
    assert_eq!(info.message_id.as_deref(), Some("urn:uuid:1"));
    // A SOAP 1.1 Header inside a SOAP 1.2 envelope is not the header.
    let body = format!(
        "<e:Envelope xmlns:e=\"{SOAP12_NS}\" xmlns:o=\"{SOAP11_NS}\" xmlns:a=\"{WSA_NS}\">\
<o:Header><a:Action>urn:x</a:Action></o:Header><e:Body/></e:Envelope>"
    );
    assert_eq!(
        found(find_action(&soap12(), body.as_bytes(), 4096)).action,
        None
    );
}

#[test]
fn text_forms_bom_comments_cdata_refs() {
    let body = format!(
        "\u{FEFF}<?xml version=\"1.0\"?>\n<!-- c --><e:Envelope xmlns:e=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\">\
<e:Header><a:Action>urn:ihe:<!-- x -->iti:2007:<![CDATA[Retrieve]]>Document&#83;et&amp;x</a:Action>\
<a:MessageID>urn:uuid:é</a:MessageID></e:Header></e:Envelope>"
    );
    for n in [1, 2, 3, 7, body.len()] {
        let (r, _) = feed_chunks(&soap12(), body.as_bytes(), n, 4096);
        let info = found(r);
        assert_eq!(
            info.action.as_deref(),
            Some("urn:ihe:iti:2007:RetrieveDocumentSet&x")
        );
        assert_eq!(info.message_id.as_deref(), Some("urn:uuid:é"));
    }
}

#[test]
fn consumed_counts_all_bytes() {
    let mut f = ActionFinder::new(&soap12(), 10);
    assert_eq!(f.feed(b"   "), Ok(FindState::NeedMore));
    assert_eq!(f.consumed(), 3);
    assert_eq!(
        f.feed(b"          "),
        Err(XdsError::HeaderTooLarge { budget: 10 })
    );
    assert_eq!(f.consumed(), 13);
}

#[test]
fn bom_character_after_a_resume_point_is_kept() {
    // Regression (fuzz): quick-xml drops a BOM at the start of its input, so a
    // resume point just before U+FEFF character data must not lose it.
    let body = format!(
        "<s:Envelope xmlns:s=\"{SOAP12_NS}\" xmlns:a=\"{WSA_NS}\"><s:Header>\
<a:Action><!--c-->\u{FEFF}urn:x</a:Action><!--d-->\u{FEFF}<q:x/></s:Header></s:Envelope>"
    );
    let whole = feed_chunks(&soap12(), body.as_bytes(), body.len(), 4096).0;
    for n in 1..8 {
        assert_eq!(
            feed_chunks(&soap12(), body.as_bytes(), n, 4096).0,
            whole,
            "chunk {n}"
        );
    }
    assert!(matches!(whole, Err(XdsError::Xml { .. })), "{whole:?}");
    let ok = body.replace("<q:x/>", "");
    let info = found(feed_chunks(&soap12(), ok.as_bytes(), 1, 4096).0);
    assert_eq!(info.action.as_deref(), Some("\u{FEFF}urn:x"));
}

//! Fuzz target `find_action`: arbitrary bodies through `ActionFinder` under
//! several Content-Types (SOAP 1.2, SOAP 1.1, MTOM per RFC 2387 with and
//! without `start`, with an `action` parameter) and budgets, fed whole and in
//! random chunks. Asserts no panic, and that chunking never changes the
//! outcome nor delays Found (the finder resumes quick-xml's NsReader between chunks, ITI TF-2
//! Appendix V / WS-Addressing 1.0 headers). A whole body goes through the fast path when it
//! is plain, and chunks of at most 64 bytes through the NsReader: chunking equivalence also
//! checks that both scans agree. A memo (`HeaderMemo`) never changes the outcome either:
//! neither one remembered from the same body (a repeat) nor one from the ITI-18 fixture.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_xds::{
    action_from_headers, parse_content_type, ActionFinder, FindState, HeaderMemo, XdsError,
};

const ITI18: &[u8] = include_bytes!("../../../../fixtures/xds/iti18-request.xml");

const CONTENT_TYPES: [&str; 6] = [
    "application/soap+xml; charset=UTF-8",
    "text/xml",
    "multipart/related; boundary=b; type=\"application/xop+xml\"; start=\"<root>\"; start-info=\"application/soap+xml\"",
    "multipart/related; boundary=\"MIME_b1\"",
    "multipart/related; boundary=b; action=\"urn:ihe:iti:2007:RetrieveDocumentSet\"",
    "application/xop+xml; type=\"application/soap+xml\"",
];

const BUDGETS: [usize; 4] = [0, 17, 512, 64 * 1024];

/// Feeds `body` in chunks cycling through `sizes` (whole body if empty);
/// returns the outcome and the bytes fed when it was reached.
fn run(f: &mut ActionFinder, body: &[u8], sizes: &[u8]) -> (Result<FindState, XdsError>, usize) {
    let (mut at, mut k) = (0, 0);
    while at < body.len() {
        let n = if sizes.is_empty() {
            body.len()
        } else {
            1 + usize::from(sizes[k % sizes.len()]) % 64
        };
        k += 1;
        let end = (at + n).min(body.len());
        match f.feed(&body[at..end]) {
            Ok(FindState::NeedMore) => at = end,
            other => return (other, end),
        }
    }
    (f.finish(), body.len())
}

fuzz_target!(|data: &[u8]| {
    let [sel, nsizes, rest @ ..] = data else {
        return;
    };
    let ct = parse_content_type(CONTENT_TYPES[usize::from(*sel) % CONTENT_TYPES.len()])
        .expect("static content type");
    let budget = BUDGETS[usize::from(*sel / 8) % BUDGETS.len()];
    let split = usize::from(*nsizes % 8).min(rest.len());
    let (sizes, body) = rest.split_at(split);

    let (whole, _) = run(&mut ActionFinder::new(&ct, budget), body, &[]);
    let (chunked, _) = run(&mut ActionFinder::new(&ct, budget), body, sizes);
    let (bytewise, at) = run(&mut ActionFinder::new(&ct, budget), body, &[0]);
    assert_eq!(whole, chunked, "chunk sizes {sizes:?} changed the outcome");
    assert_eq!(whole, bytewise, "byte-by-byte feeding changed the outcome");
    assert_ne!(whole, Ok(FindState::NeedMore), "finish() must decide");
    // With a memo: of this very body (fed whole before), and of the ITI-18 fixture.
    let mut first = ActionFinder::new(&ct, budget);
    let _ = run(&mut first, body, &[]);
    let mut fixture = ActionFinder::new(&ct, budget);
    let _ = run(&mut fixture, ITI18, &[]);
    for memo in [first.into_memo(), fixture.into_memo(), HeaderMemo::default()] {
        let (again, _) = run(&mut ActionFinder::with_memo(&ct, budget, memo), body, &[]);
        assert_eq!(whole, again, "a memo changed the outcome");
    }
    // No delay: fed byte by byte, Found comes at the first prefix that has it.
    if matches!(bytewise, Ok(FindState::Found(_))) && at > 0 && action_from_headers(&ct).is_none() {
        let earlier = ActionFinder::new(&ct, budget).feed(&body[..at - 1]);
        assert!(
            !matches!(earlier, Ok(FindState::Found(_))),
            "Found reported late: at {at}"
        );
    }
});

//! Fixture helpers shared by the integration tests (files in fixtures/xds/).
#![allow(dead_code)]

use triage_xds::{parse_content_type, ActionFinder, ContentType, FindState, SoapInfo, XdsError};

/// Bytes of `fixtures/xds/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/xds/").to_string() + name;
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Content-Type stored in the sidecar `<name>.ct`.
pub fn fixture_ct(name: &str) -> ContentType {
    let raw = String::from_utf8(fixture(name)).unwrap();
    parse_content_type(raw.trim()).unwrap()
}

/// A Content-Type with the `action` parameter removed, so the body is read.
pub fn without_action(mut ct: ContentType) -> ContentType {
    ct.action = None;
    ct
}

pub fn soap12() -> ContentType {
    parse_content_type("application/soap+xml; charset=UTF-8").unwrap()
}

pub fn soap11() -> ContentType {
    parse_content_type("text/xml; charset=utf-8").unwrap()
}

/// Unwraps `Found`.
pub fn found(r: Result<FindState, XdsError>) -> SoapInfo {
    match r {
        Ok(FindState::Found(info)) => info,
        other => panic!("expected Found, got {other:?}"),
    }
}

/// Feeds `body` in chunks of `n` bytes; returns the first non-NeedMore outcome
/// and the number of bytes fed by then.
pub fn feed_chunks(
    ct: &ContentType,
    body: &[u8],
    n: usize,
    budget: usize,
) -> (Result<FindState, XdsError>, usize) {
    let mut f = ActionFinder::new(ct, budget);
    let mut fed = 0;
    for chunk in body.chunks(n.max(1)) {
        fed += chunk.len();
        match f.feed(chunk) {
            Ok(FindState::NeedMore) => {}
            other => return (other, fed),
        }
    }
    (f.finish(), fed)
}

/// Offset of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle")
}

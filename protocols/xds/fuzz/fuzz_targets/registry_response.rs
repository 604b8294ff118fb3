//! Fuzz target `registry_response`: arbitrary bodies through
//! `parse_registry_response` (ebRS RegistryResponse / AdhocQueryResponse,
//! ITI TF-3 §4.2.4; SOAP 1.2 Part 1 §5.4 Fault; MTOM per RFC 2387) with no,
//! a plain, or a multipart Content-Type. Asserts no panic and the error cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_xds::{parse_content_type, parse_registry_response, MAX_REGISTRY_ERRORS};

fuzz_target!(|data: &[u8]| {
    let [sel, body @ ..] = data else { return };
    let ct = match sel % 3 {
        0 => None,
        1 => parse_content_type("application/soap+xml").ok(),
        _ => parse_content_type("multipart/related; boundary=b; start=\"<root>\"").ok(),
    };
    if let Ok(r) = parse_registry_response(ct.as_ref(), body) {
        assert!(r.errors.len() <= MAX_REGISTRY_ERRORS);
    }
});

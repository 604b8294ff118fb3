//! Fuzz target `content_type`: arbitrary header values through
//! `parse_content_type` (RFC 2045 §5.1) and `action_from_headers`
//! (RFC 3902), then a short body through an `ActionFinder` built from the
//! result. Asserts no panic and a lowercased `type/subtype`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_xds::{action_from_headers, parse_content_type, ActionFinder};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ct) = parse_content_type(value) {
        assert!(ct.mime.contains('/'));
        assert_eq!(ct.mime, ct.mime.to_ascii_lowercase());
        let _ = action_from_headers(&ct);
        let mut f = ActionFinder::new(&ct, 256);
        let _ = f.feed(data);
        let _ = f.finish();
    }
});

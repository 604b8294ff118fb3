//! Inputs shared by the scan tests (`fast`, `memo`): the request fixtures, the `NsReader` scan
//! they are compared with, and seeded random mutations.

use crate::envelope::{HeaderScanner, Scan};
use crate::finder::SoapInfo;
use rand::rngs::StdRng;
use rand::Rng;

pub(crate) const FIXTURES: [&[u8]; 5] = [
    include_bytes!("../../../fixtures/xds/iti18-request.xml"),
    include_bytes!("../../../fixtures/xds/iti42-request.xml"),
    include_bytes!("../../../fixtures/xds/iti43-request.xml"),
    include_bytes!("../../../fixtures/xds/soap11-request.xml"),
    include_bytes!("../../../fixtures/xds/no-header.xml"),
];

/// The `NsReader` scan of a complete envelope (the fast path is not taken here).
pub(crate) fn slow(b: &[u8]) -> Option<SoapInfo> {
    match HeaderScanner::default().scan_xml(b, 0, true) {
        Ok(Scan::Done(info)) => Some(info),
        _ => None,
    }
}

/// `base` with one to three bytes replaced, inserted or removed (markup and UTF-8 bytes
/// mostly), at random places.
pub(crate) fn mutate(rng: &mut StdRng, base: &[u8]) -> Vec<u8> {
    const BYTES: &[u8] = b"<>/&:=\"' \r\n\t!?-[]xsawe;\xC3\xA9\xFF";
    let mut m = base.to_vec();
    for _ in 0..1 + rng.random_range(0..3) {
        let at = rng.random_range(0..m.len() + 1);
        match rng.random_range(0..3) {
            0 if at < m.len() => m[at] = BYTES[rng.random_range(0..BYTES.len())],
            1 => m.insert(at, BYTES[rng.random_range(0..BYTES.len())]),
            _ if at < m.len() => {
                m.remove(at);
            }
            _ => {}
        }
    }
    m
}

//! The fast path against the `NsReader` scan: wherever the fast path answers, the answer is
//! the `NsReader` scan's, on the fixtures, on hand-made envelopes and on mutations of them.

use super::scan;
use crate::test_inputs::{mutate, slow, FIXTURES};
use rand::rngs::StdRng;
use rand::SeedableRng;

const S12: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSA: &str = "http://www.w3.org/2005/08/addressing";

fn agree(b: &[u8]) -> bool {
    match scan(b) {
        None => true,
        fast => fast == slow(b),
    }
}

fn made() -> Vec<String> {
    let header = |h: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<e:Envelope xmlns:e=\"{S12}\" \
             xmlns:w=\"{WSA}\"><e:Header>{h}</e:Header><e:Body><x/></e:Body></e:Envelope>"
        )
    };
    vec![
        header("<w:Action>urn:a</w:Action><w:MessageID> urn:m </w:MessageID>"),
        header("<w:MessageID>urn:m</w:MessageID><w:Action e:mustUnderstand='1'>urn:a</w:Action>"),
        header("<w:Action/><w:To>x</w:To>"),
        header("<w:Action>   </w:Action>"),
        header("<Action xmlns=\"urn:other\">urn:no</Action><w:Action>urn:yes</w:Action>"),
        header("<q:Action xmlns:q=\"urn:other\">urn:no</q:Action>"),
        header("<w:ReplyTo><w:Action>urn:nested</w:Action></w:ReplyTo><w:Action>urn:a</w:Action>"),
        header("<w:Action>urn:a &amp; b</w:Action>"),
        header("<w:Action>urn:\r\na</w:Action>"),
        header("<w:Action>a</w:Action><w:Action>b</w:Action>"),
        header("<w:Action><!-- c -->urn:a</w:Action>"),
        header("<w:Action><![CDATA[urn:a]]></w:Action>"),
        header("<u:x/>"),
        header("<w:Action>urn:é</w:Action>"),
        format!("<Envelope xmlns=\"{S12}\"><Header><Action xmlns=\"{WSA}\">urn:d</Action></Header></Envelope>"),
        format!("<Envelope xmlns=\"{S12}\"><Header/><Body/></Envelope>"),
        format!("<s:Envelope xmlns:s=\"{S12}\"><s:Body><w:Action xmlns:w=\"{WSA}\">urn:b</w:Action></s:Body></s:Envelope>"),
        format!("<s:Envelope xmlns:s=\"{S12}\"><x:Header xmlns:x=\"{S12}\"><w:Action xmlns:w=\"{WSA}\">urn:p</w:Action></x:Header></s:Envelope>"),
        format!("<s:Envelope xmlns:s=\"urn:not-soap\"><s:Header/></s:Envelope>"),
        format!("<?xml version='1.0' encoding='ISO-8859-1'?><s:Envelope xmlns:s=\"{S12}\"><s:Header/></s:Envelope>"),
        format!("<!DOCTYPE x><s:Envelope xmlns:s=\"{S12}\"><s:Header/></s:Envelope>"),
    ]
}

#[test]
fn answers_the_fixtures_and_plain_envelopes_as_the_ns_reader_does() {
    for f in FIXTURES {
        assert_eq!(scan(f), slow(f), "{}", String::from_utf8_lossy(f));
        assert!(scan(f).is_some(), "the fast path takes the fixture");
    }
    let mut taken = 0;
    for m in made() {
        let fast = scan(m.as_bytes());
        taken += usize::from(fast.is_some());
        assert!(agree(m.as_bytes()), "{m}");
    }
    // The plain ones are taken (not every case gives up).
    assert!(taken >= 8, "fast path took {taken}");
}

#[test]
fn gives_up_on_what_it_cannot_be_sure_of() {
    let m = made();
    for (i, case) in m.iter().enumerate() {
        let gives_up = [7, 8, 9, 10, 11, 12, 18, 19, 20].contains(&i);
        assert_eq!(
            scan(case.as_bytes()).is_none(),
            gives_up,
            "case {i}: {case}"
        );
    }
    // Truncated anywhere before the end of the header: no answer.
    let f = FIXTURES[0];
    let end = f.windows(9).position(|w| w == b"</s:Heade").unwrap();
    for cut in 0..end {
        assert_eq!(scan(&f[..cut]), None, "cut at {cut}");
    }
}

#[test]
fn agrees_with_the_ns_reader_on_mutations() {
    // Seeded: the same mutations on every run (a failure prints its input).
    let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
    let mut bases: Vec<Vec<u8>> = FIXTURES.iter().map(|f| f.to_vec()).collect();
    bases.extend(made().into_iter().map(String::into_bytes));
    let (mut answered, mut total) = (0, 0);
    for base in &bases {
        for _ in 0..3000 {
            let m = mutate(&mut rng, base);
            total += 1;
            answered += usize::from(scan(&m).is_some());
            assert!(agree(&m), "{:?}", String::from_utf8_lossy(&m));
        }
    }
    // Many mutations (those outside the header) still get a fast answer.
    assert!(answered * 8 > total, "{answered} of {total}");
}

#[test]
fn short_pattern_search() {
    use super::find;
    assert_eq!(find(b"a-->b", 0, b"-->"), Some(1));
    assert_eq!(find(b"--->", 0, b"-->"), Some(1));
    assert_eq!(find(b"<!-- x -- y -->", 4, b"-->"), Some(12));
    assert_eq!(find(b"-->", 1, b"-->"), None);
    assert_eq!(find(b"->", 0, b"-->"), None);
    assert_eq!(find(b"?>", 0, b"?>"), Some(0));
    assert_eq!(find(b"xencoding=", 0, b"encoding"), Some(1));
}

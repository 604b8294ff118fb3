//! The memo against the `NsReader` scan: wherever the memo answers, the answer is the
//! `NsReader` scan's, for new `wsa:MessageID` texts and for mutations of remembered headers.

use super::HeaderMemo;
use crate::fast::scan_shaped;
use crate::test_inputs::{mutate, slow, FIXTURES};
use rand::rngs::StdRng;
use rand::SeedableRng;

const ITI18: &[u8] = FIXTURES[0];
const ITI18_ID: &str = "urn:uuid:a02ca8cd-86fa-4afc-a27c-16c183b20555";

fn primed(b: &[u8]) -> HeaderMemo {
    let mut m = HeaderMemo::default();
    m.remember(b, &scan_shaped(b).expect("the fast scan takes the fixture"));
    m
}

fn with_id(id: &str) -> Vec<u8> {
    String::from_utf8_lossy(ITI18)
        .replace(ITI18_ID, id)
        .into_bytes()
}

#[test]
fn a_repeat_with_a_new_message_id_is_answered_as_the_ns_reader_does() {
    let memo = primed(ITI18);
    for id in [
        ITI18_ID,
        "urn:uuid:00000000-0000-0000-0000-000000000001",
        "x",
        "  padded  ",
        "",
        "urn:é:ünïcode",
        "a > b ]]",
        "a\nb",
    ] {
        let b = with_id(id);
        let got = memo.answer(&b);
        assert!(got.is_some(), "{id:?} not answered");
        assert_eq!(got, slow(&b), "{id:?}");
    }
    // Text the fast scan would not take, or markup: scanned again.
    for id in ["a &amp; b", "a\r\nb", "<x/>", "a<!-- c -->b"] {
        assert_eq!(memo.answer(&with_id(id)), None, "{id:?}");
    }
    // Cut before the header's end: no answer.
    let end = ITI18.windows(11).position(|w| w == b"</s:Header>").unwrap() + 10;
    assert_eq!(memo.answer(&ITI18[..end]), None);
    assert_eq!(memo.answer(&ITI18[..end + 1]), slow(ITI18));
    // Nothing remembered: nothing answered.
    assert_eq!(HeaderMemo::default().answer(ITI18), None);
}

#[test]
fn answers_agree_with_the_ns_reader_on_mutations() {
    let mut rng = StdRng::seed_from_u64(0x005E_ED0F_11E5);
    let (mut answered, mut total) = (0, 0);
    for base in FIXTURES {
        let memo = primed(base);
        for _ in 0..3000 {
            let m = mutate(&mut rng, base);
            total += 1;
            if let Some(got) = memo.answer(&m) {
                answered += 1;
                assert_eq!(Some(got), slow(&m), "{:?}", String::from_utf8_lossy(&m));
            }
        }
    }
    // Mutations in the body or in the MessageID text are still answered.
    assert!(answered * 4 > total, "{answered} of {total}");
}

#[test]
fn a_header_too_long_is_not_remembered() {
    let pad = " ".repeat(2100);
    let long = String::from_utf8_lossy(ITI18).replace("<s:Header>", &format!("<s:Header>{pad}"));
    let mut memo = primed(ITI18);
    memo.remember(long.as_bytes(), &scan_shaped(long.as_bytes()).unwrap());
    assert_eq!(memo.answer(long.as_bytes()), None);
    assert_eq!(memo.answer(ITI18), None, "the old header is forgotten too");
}

//! A 1 MiB ORU^R01 (OBX-5 ED value, HL7 v2.5.1 §2.A.24 ED, base64 encoded,
//! generated here so the committed fixtures stay small) through the MLLP
//! decoder in small reads (linear scan, cap respected) and `parse_msh`.

mod common;
use bytes::BytesMut;
use common::fixture;
use triage_hl7::{
    build_ack, encode, parse_msh, AckCode, MllpDecoder, MllpError, MllpFrame, DEFAULT_MAX_FRAME,
};

/// ORU^R01 with a `len`-byte base64-alphabet ED payload in OBX-5.
fn big_oru(len: usize) -> Vec<u8> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut v = fixture("oru_r01_ed_v251.hl7");
    let obx = v.windows(4).position(|w| w == b"OBX|").unwrap();
    v.truncate(obx);
    v.extend_from_slice(b"OBX|1|ED|PDF^Synthetic report^L||SYNTH^AP^PDF^Base64^");
    v.extend((0..len).map(|i| B64[(i * 7 + i / 64) % 64]));
    v.extend_from_slice(b"||||||F\r");
    v
}

#[test]
fn one_mib_oru_in_4k_reads() {
    let payload = big_oru(1024 * 1024);
    let mut wire = BytesMut::new();
    encode(&payload, &mut wire);
    encode(&payload, &mut wire);
    let mut dec = MllpDecoder::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in wire.chunks(4096) {
        buf.extend_from_slice(chunk);
        while let Some(item) = dec.decode(&mut buf).unwrap() {
            got.push(item);
        }
    }
    assert_eq!(got.len(), 2);
    for item in &got {
        assert_eq!(item.junk_skipped, 0);
        let MllpFrame::Message(p) = &item.frame else {
            panic!("not a message")
        };
        assert_eq!(p.as_ref(), &payload[..]);
        let m = parse_msh(p).unwrap();
        assert_eq!(m.message_type_full(), "ORU^R01");
        let ack = build_ack(&m, AckCode::AA, "L1", None);
        assert!(ack.ends_with(b"MSA|AA|ORU0001\r"));
    }
    assert!(payload.len() < DEFAULT_MAX_FRAME);
}

#[test]
fn one_mib_oru_over_a_smaller_cap() {
    let payload = big_oru(1024 * 1024);
    let mut wire = BytesMut::new();
    encode(&payload, &mut wire);
    encode(b"MSH|^~\\&|A|B|||1||ADT^A01|2|P|2.5.1\r", &mut wire);
    let mut dec = MllpDecoder::new(512 * 1024);
    let mut buf = BytesMut::new();
    let (mut errors, mut items) = (0, 0);
    for chunk in wire.chunks(65536) {
        buf.extend_from_slice(chunk);
        assert!(
            buf.len() <= 512 * 1024 + 65536 + 1,
            "buffer bounded by the cap"
        );
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(_)) => items += 1,
                Ok(None) => break,
                Err(MllpError::FrameTooLarge { size, max }) => {
                    assert!(size > max && size <= max + 65536);
                    errors += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!((errors, items), (1, 1));
}

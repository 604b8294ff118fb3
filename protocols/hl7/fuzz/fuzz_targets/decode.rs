//! Fuzz target `decode`: arbitrary bytes through the MLLP decoder (MLLP
//! release 1/2 framing) in random chunk sizes, then every payload (and the
//! raw input) through `parse_msh` (HL7 v2.5.1 §2.14.9), `parse_ack` (§2.14.8)
//! and `build_ack` (§2.9.2). Asserts no panic plus a few invariants:
//! chunking does not change what is decoded, payloads never contain MLLP
//! block characters, and every ACK built from a parsed header reads back.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use triage_hl7::mllp::{EB, SB};
use triage_hl7::{
    build_ack, build_nak_without_msh, glob_match, parse_ack, parse_msh, salvage_control_id,
    AckCode, AckError, ErrorCode, MllpDecoder, MllpError, MllpFrame, MllpItem, Msh,
};

/// Decode `stream` fed in chunks whose sizes cycle through `sizes`.
fn decode_all(stream: &[u8], sizes: &[u8], max: usize) -> Vec<Result<MllpItem, MllpError>> {
    let mut dec = MllpDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at < stream.len() {
        let n = 1 + usize::from(sizes.get(k % sizes.len().max(1)).copied().unwrap_or(0)) % 97;
        k += 1;
        let end = (at + n).min(stream.len());
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => break,
                Err(e) => out.push(Err(e)),
            }
        }
    }
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(item)) => out.push(Ok(item)),
            Ok(None) => break,
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

fn check_ack(msh: &Msh, code: AckCode) {
    let err = AckError::new(ErrorCode::ApplicationInternalError, "fuzz|^~\\&#\r\n\u{e9}");
    for e in [None, Some(&err)] {
        let ack = build_ack(msh, code, "CTRL|1", e);
        let (h, msa) = parse_ack(&ack).expect("an ACK we built must read back");
        assert_eq!(msa.code, code);
        assert_eq!(msa.control_id, msh.control_id);
        assert_eq!(h.delimiters(), msh.delimiters());
        assert_eq!(h.version, msh.version);
    }
}

fn exercise(p: &[u8]) {
    let _ = salvage_control_id(p);
    match parse_msh(p) {
        Ok(m) => {
            check_ack(&m, AckCode::AA);
            check_ack(&m, AckCode::CR);
            let full = m.message_type_full();
            assert!(glob_match("*", &full));
            assert!(glob_match(&full.replace(['*', '?'], "?"), &full));
            let _ = m.enhanced_mode();
            let _ = m.accept_ack_wanted(false);
        }
        Err(e) => {
            if let Some(m) = e.partial_msh() {
                check_ack(m, AckCode::AR);
            }
            let nak = build_nak_without_msh(AckCode::AR, &e.to_string(), "N1");
            assert!(parse_ack(&nak).is_ok());
        }
    }
    if let Ok((m, _)) = parse_ack(p) {
        let _ = build_ack(&m, AckCode::AE, "X", None);
    }
    // Routing patterns and MSH-9 values are short: keep glob inputs small.
    let text = String::from_utf8_lossy(&p[..p.len().min(512)]);
    let mid = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i);
    let (pat, txt) = text.split_at(mid);
    let _ = glob_match(pat, txt);
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap, rest)) = data.split_first() else { return };
    let (sizes, stream) = rest.split_at(rest.len().min(3));
    let max = 1 + usize::from(cap) * 8;
    let chunked = decode_all(stream, sizes, max);
    let whole = decode_all(stream, &[255, 255, 255], usize::MAX);
    if chunked.iter().all(Result::is_ok) {
        // With no cap hit, chunking must not change the result.
        assert_eq!(chunked, whole);
    }
    for item in chunked.iter().chain(whole.iter()).flatten() {
        if let MllpFrame::Message(p) = &item.frame {
            assert!(!p.contains(&SB) && !p.contains(&EB));
            exercise(p);
        }
    }
    exercise(stream);
});

//! Fuzz target: arbitrary bytes through every parser of triage-dicom.
//!
//! Feeds the input to `PduDecoder` in input-dependent chunk sizes (PS3.8
//! §9.3.1 framing), then to each PDU parser directly and behind a valid
//! header of every PDU type, so the fuzzer reaches the A-ASSOCIATE item
//! parser (§9.3.2), the AE rewrite, the AC builders, P-DATA-TF (§9.3.5)
//! and the command-set reader (PS3.7 §E.1). Any panic is a bug; the
//! asserts check round-trip properties the gateway relies on.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use triage_dicom::*;

fn check_command(data: &[u8]) {
    if let Ok(cmd) = parse_command(data) {
        let again = parse_command(&cmd.encode()).expect("re-encoded command parses");
        assert_eq!(again, cmd, "command encode/parse round trip");
        let _ = (cmd.name(), cmd.has_data_set(), cmd.is_response());
    }
}

fn check_rq(b: &[u8]) {
    let walked = summarize_associate_rq(b);
    let Ok(info) = parse_associate_rq(b) else {
        return;
    };
    // What the gateway routes on (the item walk) agrees with the full parse.
    if let Ok(walked) = walked {
        assert_eq!(walked.called_ae, info.called_ae);
        assert_eq!(walked.calling_ae, info.calling_ae);
        assert_eq!(walked.presentation_contexts, info.presentation_contexts);
    }
    // In-place rewrite keeps every other byte and is reversible.
    let mut m = b.to_vec();
    rewrite_called_ae(&mut m, "FUZZ_TARGET_AE").expect("rewrite on a parsed RQ");
    assert_eq!(&m[..10], &b[..10]);
    assert_eq!(&m[26..], &b[26..]);
    let re = parse_associate_rq(&m).expect("rewritten RQ still parses");
    assert_eq!(re.called_ae, "FUZZ_TARGET_AE");
    assert_eq!(re.contexts, info.contexts);
    if validate_ae_title(&info.called_ae).is_ok() {
        rewrite_called_ae(&mut m, &info.called_ae).expect("valid AE");
        assert_eq!(
            parse_associate_rq(&m).expect("parses").called_ae,
            info.called_ae
        );
    }
    let _ = proposes_verification(b);
    for ac in [
        build_verification_ac(b, "TRIAGE"),
        build_associate_ac_accept_all(b, "SIM"),
    ]
    .into_iter()
    .flatten()
    {
        let parsed = parse_associate_ac(&ac).expect("our own AC parses");
        assert_eq!(parsed.contexts.len(), info.presentation_contexts);
        assert_eq!(parsed.called_ae, ae_titles(&ac).expect("AC").0);
    }
}

fn check_pdata(b: &[u8]) {
    let Ok(pdvs) = parse_pdata(b) else {
        return;
    };
    // Re-encoding is exact except for the reserved bits 2-7 of the message
    // control header, which are read leniently and written as 0 (Annex E.2).
    let re = encode_pdata(&pdvs).expect("encodes");
    assert_eq!(re.len(), b.len(), "P-DATA round trip length");
    assert_eq!(
        parse_pdata(&re).expect("re-parses"),
        pdvs,
        "P-DATA round trip"
    );
    assert_eq!(
        parse_pdata_bytes(&Bytes::copy_from_slice(b)).expect("same result"),
        pdvs
    );
    let mut asm = DimseAssembler::default();
    for pdv in &pdvs {
        check_command(&pdv.data);
        let _ = asm.push(pdv);
    }
}

fn check_all(b: &[u8]) {
    let _ = peek_header(b);
    check_rq(b);
    let _ = parse_associate_ac(b);
    let _ = ae_titles(b);
    if let Ok(rj) = AssociateRj::parse(b) {
        // Reserved byte 7 is not tested on receipt (PS3.8 §9.3.4).
        assert_eq!(rj.encode().get(7..), b.get(7..));
        let _ = (rj.to_string(), rj.is_transient());
    }
    if let Ok((s, r)) = parse_abort(b) {
        // Reserved bytes 7-8 are not tested on receipt (PS3.8 §9.3.8).
        assert_eq!(encode_abort(s, r).get(8..), b.get(8..));
        let _ = abort_description(s, r);
    }
    check_pdata(b);
    check_command(b);
    let _ = RawPdu::from_bytes(Bytes::copy_from_slice(b));
}

fuzz_target!(|data: &[u8]| {
    let chunk = 1 + usize::from(data.first().copied().unwrap_or(0) % 97);
    let mut dec = PduDecoder::new(DEFAULT_MAX_ASSOC_RQ);
    let mut buf = BytesMut::new();
    'outer: for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(pdu)) => {
                    assert_eq!(pdu.header().length as usize, pdu.body().len());
                    check_all(&pdu.bytes);
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
        assert!(buf.len() <= DEFAULT_MAX_ASSOC_RQ as usize + 6 + chunk);
    }
    check_all(data);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes();
    for pdu_type in 1u8..=7 {
        let mut framed = vec![pdu_type, 0, len[0], len[1], len[2], len[3]];
        framed.extend_from_slice(data);
        check_all(&framed);
    }
});

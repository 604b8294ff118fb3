//! MLLP framing (HL7 v2 Transport Specification: MLLP release 1 and 2):
//! fixture streams, chunked input, junk reporting, missing CR, the frame-size
//! cap with resync, release-2 commit acknowledgements and EOF handling.

mod common;
use bytes::{Bytes, BytesMut};
use common::fixture;
use triage_hl7::{encode, encode_commit, MllpDecoder, MllpError, MllpFrame, MllpItem};

/// Feed `stream` in chunks of `chunk` bytes; collect items, then EOF items.
fn run(stream: &[u8], chunk: usize, dec: &mut MllpDecoder) -> Vec<Result<MllpItem, MllpError>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in stream.chunks(chunk.max(1)) {
        buf.extend_from_slice(part);
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

fn msg(payload: &[u8], junk: usize) -> Result<MllpItem, MllpError> {
    Ok(MllpItem {
        frame: MllpFrame::Message(Bytes::copy_from_slice(payload)),
        junk_skipped: junk,
    })
}

#[test]
fn stream_junk_fixture_any_chunking() {
    let stream = fixture("stream_junk.mllp");
    let expected = vec![
        msg(&fixture("adt_a01_v251.hl7"), 16),
        msg(&fixture("orm_o01_v23.hl7"), 2),
        msg(&fixture("ack_aa_v251.hl7"), 6),
    ];
    for chunk in [1, 2, 3, 7, 64, 4096] {
        let mut dec = MllpDecoder::default();
        assert_eq!(run(&stream, chunk, &mut dec), expected, "chunk {chunk}");
        assert_eq!(dec.pending_junk(), 1, "trailing LF");
    }
}

#[test]
fn stream_mixed_fixture() {
    let stream = fixture("stream_mixed.mllp");
    let expected = vec![
        msg(&fixture("orm_o01_v23.hl7"), 0),
        msg(&fixture("adt_a04_v27_truncation.hl7"), 18),
        Ok(MllpItem {
            frame: MllpFrame::CommitAck,
            junk_skipped: 0,
        }),
        Ok(MllpItem {
            frame: MllpFrame::CommitNak,
            junk_skipped: 2,
        }),
        msg(&fixture("custom_delims_v24.hl7"), 0),
    ];
    for chunk in [1, 5, 4096] {
        assert_eq!(
            run(&stream, chunk, &mut MllpDecoder::default()),
            expected,
            "chunk {chunk}"
        );
    }
}

#[test]
fn encode_round_trip_and_commit() {
    let mut out = BytesMut::new();
    encode(b"MSH|x\r", &mut out);
    assert_eq!(&out[..], b"\x0bMSH|x\r\x1c\r");
    encode_commit(true, &mut out);
    encode_commit(false, &mut out);
    encode(b"", &mut out);
    let items = run(&out, 4096, &mut MllpDecoder::default());
    assert_eq!(items[0], msg(b"MSH|x\r", 0));
    assert_eq!(items[1].as_ref().unwrap().frame, MllpFrame::CommitAck);
    assert_eq!(items[2].as_ref().unwrap().frame, MllpFrame::CommitNak);
    assert_eq!(items[3], msg(b"", 0));
    assert_eq!(
        items[0].as_ref().unwrap().payload().unwrap().as_ref(),
        b"MSH|x\r"
    );
    assert!(items[1].as_ref().unwrap().payload().is_none());
}

#[test]
fn trailing_eb_waits_then_eof_accepts() {
    let mut dec = MllpDecoder::default();
    let mut buf = BytesMut::from(&b"\x0bABC\x1c"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 5, "nothing consumed while waiting for CR");
    buf.extend_from_slice(b"\r");
    assert_eq!(dec.decode(&mut buf), Ok(Some(msg(b"ABC", 0).unwrap())));
    assert!(buf.is_empty());

    let mut buf = BytesMut::from(&b"\x0bABC\x1c"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert_eq!(dec.decode_eof(&mut buf), Ok(Some(msg(b"ABC", 0).unwrap())));
    assert_eq!(dec.decode_eof(&mut buf), Ok(None));
}

#[test]
fn missing_cr_before_next_frame() {
    let items = run(b"\x0bA\x1c\x0bB\x1c\r", 4096, &mut MllpDecoder::default());
    assert_eq!(items, vec![msg(b"A", 0), msg(b"B", 0)]);
    // EB followed by junk: the junk byte is reported with the next frame.
    let items = run(b"\x0bA\x1cZ\x0bB\x1c\r", 1, &mut MllpDecoder::default());
    assert_eq!(items, vec![msg(b"A", 0), msg(b"B", 1)]);
}

#[test]
fn eof_inside_frame_is_truncated() {
    let mut dec = MllpDecoder::default();
    let items = run(b"\x0bMSH|partial", 3, &mut dec);
    assert_eq!(items, vec![Err(MllpError::Truncated { size: 11 })]);
}

#[test]
fn junk_only_is_consumed_and_counted() {
    let mut dec = MllpDecoder::default();
    let mut buf = BytesMut::from(&b"hello world"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
    assert_eq!(dec.pending_junk(), 11);
    buf.extend_from_slice(b"\x0bX\x1c\r");
    assert_eq!(dec.decode(&mut buf), Ok(Some(msg(b"X", 11).unwrap())));
    assert_eq!(dec.pending_junk(), 0);
}

#[test]
fn oversize_frame_errors_then_resyncs() {
    let mut dec = MllpDecoder::new(8);
    // Complete oversize frame followed by a good one.
    let items = run(b"\x0b0123456789\x1c\r\x0bok\x1c\r", 4096, &mut dec);
    assert_eq!(
        items,
        vec![
            Err(MllpError::FrameTooLarge { size: 10, max: 8 }),
            msg(b"ok", 0)
        ]
    );

    // Oversize frame arriving in small chunks: error as soon as the cap is
    // passed, the rest of it is dropped, the next frame still decodes.
    let mut dec = MllpDecoder::new(8);
    let mut stream = b"\x0b".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 100));
    stream.extend_from_slice(b"\x1c\r\x0bnext\x1c\r");
    let items = run(&stream, 4, &mut dec);
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        matches!(items[0], Err(MllpError::FrameTooLarge { size, max: 8 }) if (9..=12).contains(&size))
    );
    assert_eq!(items[1], msg(b"next", 0));
    assert!(items[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("exceeds max_frame 8"));

    // Exactly max_frame is accepted.
    let items = run(b"\x0b01234567\x1c\r", 3, &mut MllpDecoder::new(8));
    assert_eq!(items, vec![msg(b"01234567", 0)]);
}

#[test]
fn restarted_frame_counts_as_junk() {
    let items = run(
        b"\x0bhalf a mess\x0bwhole\x1c\r",
        2,
        &mut MllpDecoder::default(),
    );
    assert_eq!(items, vec![msg(b"whole", 12)]);
}

#[test]
fn foreign_buffer_does_not_panic() {
    // The decoder keeps a scan offset; a caller swapping buffers must not
    // make it panic.
    let mut dec = MllpDecoder::default();
    let mut a = BytesMut::from(&b"\x0baaaaaaaaaaaaaaaa"[..]);
    assert_eq!(dec.decode(&mut a), Ok(None));
    let mut b = BytesMut::from(&b"\x0bb\x1c\r"[..]);
    assert_eq!(dec.decode(&mut b), Ok(Some(msg(b"b", 0).unwrap())));
}

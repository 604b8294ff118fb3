//! End-to-end checks on the captured fixtures in `fixtures/dicom/`: stream
//! framing (PS3.8 §9.3.1), association parsing and AE rewrite (§9.3.2-3),
//! and a full gateway-local C-ECHO exchange replayed against the bytes
//! dcmtk's echoscu sent and storescp answered.

use bytes::BytesMut;
use triage_dicom::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../fixtures/dicom/", $name)) as &[u8]
    };
}

const ECHOSCU_STREAM: &[u8] = fixture!("echoscu_stream_c2s.bin");
const ECHOSCU_RQ: &[u8] = fixture!("echoscu_associate_rq.bin");
const STORESCU_RQ: &[u8] = fixture!("storescu_associate_rq.bin");
const STORESCP_AC: &[u8] = fixture!("storescp_echo_associate_ac.bin");
const STORESCP_ECHO_RSP: &[u8] = fixture!("storescp_echo_rsp_pdata.bin");
const STORESCP_RELEASE_RP: &[u8] = fixture!("storescp_release_rp.bin");

#[test]
fn every_fixture_frames_as_exactly_one_pdu() {
    let cases: &[(&[u8], PduType)] = &[
        (ECHOSCU_RQ, PduType::AssociateRq),
        (STORESCU_RQ, PduType::AssociateRq),
        (
            fixture!("pynetdicom_associate_rq.bin"),
            PduType::AssociateRq,
        ),
        (STORESCP_AC, PduType::AssociateAc),
        (
            fixture!("storescp_store_associate_ac.bin"),
            PduType::AssociateAc,
        ),
        (
            fixture!("pynetdicom_associate_rj.bin"),
            PduType::AssociateRj,
        ),
        (fixture!("echoscu_echo_rq_pdata.bin"), PduType::PData),
        (STORESCP_ECHO_RSP, PduType::PData),
        (
            fixture!("storescu_store_rq_command_pdata.bin"),
            PduType::PData,
        ),
        (fixture!("storescu_store_rq_data_pdata.bin"), PduType::PData),
        (fixture!("storescp_store_rsp_pdata.bin"), PduType::PData),
        (fixture!("echoscu_release_rq.bin"), PduType::ReleaseRq),
        (STORESCP_RELEASE_RP, PduType::ReleaseRp),
        (fixture!("pynetdicom_abort.bin"), PduType::Abort),
    ];
    for (bytes, kind) in cases {
        let mut buf = BytesMut::from(*bytes);
        let pdu = PduDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(pdu.pdu_type, *kind);
        assert_eq!(&pdu.bytes[..], *bytes, "byte-exact");
        assert!(buf.is_empty());
        if *kind == PduType::PData {
            assert!(!parse_pdata(bytes).unwrap().is_empty());
        }
    }
}

#[test]
fn stream_in_any_chunking() {
    for chunk in [1usize, 2, 3, 5, 7, 64, 211, 301] {
        let mut dec = PduDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in ECHOSCU_STREAM.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(pdu) = dec.decode(&mut buf).unwrap() {
                out.push(pdu);
            }
        }
        let kinds: Vec<PduType> = out.iter().map(|p| p.pdu_type).collect();
        assert_eq!(
            kinds,
            [PduType::AssociateRq, PduType::PData, PduType::ReleaseRq]
        );
        let mut joined = BytesMut::new();
        for p in &out {
            dec.encode(p, &mut joined);
        }
        assert_eq!(&joined[..], ECHOSCU_STREAM);
    }
}

#[test]
fn broken_fixtures() {
    let mut dec = PduDecoder::new(DEFAULT_MAX_ASSOC_RQ);

    let truncated = fixture!("truncated_associate_rq.bin");
    let mut buf = BytesMut::from(truncated);
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], truncated, "buffer untouched while waiting");
    assert!(matches!(
        parse_associate_rq(truncated),
        Err(DicomError::Truncated { .. })
    ));

    let mut buf = BytesMut::from(fixture!("huge_length_pdu.bin"));
    let err = dec.decode(&mut buf).unwrap_err();
    assert_eq!(
        err,
        DicomError::PduTooLarge {
            pdu_type: 1,
            length: u32::MAX,
            max: 65536
        }
    );
    assert!(err.to_string().contains("4294967295"));

    let mut buf = BytesMut::from(fixture!("http_get.bin"));
    let err = dec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        DicomError::UnknownPduType { pdu_type: b'G', .. }
    ));
    assert!(err.to_string().contains("0x47"));
}

#[test]
fn rewrite_called_ae_round_trip_on_real_rq_and_ac() {
    let mut rq = STORESCU_RQ.to_vec();
    rewrite_called_ae(&mut rq, "BACKEND_PACS_01").unwrap();
    let info = parse_associate_rq(&rq).unwrap();
    assert_eq!(info.called_ae, "BACKEND_PACS_01");
    assert_eq!(info.calling_ae, "STORESCU");
    assert_eq!(info, {
        let mut orig = parse_associate_rq(STORESCU_RQ).unwrap();
        orig.called_ae = "BACKEND_PACS_01".into();
        orig
    });
    rewrite_called_ae(&mut rq, "ARCHIVE").unwrap();
    assert_eq!(rq, STORESCU_RQ);

    // Backend AC echoes the rewritten title; put the client's back.
    let mut ac = STORESCP_AC.to_vec();
    rewrite_called_ae(&mut ac, "BACKEND").unwrap();
    rewrite_called_ae(&mut ac, "ARCHIVE").unwrap();
    assert_eq!(ac, STORESCP_AC);
}

/// Replays echoscu's side of a real session through the gateway-local
/// C-ECHO path and compares every answer with what dcmtk storescp sent.
#[test]
fn local_echo_replay_matches_storescp() {
    let mut dec = PduDecoder::default();
    let mut buf = BytesMut::from(ECHOSCU_STREAM);
    let mut answers = Vec::new();
    while let Some(pdu) = dec.decode(&mut buf).unwrap() {
        match pdu.pdu_type {
            PduType::AssociateRq => {
                assert!(proposes_verification(&pdu.bytes));
                answers.push(build_verification_ac(&pdu.bytes, "ARCHIVE").unwrap());
            }
            PduType::PData => {
                let pdvs = parse_pdata(&pdu.bytes).unwrap();
                let cmd = parse_command(&pdvs[0].data).unwrap();
                assert_eq!(cmd.command_field, C_ECHO_RQ);
                assert!(!cmd.has_data_set());
                let id = cmd.message_id.unwrap();
                answers.push(build_echo_rsp_pdata(pdvs[0].context_id, id, STATUS_SUCCESS));
            }
            PduType::ReleaseRq => answers.push(encode_release_rp()),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(answers.len(), 3);
    let ac = parse_associate_ac(&answers[0]).unwrap();
    let theirs = parse_associate_ac(STORESCP_AC).unwrap();
    assert_eq!(ac.contexts, theirs.contexts);
    assert_eq!(
        (ac.called_ae, ac.calling_ae),
        (theirs.called_ae, theirs.calling_ae)
    );
    assert_eq!(answers[1], STORESCP_ECHO_RSP);
    assert_eq!(answers[2], STORESCP_RELEASE_RP);
}

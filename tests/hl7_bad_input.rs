//! Bad input from a sender: every case is answered with an AR NAK (HL7 v2.5.1 ch. 2 §2.9.2,
//! with an ERR segment §2.14.5 from v2.5 on), none reaches a server, and the same connection
//! then delivers a good message. The NAKs are also read with the real Python `hl7` parser:
//! a NAK triage builds itself has its own new MSH-10 and MSA-2 = the sender's control id when
//! one can be salvaged (empty otherwise).

mod hl7_support;
mod support;

use hl7_support::*;
use std::time::Duration;
use support::{listen, start, TempDir};

/// Sends a good message on `c` and checks it is acknowledged by the backend.
async fn still_usable(c: &mut Client, id: &str) {
    let a = ack(&c.call(&message("ADT^A01^ADT_A01", id)).await);
    assert_eq!(
        (a.code.as_str(), a.acked.as_str(), a.from.as_str()),
        ("AA", id, "BACKEND")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_an_ar_and_the_connection_stays_usable() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-bad");
    let backend = Peer::start(&py, Impl::Hl7, "ack", "BACKEND", dir.path());
    let rt = start(&one_pool_config(
        "hl7-bad",
        "first",
        &[("b", backend.addr)],
        "max_request_bytes = 2048",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-bad")).await;
    still_usable(&mut c, "GOOD0").await;

    let mut non_utf8 =
        b"MSH|^~\\&|APP|FAC\xff\xfe|RECV|RFAC|20240102||ADT^A01|CTRL-9|P|2.5.1\r".to_vec();
    non_utf8.extend_from_slice(b"PID|1\r");
    let mut oversized = message("ORU^R01^ORU_R01", "BIG1");
    oversized.extend(std::iter::repeat_n(b'X', 4096));
    oversized.push(b'\r');
    // (what, payload or raw bytes, framed?, expected MSA-2, expected ERR segment)
    let cases: Vec<(&str, Vec<u8>, bool, &str, bool)> = vec![
        ("no MSH", b"PID|1||T1^^^SYNTH^MR\r".to_vec(), true, "", true),
        ("empty frame", Vec::new(), true, "", true),
        (
            "bad delimiters",
            b"MSH|^^\\&|APP|FAC|||2024||ADT^A01|BADDELIM|P|2.5.1\r".to_vec(),
            true,
            "",
            true,
        ),
        ("non-UTF-8 MSH", non_utf8, true, "CTRL-9", true),
        (
            "missing MSH-10 (v2.5.1)",
            b"MSH|^~\\&|APP|FAC|||2024||ADT^A01||P|2.5.1\r".to_vec(),
            true,
            "",
            true,
        ),
        (
            "missing MSH-10 (v2.3: no ERR segment)",
            b"MSH|^~\\&|APP|FAC|||2024||ADT^A01||P|2.3\r".to_vec(),
            true,
            "",
            false,
        ),
        ("oversized frame", oversized, true, "", true),
        (
            "junk outside frames",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            false,
            "",
            true,
        ),
        ("unframed HL7", message("ADT^A01", "RAW1"), false, "", true),
    ];
    let mut naks = Vec::new();
    for (i, (what, bytes, frame, acked, err)) in cases.into_iter().enumerate() {
        if frame {
            c.send_framed(&bytes).await;
        } else {
            c.send_raw(&bytes).await;
        }
        let nak = c.recv().await;
        let a = ack(&nak);
        assert_eq!(a.code, "AR", "{what}: {a:?}");
        assert_eq!(a.acked, acked, "{what}: MSA-2");
        assert_eq!(a.err, err, "{what}: ERR segment");
        assert!(
            a.control_id.starts_with("TRIAGE"),
            "{what}: own MSH-10 {a:?}"
        );
        still_usable(&mut c, &format!("GOOD{}", i + 1)).await;
        naks.push(nak.to_vec());
    }

    // No bad input reached the backend; the good messages all did, unchanged.
    let got: Vec<String> = backend
        .received()
        .into_iter()
        .map(|r| r.control_id)
        .collect();
    let want: Vec<String> = (0..10).map(|i| format!("GOOD{i}")).collect();
    assert_eq!(got, want);

    // The real `hl7` parser reads every NAK: MSA-1 AR, MSA-2 as above, own MSH-10.
    let parsed = python_parse(&py, dir.path(), &naks);
    assert_eq!(parsed.len(), naks.len());
    for (row, nak) in parsed.iter().zip(&naks) {
        let a = ack(nak);
        let want = [
            "AR",
            a.acked.as_str(),
            a.control_id.as_str(),
            if a.err { "1" } else { "0" },
        ];
        assert_eq!(row, &want, "{:?}", String::from_utf8_lossy(nak));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitespace_after_frames_and_junk_before_a_frame_add_no_answer() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-ws");
    let backend = Peer::start(&py, Impl::Hl7apy, "ack", "BACKEND", dir.path());
    let rt = start(&one_pool_config(
        "hl7-ws",
        "first",
        &[("b", backend.addr)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-ws")).await;
    // `EB CR LF` endings (a common sender habit): one answer per message, nothing else.
    for id in ["WS1", "WS2"] {
        let mut bytes = framed(&message("ADT^A01^ADT_A01", id));
        bytes.extend_from_slice(b"\n");
        c.send_raw(&bytes).await;
        let a = ack(&c.recv().await);
        assert_eq!((a.code.as_str(), a.acked.as_str()), ("AA", id));
    }
    // Junk glued to the front of a frame: the frame is answered, the junk only logged.
    let mut bytes = b"garbage".to_vec();
    bytes.extend(framed(&message("ADT^A01^ADT_A01", "WS3")));
    c.send_raw(&bytes).await;
    assert_eq!(ack(&c.recv().await).acked, "WS3");
    let extra = c.try_recv(Duration::from_millis(300)).await;
    assert_eq!(extra, Err("timeout".to_string()), "no extra answer");
    still_usable(&mut c, "WS4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_cut_by_the_close_gets_an_ar() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-cut");
    let backend = Peer::start(&py, Impl::Hl7, "ack", "BACKEND", dir.path());
    let rt = start(&one_pool_config(
        "hl7-cut",
        "first",
        &[("b", backend.addr)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-cut")).await;
    let mut partial = framed(&message("ADT^A01^ADT_A01", "CUT1"));
    partial.truncate(partial.len() - 2);
    c.send_raw(&partial).await;
    tokio::io::AsyncWriteExt::shutdown(&mut c.stream)
        .await
        .unwrap();
    let a = ack(&c.recv().await);
    assert_eq!((a.code.as_str(), a.err), ("AR", true));
    assert_eq!(
        c.try_recv(Duration::from_secs(5)).await,
        Err("closed".to_string())
    );
    assert!(backend.received().is_empty());
}

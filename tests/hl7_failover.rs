//! No loss against failing real peers: a server that drops the connection before ACKing, one
//! that never ACKs, one whose ACK names another message (MSA-2 ≠ MSH-10, HL7 v2.5.1 ch. 2
//! §2.14.8) and no server at all. The sender gets an ACK only after some server acknowledged
//! the very message, else an AE NAK (§2.9.2); failed backend connections are never reused;
//! re-deliveries are counted. Enhanced mode (§2.9.3): the accept ACK is passed back at once.

mod hl7_support;
mod support;

use hl7_support::*;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{listen, start, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_dropping_every_third_message_loses_nothing() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-drop");
    // Both keep their connections open (hl7apy closes after each answer, and a message sent
    // on such a pooled connection just before its close is re-sent, which counts too).
    let flaky = Peer::start(&py, Impl::Hl7, "drop-3", "FLAKY", dir.path());
    let good = Peer::start(&py, Impl::Hl7, "ack", "GOOD", dir.path());
    let svc = "hl7-drop";
    let rt = start(&one_pool_config(
        svc,
        "roundrobin",
        &[("flaky", flaky.addr), ("good", good.addr)],
        "",
    ))
    .await;
    let before = triage::hl7::stats::redeliveries(svc);
    let mut c = Client::connect(listen(&rt, svc)).await;
    let mut sent = BTreeMap::new();
    let mut acked = Vec::new();
    for i in 0..30 {
        let id = format!("DROP{i:03}");
        let m = message("ORU^R01^ORU_R01", &id);
        let a = ack(&c.call(&m).await);
        assert_eq!(a.code, "AA", "{a:?}");
        acked.push(a.acked);
        sent.insert(id, m);
    }
    let ids: Vec<String> = sent.keys().cloned().collect();
    assert_eq!(acked, ids, "every message ACKed as sent, in order");

    let rf = flaky.received();
    let rg = good.received();
    let dropped: Vec<&Received> = rf.iter().filter(|r| r.n % 3 == 0).collect();
    assert!(!dropped.is_empty(), "the flaky peer dropped none: {rf:?}");
    // Exact bodies everywhere, and every message acknowledged by someone.
    let mut acked_by: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rf.iter().chain(&rg) {
        assert_eq!(Some(&r.body), sent.get(&r.control_id), "body changed");
        if !dropped.contains(&r) {
            *acked_by.entry(&r.control_id).or_default() += 1;
        }
    }
    assert_eq!(
        acked_by.keys().copied().collect::<Vec<_>>(),
        ids,
        "no message lost"
    );
    assert!(
        acked_by.values().all(|n| *n == 1),
        "ACKed twice: {acked_by:?}"
    );
    // Each drop caused exactly one re-delivery, and it was counted.
    assert_eq!(
        triage::hl7::stats::redeliveries(svc) - before,
        dropped.len() as u64
    );
    for d in &dropped {
        let again = rf
            .iter()
            .chain(&rg)
            .filter(|r| r.control_id == d.control_id)
            .count();
        assert_eq!(again, 2, "{} received {again} times", d.control_id);
    }
    // A dropped connection is never used again by the flaky peer's next message.
    for d in &dropped {
        if let Some(next) = rf.iter().find(|r| r.n == d.n + 1) {
            assert_ne!(next.conn, d.conn, "connection reused after a drop");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_never_acks_times_out_and_the_other_gets_the_message() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-silent");
    let silent = Peer::start(&py, Impl::Hl7, "silent", "SILENT", dir.path());
    let good = Peer::start(&py, Impl::Hl7, "ack", "GOOD", dir.path());
    let svc = "hl7-silent";
    let rt = start(&one_pool_config(
        svc,
        "roundrobin",
        &[("silent", silent.addr), ("good", good.addr)],
        "handshake_timeout = \"500ms\"",
    ))
    .await;
    let before = triage::hl7::stats::redeliveries(svc);
    let mut c = Client::connect(listen(&rt, svc)).await;
    for i in 0..4 {
        let id = format!("SIL{i}");
        let a = ack(&c.call(&message("ADT^A01^ADT_A01", &id)).await);
        assert_eq!(
            (a.code.as_str(), a.acked.as_str(), a.from.as_str()),
            ("AA", id.as_str(), "GOOD")
        );
    }
    let rs = silent.received();
    assert_eq!(
        rs.len(),
        2,
        "roundrobin sent every other message to the silent peer"
    );
    assert_eq!(good.received().len(), 4);
    assert_eq!(triage::hl7::stats::redeliveries(svc) - before, 2);
    // Each timed-out connection was dropped, never reused.
    assert_ne!(rs[0].conn, rs[1].conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_for_another_message_is_not_passed_back() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-wrongid");
    let wrong = Peer::start(&py, Impl::Hl7, "wrong-id", "WRONG", dir.path());
    let good = Peer::start(&py, Impl::Hl7apy, "ack", "GOOD", dir.path());
    let rt = start(&one_pool_config(
        "hl7-wrongid",
        "first",
        &[("wrong", wrong.addr), ("good", good.addr)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-wrongid")).await;
    for id in ["W1", "W2", "W3"] {
        let a = ack(&c.call(&message("ADT^A01", id)).await);
        assert_eq!((a.acked.as_str(), a.from.as_str()), (id, "GOOD"));
    }
    let conns: Vec<u64> = wrong.received().iter().map(|r| r.conn).collect();
    assert_eq!(
        conns,
        [1, 2, 3],
        "a connection with a mismatched ACK is never reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_up_gives_an_ae_nak() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-none");
    // Nothing listens on these.
    let x = support::sa(1, support::free_port(support::ip(1)));
    let y = support::sa(1, support::free_port(support::ip(1)));
    let rt = start(&one_pool_config(
        "hl7-none",
        "roundrobin",
        &[("x", x), ("y", y)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-none")).await;
    let nak = c.call(&message("ADT^A01^ADT_A01", "LOST1")).await;
    let a = ack(&nak);
    assert_eq!((a.code.as_str(), a.acked.as_str()), ("AE", "LOST1"));
    assert!(a.err, "v2.5.1 NAK carries ERR");
    assert!(!a.control_id.is_empty() && a.control_id != "LOST1");
    assert!(
        String::from_utf8_lossy(&nak).contains("207"),
        "ERR-3 table 0357 code 207"
    );
    // The real `hl7` parser reads it too.
    let parsed = python_parse(&py, dir.path(), &[nak.to_vec()]);
    assert_eq!(parsed[0], ["AE", "LOST1", a.control_id.as_str(), "1"]);
    // The connection stays usable.
    let a = ack(&c.call(&message("ADT^A01", "LOST2")).await);
    assert_eq!((a.code.as_str(), a.acked.as_str()), ("AE", "LOST2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_mode_passes_the_accept_ack_back() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-enh");
    let p = Peer::start(&py, Impl::Hl7, "enhanced", "ENH", dir.path());
    let svc = "hl7-enh";
    let rt = start(&one_pool_config(
        svc,
        "first",
        &[("p", p.addr)],
        "handshake_timeout = \"3s\"",
    ))
    .await;
    let before = triage::hl7::stats::redeliveries(svc);
    let mut c = Client::connect(listen(&rt, svc)).await;
    // MSH-15 AL, MSH-16 AL: the peer answers CA at once and sends the application ACK later
    // on the same connection (just before its next answer).
    for id in ["E1", "E2", "E3"] {
        let m = message_v("ADT^A01^ADT_A01", id, "2.5.1", "|||AL|AL");
        let a = ack(&c.call(&m).await);
        assert_eq!((a.code.as_str(), a.acked.as_str()), ("CA", id));
    }
    // Original mode on the same client connection still gets AA.
    assert_eq!(ack(&c.call(&message("ADT^A01", "E4")).await).code, "AA");
    let got: Vec<String> = p.received().into_iter().map(|r| r.control_id).collect();
    assert_eq!(got, ["E1", "E2", "E3", "E4"], "each delivered once");
    assert_eq!(triage::hl7::stats::redeliveries(svc) - before, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closing_mid_exchange_harms_nobody() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-hangup");
    let silent = Peer::start(&py, Impl::Hl7, "silent", "SILENT", dir.path());
    let good = Peer::start(&py, Impl::Hl7, "ack", "GOOD", dir.path());
    let rt = start(&one_pool_config(
        "hl7-hangup",
        "first",
        &[("silent", silent.addr), ("good", good.addr)],
        "handshake_timeout = \"300ms\"",
    ))
    .await;
    let addr = listen(&rt, "hl7-hangup");
    let mut c = Client::connect(addr).await;
    c.send_framed(&message("ADT^A01", "H1")).await;
    support::wait_until("the silent peer got H1", Duration::from_secs(5), || {
        !silent.received().is_empty()
    })
    .await;
    drop(c);
    // Delivery goes on (at least once) and the gateway keeps serving.
    support::wait_until(
        "H1 redelivered to the good peer",
        Duration::from_secs(5),
        || good.received().iter().any(|r| r.control_id == "H1"),
    )
    .await;
    let mut c = Client::connect(addr).await;
    let a = ack(&c.call(&message("ADT^A01", "H2")).await);
    assert_eq!((a.code.as_str(), a.acked.as_str()), ("AA", "H2"));
}

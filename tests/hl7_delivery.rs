//! HL7 over MLLP against real peers (PyPI `hl7` asyncio server, `hl7apy` MLLPServer, `hl7`'s
//! `mllp_send` sender): per-message balancing from one connection, routing by message type,
//! order kept, and the ACK of every message only after a server acknowledged it with MSA-2 =
//! MSH-10 (HL7 v2.5.1 ch. 2 §2.9.2, §2.14.8).

mod hl7_support;
mod support;

use hl7_support::*;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{listen, start, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_is_spread_over_two_real_backends() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-spread");
    let a = Peer::start(&py, Impl::Hl7, "ack", "PYHL7", dir.path());
    let b = Peer::start(&py, Impl::Hl7apy, "ack", "HL7APY", dir.path());
    let rt = start(&one_pool_config(
        "hl7-spread",
        "roundrobin",
        &[("a", a.addr), ("b", b.addr)],
        "",
    ))
    .await;
    let addr = listen(&rt, "hl7-spread");

    // 20 messages in one file, sent by `mllp_send` over ONE connection (it strips the final
    // CR of each payload, so none is written).
    let ids: Vec<String> = (0..20).map(|i| format!("SPREAD{i:03}")).collect();
    let mut file = Vec::new();
    let mut bodies = BTreeMap::new();
    for id in &ids {
        let mut m = message("ADT^A01^ADT_A01", id);
        m.pop();
        file.extend(framed(&m));
        bodies.insert(id.clone(), m);
    }
    let input = dir.join("messages.mllp");
    std::fs::write(&input, &file).unwrap();
    let out = tokio::task::spawn_blocking({
        let py = py.clone();
        move || {
            std::process::Command::new(py)
                .args(["-m", "hl7.client", "-p", &addr.port().to_string(), "-f"])
                .arg(&input)
                .arg("127.0.0.1")
                .output()
                .expect("run mllp_send")
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "mllp_send: {out:?}");

    // mllp_send prints each raw answer (still framed) and a newline.
    let mut buf = bytes::BytesMut::from(&out.stdout[..]);
    let mut dec = triage_hl7::MllpDecoder::default();
    let mut acks = Vec::new();
    while let Some(item) = dec.decode_eof(&mut buf).unwrap() {
        acks.extend(item.payload().map(|p| ack(p)));
    }
    let acked: Vec<&str> = acks.iter().map(|a| a.acked.as_str()).collect();
    assert_eq!(acked, ids, "every message ACKed, in order");
    assert!(acks.iter().all(|a| a.code == "AA"), "{acks:?}");

    let (ra, rb) = (a.received(), b.received());
    assert_eq!((ra.len(), rb.len()), (10, 10), "roundrobin per message");
    let from: Vec<&str> = acks.iter().map(|a| a.from.as_str()).collect();
    assert_eq!(
        from.iter().filter(|f| **f == "PYHL7").count(),
        10,
        "{from:?}"
    );
    for r in ra.iter().chain(&rb) {
        assert_eq!(
            Some(&r.body),
            bodies.get(&r.control_id),
            "forwarded unchanged"
        );
    }
    let mut got: Vec<&str> = ra
        .iter()
        .chain(&rb)
        .map(|r| r.control_id.as_str())
        .collect();
    got.sort();
    assert_eq!(got, ids, "each message delivered exactly once");
    // The `hl7` peer kept one pooled connection for its 10 messages.
    assert!(ra.iter().all(|r| r.conn == ra[0].conn), "{ra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adt_and_oru_go_to_their_own_pools() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-route");
    let adt = Peer::start(&py, Impl::Hl7, "ack", "ADTENG", dir.path());
    let lab = Peer::start(&py, Impl::Hl7apy, "ack", "LABENG", dir.path());
    let other = Peer::start(&py, Impl::Hl7, "ack", "OTHER", dir.path());
    let rt = start(&format!(
        r#"
[[service]]
name = "hl7-route"
listen = ["127.0.0.1:0"]
protocol = "mllp"
pool = "rest"
  [[service.route]]
  message_type = "ADT^*"
  pool = "adt"
  [[service.route]]
  message_type = "ORU^R01"
  pool = "lab"

[[pool]]
name = "adt"
health = {{ kind = "none" }}
  [[pool.server]]
  name = "adt1"
  address = "{}"
[[pool]]
name = "lab"
health = {{ kind = "none" }}
  [[pool.server]]
  name = "lab1"
  address = "{}"
[[pool]]
name = "rest"
health = {{ kind = "none" }}
  [[pool.server]]
  name = "rest1"
  address = "{}"
"#,
        adt.addr, lab.addr, other.addr
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-route")).await;
    let cases = [
        ("ADT^A01^ADT_A01", "R1", "ADTENG"),
        ("ORU^R01^ORU_R01", "R2", "LABENG"),
        ("ADT^A08^ADT_A01", "R3", "ADTENG"),
        ("ORM^O01^ORM_O01", "R4", "OTHER"),
        ("ORU^R30^ORU_R30", "R5", "OTHER"),
        ("ORU^R01^ORU_R01", "R6", "LABENG"),
    ];
    for (mtype, id, engine) in cases {
        let a = ack(&c.call(&message(mtype, id)).await);
        assert_eq!((a.code.as_str(), a.acked.as_str()), ("AA", id));
        assert_eq!(a.from, engine, "{mtype} answered by {}", a.from);
    }
    let ids =
        |p: &Peer| -> Vec<String> { p.received().into_iter().map(|r| r.control_id).collect() };
    assert_eq!(ids(&adt), ["R1", "R3"]);
    assert_eq!(ids(&lab), ["R2", "R6"]);
    assert_eq!(ids(&other), ["R4", "R5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_messages_keep_their_order() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-order");
    let a = Peer::start(&py, Impl::Hl7, "ack", "A", dir.path());
    let b = Peer::start(&py, Impl::Hl7, "ack", "B", dir.path());
    let rt = start(&one_pool_config(
        "hl7-order",
        "roundrobin",
        &[("a", a.addr), ("b", b.addr)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-order")).await;
    // 200 messages written at once, before reading any answer.
    let ids: Vec<String> = (0..200).map(|i| format!("ORD{i:04}")).collect();
    let mut all = Vec::new();
    for id in &ids {
        all.extend(framed(&message("ADT^A01^ADT_A01", id)));
    }
    c.send_raw(&all).await;
    let mut acked = Vec::new();
    for _ in &ids {
        let a = ack(&c.recv().await);
        assert_eq!(a.code, "AA");
        acked.push(a.acked);
    }
    assert_eq!(acked, ids, "answers in sending order");
    // Both backends together received them in sending order, one in flight at a time.
    let mut got: Vec<Received> = a.received().into_iter().chain(b.received()).collect();
    got.sort_by_key(|r| r.t);
    let order: Vec<&str> = got.iter().map(|r| r.control_id.as_str()).collect();
    assert_eq!(order, ids);
    assert_eq!(a.received().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_messages_by_type_and_ack() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-metrics");
    let ok = Peer::start(&py, Impl::Hl7, "ack", "OK", dir.path());
    let rt = start(&one_pool_config(
        "hl7-metrics",
        "first",
        &[("ok", ok.addr)],
        "",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-metrics")).await;
    for i in 0..3 {
        c.call(&message("ADT^A01^ADT_A01", &format!("M{i}"))).await;
    }
    c.call(&message("ORU^R01^ORU_R01", "M9")).await;
    c.call(b"PID|1\r").await;
    let text = triage::metrics::encode(rt.snapshot()).unwrap();
    let value = |labels: &str| -> Option<String> {
        let prefix = format!("triage_hl7_messages_total{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    let svc = r#"service="hl7-metrics""#;
    assert_eq!(
        value(&format!(r#"{svc},message_type="ADT^A01",ack="AA""#)).as_deref(),
        Some("3"),
        "{text}"
    );
    assert_eq!(
        value(&format!(r#"{svc},message_type="ORU^R01",ack="AA""#)).as_deref(),
        Some("1")
    );
    assert_eq!(
        value(&format!(r#"{svc},message_type="unknown",ack="AR""#)).as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_backend_connections_are_pooled_then_closed_after_server_timeout() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-idle");
    let p = Peer::start(&py, Impl::Hl7, "ack", "P", dir.path());
    let rt = start(&one_pool_config(
        "hl7-idle",
        "first",
        &[("p", p.addr)],
        "server_timeout = \"300ms\"",
    ))
    .await;
    let mut c = Client::connect(listen(&rt, "hl7-idle")).await;
    for i in 0..3 {
        assert_eq!(
            ack(&c.call(&message("ADT^A01", &format!("I{i}"))).await).code,
            "AA"
        );
    }
    let conns: Vec<u64> = p.received().iter().map(|r| r.conn).collect();
    assert_eq!(conns, [1, 1, 1], "one pooled connection reused");
    // Nothing more is sent: triage closes the idle connection (the peer sees its end).
    support::wait_until(
        "the idle backend connection is closed",
        Duration::from_secs(5),
        || p.closed_conns() == [1],
    )
    .await;
    // The client connection is still fine and gets a new backend connection.
    assert_eq!(ack(&c.call(&message("ADT^A01", "I9")).await).acked, "I9");
    assert_eq!(p.received().last().map(|r| r.conn), Some(2));
}

//! `examples/clustered-pacs.toml` and `examples/clustered-pacs-manual.toml`, rewritten to
//! loopback: one `tcp` service on seven ports, the primary cluster (port 0) and the secondary
//! as fallback (port 0). Each cluster serves the seven ports on its own 127.0.0.x with real
//! programs bound to that address: dcmtk `storescp` on 104 (through the bind shim of
//! `examples_support/peers.rs`), `python3 -m http.server` on 80 and 8080, `openssl s_server`
//! (HTTPS) on 443 and 8443, the PyPI `hl7` (primary) and `hl7apy` (secondary) MLLP servers on
//! 1001, and a plain TCP backend naming its cluster on 5222 (messaging: no XMPP server is
//! installed). [`answers`] asks every port in its own protocol who answered.
//!
//! Automatic failover: the check connects to all seven ports (interval and fall shortened from
//! 30 s × 10 for the test); one port of the primary failing sends every port to the secondary,
//! on the port the client used; the port coming back brings the primary back.
//! Manual failover: no checks; Halt through the admin API sends every port to the secondary,
//! Online brings it back, and a connection opened before the Halt carries on.

mod examples_support;

use examples_support::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORTS: [u16; 7] = [104, 80, 8080, 443, 8443, 5222, 1001];
const VIP: &str = "10.30.0.100";

struct Clusters {
    /// The primary's messaging port (stopped and restarted by the failover test).
    primary5222: TagServer,
    _secondary5222: TagServer,
    _peers: Vec<Peer>,
}

async fn clusters(rw: &Rewritten) -> Clusters {
    let mut peers = Vec::new();
    let mut tags = Vec::new();
    for (name, ip, hl7) in [
        ("primary", "10.30.1.10", "hl7"),
        ("secondary", "10.30.2.10", "hl7apy"),
    ] {
        let at = |p: u16| SocketAddr::new(rw.ip(ip), rw.port(p));
        peers.push(Peer::storescp_at(at(104), "PACS").await);
        peers.push(Peer::http_server(at(80), name).await);
        peers.push(Peer::http_server(at(8080), name).await);
        peers.push(Peer::tls_server(at(443), name).await);
        peers.push(Peer::tls_server(at(8443), name).await);
        peers.push(Peer::hl7(at(1001), hl7, name).await);
        tags.push(TagServer::start(name, at(5222)).await);
    }
    let secondary5222 = tags.pop().unwrap();
    Clusters {
        primary5222: tags.pop().unwrap(),
        _secondary5222: secondary5222,
        _peers: peers,
    }
}

fn vips(rw: &Rewritten) -> Vec<SocketAddr> {
    PORTS
        .iter()
        .map(|p| rw.addr(&format!("{VIP}:{p}")))
        .collect()
}

/// Connections the primary and the fallback (secondary) have taken so far.
fn taken(rt: &triage::Runtime) -> (u64, u64) {
    let snap = rt.snapshot();
    let p = snap.pool("pacs-cluster").unwrap();
    (
        p.servers[0].total(),
        p.fallback.as_ref().expect("fallback").total(),
    )
}

/// The cluster that answers on each of the seven ports, each asked in its own protocol: a
/// DICOM C-ECHO (dcmtk servers do not name themselves: triage's counters tell which cluster
/// took the association), HTTP and HTTPS `GET /whoami.txt`, the tag line on 5222, and MSH-3 of
/// the HL7 ACK on 1001.
async fn answers(rt: &triage::Runtime, rw: &Rewritten) -> Vec<String> {
    let mut v = Vec::new();
    for (port, a) in PORTS.iter().zip(vips(rw)) {
        let who = match port {
            104 => {
                let before = taken(rt);
                echoscu(a, "PACS").await.expect_ok("echoscu through 104");
                match (taken(rt).0 - before.0, taken(rt).1 - before.1) {
                    (1, 0) => "primary".to_string(),
                    (0, 1) => "secondary".to_string(),
                    other => panic!("C-ECHO counted as {other:?}"),
                }
            }
            80 | 8080 => {
                let r = curl(&format!("http://{a}/whoami.txt"), lo(1), None, &[]).await;
                assert_eq!(r.status, 200, "{r:?}");
                r.body
            }
            443 | 8443 => https_whoami(lo(1), a).await,
            5222 => tag(lo(1), a).await,
            1001 => {
                let (code, _, from) = mllp_ask(lo(1), a, &hl7_message("CP1")).await;
                assert_eq!(code, "AA");
                from
            }
            _ => unreachable!(),
        };
        v.push(who);
    }
    v
}

fn all(name: &str) -> Vec<String> {
    vec![name.to_string(); PORTS.len()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_ports_check_fails_over_to_the_fallback_and_back() {
    let mut rw = Rewritten::new("clustered-pacs.toml", 70);
    {
        let h = rw.health_mut("pacs-cluster");
        assert_eq!(h["interval"].as_str(), Some("30s"));
        assert_eq!(h["fall"].as_integer(), Some(10));
        assert_eq!(h["ports"].as_array().map(Vec::len), Some(7));
        h.insert("interval".into(), "100ms".into());
        h.insert("timeout".into(), "1s".into());
        h.insert("fall".into(), 3.into());
        h.insert("rise".into(), 2.into());
    }
    let c = clusters(&rw).await;
    let rt = rw.start().await;
    let primary = || rt.snapshot().pool("pacs-cluster").unwrap().servers[0].clone();
    wait_until("the primary passed a check", Duration::from_secs(5), || {
        primary().last_check().is_some_and(|c| c.ok)
    })
    .await;
    assert_eq!(answers(&rt, &rw).await, all("primary"));
    // One port of seven (5222, messaging) stops: the whole primary is down, every port fails
    // over, each to the same port on the secondary.
    c.primary5222.stop().await;
    wait_until(
        "the primary is marked down",
        Duration::from_secs(10),
        || !primary().healthy(),
    )
    .await;
    let detail = primary().last_check().map(|c| c.detail).unwrap_or_default();
    assert!(
        detail.contains(&rw.port(5222).to_string()),
        "the check detail should name the failing port: {detail:?}"
    );
    assert_eq!(answers(&rt, &rw).await, all("secondary"));
    // The port comes back: after `rise` good checks the primary takes new connections again.
    c.primary5222.restart();
    wait_until("the primary is back up", Duration::from_secs(10), || {
        primary().healthy()
    })
    .await;
    assert_eq!(answers(&rt, &rw).await, all("primary"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_sends_every_port_to_the_fallback_and_online_brings_it_back() {
    let rw = Rewritten::new("clustered-pacs-manual.toml", 80);
    assert_eq!(rw.value["pool"][0]["health"]["kind"].as_str(), Some("none"));
    let _c = clusters(&rw).await;
    let rt = rw.start().await;
    let admin = rt.admin_addr().expect("the example has [admin]");
    assert_eq!(answers(&rt, &rw).await, all("primary"));
    // A connection opened before the failover (messaging, 5222).
    let (mut before, t) = tag_from(lo(1), vips(&rw)[5]).await.unwrap();
    assert_eq!(t, "primary");
    set_state(admin, "halt").await;
    assert_eq!(answers(&rt, &rw).await, all("secondary"));
    // The running connection still reaches the primary.
    before.write_all(b"still here\n").await.unwrap();
    let mut buf = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(5), before.read_exact(&mut buf))
        .await
        .expect("echo in time")
        .unwrap();
    assert_eq!(&buf, b"still here\n");
    set_state(admin, "online").await;
    assert_eq!(answers(&rt, &rw).await, all("primary"));
}

/// `PUT /api/v1/pools/pacs-cluster/servers/primary/state` with curl.
async fn set_state(admin: SocketAddr, state: &str) {
    let url = format!("http://{admin}/api/v1/pools/pacs-cluster/servers/primary/state");
    let body = format!("{{\"state\":\"{state}\"}}");
    let r = curl(
        &url,
        lo(1),
        None,
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
        ],
    )
    .await;
    assert_eq!(r.status, 200, "PUT state {state}: {r:?}");
}

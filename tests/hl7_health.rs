//! The `hl7-ack` health check and `triage hl7-ping` against real peers: an acknowledgement
//! with MSA-1 AA/CA and MSA-2 = the test message's MSH-10 (HL7 v2.5.1 ch. 2 §2.9.2, §2.14.8)
//! means up; an AE/AR answer means down at once, with the code in the check detail.

mod hl7_support;
mod support;

use hl7_support::*;
use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;
use support::{listen, server, start, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ae_answering_backend_is_marked_down_and_an_aa_one_stays_up() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-hc");
    let ae = Peer::start(&py, Impl::Hl7, "ae", "AEPEER", dir.path());
    let aa = Peer::start(&py, Impl::Hl7apy, "ack", "AAPEER", dir.path());
    let rt = start(&format!(
        r#"
[[service]]
name = "hl7-hc"
listen = ["127.0.0.1:0"]
protocol = "mllp"
pool = "p"

[[pool]]
name = "p"
balance = "roundrobin"
health = {{ kind = "hl7-ack", interval = "100ms", timeout = "3s", rise = 1, fall = 1 }}
  [[pool.server]]
  name = "ae"
  address = "{}"
  [[pool.server]]
  name = "aa"
  address = "{}"
"#,
        ae.addr, aa.addr
    ))
    .await;
    let (s_ae, s_aa) = (server(&rt, "p", "ae"), server(&rt, "p", "aa"));
    support::wait_until("the AE server is down", Duration::from_secs(10), || {
        !s_ae.healthy()
    })
    .await;
    let check = s_ae.last_check().expect("checked");
    assert!(!check.ok && check.detail.contains("AE"), "{check:?}");
    assert!(
        check.detail.contains("peer says no"),
        "MSA-3 in the detail: {check:?}"
    );
    support::wait_until("the AA server was checked", Duration::from_secs(10), || {
        s_aa.last_check().is_some()
    })
    .await;
    let check = s_aa.last_check().unwrap();
    assert!(check.ok && s_aa.healthy(), "{check:?}");
    // The checks were real HL7 exchanges, recognisable by their control id prefix.
    let probes = ae.received();
    assert!(
        probes
            .iter()
            .all(|r| r.control_id.starts_with("TRIAGE-PING-")),
        "{probes:?}"
    );

    // Traffic now only goes to the AA server.
    let mut c = Client::connect(listen(&rt, "hl7-hc")).await;
    for id in ["HC1", "HC2", "HC3"] {
        let a = ack(&c.call(&message("ADT^A01^ADT_A01", id)).await);
        assert_eq!(
            (a.code.as_str(), a.acked.as_str(), a.from.as_str()),
            ("AA", id, "AAPEER")
        );
    }
    assert!(ae
        .received()
        .iter()
        .all(|r| r.control_id.starts_with("TRIAGE-PING-")));
}

/// Runs `triage hl7-ping ADDR --timeout T`.
async fn hl7_ping(addr: SocketAddr, timeout: &str) -> Output {
    let (addr, timeout) = (addr.to_string(), timeout.to_string());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["hl7-ping", &addr, "--timeout", &timeout])
            .output()
            .expect("run triage hl7-ping")
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_ping_exit_codes_follow_the_ack() {
    let Some(py) = python() else { return };
    let dir = TempDir::new("hl7-ping");
    let aa = Peer::start(&py, Impl::Hl7, "ack", "AAPEER", dir.path());
    let aa_apy = Peer::start(&py, Impl::Hl7apy, "ack", "APYPEER", dir.path());
    let ae = Peer::start(&py, Impl::Hl7apy, "ae", "AEPEER", dir.path());
    let silent = Peer::start(&py, Impl::Hl7, "silent", "SILENT", dir.path());

    for peer in [&aa, &aa_apy] {
        let o = hl7_ping(peer.addr, "5s").await;
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains("MSA-1 AA"), "{}", text(&o));
    }

    let o = hl7_ping(ae.addr, "5s").await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("MSA-1 AE") && text(&o).contains("peer says no"),
        "{}",
        text(&o)
    );

    let refused = support::sa(1, support::free_port(support::ip(1)));
    let o = hl7_ping(refused, "2s").await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));

    let o = hl7_ping(silent.addr, "300ms").await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("MSA-1 -"), "{}", text(&o));

    // Through the gateway: the backend's AA comes back.
    let rt = start(&one_pool_config(
        "hl7-ping-gw",
        "first",
        &[("aa", aa.addr)],
        "",
    ))
    .await;
    let o = hl7_ping(listen(&rt, "hl7-ping-gw"), "5s").await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pings = aa.received();
    assert!(
        pings.len() >= 2
            && pings
                .iter()
                .all(|r| r.control_id.starts_with("TRIAGE-PING-"))
    );
}

//! `examples/enterprise-imaging.toml`, rewritten to loopback: VNA DICOM, HL7, worklist and the
//! HTTPS viewer (TLS passthrough as `tcp`), two servers each, source-IP persistence 1 h.
//!
//! Peers: dcmtk `storescp` behind the DICOM service and `wlmscpfs` behind the worklist service
//! (real SCPs), reached with dcmtk's `echoscu` and `findscu -W`; `triage hl7-ping` through the
//! HL7 service (built-in HL7 simulators behind); TCP backends naming themselves behind 443.

mod examples_support;

use examples_support::*;
use std::time::Duration;

const VIP: &str = "10.10.0.100";

fn totals(rt: &triage::Runtime, pool: &str) -> Vec<u64> {
    rt.snapshot()
        .pool(pool)
        .unwrap()
        .servers
        .iter()
        .map(|s| s.total())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dicom_hl7_worklist_and_tls_passthrough_are_served() {
    let mut rw = Rewritten::new("enterprise-imaging.toml", 100);
    {
        let c = rw.config();
        assert_eq!(c.services.len(), 4);
        for p in &c.pools {
            assert_eq!(p.servers.len(), 2, "pool {}", p.name);
            assert!(p.servers.iter().all(|s| s.weight == 100));
            let ps = p.persistence.as_ref().expect("persistence");
            assert_eq!(ps.kind, triage::config::PersistKind::SourceIp);
            assert_eq!(ps.timeout, Duration::from_secs(3600));
        }
        let viewer = c.services.iter().find(|s| s.name == "vna-viewer").unwrap();
        assert_eq!(
            viewer.protocol,
            triage::config::Protocol::Tcp,
            "443 is TLS passthrough"
        );
    }
    let mut dicom = Vec::new();
    let mut mwl = Vec::new();
    for n in ["vna1", "vna2"] {
        dicom.push(Peer::storescp(rw.server("vna-dicom", n).port(), "VNA").await);
        mwl.push(Peer::wlmscpfs(rw.server("vna-worklist", n).port(), "VNAMWL").await);
        let a = rw.server("vna-hl7", n);
        rw.add_simulator("hl7", a);
    }
    let _viewers = [
        TagServer::start("vna1", rw.server("vna-viewer", "vna1")).await,
        TagServer::start("vna2", rw.server("vna-viewer", "vna2")).await,
    ];
    let rt = rw.start().await;

    // DICOM C-ECHO to the VNA's storescp, twice: the same node (source-IP persistence).
    let a = rw.addr(&format!("{VIP}:11112"));
    for _ in 0..2 {
        echoscu(a, "VNA")
            .await
            .expect_ok("echoscu through the VNA DICOM service");
    }
    let t = totals(&rt, "vna-dicom");
    assert!(
        t == vec![2, 0] || t == vec![0, 2],
        "DICOM persistence: {t:?}"
    );

    // Modality Worklist C-FIND answered by wlmscpfs (an empty worklist: success, no match).
    let w = rw.addr(&format!("{VIP}:5104"));
    let r = findscu_worklist(w, "VNAMWL")
        .await
        .expect_ok("findscu -W through the worklist service");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("Received Final Find Response (Success)"),
        "{out}"
    );
    assert_eq!(totals(&rt, "vna-worklist").iter().sum::<u64>(), 1);
    // A called AE the worklist SCP does not serve is refused end to end.
    let bad = findscu_worklist(w, "NOSUCHAE").await;
    assert!(
        !bad.ok(),
        "wlmscpfs should refuse an unknown AE:\n{}",
        bad.stdout
    );

    // HL7 v2 over MLLP.
    let h = rw.addr(&format!("{VIP}:6667"));
    let r = run(
        triage_bin(),
        &strings(&["hl7-ping", &h.to_string(), "--timeout", "5s"]),
    )
    .await;
    r.expect_ok("triage hl7-ping through the HL7 service");
    assert_eq!(totals(&rt, "vna-hl7").iter().sum::<u64>(), 1);

    // HTTPS viewer: plain TCP relay, persistent by source IP.
    let v = rw.addr(&format!("{VIP}:443"));
    let first = tag(lo(1), v).await;
    assert!(first == "vna1" || first == "vna2", "{first}");
    assert_eq!(tag(lo(1), v).await, first);
    drop(dicom);
    drop(mwl);
}

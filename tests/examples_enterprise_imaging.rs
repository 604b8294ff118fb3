//! `examples/enterprise-imaging.toml`, rewritten to loopback: VNA DICOM, HL7, worklist and the
//! HTTPS viewer (TLS passthrough as `tcp`), two servers each, source-IP persistence 1 h.
//!
//! Peers, all real: dcmtk `storescp` behind the DICOM service and `wlmscpfs` behind the worklist
//! service, reached with dcmtk's `echoscu`, `storescu` (the stored file must arrive in the
//! chosen node's storescp directory) and `findscu -W`; the PyPI `hl7` (vna1) and `hl7apy`
//! (vna2) MLLP servers behind the HL7 service, reached with `triage hl7-ping` and an MLLP
//! client (the ACK's MSH-3 names the node); `openssl s_server` (one certificate per node)
//! behind the TLS passthrough on 443, reached with `curl -k`.

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
    let rw = Rewritten::new("enterprise-imaging.toml", 100);
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
    let mut hl7 = Vec::new();
    let mut viewers = Vec::new();
    for (n, imp) in [("vna1", "hl7"), ("vna2", "hl7apy")] {
        dicom.push(Peer::storescp(rw.server("vna-dicom", n).port(), "VNA").await);
        mwl.push(Peer::wlmscpfs(rw.server("vna-worklist", n).port(), "VNAMWL").await);
        hl7.push(Peer::hl7(rw.server("vna-hl7", n), imp, n).await);
        viewers.push(Peer::tls_server(rw.server("vna-viewer", n), n).await);
    }
    let rt = rw.start().await;

    // DICOM C-ECHO and C-STORE to the VNA's storescp: one node (source-IP persistence), and
    // the image is in that node's storescp directory, not the other's.
    let a = rw.addr(&format!("{VIP}:11112"));
    echoscu(a, "VNA")
        .await
        .expect_ok("echoscu through the VNA DICOM service");
    let dir = TempDir::new("images");
    let image = dicom_file(dir.path(), 1).await;
    storescu(a, "VNA", &image)
        .await
        .expect_ok("storescu through the VNA DICOM service");
    let t = totals(&rt, "vna-dicom");
    assert!(
        t == vec![2, 0] || t == vec![0, 2],
        "DICOM persistence: {t:?}"
    );
    let node = usize::from(t[0] == 0);
    let stored = dicom[node].stored();
    let names: Vec<String> = stored
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("SC.{}", image_uid(1))], "vna{}", node + 1);
    assert!(dicom[1 - node].stored().is_empty());

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

    // HL7 v2 over MLLP: triage's own probe, then messages whose ACK names the node; one
    // sender stays on one node, and that node's server logged exactly what was sent.
    let h = rw.addr(&format!("{VIP}:6667"));
    let r = run(
        triage_bin(),
        &strings(&["hl7-ping", &h.to_string(), "--timeout", "5s"]),
    )
    .await;
    r.expect_ok("triage hl7-ping through the HL7 service");
    assert_eq!(totals(&rt, "vna-hl7").iter().sum::<u64>(), 1);
    let mut acked_by = Vec::new();
    for i in 0..3 {
        let id = format!("EI{i}");
        let (code, acked, from) = mllp_ask(lo(7), h, &hl7_message(&id)).await;
        assert_eq!((code.as_str(), acked.as_str()), ("AA", id.as_str()));
        acked_by.push(from);
    }
    assert!(
        acked_by.iter().all(|n| *n == acked_by[0]),
        "HL7 persistence: {acked_by:?}"
    );
    let node = if acked_by[0] == "vna1" { 0 } else { 1 };
    let got: Vec<String> = hl7[node]
        .hl7_messages()
        .into_iter()
        .filter(|c| c.starts_with("EI"))
        .collect();
    assert_eq!(got, ["EI0", "EI1", "EI2"], "{} received", acked_by[0]);
    assert!(!hl7[1 - node]
        .hl7_messages()
        .iter()
        .any(|c| c.starts_with("EI")));

    // HTTPS viewer: the TLS bytes are relayed untouched to a node's own TLS server,
    // persistent by source IP.
    let v = rw.addr(&format!("{VIP}:443"));
    let first = https_whoami(lo(1), v).await;
    assert!(first == "vna1" || first == "vna2", "{first}");
    assert_eq!(https_whoami(lo(1), v).await, first);
    drop((dicom, mwl, hl7, viewers));
}

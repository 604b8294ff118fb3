//! `examples/imaging-information-systems.toml`, rewritten to loopback: DICOM on two ports (one
//! service), HL7 MLLP, XDS registry and repository on their own addresses with SOAP-action
//! routes, the HTTPS viewer as TLS passthrough (`tcp`).
//!
//! Peers: the DICOM nodes (port 0) are real dcmtk `storescp`s, one per node and port, each
//! bound to its node's address (bind shim of `examples_support/peers.rs`), reached with dcmtk's
//! `echoscu` and `storescu` through both ports (the image must arrive in the chosen node's
//! storescp for that port); the HL7 servers are the PyPI `hl7` (hl7-1) and `hl7apy` (hl7-2)
//! MLLP servers, reached with `triage hl7-ping` and an MLLP client; the viewers are `openssl
//! s_server` (HTTPS) behind the TLS passthrough, reached with `curl -k`. XDS: no real XDS.b
//! registry or repository can be installed here, so the built-in XDS simulators stay behind the
//! registry and repository pools (curl posts SOAP 1.2 requests with the `action` Content-Type
//! parameter to both addresses).
mod examples_support;

use examples_support::*;
use std::net::SocketAddr;
use std::time::Duration;

const VIP: &str = "10.40.0.100";
const REGISTRY_VIP: &str = "10.40.0.101:17035";
const REPOSITORY_VIP: &str = "10.40.0.102:17035";

fn pool_total(rt: &triage::Runtime, pool: &str) -> u64 {
    rt.snapshot()
        .pool(pool)
        .unwrap()
        .servers
        .iter()
        .map(|s| s.total())
        .sum()
}

fn server_totals(rt: &triage::Runtime, pool: &str) -> Vec<u64> {
    rt.snapshot()
        .pool(pool)
        .unwrap()
        .servers
        .iter()
        .map(|s| s.total())
        .collect()
}

/// POSTs a SOAP 1.2 request with `action` in the Content-Type (as an XDS actor does).
async fn soap(addr: SocketAddr, action: &str, body: &str, dir: &TempDir) -> CurlResult {
    let f = dir.join("request.xml");
    std::fs::write(&f, body).unwrap();
    let ct = format!("Content-Type: application/soap+xml; charset=UTF-8; action=\"{action}\"");
    curl(
        &format!("http://{addr}/xds"),
        lo(1),
        None,
        &[
            "-X",
            "POST",
            "-H",
            &ct,
            "--data-binary",
            &format!("@{}", f.display()),
        ],
    )
    .await
}

fn envelope(action: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><soap:Header>\
         <wsa:Action soap:mustUnderstand=\"1\">{action}</wsa:Action>\
         <wsa:MessageID>urn:uuid:6b7b8f22-52f0-4c3c-9a53-2f0cdd2f0c11</wsa:MessageID>\
         </soap:Header><soap:Body/></soap:Envelope>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dicom_two_ports_hl7_xds_routing_and_viewer() {
    let mut rw = Rewritten::new("imaging-information-systems.toml", 90);
    // The example's timeouts: 1 h idle on both sides, 4 s connect.
    {
        let c = rw.config();
        assert_eq!(c.defaults.connect_timeout, Duration::from_secs(4));
        assert_eq!(c.defaults.client_timeout, Duration::from_secs(3600));
        assert_eq!(c.defaults.server_timeout, Duration::from_secs(3600));
        for p in &c.pools {
            let ps = p.persistence.as_ref().expect("persistence");
            assert_eq!(ps.timeout, Duration::from_secs(3600), "pool {}", p.name);
        }
        let dicom = c.services.iter().find(|s| s.name == "dicom").unwrap();
        assert_eq!(dicom.listen.len(), 2, "one DICOM service on two ports");
        assert_eq!(
            c.pool("pacs").unwrap().health.ports,
            vec![rw.port(104)],
            "checked on 104"
        );
    }
    let mut pacs = Vec::new();
    for node in ["10.40.1.11", "10.40.1.12"] {
        let mut per_port = Vec::new();
        for port in [104, 11112] {
            per_port.push(Peer::storescp_at((rw.ip(node), rw.port(port)).into(), "PACS").await);
        }
        pacs.push(per_port);
    }
    let hl7_peers = [
        Peer::hl7(rw.server("hl7", "hl7-1"), "hl7", "hl7-1").await,
        Peer::hl7(rw.server("hl7", "hl7-2"), "hl7apy", "hl7-2").await,
    ];
    for n in ["registry1", "registry2"] {
        let a = rw.server("registry", n);
        rw.add_simulator("xds", a);
    }
    for n in ["repository1", "repository2"] {
        let a = rw.server("repository", n);
        rw.add_simulator("xds", a);
    }
    let _viewers = [
        Peer::tls_server(rw.server("viewer", "viewer1"), "viewer1").await,
        Peer::tls_server(rw.server("viewer", "viewer2"), "viewer2").await,
    ];
    let rt = rw.start().await;

    // DICOM: echoscu and storescu on both ports of the one service; port 0 servers get the
    // client's port, and source-IP persistence keeps both ports on one node.
    let before = server_totals(&rt, "pacs");
    let dir = TempDir::new("images");
    for (i, port) in [104, 11112].into_iter().enumerate() {
        let a = rw.addr(&format!("{VIP}:{port}"));
        echoscu(a, "PACS")
            .await
            .expect_ok(&format!("echoscu through {a}"));
        let image = dicom_file(dir.path(), i as u32 + 1).await;
        storescu(a, "PACS", &image)
            .await
            .expect_ok(&format!("storescu through {a}"));
    }
    let after = server_totals(&rt, "pacs");
    assert_eq!(after.iter().sum::<u64>() - before.iter().sum::<u64>(), 4);
    let grew: Vec<usize> = (0..2).filter(|i| after[*i] > before[*i]).collect();
    assert_eq!(
        grew.len(),
        1,
        "source-IP persistence: both ports should reach one node: {before:?} -> {after:?}"
    );
    for (node, per_port) in pacs.iter().enumerate() {
        for (i, scp) in per_port.iter().enumerate() {
            let got: Vec<String> = scp
                .stored()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            let want = if node == grew[0] {
                vec![format!("SC.{}", image_uid(i as u32 + 1))]
            } else {
                Vec::new()
            };
            assert_eq!(got, want, "node {} port #{i}", node + 1);
        }
    }

    // HL7 over MLLP, with the interface's own tool.
    let hl7 = rw.addr(&format!("{VIP}:2575"));
    let r = run(
        triage_bin(),
        &strings(&["hl7-ping", &hl7.to_string(), "--timeout", "5s"]),
    )
    .await;
    let r = r.expect_ok("triage hl7-ping");
    assert!(
        r.stdout.contains("AA") || r.stdout.contains("CA"),
        "{}",
        r.stdout
    );
    assert_eq!(pool_total(&rt, "hl7"), 1);
    // Three messages from one sender: one server (source IP), which logged them in order.
    let mut from = Vec::new();
    for i in 0..3 {
        let id = format!("IIS{i}");
        let (code, acked, tag) = mllp_ask(lo(9), hl7, &hl7_message(&id)).await;
        assert_eq!((code.as_str(), acked.as_str()), ("AA", id.as_str()));
        from.push(tag);
    }
    assert!(from.iter().all(|t| *t == from[0]), "{from:?}");
    for (p, name) in hl7_peers.iter().zip(["hl7-1", "hl7-2"]) {
        let got: Vec<String> = p
            .hl7_messages()
            .into_iter()
            .filter(|c| c.starts_with("IIS"))
            .collect();
        let want: Vec<String> = if from[0] == name {
            (0..3).map(|i| format!("IIS{i}")).collect()
        } else {
            Vec::new()
        };
        assert_eq!(got, want, "{}", p.what);
    }

    // XDS: registry vs repository by address, and by SOAP action on either address.
    let dir = TempDir::new("xds");
    let registry = rw.addr(REGISTRY_VIP);
    let repository = rw.addr(REPOSITORY_VIP);
    assert_ne!(
        registry.ip(),
        repository.ip(),
        "two addresses on the same port"
    );
    assert_eq!(registry.port(), repository.port());
    let iti18 = triage_xds::ITI18_ACTION;
    let iti43 = triage_xds::ITI43_ACTION;
    let q = triage_xds::build_iti18_get_documents(
        "urn:uuid:0c7a1f57-2b4d-4e42-8a43-5f0d3b1c9e01",
        "urn:uuid:7d1b3a90-9f7c-4a55-b1a2-3c4d5e6f7a8b",
        None,
    );
    let cases = [
        (registry, iti18, q.clone(), "registry"),
        (repository, iti43, envelope(iti43), "repository"),
        (registry, iti43, envelope(iti43), "repository"),
        (repository, iti18, q.clone(), "registry"),
    ];
    for (addr, action, body, want) in cases {
        let (reg, rep) = (pool_total(&rt, "registry"), pool_total(&rt, "repository"));
        let r = soap(addr, action, &body, &dir).await;
        assert_eq!(r.status, 200, "{action} via {addr}: {r:?}");
        assert!(
            r.body.contains("ResponseStatusType:Success"),
            "{action}: {}",
            r.body
        );
        let (reg2, rep2) = (pool_total(&rt, "registry"), pool_total(&rt, "repository"));
        let got = match (reg2 - reg, rep2 - rep) {
            (1, 0) => "registry",
            (0, 1) => "repository",
            other => panic!("{action} via {addr}: unexpected counts {other:?}"),
        };
        assert_eq!(got, want, "{action} sent to {addr}");
    }

    // The viewer: TLS passthrough is a byte relay; the same client stays on one viewer.
    let viewer = rw.addr(&format!("{VIP}:443"));
    let first = https_whoami(lo(1), viewer).await;
    assert!(first == "viewer1" || first == "viewer2", "{first}");
    for _ in 0..3 {
        assert_eq!(https_whoami(lo(1), viewer).await, first);
    }
}

//! `examples/imaging-information-systems.toml`, rewritten to loopback: DICOM on two ports (one
//! service), HL7 MLLP, XDS registry and repository on their own addresses with SOAP-action
//! routes, the HTTPS viewer as TLS passthrough (`tcp`).
//!
//! Peers: dcmtk's echoscu through both DICOM ports (the nodes, port 0, are built-in DICOM
//! simulators on each node's address and both ports); curl posting SOAP 1.2 requests with the
//! `action` Content-Type parameter to the XDS addresses (built-in XDS simulators behind);
//! `triage hl7-ping` through the HL7 service (built-in HL7 simulators behind); TCP backends
//! naming themselves behind the viewer.

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
    for node in ["10.40.1.11", "10.40.1.12"] {
        for port in [104, 11112] {
            rw.add_simulator("dicom", (rw.ip(node), rw.port(port)).into());
        }
    }
    for (pool, names) in [
        ("hl7", ["hl7-1", "hl7-2"]),
        ("registry", ["registry1", "registry2"]),
        ("repository", ["repository1", "repository2"]),
    ] {
        let kind = if pool == "hl7" { "hl7" } else { "xds" };
        for n in names {
            let a = rw.server(pool, n);
            rw.add_simulator(kind, a);
        }
    }
    let _viewers = [
        TagServer::start("viewer1", rw.server("viewer", "viewer1")).await,
        TagServer::start("viewer2", rw.server("viewer", "viewer2")).await,
    ];
    let rt = rw.start().await;

    // DICOM: echoscu on both ports of the one service; port 0 servers get the client's port.
    let before = server_totals(&rt, "pacs");
    for port in [104, 11112] {
        let a = rw.addr(&format!("{VIP}:{port}"));
        echoscu(a, "PACS")
            .await
            .expect_ok(&format!("echoscu through {a}"));
    }
    let after = server_totals(&rt, "pacs");
    assert_eq!(after.iter().sum::<u64>() - before.iter().sum::<u64>(), 2);
    assert!(
        after.iter().zip(&before).filter(|(a, b)| a > b).count() == 1,
        "source-IP persistence: both ports should reach one node: {before:?} -> {after:?}"
    );

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
    let first = tag(lo(1), viewer).await;
    assert!(first.starts_with("viewer"), "{first}");
    for _ in 0..3 {
        assert_eq!(tag(lo(1), viewer).await, first);
    }
}

//! Every `examples/*.toml` passes `triage check-config` (the binary, as an operator runs it),
//! names only realistic, non-loopback addresses, and still validates once rewritten to loopback
//! the way the `examples_*` tests do it.

mod examples_support;

use examples_support::*;
use std::net::SocketAddr;

const EXPECTED: [&str; 5] = [
    "clustered-pacs-manual.toml",
    "clustered-pacs.toml",
    "enterprise-imaging.toml",
    "imaging-information-systems.toml",
    "web-pacs.toml",
];

#[tokio::test]
async fn every_example_passes_check_config() {
    let found: Vec<String> = all_examples()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for e in EXPECTED {
        assert!(
            found.iter().any(|f| f == e),
            "examples/{e} is missing: {found:?}"
        );
    }
    for path in all_examples() {
        let r = run(
            triage_bin(),
            &strings(&["check-config", &path.display().to_string()]),
        )
        .await;
        assert!(
            r.ok(),
            "check-config {}:\n{}{}",
            path.display(),
            r.stdout,
            r.stderr
        );
        assert!(r.stdout.contains(": ok:"), "{}", r.stdout);
    }
}

#[test]
fn examples_use_site_addresses_and_rewrite_to_loopback() {
    for (i, name) in EXPECTED.iter().enumerate() {
        let c = triage::Config::load(&example_path(name)).unwrap_or_else(|e| panic!("{e}"));
        for s in &c.services {
            for a in &s.listen {
                assert!(
                    !a.ip().is_loopback(),
                    "{name}: service {} listens on {a}",
                    s.name
                );
                assert_ne!(a.port(), 0);
            }
        }
        for p in &c.pools {
            for s in &p.servers {
                assert!(
                    !s.address.ip().is_loopback(),
                    "{name}: {}/{}",
                    p.name,
                    s.name
                );
            }
        }
        let rw = Rewritten::new(name, 10 + 10 * i as u8);
        let rc = rw.config();
        assert_eq!(rc.services.len(), c.services.len());
        let listens: Vec<SocketAddr> = rc.services.iter().flat_map(|s| s.listen.clone()).collect();
        assert!(
            listens
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() >= 1024),
            "{listens:?}"
        );
    }
}

#[test]
fn web_pacs_shares_one_pool_and_clustered_pacs_has_seven_ports() {
    let c = triage::Config::load(&example_path("web-pacs.toml")).unwrap();
    assert_eq!(c.pools.len(), 1);
    assert_eq!(
        c.services.len(),
        6,
        "web, DICOM, query, worklist, NetBIOS tcp + udp"
    );
    assert!(c.services.iter().all(|s| s.pool == "webpacs"));
    let p = &c.pools[0];
    assert_eq!(p.balance, triage::config::Balance::Leastconn);
    assert_eq!(p.servers.len(), 3);
    let ps = p.persistence.as_ref().unwrap();
    assert_eq!(
        (ps.kind, ps.cookie.as_str()),
        (triage::config::PersistKind::CookieSourceIp, "SERVERID")
    );
    assert_eq!(p.health.kind, triage::config::HealthKind::Http);
    assert_eq!(p.health.method.as_deref(), Some("HEAD"));
    let nb: Vec<_> = c
        .services
        .iter()
        .filter(|s| s.listen[0].port() == 137)
        .collect();
    assert_eq!(nb.len(), 2);
    assert_ne!(nb[0].protocol, nb[1].protocol);

    for (file, kind) in [
        ("clustered-pacs.toml", triage::config::HealthKind::Connect),
        (
            "clustered-pacs-manual.toml",
            triage::config::HealthKind::None,
        ),
    ] {
        let c = triage::Config::load(&example_path(file)).unwrap();
        let ports: Vec<u16> = c.services[0].listen.iter().map(|a| a.port()).collect();
        assert_eq!(ports, vec![104, 80, 8080, 443, 8443, 5222, 1001], "{file}");
        let p = &c.pools[0];
        assert_eq!(p.servers.len(), 1);
        assert_eq!(p.servers[0].address.port(), 0);
        assert_eq!(p.fallback.map(|f| f.port()), Some(0));
        assert_eq!(p.health.kind, kind);
        if kind == triage::config::HealthKind::Connect {
            assert_eq!(p.health.ports, ports);
            assert_eq!(p.health.interval, std::time::Duration::from_secs(30));
            assert_eq!(p.health.fall, 10);
        }
    }
}

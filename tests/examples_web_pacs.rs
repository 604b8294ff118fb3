//! `examples/web-pacs.toml`, rewritten to loopback: five services (web, DICOM, query, worklist,
//! NetBIOS over TCP and UDP on one port) share one pool of three nodes (port 0: every node
//! serves each port on its own 127.0.0.x). Each node's ports are real programs bound to that
//! exact address: `python3 -m http.server` on the web port, dcmtk `storescp` on 104,
//! `dcmqrscp` on 105 and `wlmscpfs` on 204 (bound to the node's address through the bind shim
//! of `examples_support/peers.rs`), and small TCP/UDP echo backends that name their node on 137.
//!
//! Checks: one pool object behind all six services and one stick table, so a client lands on
//! the same node on every service (an image stored through 104 arrives in that node's storescp
//! directory and no other; C-FIND through 105 and a worklist C-FIND through 204 succeed); the
//! SERVERID cookie (curl with a cookie jar) sticks a browser to a node and names it without its
//! address; an absent cookie falls back to the source IP; a bogus or a halted node's cookie is
//! re-picked; UDP datagrams are answered from the service address, by the same node for the
//! same client.

mod examples_support;

use examples_support::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use triage::config::ServerState;
use triage::proto::http::cookie_value;

const NODES: [(&str, &str); 3] = [
    ("pacs1", "10.20.1.11"),
    ("pacs2", "10.20.1.12"),
    ("pacs3", "10.20.1.13"),
];
const VIP: &str = "10.20.0.100";

struct Site {
    rt: Arc<triage::Runtime>,
    rw: Rewritten,
    _web: Vec<Peer>,
    /// Per node: storescp (104), dcmqrscp (105), wlmscpfs (204).
    dicom: Vec<[Peer; 3]>,
    _tcp137: Vec<TagServer>,
    _udp137: Vec<UdpEcho>,
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rw.addr(&format!("{VIP}:80")))
    }

    /// Connections (or requests) each node has taken so far.
    fn totals(&self) -> Vec<u64> {
        let snap = self.rt.snapshot();
        let p = snap.pool("webpacs").expect("pool");
        NODES
            .iter()
            .map(|(n, _)| p.server(n).expect("server").total())
            .collect()
    }
}

async fn site(first_ip: u8) -> Site {
    let mut rw = Rewritten::new("web-pacs.toml", first_ip);
    // Quicker health checks than the example's 10 s, so a broken check shows within the test.
    rw.health_mut("webpacs")
        .insert("interval".into(), "300ms".into());
    let mut web = Vec::new();
    let mut dicom = Vec::new();
    let mut tcp137 = Vec::new();
    let mut udp137 = Vec::new();
    for (name, ip) in NODES {
        let ip = rw.ip(ip);
        web.push(Peer::http_server((ip, rw.port(80)).into(), name).await);
        dicom.push([
            Peer::storescp_at((ip, rw.port(104)).into(), "PACS").await,
            Peer::dcmqrscp_at((ip, rw.port(105)).into(), "PACS").await,
            Peer::wlmscpfs_at((ip, rw.port(204)).into(), "PACS").await,
        ]);
        tcp137.push(TagServer::start(name, (ip, rw.port(137)).into()).await);
        udp137.push(UdpEcho::start(name, (ip, rw.port(137)).into()).await);
    }
    let rt = rw.start().await;
    // The HEAD check must pass on every node (it runs at once, then every 300 ms).
    wait_until(
        "every node passed the HTTP HEAD check",
        Duration::from_secs(10),
        || {
            rt.snapshot()
                .pool("webpacs")
                .unwrap()
                .servers
                .iter()
                .all(|s| s.healthy() && s.last_check().is_some_and(|c| c.ok))
        },
    )
    .await;
    Site {
        rt,
        rw,
        _web: web,
        dicom,
        _tcp137: tcp137,
        _udp137: udp137,
    }
}

fn set_cookie(headers: &str) -> Option<String> {
    headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| l.split_once(':').unwrap().1.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_services_share_one_pool_and_its_persistence() {
    let s = site(20).await;
    let snap = s.rt.snapshot();
    let pool = snap.pool("webpacs").unwrap();
    for svc in [
        "web",
        "dicom",
        "query",
        "worklist",
        "netbios-tcp",
        "netbios-udp",
    ] {
        let p = snap.service(svc).and_then(|x| x.pool.clone()).expect(svc);
        assert!(
            Arc::ptr_eq(&p, pool),
            "service {svc} does not use the shared pool"
        );
    }
    // Store, query and worklist from 127.0.0.1 (the dcmtk tools' source address): one node
    // takes all three (source-IP persistence of the shared pool), each answered by that
    // node's own real SCP.
    let before = s.totals();
    let vip = |port: u16| s.rw.addr(&format!("{VIP}:{port}"));
    let dir = TempDir::new("images");
    let image = dicom_file(dir.path(), 7).await;
    storescu(vip(104), "PACS", &image)
        .await
        .expect_ok("storescu through the DICOM service");
    let r = findscu_study(vip(105), "PACS")
        .await
        .expect_ok("findscu through the query service");
    assert!(
        r.stderr.contains("Received Final Find Response (Success)")
            || r.stdout.contains("Received Final Find Response (Success)"),
        "{r:?}"
    );
    let r = findscu_worklist(vip(204), "PACS")
        .await
        .expect_ok("findscu -W through the worklist service");
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("Received Final Find Response (Success)"),
        "{r:?}"
    );
    let after = s.totals();
    let grew: Vec<usize> = (0..3).filter(|i| after[*i] > before[*i]).collect();
    assert_eq!(
        grew.len(),
        1,
        "DICOM services spread over nodes: {before:?} -> {after:?}"
    );
    assert_eq!(after[grew[0]] - before[grew[0]], 3);
    for (i, d) in s.dicom.iter().enumerate() {
        let want = if i == grew[0] {
            vec![format!("SC.{}", image_uid(7))]
        } else {
            Vec::new()
        };
        let got: Vec<String> = d[0]
            .stored()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, want, "images stored on {}", NODES[i].0);
    }
    let node = NODES[grew[0]].0;
    // The same client on the web (no cookie), NetBIOS TCP and NetBIOS UDP: the same node.
    let r = curl(&s.url("/whoami.txt"), lo(1), None, &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, node), "web: {r:?}");
    let t = tag(lo(1), s.rw.addr(&format!("{VIP}:137"))).await;
    assert_eq!(t, node, "netbios tcp");
    let u = UdpSocket::bind((lo(1), 0)).await.unwrap();
    let vip137 = s.rw.addr(&format!("{VIP}:137"));
    let (answer, from) = udp_ask(&u, vip137, "NBSTAT").await.expect("udp answer");
    assert_eq!(answer, format!("{node}:NBSTAT"));
    assert_eq!(
        from, vip137,
        "the UDP reply must come from the service address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sticks_a_browser_and_source_ip_covers_the_rest() {
    let s = site(30).await;
    let dir = TempDir::new("jar");
    let jar = dir.join("cookies.txt");
    let browser = lo(41);
    // First visit: a SERVERID cookie naming the node by hash, never by address.
    let r = curl(&s.url("/whoami.txt"), browser, Some(&jar), &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let first = r.body.clone();
    let c = set_cookie(&r.headers).unwrap_or_else(|| panic!("no Set-Cookie: {}", r.headers));
    let value = cookie_value("webpacs", &first);
    assert!(c.starts_with(&format!("SERVERID={value}")), "cookie {c:?}");
    for leak in ["127.0.0.", &s.rw.port(80).to_string(), "10.20."] {
        assert!(
            !c.contains(leak),
            "cookie exposes the address ({leak}): {c}"
        );
    }
    // With the jar: the same node, and no new cookie.
    for _ in 0..4 {
        let r = curl(&s.url("/whoami.txt"), browser, Some(&jar), &[]).await;
        assert_eq!(r.body, first);
        assert_eq!(set_cookie(&r.headers), None, "cookie re-set needlessly");
    }
    // The cookie wins over the source IP: another node's cookie from the same address.
    let other = NODES.iter().map(|n| n.0).find(|n| *n != first).unwrap();
    let hdr = format!("SERVERID={}", cookie_value("webpacs", other));
    let r = curl(
        &s.url("/whoami.txt"),
        browser,
        None,
        &["-H", &format!("Cookie: {hdr}")],
    )
    .await;
    assert_eq!(r.body, other, "the cookie was not honoured");
    // An unknown value is re-picked and replaced with a valid cookie.
    let r = curl(
        &s.url("/whoami.txt"),
        browser,
        None,
        &["-H", "Cookie: SERVERID=0123456789abcdef"],
    )
    .await;
    assert_eq!(r.status, 200);
    let c = set_cookie(&r.headers).expect("a stale cookie must be replaced");
    assert_eq!(
        c.split(';').next().unwrap(),
        format!("SERVERID={}", cookie_value("webpacs", &r.body))
    );
    // A halted node's cookie: another node serves, and the cookie moves there.
    s.rt.set_server_state("webpacs", &first, ServerState::Halt)
        .unwrap();
    let r = curl(&s.url("/whoami.txt"), browser, Some(&jar), &[]).await;
    assert_ne!(r.body, first, "halted node still served the cookie");
    let moved = r.body.clone();
    assert!(set_cookie(&r.headers).is_some_and(|c| c.contains(&cookie_value("webpacs", &moved))));
    s.rt.set_server_state("webpacs", &first, ServerState::Online)
        .unwrap();
    let r = curl(&s.url("/whoami.txt"), browser, Some(&jar), &[]).await;
    assert_eq!(r.body, moved, "the browser follows its new cookie");
    // Without a cookie (a client refusing cookies): the source IP keeps it on one node, and
    // the cookie is offered every time.
    let plain = lo(42);
    let r = curl(&s.url("/whoami.txt"), plain, None, &[]).await;
    let by_ip = r.body.clone();
    for _ in 0..4 {
        let r = curl(&s.url("/whoami.txt"), plain, None, &[]).await;
        assert_eq!(r.body, by_ip, "source-IP persistence without cookie");
        assert!(set_cookie(&r.headers).is_some());
    }
    // X-Forwarded-For is on in the example; the HEAD check (method HEAD) keeps nodes up.
    assert!(s.totals().iter().sum::<u64>() >= 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netbios_udp_and_tcp_share_port_137() {
    let s = site(50).await;
    let vip137 = s.rw.addr(&format!("{VIP}:137"));
    assert_eq!(s.rt.listen_addrs("netbios-tcp"), vec![vip137]);
    assert_eq!(s.rt.listen_addrs("netbios-udp"), vec![vip137]);
    // Several clients (addresses): each is answered from the service address, each always by
    // the same node, over several datagrams and sockets.
    for last in 61..66u8 {
        let mut seen = None;
        for _ in 0..2 {
            let u = UdpSocket::bind((lo(last), 0)).await.unwrap();
            for i in 0..3 {
                let msg = format!("q{last}-{i}");
                let (answer, from) = udp_ask(&u, vip137, &msg).await.expect("udp answer");
                assert_eq!(from, vip137);
                let (node, echoed) = answer.split_once(':').unwrap();
                assert_eq!(echoed, msg);
                assert!(
                    seen.is_none_or(|n| n == node),
                    "client {last} moved to {node}"
                );
                seen = Some(node.to_string());
            }
        }
        // TCP from the same client: the same node (one stick table for the pool).
        assert_eq!(Some(tag(lo(last), vip137).await), seen);
    }
}

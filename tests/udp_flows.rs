//! Protocol `udp`: replies come from the service address; a flow (client address) sticks to
//! its server; without persistence each flow is balanced; idle flows expire and give their
//! server's slot back; a halted or down server's flows move; the allow list drops strangers;
//! the socket survives a reload; TCP and UDP may share an address but two of a kind may not.

mod examples_support;

use examples_support::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use triage::config::ServerState;

fn cfg(
    listen: SocketAddr,
    svc_extra: &str,
    pool_extra: &str,
    servers: &[(&str, SocketAddr)],
) -> String {
    let mut s = format!(
        "[[service]]\nname = \"nb\"\nlisten = [\"{listen}\"]\nprotocol = \"udp\"\npool = \"nb\"\n{svc_extra}\n\
         [[pool]]\nname = \"nb\"\nhealth = {{ kind = \"none\" }}\n{pool_extra}\n"
    );
    for (n, a) in servers {
        s.push_str(&format!(
            "[[pool.server]]\nname = \"{n}\"\naddress = \"{a}\"\n"
        ));
    }
    s
}

fn parse(t: &str) -> triage::Config {
    triage::Config::parse("udp-test.toml", t).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

async fn start(t: &str) -> Arc<triage::Runtime> {
    triage::Runtime::start(parse(t), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn listen_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], fresh_port()))
}

/// The node that answered, checking the echo and that the reply came from `vip`.
async fn ask(sock: &UdpSocket, vip: SocketAddr, msg: &str) -> String {
    let (answer, from) = udp_ask(sock, vip, msg)
        .await
        .unwrap_or_else(|| panic!("no answer to {msg}"));
    assert_eq!(from, vip, "reply not from the service address");
    let (node, echoed) = answer.split_once(':').expect("NODE:msg");
    assert_eq!(echoed, msg);
    node.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_stick_balance_expire_and_move() {
    let a = UdpEcho::start("a", "127.0.0.1:0".parse().unwrap()).await;
    let b = UdpEcho::start("b", "127.0.0.1:0".parse().unwrap()).await;
    let vip = listen_addr();
    let rt = start(&cfg(
        vip,
        "client_timeout = \"1s\"",
        "balance = \"roundrobin\"",
        &[("a", a.addr), ("b", b.addr)],
    ))
    .await;
    let server = |n: &str| rt.snapshot().pool("nb").unwrap().server(n).unwrap().clone();
    // Without persistence each flow (client socket) is balanced: two sockets, two nodes.
    let s1 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let s2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let n1 = ask(&s1, vip, "one").await;
    let n2 = ask(&s2, vip, "two").await;
    assert_ne!(n1, n2, "two flows should be spread by round robin");
    // Each flow holds a slot on its node while it lives (and gives it back once idle, below).
    assert_eq!((server("a").active(), server("b").active()), (1, 1));
    // A flow sticks to its node.
    for i in 0..5 {
        assert_eq!(ask(&s1, vip, &format!("again{i}")).await, n1);
    }
    wait_until("idle flows expire", Duration::from_secs(5), || {
        server("a").active() == 0 && server("b").active() == 0
    })
    .await;
    assert_eq!(rt.snapshot().service("nb").unwrap().stats.active(), 0);
    // A halted node's flow moves to the other node at its next datagram.
    let n = ask(&s1, vip, "back").await;
    let other = if n == "a" { "b" } else { "a" };
    rt.set_server_state("nb", &n, ServerState::Halt).unwrap();
    assert_eq!(ask(&s1, vip, "moved").await, other);
    assert_eq!(
        server(&n).active(),
        0,
        "the halted node's flow slot was released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ip_persistence_covers_all_flows_of_a_client() {
    let a = UdpEcho::start("a", "127.0.0.1:0".parse().unwrap()).await;
    let b = UdpEcho::start("b", "127.0.0.1:0".parse().unwrap()).await;
    let vip = listen_addr();
    let _rt = start(&cfg(
        vip,
        "",
        "balance = \"roundrobin\"\npersistence = { kind = \"source-ip\", timeout = \"1h\" }",
        &[("a", a.addr), ("b", b.addr)],
    ))
    .await;
    let mut nodes = std::collections::BTreeSet::new();
    for last in [11u8, 12, 13, 14] {
        let mut first = None;
        for i in 0..3 {
            let s = UdpSocket::bind((lo(last), 0)).await.unwrap();
            let n = ask(&s, vip, &format!("c{last}-{i}")).await;
            assert!(
                first.as_ref().is_none_or(|f| *f == n),
                "client {last} moved"
            );
            first = Some(n.clone());
            nodes.insert(n);
        }
    }
    assert_eq!(nodes.len(), 2, "clients are still spread over both nodes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_list_drops_strangers_and_reload_keeps_the_socket() {
    let a = UdpEcho::start("a", "127.0.0.1:0".parse().unwrap()).await;
    let b = UdpEcho::start("b", "127.0.0.1:0".parse().unwrap()).await;
    let vip = listen_addr();
    let rt = start(&cfg(
        vip,
        "allow = [\"127.0.0.20/32\"]",
        "",
        &[("a", a.addr)],
    ))
    .await;
    let friend = UdpSocket::bind((lo(20), 0)).await.unwrap();
    let stranger = UdpSocket::bind((lo(21), 0)).await.unwrap();
    assert_eq!(ask(&friend, vip, "hi").await, "a");
    stranger.send_to(b"hi", vip).await.unwrap();
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_millis(500), stranger.recv_from(&mut buf)).await;
    assert!(
        r.is_err(),
        "a datagram from outside the allow list was answered"
    );
    assert_eq!(
        rt.snapshot()
            .service("nb")
            .unwrap()
            .stats
            .refused
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Reload: the server changes to b and the allow list goes; the socket stays.
    let before = rt.listen_addrs("nb");
    rt.reload_with(parse(&cfg(vip, "", "", &[("b", b.addr)])))
        .await
        .expect("reload");
    assert_eq!(rt.listen_addrs("nb"), before);
    assert_eq!(ask(&stranger, vip, "now").await, "b");
    assert_eq!(
        ask(&friend, vip, "still").await,
        "b",
        "the old flow's server was removed"
    );
    // Removing the service closes the socket.
    let tcp_only = format!(
        "[[service]]\nname = \"t\"\nlisten = [\"127.0.0.1:{}\"]\nprotocol = \"tcp\"\npool = \"p\"\n\
         [[pool]]\nname = \"p\"\n[[pool.server]]\nname = \"x\"\naddress = \"127.0.0.1:1\"\n",
        fresh_port()
    );
    rt.reload_with(parse(&tcp_only)).await.expect("reload");
    assert!(rt.listen_addrs("nb").is_empty());
    let mut freed = false;
    for _ in 0..50 {
        if std::net::UdpSocket::bind(vip).is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the UDP socket of a removed service stays bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp_share_an_address() {
    let u = UdpEcho::start("u", "127.0.0.1:0".parse().unwrap()).await;
    let t = TagServer::start("t", SocketAddr::from(([127, 0, 0, 1], fresh_port()))).await;
    let vip = listen_addr();
    let text = format!(
        "[[service]]\nname = \"nb-tcp\"\nlisten = [\"{vip}\"]\nprotocol = \"tcp\"\npool = \"t\"\n\
         [[service]]\nname = \"nb-udp\"\nlisten = [\"{vip}\"]\nprotocol = \"udp\"\npool = \"u\"\n\
         [[pool]]\nname = \"t\"\nhealth = {{ kind = \"none\" }}\n[[pool.server]]\nname = \"t\"\naddress = \"{}\"\n\
         [[pool]]\nname = \"u\"\nhealth = {{ kind = \"none\" }}\n[[pool.server]]\nname = \"u\"\naddress = \"{}\"\n",
        t.addr, u.addr
    );
    let rt = start(&text).await;
    assert_eq!(rt.listen_addrs("nb-tcp"), vec![vip]);
    assert_eq!(rt.listen_addrs("nb-udp"), vec![vip]);
    assert_eq!(tag(lo(1), vip).await, "t");
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(ask(&s, vip, "x").await, "u");
}

#[test]
fn listen_addresses_are_unique_per_transport() {
    let two = |p1: &str, p2: &str| {
        format!(
            "[[service]]\nname = \"a\"\nlisten = [\"10.0.0.1:137\"]\nprotocol = \"{p1}\"\npool = \"p\"\n\
             [[service]]\nname = \"b\"\nlisten = [\"10.0.0.1:137\"]\nprotocol = \"{p2}\"\npool = \"p\"\n\
             [[pool]]\nname = \"p\"\n[[pool.server]]\nname = \"x\"\naddress = \"10.0.0.2\"\n"
        )
    };
    assert!(triage::Config::parse("t.toml", &two("tcp", "udp")).is_ok());
    assert!(triage::Config::parse("t.toml", &two("udp", "dicom")).is_ok());
    for (p1, p2) in [("tcp", "tcp"), ("udp", "udp"), ("tcp", "http")] {
        let e = triage::Config::parse("t.toml", &two(p1, p2))
            .expect_err("duplicate refused")
            .to_string();
        assert!(
            e.contains("already used by service \"a\""),
            "{p1}+{p2}: {e}"
        );
        assert!(e.contains("t.toml:"), "diagnostic with position: {e}");
    }
}

//! Failing servers, health and the gateway's own AE, with dcmtk clients and `storescp`:
//! - redispatch: a refused connection and a rejected-transient A-ASSOCIATE-RJ move the same
//!   request on to the next server before the client hears anything; a rejected-permanent RJ is
//!   final and reaches the client as the server sent it; no server left: RJ local-limit-exceeded;
//! - health: `dicom-echo` marks a server that accepts TCP but rejects associations down (and
//!   tells rejected, timeout and refused apart), while `connect` calls the same server up;
//! - local C-ECHO on the service's `ae_title`: rejected while no server of the pool is up,
//!   answered once one is; `triage echo` exit codes and detail text for the same cases.

mod dicom_support;
mod support;

use dicom_support::*;
use std::time::Duration;
use support::*;

fn pool(name: &str, balance: &str, health: &str, servers: &[(&str, String)]) -> String {
    let mut t =
        format!("\n[[pool]]\nname = \"{name}\"\nbalance = \"{balance}\"\nhealth = {health}\n");
    for (n, a) in servers {
        t += &format!("  [[pool.server]]\n  name = \"{n}\"\n  address = \"{a}\"\n");
    }
    t
}

fn closed() -> String {
    sa(1, free_port(ip(1))).to_string()
}

const NO_CHECK: &str = "{ kind = \"none\" }";

#[tokio::test]
async fn redispatch_on_refused_and_transient_rejection_only() {
    let busy = FakeScp::rejecting(2, 3, 1).await; // transient, temporary congestion
    let strict = FakeScp::rejecting(1, 1, 3).await; // permanent, calling AE not recognized
    let other = FakeScp::rejecting(1, 1, 7).await; // would name another reason
    let scp = StoreScp::start("GOOD").await;
    let mut toml = String::from(
        r#"
[[service]]
name = "faults-redispatch"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "retry"

  [[service.route]]
  called_ae = "STRICT"
  pool = "strict"

  [[service.route]]
  called_ae = "NONE"
  pool = "none"
"#,
    );
    let retry = [
        ("down", closed()),
        ("busy", busy.addr.to_string()),
        ("good", scp.addr.to_string()),
    ];
    toml += &pool("retry", "first", NO_CHECK, &retry);
    toml += &pool(
        "strict",
        "first",
        NO_CHECK,
        &[
            ("strict", strict.addr.to_string()),
            ("other", other.addr.to_string()),
        ],
    );
    toml += &pool(
        "none",
        "first",
        NO_CHECK,
        &[("n1", closed()), ("n2", closed())],
    );
    let rt = start(&toml).await;
    let gw = listen(&rt, "faults-redispatch");

    echoscu(gw, "ANY-SCP")
        .await
        .expect_echo_ok("echoscu past a refused and a busy server");
    let tmp = TempDir::new("dicom-faults");
    let f = dicom_file(tmp.path(), 51, None).await;
    storescu(gw, "ANY-SCP", &[&f])
        .await
        .expect_store_ok("storescu past a refused and a busy server");
    assert_eq!(scp.files().len(), 1, "the image reached the third server");
    assert_eq!(
        busy.requests(),
        2,
        "the busy server saw both requests first"
    );
    assert_eq!(
        associations(&rt, "faults-redispatch", "ANY-SCP", "accepted"),
        2
    );

    let r = echoscu(gw, "STRICT").await;
    r.expect_fail(
        "echoscu to a permanently rejecting server",
        "Calling AE Title Not Recognized",
    );
    assert_eq!(
        (strict.requests(), other.requests()),
        (1, 0),
        "a permanent RJ is not redispatched"
    );
    assert_eq!(
        associations(&rt, "faults-redispatch", "STRICT", "rejected"),
        1
    );

    let r = echoscu(gw, "NONE").await;
    r.expect_fail("echoscu with every server refusing", "Local Limit Exceeded");
    assert_eq!(
        associations(&rt, "faults-redispatch", "NONE", "no-server"),
        1
    );
}

#[tokio::test]
async fn dicom_echo_check_marks_a_rejecting_server_down_where_connect_does_not() {
    let rejecting = FakeScp::rejecting(1, 1, 3).await;
    let silent = FakeScp::answering(Vec::new()).await;
    let echo = "{ kind = \"dicom-echo\", interval = \"100ms\", timeout = \"500ms\", rise = 1, fall = 1, calling_ae = \"TRIAGE\" }";
    let connect =
        "{ kind = \"connect\", interval = \"100ms\", timeout = \"500ms\", rise = 1, fall = 1 }";
    let mut toml = String::from(
        r#"
[[service]]
name = "faults-health"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "echo"

  [[service.route]]
  called_ae = "TCP"
  pool = "tcp"
"#,
    );
    let echo_servers = [
        ("rejecting", rejecting.addr.to_string()),
        ("silent", silent.addr.to_string()),
        ("refused", closed()),
    ];
    toml += &pool("echo", "roundrobin", echo, &echo_servers);
    toml += &pool(
        "tcp",
        "roundrobin",
        connect,
        &[("rejecting", rejecting.addr.to_string())],
    );
    let rt = start(&toml).await;

    let down_with = |srv: &str, text: &'static str| {
        let s = server(&rt, "echo", srv);
        move || {
            !s.healthy()
                && s.last_check()
                    .is_some_and(|c| !c.ok && c.detail.contains(text))
        }
    };
    let limit = Duration::from_secs(10);
    wait_until(
        "dicom-echo: rejecting server down, detail \"rejected\"",
        limit,
        down_with("rejecting", "rejected"),
    )
    .await;
    wait_until(
        "dicom-echo: silent server down, detail \"timeout\"",
        limit,
        down_with("silent", "timeout"),
    )
    .await;
    wait_until(
        "dicom-echo: closed port down, detail \"refused\"",
        limit,
        down_with("refused", "refused"),
    )
    .await;
    let tcp = server(&rt, "tcp", "rejecting");
    wait_until("connect: the same rejecting server checked", limit, || {
        tcp.last_check().is_some()
    })
    .await;
    let c = tcp.last_check().expect("checked");
    assert!(
        tcp.healthy() && c.ok,
        "connect calls the rejecting server up: {c:?}"
    );
    assert!(
        rejecting.requests() > 0,
        "dicom-echo sent real association requests"
    );
}

/// `triage echo ADDR --aec AEC`.
async fn triage_echo(addr: &str, aec: &str) -> Run {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_triage"));
    let args: Vec<String> = [
        "echo",
        addr,
        "--aet",
        "TESTSCU",
        "--aec",
        aec,
        "--timeout",
        "5s",
    ]
    .map(String::from)
    .to_vec();
    run(bin, &args).await
}

#[tokio::test]
async fn local_echo_answers_only_while_a_server_is_up() {
    // The server's port is reserved by a bound socket that does not listen yet (connections
    // are refused); later the same socket listens, without a window for anyone to take it.
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(sa(1, 0)).expect("bind");
    let backend = sock.local_addr().expect("local addr");
    let connect =
        "{ kind = \"connect\", interval = \"100ms\", timeout = \"500ms\", rise = 1, fall = 1 }";
    let mut toml = String::from(
        r#"
[[service]]
name = "faults-local"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
ae_title = "GATEWAY"
"#,
    );
    toml += &pool("p", "roundrobin", connect, &[("only", backend.to_string())]);
    let rt = start(&toml).await;
    let gw = listen(&rt, "faults-local");
    let s = server(&rt, "p", "only");
    wait_until("the server is down", Duration::from_secs(10), || {
        !s.healthy()
    })
    .await;

    let r = echoscu(gw, "GATEWAY").await;
    r.expect_fail("local C-ECHO with no server up", "Local Limit Exceeded");
    let r = triage_echo(&gw.to_string(), "GATEWAY").await;
    let r = r.expect_fail("triage echo with no server up", "rejected");
    assert!(
        r.out.contains("LocalLimitExceeded") || r.out.to_lowercase().contains("limit"),
        "{}",
        r.out
    );
    assert_eq!(
        associations(&rt, "faults-local", "GATEWAY", "local-rejected"),
        2
    );

    // Now the server listens; it counts connections that send anything (health probes don't).
    let l = sock.listen(64).expect("listen");
    let talked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = talked.clone();
    let accept = tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let t = t.clone();
            tokio::spawn(async move {
                let mut b = [0u8; 1];
                if matches!(tokio::io::AsyncReadExt::read(&mut c, &mut b).await, Ok(1)) {
                    t.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    wait_until("the server is up", Duration::from_secs(10), || s.healthy()).await;
    echoscu(gw, "GATEWAY")
        .await
        .expect_echo_ok("local C-ECHO with a server up");
    let r = triage_echo(&gw.to_string(), "GATEWAY")
        .await
        .expect_ok("triage echo with a server up");
    assert!(r.out.contains("success"), "{}", r.out);
    assert_eq!(
        associations(&rt, "faults-local", "GATEWAY", "local-accepted"),
        2
    );
    assert_eq!(
        talked.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the local echo never reached the server"
    );
    accept.abort();

    let r = triage_echo(&closed(), "ANY-SCP").await;
    r.expect_fail("triage echo to a closed port", "refused");
}

/// storescp's A-ASSOCIATE-AC to echoscu's request (fixture).
const STORESCP_AC: &[u8] = include_bytes!("../fixtures/dicom/storescp_echo_associate_ac.bin");
/// A-ABORT, service-user source (what a client sends).
const USER_ABORT: [u8; 10] = [7, 0, 0, 0, 0, 4, 0, 0, 0, 0];
/// A-ABORT, service-provider source (what triage sends).
const PROVIDER_ABORT: [u8; 10] = [7, 0, 0, 0, 0, 4, 0, 0, 2, 0];

#[tokio::test]
async fn a_client_leaving_while_servers_are_tried_stops_the_attempts() {
    let silent = FakeScp::answering(Vec::new()).await; // takes the RQ, never answers
    let next = FakeScp::rejecting(2, 3, 1).await;
    let mut toml = String::from(
        r#"
[[service]]
name = "faults-leaving"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
"#,
    );
    toml += &pool(
        "p",
        "first",
        NO_CHECK,
        &[
            ("silent", silent.addr.to_string()),
            ("next", next.addr.to_string()),
        ],
    );
    let rt = start(&toml).await;
    let gw = listen(&rt, "faults-leaving");
    let limit = Duration::from_secs(5); // far below the 30 s ARTIM triage would otherwise wait
    for (n, how) in [(1, "aborts"), (2, "closes")] {
        let mut c = tokio::net::TcpStream::connect(gw).await.expect("connect");
        tokio::io::AsyncWriteExt::write_all(&mut c, ECHOSCU_RQ)
            .await
            .expect("send RQ");
        wait_until("the first server has the request", limit, || {
            silent.requests() == n
        })
        .await;
        if how == "aborts" {
            tokio::io::AsyncWriteExt::write_all(&mut c, &USER_ABORT)
                .await
                .expect("send A-ABORT");
        }
        drop(c);
        wait_until(
            &format!("client {how}: the server got triage's A-ABORT"),
            limit,
            || silent.after() == PROVIDER_ABORT.repeat(n),
        )
        .await;
    }
    assert_eq!(
        next.requests(),
        0,
        "no further server tried for a client that left"
    );
    assert_eq!(associations(&rt, "faults-leaving", "ARCHIVE", "aborted"), 2);
}

#[tokio::test]
async fn a_server_close_ends_the_association_for_a_silent_client() {
    let mut answer = STORESCP_AC.to_vec();
    answer.extend_from_slice(&USER_ABORT);
    let fake = FakeScp::answering_then_closing(answer).await; // accepts, aborts, closes
    let mut toml = String::from(
        r#"
[[service]]
name = "faults-close"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"
handshake_timeout = "300ms"
"#,
    );
    toml += &pool("p", "first", NO_CHECK, &[("fake", fake.addr.to_string())]);
    let rt = start(&toml).await;
    let mut c = tokio::net::TcpStream::connect(listen(&rt, "faults-close"))
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut c, ECHOSCU_RQ)
        .await
        .expect("send RQ");
    assert_eq!(
        read_pdu(&mut c).await.map(|p| p[0]),
        Some(2),
        "A-ASSOCIATE-AC"
    );
    assert_eq!(
        read_pdu(&mut c).await.as_deref(),
        Some(&USER_ABORT[..]),
        "the server's A-ABORT passed through"
    );
    assert!(
        closes_quietly(&mut c).await,
        "the server's close reached the client"
    );
    // The client never closes; DICOM has no half-open association, so triage closes it (after
    // the ARTIM grace) instead of keeping the client leg open until the idle timeout.
    let svc = rt
        .snapshot()
        .service("faults-close")
        .cloned()
        .expect("service");
    wait_until(
        "triage closed the client leg",
        Duration::from_secs(5),
        || svc.stats.active() == 0,
    )
    .await;
    drop(c);
}

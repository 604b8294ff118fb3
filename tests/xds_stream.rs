//! Bodies and connections through the `xds` listener (ITI TF-2 Appendix V: SOAP 1.2 over
//! HTTP/1.1; MTOM/XOP packaging of ITI-41 documents, TF-2b §3.41.4.1.3): Content-Length and
//! chunked request bodies arrive byte for byte, responses stream back (the server's lease held
//! until their end), one keep-alive client connection carries registry and repository
//! requests, server connections are reused only after a complete exchange, and headers pass
//! unmodified except the hop-by-hop ones (with `X-Forwarded-For` only when configured).

mod support;
mod xds_support;

use std::time::Duration;
use support::{listen, start, TempDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xds_support::*;

fn s(v: &str) -> String {
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_and_chunked_bodies_arrive_byte_exact() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti41");
    let dir = TempDir::new("xds-exact");
    // An MTOM ITI-41 whose document holds every byte value, CRLFs and boundary look-alikes.
    let fixture_body = std::fs::read(fixture("iti41-mtom.txt")).unwrap();
    let mut doc: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    doc.extend_from_slice(b"\r\n--MIMEBoundary_4c1b2a7f0e9\r\n");
    let marker = b"Synthetic clinical note";
    let at = fixture_body
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("document in fixture");
    let mut body = fixture_body[..at].to_vec();
    body.extend_from_slice(&doc);
    body.extend_from_slice(&fixture_body[at..]);
    let f = dir.join("iti41.txt");
    std::fs::write(&f, &body).unwrap();
    // The action only in the envelope: triage must peek and replay.
    let ct = fixture_ct("iti41-mtom.ct");
    let ct = ct.split("; action=").next().unwrap();
    for chunked in [false, true] {
        let r = curl(post_file(&u, &f, ct, chunked)).await;
        assert_eq!(r.status, 200, "chunked {chunked}: {r:?}");
    }
    let seen = b.log.wait_for(2).await;
    for (s, chunked) in seen.iter().zip([false, true]) {
        assert!(s.backend.starts_with("rep"), "{s:?}");
        assert!(s.complete);
        assert_eq!(s.len, body.len() as u64, "chunked {chunked}");
        assert!(s.body == body, "chunked {chunked}: body differs");
        if chunked {
            assert_eq!(s.header("transfer-encoding"), Some("chunked"));
            assert_eq!(s.header("content-length"), None);
        } else {
            assert_eq!(
                s.header("content-length"),
                Some(body.len().to_string().as_str())
            );
            assert_eq!(s.header("transfer-encoding"), None);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_mtom_uploads_content_length_and_chunked_are_byte_exact() {
    let Some(py) = python() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti41");
    let dir = TempDir::new("xds-pyexact");
    for (i, chunked) in [false, true].into_iter().enumerate() {
        let save = dir.join(&format!("sent{i}"));
        let mut args = vec![
            "post",
            &u,
            "--kind",
            "iti41",
            "--size",
            "2500000",
            "--save",
            save.to_str().unwrap(),
        ];
        if chunked {
            args.push("--chunked");
        }
        let r = py_client(&py, &args).await;
        assert_eq!(r["status"], 200, "{r}");
        assert!(
            r["headers"]["x-backend"]
                .as_str()
                .unwrap()
                .starts_with("rep"),
            "{r}"
        );
        let seen = b.log.wait_for(i + 1).await;
        let sent = std::fs::read(&save).unwrap();
        assert_eq!(seen[i].len, sent.len() as u64);
        assert!(seen[i].body == sent, "chunked {chunked}: body differs");
        assert_eq!(seen[i].header("transfer-encoding").is_some(), chunked);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_stream_back_without_waiting_for_their_end() {
    let Some(py) = python() else { return };
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let addr = listen(&rt, "xds");
    // Half of the body, a 2 s pause at the server, the rest: the first half must arrive first.
    let u = url(addr, "/trickle/4000000");
    let client = tokio::spawn(async move { py_client(&py, &["stream", &u]).await });
    // The server's connection count (its lease) is held while the body streams, released
    // at its end.
    b.log.wait_for(1).await;
    let active = || {
        ["reg1", "reg2"]
            .iter()
            .map(|n| support::server(&rt, "registry", n).active())
            .sum::<u32>()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(active(), 1, "lease held while the response streams");
    let r = client.await.unwrap();
    support::wait_until("lease released", Duration::from_secs(5), || active() == 0).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["bytes"], 4_000_000, "{r}");
    let (first, total) = (
        r["first_s"].as_f64().unwrap(),
        r["total_s"].as_f64().unwrap(),
    );
    assert!(
        first < 1.5 && total >= 1.9,
        "first chunk after {first} s, all after {total} s"
    );
    // A 64 MB response through curl, counted.
    let r = curl(vec![
        s("-w"),
        s("%{size_download}"),
        url(addr, "/stream/67108864"),
    ])
    .await;
    assert_eq!((r.status, r.write_out.as_str()), (200, "67108864"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_keep_alive_connection_carries_registry_and_repository_requests() {
    let Some(py) = python() else { return };
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let addr = listen(&rt, "xds");
    let stats = rt.snapshot().service("xds").unwrap().stats.clone();
    let total = || stats.total.load(std::sync::atomic::Ordering::Relaxed);
    // Python requests.Session: ITI-18, ITI-43, ITI-41 on one connection.
    let before = total();
    let r = py_client(&py, &["session", &url(addr, "/xds/iti")]).await;
    let backends: Vec<&str> = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["headers"]["x-backend"].as_str().unwrap())
        .collect();
    assert_eq!(
        backends.iter().map(|b| &b[..3]).collect::<Vec<_>>(),
        ["reg", "rep", "rep"],
        "{r}"
    );
    assert_eq!(
        total() - before,
        1,
        "one client connection for the whole session"
    );
    // curl: two URLs (registry, then repository) reuse one connection.
    let before = total();
    let r = curl(vec![
        s("-w"),
        s("%{num_connects} "),
        s("-H"),
        s("Content-Type: application/soap+xml"),
        s("--data-binary"),
        format!("@{}", fixture("iti18-request.xml").display()),
        url(addr, "/xds/iti18"),
        s("--next"),
        s("-o"),
        s("/dev/null"),
        s("-w"),
        s("%{num_connects} "),
        s("-H"),
        s("Content-Type: application/soap+xml"),
        s("--data-binary"),
        format!("@{}", fixture("iti43-request.xml").display()),
        url(addr, "/xds/iti43"),
    ])
    .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.write_out.trim(),
        "1 0",
        "the second transfer reused the connection: {r:?}"
    );
    assert_eq!(total() - before, 1);
    let seen = b.log.wait_for(5).await;
    let last: Vec<(&str, &str)> = seen[3..]
        .iter()
        .map(|s| (&s.backend[..3], s.action.as_deref().unwrap()))
        .collect();
    assert_eq!(last, [("reg", ITI18), ("rep", ITI43)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_pass_unmodified_except_hop_by_hop_and_xff_only_when_configured() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let plain = start(&config(&b, "")).await;
    let xff = start(&config(&b, "forwarded_for = true")).await;
    let args = |addr| {
        vec![
            s("-H"),
            s("Content-Type: application/soap+xml; charset=UTF-8"),
            s("-H"),
            s("Authorization: Bearer abc.def"),
            s("-H"),
            s("X-Custom: One,  Two "),
            s("-H"),
            s("X-Forwarded-For: 203.0.113.9"),
            s("-H"),
            s("Connection: keep-alive, X-Hop"),
            s("-H"),
            s("X-Hop: secret"),
            s("-H"),
            s("Keep-Alive: timeout=5"),
            s("-H"),
            s("Upgrade: h2c"),
            s("--data-binary"),
            format!("@{}", fixture("iti18-request.xml").display()),
            url(addr, "/xds/iti18?x=1"),
        ]
    };
    for rt in [&plain, &xff] {
        let r = curl(args(listen(rt, "xds"))).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let seen = b.log.wait_for(2).await;
    for s in &seen {
        assert_eq!(s.target, "/xds/iti18?x=1");
        assert_eq!(s.header("authorization"), Some("Bearer abc.def"));
        assert_eq!(s.header("x-custom"), Some("One,  Two"));
        assert_eq!(
            s.header("content-type"),
            Some("application/soap+xml; charset=UTF-8")
        );
        assert!(
            s.header("host").unwrap().starts_with("127.0.0.1:"),
            "Host as the client sent it"
        );
        for hop in ["connection", "x-hop", "keep-alive", "upgrade"] {
            assert_eq!(s.header(hop), None, "{hop} was forwarded: {s:?}");
        }
    }
    assert_eq!(seen[0].headers_named("x-forwarded-for"), ["203.0.113.9"]);
    assert_eq!(
        seen[1].headers_named("x-forwarded-for"),
        ["203.0.113.9, 127.0.0.1"]
    );
}

/// Raw HTTP/1.1 on a socket: the request head for an ITI-41 of `len` bytes (action in the
/// Content-Type, so triage forwards at once).
fn iti41_head(len: usize) -> String {
    format!("POST /xds/iti41 HTTP/1.1\r\nHost: t\r\nContent-Type: application/soap+xml; action=\"{ITI41}\"\r\nContent-Length: {len}\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_connections_are_reused_only_after_complete_exchanges() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    // One server per pool, so every request meets the same pooled connections.
    let mut cfg = config(&b, "");
    for r in [&b.reg[1], &b.rep[1]] {
        let name = &r.name;
        cfg = cfg.replace(
            &format!(
                "  [[pool.server]]\n  name    = \"{name}\"\n  address = \"{}\"\n",
                r.addr
            ),
            "",
        );
    }
    let rt = start(&cfg).await;
    let addr = listen(&rt, "xds");
    let post = move || async move {
        let r = curl(vec![
            s("-H"),
            format!("Content-Type: application/soap+xml; action=\"{ITI41}\""),
            s("--data-binary"),
            s("0123456789"),
            url(addr, "/p"),
        ])
        .await;
        assert_eq!(r.status, 200, "{r:?}");
    };
    let get = move || async move {
        let r = curl(vec![url(addr, "/wsdl")]).await;
        assert_eq!(r.status, 200, "{r:?}");
    };
    // Two complete exchanges: the second reuses the first's server connection.
    post().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    post().await;
    let seen = b.log.wait_for(2).await;
    assert_eq!(
        seen[0].conn, seen[1].conn,
        "a complete exchange leaves a reusable connection"
    );
    let pooled = seen[1].conn;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The client goes away mid-upload: the server sees the body cut off on the pooled
    // connection, which must not serve anyone again.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(iti41_head(10 << 20).as_bytes()).await.unwrap();
    c.write_all(&vec![b'a'; 1 << 20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(c);
    let seen = b.log.wait_for(3).await;
    assert_eq!(seen[2].conn, pooled);
    assert!(
        !seen[2].complete,
        "the server saw the upload cut off after {} bytes",
        seen[2].len
    );
    post().await;
    let seen = b.log.wait_for(4).await;
    assert_ne!(
        seen[3].conn, pooled,
        "the connection of the aborted upload was reused"
    );

    // The client stops reading a long response: that connection is not reused either.
    get().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /stream/100000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let seen = b.log.wait_for(6).await;
    assert_eq!(
        seen[5].conn, seen[4].conn,
        "the GET reused the registry connection"
    );
    let streamed = seen[5].conn;
    let mut buf = vec![0u8; 64 * 1024];
    assert!(c.read(&mut buf).await.unwrap() > 0);
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    get().await;
    let seen = b.log.wait_for(7).await;
    assert_ne!(
        seen[6].conn, streamed,
        "a connection with an unread response was reused"
    );
    // And the pool still works afterwards.
    tokio::time::sleep(Duration::from_millis(200)).await;
    get().await;
    let seen = b.log.wait_for(8).await;
    assert_eq!(seen[7].conn, seen[6].conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_closed_by_the_server_are_not_used() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    // A server that closes every connection shortly after its answer (keep-alive not announced
    // as refused: the close comes later, while the connection sits in triage's pool).
    let l = support::bind(support::sa(1, 0), 16).unwrap();
    let closing = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                while !String::from_utf8_lossy(&got).contains("</s:Envelope>") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-backend: closing\r\n\r\nok",
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
        }
    });
    let cfg = config(&b, "")
        .replace(&b.reg[0].addr.to_string(), &closing.to_string())
        .replace(&b.reg[1].addr.to_string(), &closing.to_string());
    let rt = start(&cfg).await;
    let addr = listen(&rt, "xds");
    for _ in 0..4 {
        let r = curl(post_file(
            &url(addr, "/r"),
            &fixture("iti18-request.xml"),
            "application/soap+xml",
            false,
        ))
        .await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

//! Routing of XDS.b requests by SOAP action (ITI TF-2 Appendix V `wsa:Action`; ITI-18 TF-2a
//! §3.18, ITI-41/43 TF-2b §3.41/§3.43) through triage, driven by real clients (curl, Python
//! `requests` with MTOM built by `email`), and the SOAP 1.2 Faults triage answers itself
//! (SOAP 1.2 Part 1 §5.4; HTTP binding Part 2 §7.5.2: Sender → 400): no route, no server,
//! malformed envelope, a header over `max_request_bytes`, a server that never answers.

mod support;
mod xds_support;

use std::time::{Duration, Instant};
use support::{listen, start};
use xds_support::*;

fn s(v: &str) -> String {
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_go_to_their_pools_with_curl() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    let soap = "application/soap+xml; charset=UTF-8";
    // ITI-18, action only in the envelope header (peeked), then in the Content-Type.
    let r = curl(post_file(&u, &fixture("iti18-request.xml"), soap, false)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");
    assert!(
        r.body.contains("AdhocQueryResponse") && r.body.contains("ResponseStatusType:Success"),
        "{r:?}"
    );
    let ct = format!("{soap}; action=\"{ITI18}\"");
    let r = curl(post_file(&u, &fixture("iti18-request.xml"), &ct, false)).await;
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");
    // ITI-43 (default-namespace envelope) → repository; the MTOM answer comes back intact.
    let r = curl(post_file(&u, &fixture("iti43-request.xml"), soap, false)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("x-backend").unwrap().starts_with("rep"), "{r:?}");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/related"),
        "{r:?}"
    );
    assert!(
        r.body
            .contains(std::str::from_utf8(responder::DOCUMENT).unwrap()),
        "{r:?}"
    );
    // ITI-41 MTOM fixture with its Content-Type (action parameter) → repository.
    let r = curl(post_file(
        &u,
        &fixture("iti41-mtom.txt"),
        &fixture_ct("iti41-mtom.ct"),
        false,
    ))
    .await;
    assert!(r.header("x-backend").unwrap().starts_with("rep"), "{r:?}");
    // ITI-42 and a SOAP 1.1 ITI-18: no route → the default pool (registry).
    let r = curl(post_file(&u, &fixture("iti42-request.xml"), soap, false)).await;
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");
    let r = curl(post_file(
        &u,
        &fixture("soap11-request.xml"),
        "text/xml; charset=UTF-8",
        false,
    ))
    .await;
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");

    let routes = b.log.wait_for(6).await;
    let got: Vec<(char, Option<&str>)> = routes
        .iter()
        .map(|s| (s.backend.chars().nth(2).unwrap(), s.action.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ('g', Some(ITI18)),
            ('g', Some(ITI18)),
            ('p', Some(ITI43)),
            ('p', Some(ITI41)),
            ('g', Some(ITI42)),
            ('g', Some(ITI18))
        ]
    );
    // Round robin within the pools.
    let regs: Vec<&str> = routes
        .iter()
        .filter(|s| s.backend.starts_with("reg"))
        .map(|s| s.backend.as_str())
        .collect();
    assert!(regs.contains(&"reg1") && regs.contains(&"reg2"), "{regs:?}");
    // Every body arrived byte for byte.
    assert_eq!(
        routes[0].body,
        std::fs::read(fixture("iti18-request.xml")).unwrap()
    );
    assert_eq!(
        routes[3].body,
        std::fs::read(fixture("iti41-mtom.txt")).unwrap()
    );
    let m = triage::metrics::encode(rt.snapshot()).unwrap();
    assert!(
        m.contains(&format!(
            "triage_xds_requests_total{{service=\"xds\",action=\"{ITI43}\",status=\"200\"}}"
        )),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_iti18_iti43_and_mtom_iti41_are_routed() {
    let Some(py) = python() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    for (kind, pool) in [("iti18", "reg"), ("iti43", "rep"), ("iti41", "rep")] {
        for ct_action in [false, true] {
            let mut args = vec!["post", &u, "--kind", kind, "--size", "100000"];
            if ct_action {
                args.push("--ct-action");
            }
            let r = py_client(&py, &args).await;
            assert_eq!(r["status"], 200, "{kind}: {r}");
            let backend = r["headers"]["x-backend"].as_str().unwrap();
            assert!(
                backend.starts_with(pool),
                "{kind} (action in Content-Type: {ct_action}) went to {backend}: {r}"
            );
        }
    }
    let seen = b.log.wait_for(6).await;
    let mtom: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.action.as_deref() == Some(ITI41))
        .collect();
    assert_eq!(mtom.len(), 2);
    for m in mtom {
        assert!(
            m.header("content-type")
                .unwrap()
                .starts_with("multipart/related"),
            "{m:?}"
        );
        assert!(m.complete && m.len > 100_000, "{m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_action_without_default_pool_is_a_sender_fault() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    // Routes only: no default pool.
    let rt = start(&config(&b, "").replace("pool     = \"registry\"\n", "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    let body = support::TempDir::new("xds-unknown");
    let f = body.join("req.xml");
    std::fs::write(
        &f,
        std::fs::read_to_string(fixture("iti18-request.xml"))
            .unwrap()
            .replace(ITI18, "urn:example:NoSuchAction"),
    )
    .unwrap();
    let r = curl(post_file(&u, &f, "application/soap+xml", false)).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/soap+xml"),
        "{r:?}"
    );
    assert!(
        r.body.contains("<env:Value>env:Sender</env:Value>"),
        "{r:?}"
    );
    assert!(
        r.body.contains("wsa:ActionNotSupported") && r.body.contains("urn:example:NoSuchAction"),
        "{r:?}"
    );
    assert!(
        r.body
            .contains("urn:uuid:a02ca8cd-86fa-4afc-a27c-16c183b20555"),
        "RelatesTo the MessageID: {r:?}"
    );
    // A routed action still works on the same service.
    let r = curl(post_file(
        &u,
        &fixture("iti43-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(b.log.len(), 1);
    let m = triage::metrics::encode(rt.snapshot()).unwrap();
    assert!(
        m.contains("action=\"other\",status=\"400\""),
        "invented actions share one label: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_up_is_a_receiver_fault_503() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let mut cfg = config(&b, "");
    // Both registries refuse connections.
    for r in &b.reg {
        let dead = format!("127.0.0.1:{}", support::free_port(support::ip(1)));
        cfg = cfg.replace(&r.addr.to_string(), &dead);
    }
    let rt = start(&cfg).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    let r = curl(post_file(
        &u,
        &fixture("iti18-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(
        r.body.contains("<env:Value>env:Receiver</env:Value>")
            && r.body.contains("no server available"),
        "{r:?}"
    );
    // Halted servers: no server either.
    for s in ["rep1", "rep2"] {
        support::server(&rt, "repository", s).set_state(triage::config::ServerState::Halt);
    }
    let r = curl(post_file(
        &u,
        &fixture("iti43-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("env:Receiver"), "{r:?}");
    assert_eq!(b.log.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_envelopes_are_sender_faults() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    for (file, ct) in [
        ("not-xml.txt", "application/soap+xml"),
        ("doctype-bomb.xml", "application/soap+xml"),
        ("entity-ref.xml", "application/soap+xml"),
        (
            "wrong-boundary.txt",
            fixture_ct("wrong-boundary.ct").as_str(),
        ),
        ("iti18-request.xml", "application/json"),
    ] {
        let t = Instant::now();
        let r = curl(post_file(&u, &fixture(file), ct, false)).await;
        assert_eq!(r.status, 400, "{file}: {r:?}");
        assert!(r.body.contains("env:Sender"), "{file}: {r:?}");
        assert_eq!(r.header("connection"), Some("close"), "{file}: {r:?}");
        assert_eq!(r.code, Some(0), "{file}: curl saw a clean close: {r:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{file}");
    }
    assert_eq!(b.log.len(), 0, "nothing malformed reached a server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_soap_header_is_a_fault_and_the_connection_closes_cleanly() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "max_request_bytes = 4096")).await;
    let u = url(listen(&rt, "xds"), "/xds/iti");
    let dir = support::TempDir::new("xds-bighdr");
    // A 100 KB WS-Security-like header element before wsa:Action, then 8 MB of body that the
    // client is still sending when the Fault comes.
    let big = format!(
        "<wsse:Security xmlns:wsse=\"urn:x\">{}</wsse:Security>",
        "A".repeat(100_000)
    );
    let env = std::fs::read_to_string(fixture("iti18-request.xml"))
        .unwrap()
        .replace("<s:Header>", &format!("<s:Header>{big}"));
    let mut body = env.into_bytes();
    body.extend(std::iter::repeat_n(b' ', 8 << 20));
    let f = dir.join("big.xml");
    std::fs::write(&f, &body).unwrap();
    for chunked in [false, true] {
        let r = curl(post_file(&u, &f, "application/soap+xml", chunked)).await;
        assert_eq!(r.status, 400, "chunked {chunked}: {r:?}");
        assert!(
            r.body.contains("env:Sender") && r.body.contains("4096"),
            "{r:?}"
        );
        assert_eq!(r.header("connection"), Some("close"), "{r:?}");
        assert_eq!(r.code, Some(0), "a clean close, not a reset: {r:?}");
    }
    // Python requests sends the whole body before it reads the answer: it must still get
    // the Fault, not a reset.
    if let Some(py) = python() {
        for chunked in [false, true] {
            let mut args = vec![
                "post",
                &u,
                "--kind",
                "iti18",
                "--pad-header",
                "100000",
                "--size",
                "8000000",
            ];
            if chunked {
                args.push("--chunked");
            }
            let r = py_client(&py, &args).await;
            assert_eq!(r["status"], 400, "{r}");
            assert!(r["body"].as_str().unwrap().contains("env:Sender"), "{r}");
        }
    }
    // The same header within budget is routed.
    let rt2 = start(&config(&b, "max_request_bytes = 200000")).await;
    let r = curl(post_file(
        &url(listen(&rt2, "xds"), "/x"),
        &f,
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = b.log.wait_for(1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].len, body.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsdl_get_goes_to_the_default_pool() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    let rt = start(&config(&b, "")).await;
    let r = curl(vec![url(listen(&rt, "xds"), "/xds/registry?wsdl")]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("wsdl:definitions"), "{r:?}");
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");
    let seen = b.log.wait_for(1).await;
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/xds/registry?wsdl")
    );
    // Other non-POST methods too, even with a Content-Type naming a routed action.
    let r = curl(vec![
        s("-X"),
        s("PUT"),
        s("-H"),
        format!("Content-Type: application/soap+xml; action=\"{ITI43}\""),
        s("--data-binary"),
        s("x"),
        url(listen(&rt, "xds"), "/p"),
    ])
    .await;
    assert!(r.header("x-backend").unwrap().starts_with("reg"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_receiver_fault_after_server_timeout() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    for r in b.reg.iter() {
        r.set_mode(Mode::Hang);
    }
    let rt = start(&config(&b, "server_timeout = \"1s\"")).await;
    let t = Instant::now();
    let r = curl(post_file(
        &url(listen(&rt, "xds"), "/x"),
        &fixture("iti18-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 504, "{r:?}");
    assert!(
        r.body.contains("env:Receiver") && r.body.contains("no response"),
        "{r:?}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    // The repository still answers on the same service.
    let r = curl(post_file(
        &url(listen(&rt, "xds"), "/x"),
        &fixture("iti43-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_waited_for_beyond_client_timeout() {
    let Some(()) = curl_ok() else { return };
    let b = Backends::start().await;
    for r in b.reg.iter() {
        r.set_mode(Mode::Slow);
    }
    // The client is silent while the server thinks: that is not client idleness.
    let rt = start(&config(
        &b,
        "client_timeout = \"500ms\"\nserver_timeout = \"5s\"",
    ))
    .await;
    let t = Instant::now();
    let r = curl(post_file(
        &url(listen(&rt, "xds"), "/x"),
        &fixture("iti18-request.xml"),
        "application/soap+xml",
        false,
    ))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
}

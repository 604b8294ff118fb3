//! The admin API: status JSON shape, state changes with real traffic (drain keeps existing
//! clients, halt moves new ones to the others / the fallback), errors, bearer-token auth,
//! reload through the API, the admin server's lifetime. Metrics: `admin_metrics.rs`.

mod admin_util;

use admin_util::{tagger, tags, two_server_config, wait_until, Client, Gw, STEP};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hyper::Method;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;
use triage::admin::{router, AdminState};

/// Sends one request through the Router (no socket) and returns status, headers and body.
async fn oneshot(
    gw: &Gw,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let req = req.body(Body::from(body.to_string())).expect("request");
    let resp = router(AdminState::new(&gw.rt))
        .oneshot(req)
        .await
        .expect("router answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

async fn three_backends() -> (
    std::net::SocketAddr,
    std::net::SocketAddr,
    std::net::SocketAddr,
) {
    (tagger("A").await, tagger("B").await, tagger("F").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_has_the_spec_shape() {
    let (a, b, f) = three_backends().await;
    let gw = Gw::start("shape", &two_server_config(a, b, f, "")).await;
    let (code, headers, body) = oneshot(&gw, "GET", "/api/v1/status", None, "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("application/json"));
    let st = json_of(&body);
    let svc = &st["services"][0];
    assert_eq!(svc["name"], "svc");
    assert_eq!(svc["protocol"], "tcp");
    assert_eq!(svc["pool"], "p");
    assert_eq!(svc["connections"], 0);
    assert_eq!(svc["listen"][0], gw.listen("svc").to_string());
    let pool = &st["pools"][0];
    assert_eq!(pool["name"], "p");
    assert_eq!(pool["balance"], "roundrobin");
    let servers = pool["servers"].as_array().expect("servers array");
    assert_eq!(servers.len(), 2);
    for (s, (name, addr)) in servers.iter().zip([("a", a), ("b", b)]) {
        assert_eq!(s["name"], name);
        assert_eq!(s["address"], addr.to_string());
        assert_eq!(s["state"], "online");
        assert_eq!(s["healthy"], true);
        assert_eq!(s["weight"], 100);
        assert_eq!(s["active"], 0);
        assert_eq!(s["total"], 0);
        // Health kind "none": no check has run.
        assert!(s.get("last_check").is_some_and(Value::is_null), "{s}");
        assert!(s["since_flip_s"].is_u64());
    }
    assert_eq!(pool["fallback"]["address"], f.to_string());

    // Over a real socket, with a health check that has run: last_check is filled in.
    let toml = two_server_config(a, b, f, "").replace(
        r#"health = { kind = "none" }"#,
        r#"health = { kind = "connect", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }"#,
    );
    let gw = Gw::start("shape-check", &toml).await;
    wait_until("a health check result", STEP, || async {
        !gw.status(None).await["pools"][0]["servers"][0]["last_check"].is_null()
    })
    .await;
    let st = gw.status(None).await;
    let check = &st["pools"][0]["servers"][0]["last_check"];
    assert_eq!(check["ok"], true, "{check}");
    assert!(check["detail"].is_string(), "{check}");
    assert!(check["rtt_ms"].is_number(), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_keeps_existing_clients_and_halt_moves_new_ones() {
    let (a, b, f) = three_backends().await;
    let gw = Gw::start("states", &two_server_config(a, b, f, "")).await;
    let addr = gw.listen("svc");

    // A persistent client on some server X.
    let mut kept = Client::connect(addr).await;
    let (x, y) = if kept.tag == "A" {
        ("a", "b")
    } else {
        ("b", "a")
    };
    let (xt, yt) = (x.to_uppercase(), y.to_uppercase());

    // Drain X: new clients all go to Y, the existing one keeps working on X.
    let r = gw.set_state("p", x, "drain").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json().expect("JSON");
    assert_eq!(v["previous"], "online");
    assert_eq!(v["server"]["state"], "drain");
    assert_eq!(v["server"]["name"], x);
    assert_eq!(tags(addr, 4).await, vec![yt.clone(); 4]);
    assert_eq!(kept.echo("still here").await, format!("{xt}:still here"));
    let st = gw.status(None).await;
    let srv = |st: &Value, n: &str| -> Value {
        st["pools"][0]["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == n).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(srv(&st, x)["state"], "drain");
    assert_eq!(
        srv(&st, x)["active"],
        1,
        "the kept client still counts on X"
    );

    // Online X again, halt Y: new clients go to X only.
    assert_eq!(gw.set_state("p", x, "online").await.status, 200);
    assert_eq!(gw.set_state("p", y, "halt").await.status, 200);
    assert_eq!(tags(addr, 4).await, vec![xt.clone(); 4]);

    // Halt both: traffic goes to the fallback.
    assert_eq!(gw.set_state("p", x, "halt").await.status, 200);
    assert_eq!(tags(addr, 3).await, vec!["F".to_string(); 3]);

    // Online again: back to the servers.
    assert_eq!(gw.set_state("p", y, "online").await.status, 200);
    assert_eq!(tags(addr, 2).await, vec![yt; 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_change_errors_are_json() {
    let (a, b, f) = three_backends().await;
    let gw = Gw::start("errors", &two_server_config(a, b, f, "")).await;
    let put = |pool: &str, server: &str| format!("/api/v1/pools/{pool}/servers/{server}/state");
    let good = r#"{"state":"drain"}"#;

    let (code, _, body) = oneshot(&gw, "PUT", &put("nope", "a"), None, good).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(json_of(&body)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("nope"));

    let (code, _, body) = oneshot(&gw, "PUT", &put("p", "zz"), None, good).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(json_of(&body)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("zz"));

    for bad in [r#"{"state":"sleep"}"#, "not json", r#"{"other":1}"#, ""] {
        let (code, _, body) = oneshot(&gw, "PUT", &put("p", "a"), None, bad).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(json_of(&body)["error"].is_string(), "{body}");
    }
    assert_eq!(
        gw.status(None).await["pools"][0]["servers"][0]["state"],
        "online"
    );

    let (code, _, body) = oneshot(&gw, "GET", "/api/v1/nothing", None, "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(json_of(&body)["error"].is_string());
    let (code, _, body) = oneshot(&gw, "GET", "/healthz", None, "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "ok\n"));

    // A runtime without a config file (the embedded default) has nothing to reload.
    let config = triage::Config::load(&gw.file).expect("config");
    let rt = triage::Runtime::start(config, None).await.expect("start");
    let no_file = Gw {
        rt,
        file: gw.file.clone(),
    };
    let (code, _, body) = oneshot(&no_file, "POST", "/api/v1/reload", None, "").await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(json_of(&body)["errors"][0].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_guards_the_api_and_metrics() {
    let (a, b, f) = three_backends().await;
    let gw = Gw::start("auth", &two_server_config(a, b, f, r#"token = "s3cret""#)).await;
    let put = "/api/v1/pools/p/servers/a/state";
    let drain = r#"{"state":"drain"}"#;
    for (method, path, body) in [
        ("GET", "/api/v1/status", ""),
        ("GET", "/api/v1/overview", ""),
        ("PUT", put, drain),
        ("POST", "/api/v1/reload", ""),
        ("GET", "/metrics", ""),
        ("GET", "/api/v1/unknown", ""),
    ] {
        for token in [None, Some("wrong"), Some("s3cret2"), Some("")] {
            let (code, headers, text) = oneshot(&gw, method, path, token, body).await;
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{method} {path} {token:?}");
            assert!(headers.contains_key("www-authenticate"));
            let v = json_of(&text);
            assert_eq!(v["error"], "unauthorized");
            assert!(
                v["detail"].as_str().unwrap_or_default().contains("Bearer"),
                "{v}"
            );
        }
    }
    // Nothing changed through the refused PUTs.
    let st = gw.status(Some("s3cret")).await;
    assert_eq!(st["pools"][0]["servers"][0]["state"], "online");

    // The right token works, through the Router and over the socket.
    let (code, _, _) = oneshot(&gw, "GET", "/api/v1/status", Some("s3cret"), "").await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, _) = oneshot(&gw, "PUT", put, Some("s3cret"), drain).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, text) = oneshot(&gw, "GET", "/metrics", Some("s3cret"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("triage_server_up"));
    let r = gw.call(Method::GET, "/api/v1/status", None, None).await;
    assert_eq!(r.status, 401);
    let r = gw
        .call(Method::GET, "/api/v1/status", Some("s3cret"), None)
        .await;
    assert_eq!(r.status, 200);

    // Open: health, the page shell (without data) and its assets.
    let (code, _, _) = oneshot(&gw, "GET", "/healthz", None, "").await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, page) = oneshot(&gw, "GET", "/", None, "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("data-auth=\"token\""));
    assert!(
        !page.contains(&a.to_string()),
        "the shell must not show server data"
    );
    let (code, _, js) = oneshot(&gw, "GET", "/assets/overview.js", None, "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(js.contains("api/v1/status"));
    // The table itself comes with the token.
    let (code, _, table) = oneshot(&gw, "GET", "/api/v1/overview", Some("s3cret"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(table.contains(&a.to_string()) && table.contains("data-server=\"b\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_through_the_api_reports_errors_and_keeps_the_old_config() {
    let (a, b, f) = three_backends().await;
    let good = two_server_config(a, b, f, "");
    let gw = Gw::start("reload", &good).await;
    let admin_before = gw.rt.admin_addr();
    let addr = gw.listen("svc");

    // A broken file: 422 with FILE:LINE:COL errors; the old config keeps serving.
    let broken = good
        .replace(
            r#"balance = "roundrobin""#,
            "balance = \"roundrobin\"\nbogus_key = 1",
        )
        .replace(r#"name = "b""#, r#"name = "a""#);
    std::fs::write(&gw.file, &broken).expect("write");
    let r = gw.call(Method::POST, "/api/v1/reload", None, None).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json().expect("JSON");
    let errors = v["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty());
    let file = gw.file.display().to_string();
    for e in errors {
        let e = e.as_str().unwrap_or_default();
        let rest = e
            .strip_prefix(&format!("{file}:"))
            .unwrap_or_else(|| panic!("{e}"));
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().and_then(|l| l.parse::<u32>().ok());
        let col = parts.next().and_then(|c| c.parse::<u32>().ok());
        assert!(
            line.is_some() && col.is_some(),
            "FILE:LINE:COL expected: {e}"
        );
    }
    let c = Client::connect(addr).await;
    assert!(c.tag == "A" || c.tag == "B");
    let st = gw.status(None).await;
    assert_eq!(st["pools"][0]["servers"].as_array().map(Vec::len), Some(2));

    // A good file: applied, the admin server kept on the same address.
    let c_addr = tagger("C").await;
    let three = format!("{good}\n  [[pool.server]]\n  name = \"c\"\n  address = \"{c_addr}\"\n");
    std::fs::write(&gw.file, three).expect("write");
    let r = gw.call(Method::POST, "/api/v1/reload", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().expect("JSON")["reloaded"], true);
    assert_eq!(gw.rt.admin_addr(), admin_before);
    let st = gw.status(None).await;
    assert_eq!(st["pools"][0]["servers"][2]["name"], "c");
    let mut seen = tags(addr, 6).await;
    seen.sort();
    seen.dedup();
    assert_eq!(seen, vec!["A", "B", "C"]);

    // A new [admin] listen: the answer still arrives from the old server, which then closes;
    // the new address serves.
    let old_admin = admin_before.expect("admin addr");
    let port = admin_util::unused_port();
    let moved = good.replacen(
        r#"listen = "127.0.0.1:0""#,
        &format!(r#"listen = "127.0.0.1:{port}""#),
        1,
    );
    std::fs::write(&gw.file, moved).expect("write");
    let r = gw.call(Method::POST, "/api/v1/reload", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.rt.admin_addr().map(|a| a.port()), Some(port));
    assert_eq!(
        gw.status(None).await["pools"][0]["servers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    wait_until("the old admin port to close", STEP, || async {
        tokio::net::TcpStream::connect(old_admin).await.is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_server_stops_with_the_runtime() {
    let (a, b, f) = three_backends().await;
    let gw = Gw::start("stop", &two_server_config(a, b, f, "")).await;
    let admin = gw.rt.admin_addr().expect("admin addr");
    let r = gw.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, 200);
    gw.rt.shutdown().await;
    wait_until(
        "the admin port to close",
        Duration::from_secs(5),
        || async { tokio::net::TcpStream::connect(admin).await.is_err() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_admin_needs_a_token_or_insecure() {
    let (a, b, f) = three_backends().await;
    let base = two_server_config(a, b, f, "");
    let open = base.replace(r#"listen = "127.0.0.1:0""#, r#"listen = "0.0.0.0:0""#);
    // The admin listen is the first `listen = "127.0.0.1:0"` of the file.
    assert!(
        open.starts_with("[admin]\nlisten = \"0.0.0.0:0\""),
        "{open}"
    );
    let e = triage::Config::parse("t.toml", &open)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("not loopback"), "{e}");
    let insecure = open.replacen("[admin]\n", "[admin]\ninsecure = true\n", 1);
    assert!(triage::Config::parse("t.toml", &insecure).is_ok());
    let with_token = open.replacen("[admin]\n", "[admin]\ntoken = \"x\"\n", 1);
    let mut config = triage::Config::parse("t.toml", &with_token).expect("valid with a token");

    // A config built in code without the token is refused at start, before binding.
    if let Some(admin) = config.admin.as_mut() {
        admin.token = None;
    }
    let e = triage::Runtime::start(config, None)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("not loopback"), "{e}");
}

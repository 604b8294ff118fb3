//! `triage status` and `triage server` through the real binary against a running gateway,
//! with and without a token; and `triage run` starting the admin API from a config file.

mod admin_util;

use admin_util::{tagger, two_server_config, Gw, STEP};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_triage");

/// Runs the binary off the async runtime and returns its output.
async fn triage(args: &[&str], env_token: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env_token = env_token.map(String::from);
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(BIN);
        c.args(&args).env_remove("TRIAGE_TOKEN");
        if let Some(t) = env_token {
            c.env("TRIAGE_TOKEN", t);
        }
        c.output().expect("run triage")
    })
    .await
    .expect("join")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_an_aligned_overview_and_server_changes_state() {
    let (a, b, f) = (tagger("A").await, tagger("B").await, tagger("F").await);
    let gw = Gw::start("cli", &two_server_config(a, b, f, "")).await;
    let url = gw.admin();

    let o = triage(&["status", "--admin", &url], None).await;
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("SERVICE") && lines[0].contains("PROTOCOL"),
        "{text}"
    );
    let svc = lines
        .iter()
        .find(|l| l.starts_with("svc "))
        .expect("service row");
    assert!(
        svc.contains("tcp") && svc.contains(&gw.listen("svc").to_string()),
        "{svc}"
    );
    // Server table: the header's columns line up with the rows.
    let head = lines
        .iter()
        .find(|l| l.starts_with("POOL"))
        .expect("server header");
    let state_col = head.find("STATE").expect("STATE column");
    let health_col = head.find("HEALTH").expect("HEALTH column");
    for (name, addr) in [("a", a), ("b", b)] {
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("row for {name}:\n{text}"));
        assert!(row.starts_with("p "), "{row}");
        assert!(row.contains(&addr.to_string()), "{row}");
        assert_eq!(row.get(state_col..state_col + 6), Some("online"), "{text}");
        assert_eq!(row.get(health_col..health_col + 2), Some("UP"), "{text}");
        assert!(row.contains("not checked yet"), "{row}");
    }
    assert!(lines
        .iter()
        .any(|l| l.contains("(fallback)") && l.contains(&f.to_string())));

    // triage server: changes the state, prints the transition.
    let o = triage(&["server", "p", "a", "drain", "--admin", &url], None).await;
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("p/a: online -> drain"), "{}", out(&o));
    assert_eq!(
        gw.status(None).await["pools"][0]["servers"][0]["state"],
        "drain"
    );
    let o = triage(&["status", "--admin", &url], None).await;
    let row = out(&o)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("a"))
        .map(String::from)
        .unwrap_or_default();
    assert_eq!(row.get(state_col..state_col + 5), Some("drain"), "{row}");

    // Errors: unknown server (exit 1, the API's message), bad state (clap), no gateway.
    let o = triage(&["server", "p", "nope", "halt", "--admin", &url], None).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no server \"nope\""), "{}", err(&o));
    let o = triage(&["server", "p", "a", "sleep", "--admin", &url], None).await;
    assert!(!o.status.success());
    let o = triage(&["status", "--admin", "http://127.0.0.1:1"], None).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cannot reach"), "{}", err(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_flag_or_environment() {
    let (a, b, f) = (tagger("A").await, tagger("B").await, tagger("F").await);
    let gw = Gw::start("cli-token", &two_server_config(a, b, f, r#"token = "t0k""#)).await;
    let url = gw.admin();

    let o = triage(&["status", "--admin", &url], None).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("401") && err(&o).contains("unauthorized"),
        "{}",
        err(&o)
    );
    let o = triage(&["status", "--admin", &url, "--token", "bad"], None).await;
    assert_eq!(o.status.code(), Some(1));

    let o = triage(&["status", "--admin", &url, "--token", "t0k"], None).await;
    assert!(o.status.success(), "{}", err(&o));
    let o = triage(&["status", "--admin", &url], Some("t0k")).await;
    assert!(o.status.success(), "{}", err(&o));
    let o = triage(&["server", "p", "b", "halt", "--admin", &url], Some("t0k")).await;
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        gw.status(Some("t0k")).await["pools"][0]["servers"][1]["state"],
        "halt"
    );
}

/// Strips ANSI colour sequences from a log line.
fn plain(s: &str) -> String {
    let mut o = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            o.push(c);
        }
    }
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_run_serves_the_admin_api() {
    let (a, b, f) = (tagger("A").await, tagger("B").await, tagger("F").await);
    let dir = admin_util::temp_dir("cli-run");
    let file = dir.join("triage.toml");
    std::fs::write(&file, two_server_config(a, b, f, "")).expect("write");
    let mut child = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn triage run");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let line = plain(&line);
            if line.contains("admin API listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("listen="))
                    .map(String::from);
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(STEP).ok().flatten();
    let result = async {
        let addr = addr.ok_or("no 'admin API listening listen=ADDR' log line")?;
        let url = format!("http://{addr}");
        let deadline = Instant::now() + STEP;
        loop {
            let o = triage(&["status", "--admin", &url], None).await;
            if o.status.success() {
                let text = out(&o);
                return if text.contains(&a.to_string()) && text.contains(&b.to_string()) {
                    Ok(())
                } else {
                    Err(format!("unexpected status:\n{text}"))
                };
            }
            if Instant::now() > deadline {
                return Err(err(&o));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        panic!("{e}");
    }
}

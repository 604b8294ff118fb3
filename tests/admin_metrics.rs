//! Prometheus metrics: scrape `/metrics` after traffic and check that the connection, byte,
//! server and health-check series moved, and that the protocol families are exposed once the
//! protocol handlers count something.

mod admin_util;

use admin_util::{tagger, two_server_config, wait_until, Client, Gw, STEP};
use hyper::Method;

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_traffic() {
    let (a, b, f) = (tagger("A").await, tagger("B").await, tagger("F").await);
    let toml = two_server_config(a, b, f, "").replace(
        r#"health = { kind = "none" }"#,
        r#"health = { kind = "connect", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }"#,
    );
    let gw = Gw::start("metrics", &toml).await;
    let scrape = || async {
        let r = gw.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.content_type.contains("openmetrics-text"),
            "{}",
            r.content_type
        );
        r.text()
    };
    let before = scrape().await;
    assert_eq!(
        sample(&before, r#"triage_connections_total{service="svc"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&before, r#"triage_server_up{pool="p",server="a"}"#),
        Some(1.0)
    );

    let mut open = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(gw.listen("svc")).await;
        c.echo(&format!("hello {i}")).await;
        open.push(c);
    }
    let text = scrape().await;
    assert_eq!(
        sample(&text, r#"triage_connections_total{service="svc"}"#),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, r#"triage_connections_active{service="svc"}"#),
        Some(3.0)
    );
    // Bytes are counted just after they are written: wait for the last echo's count.
    // Per client: "hello N\n" (8) up; "A\n" + "A:hello N\n" (12) down.
    wait_until("byte counters", STEP, || async {
        let t = scrape().await;
        let up = sample(
            &t,
            r#"triage_bytes_total{service="svc",direction="to_server"}"#,
        );
        let down = sample(
            &t,
            r#"triage_bytes_total{service="svc",direction="to_client"}"#,
        );
        up == Some(24.0) && down == Some(36.0)
    })
    .await;
    let per_server: f64 = ["a", "b"]
        .iter()
        .filter_map(|s| {
            let series = format!(r#"triage_server_connections_active{{pool="p",server="{s}"}}"#);
            sample(&text, &series)
        })
        .sum();
    assert_eq!(per_server, 3.0);
    drop(open);

    // Health check durations.
    wait_until("health histogram samples", STEP, || async {
        let t = scrape().await;
        sample(
            &t,
            r#"triage_health_check_duration_seconds_count{pool="p",server="a"}"#,
        )
        .is_some_and(|n| n >= 2.0)
    })
    .await;

    // Protocol families: registered centrally, incremented by the protocol handlers.
    let m = triage::metrics::global();
    m.dicom_associations
        .get_or_create(&triage::metrics::DicomLabels {
            service: "svc".into(),
            called_ae: "ARCHIVE".into(),
            result: "accepted".into(),
        })
        .inc();
    m.hl7_messages
        .get_or_create(&triage::metrics::Hl7Labels {
            service: "svc".into(),
            message_type: "ADT^A01".into(),
            ack: "AA".into(),
        })
        .inc();
    m.xds_requests
        .get_or_create(&triage::metrics::XdsLabels {
            service: "svc".into(),
            action: "urn:ihe:iti:2007:RetrieveDocumentSet".into(),
            status: "200".into(),
        })
        .inc();
    let text = scrape().await;
    for series in [
        r#"triage_dicom_associations_total{service="svc",called_ae="ARCHIVE",result="accepted"}"#,
        r#"triage_hl7_messages_total{service="svc",message_type="ADT^A01",ack="AA"}"#,
        r#"triage_xds_requests_total{service="svc",action="urn:ihe:iti:2007:RetrieveDocumentSet",status="200"}"#,
    ] {
        assert_eq!(sample(&text, series), Some(1.0), "{series}\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

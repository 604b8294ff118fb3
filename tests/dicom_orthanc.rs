//! Called-AE rewrite against a real Orthanc with `DicomCheckCalledAet: true`, which accepts
//! only its own AE title. Through triage, a client calling the routed AE `ARCHIVE` reaches it
//! (echo, store, find) because triage rewrites the called AE to the server's `ae_title` and
//! restores it in the A-ASSOCIATE-AC; the same route to a server without `ae_title` is
//! rejected by Orthanc, and that rejection reaches the client unchanged. The `dicom-echo`
//! health check (called AE = the server's `ae_title`) finds Orthanc up.

mod dicom_support;
mod support;

use dicom_support::*;
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;

const STUDY_UID: &str = "2.25.314159265358979323846264338327950288";

#[tokio::test]
async fn ae_rewrite_lets_clients_reach_a_strict_orthanc() {
    let orthanc = Orthanc::start("ORTHANC").await;
    // The premise: Orthanc itself refuses any called AE but its own.
    echoscu(orthanc.dicom, "ARCHIVE").await.expect_fail(
        "echoscu ARCHIVE → Orthanc directly",
        "Called AE Title Not Recognized",
    );
    echoscu(orthanc.dicom, "ORTHANC")
        .await
        .expect_echo_ok("echoscu ORTHANC → Orthanc directly");

    let toml = render(
        r#"
[[service]]
name = "orthanc-gw"
listen = ["127.0.0.1:0"]
protocol = "dicom"

  [[service.route]]
  called_ae = "ARCHIVE"
  pool = "vna"

  [[service.route]]
  called_ae = "NOREWRITE"
  pool = "raw"

[[pool]]
name = "vna"
health = { kind = "dicom-echo", interval = "200ms", timeout = "5s", rise = 1, fall = 1, calling_ae = "TRIAGE" }
  [[pool.server]]
  name = "orthanc"
  address = "{addr}"
  ae_title = "ORTHANC"

[[pool]]
name = "raw"
health = { kind = "none" }
  [[pool.server]]
  name = "orthanc-raw"
  address = "{addr}"
"#,
        &[("addr", orthanc.dicom.to_string())],
    );
    let rt = start(&toml).await;
    let gw = listen(&rt, "orthanc-gw");
    let s = server(&rt, "vna", "orthanc");
    wait_until(
        "the dicom-echo check passed against Orthanc",
        Duration::from_secs(10),
        || {
            s.last_check()
                .is_some_and(|c| c.ok && c.detail.contains("success"))
        },
    )
    .await;

    echoscu(gw, "ARCHIVE")
        .await
        .expect_echo_ok("echoscu ARCHIVE via triage");
    let tmp = TempDir::new("dicom-orthanc");
    let f = dicom_file(tmp.path(), 41, None).await;
    storescu(gw, "ARCHIVE", &[&f])
        .await
        .expect_store_ok("storescu ARCHIVE via triage");
    assert_eq!(
        orthanc.instances().await,
        1,
        "the image is in Orthanc\n{}",
        orthanc.log()
    );
    let r = findscu(
        gw,
        "ARCHIVE",
        &["PatientID=TRIAGE-TEST-1", "StudyInstanceUID"],
    )
    .await;
    let r = r.expect_ok("findscu ARCHIVE via triage");
    assert!(
        r.out.contains(STUDY_UID),
        "C-FIND found the stored study:\n{}",
        r.out
    );

    // The AC carries the called AE the client asked for, not Orthanc's (PS3.8 §9.3.3).
    let mut c = tokio::net::TcpStream::connect(gw).await.expect("connect");
    c.write_all(ECHOSCU_RQ).await.expect("send RQ");
    let ac = read_pdu(&mut c).await.expect("an answer");
    assert_eq!(ac[0], 2, "A-ASSOCIATE-AC expected, got {ac:02x?}");
    assert_eq!(
        &ac[10..26],
        b"ARCHIVE         ",
        "called AE restored in the AC"
    );
    c.write_all(&[7, 0, 0, 0, 0, 4, 0, 0, 0, 0])
        .await
        .expect("send A-ABORT");
    drop(c);

    // Without ae_title on the server, Orthanc's rejection reaches the client unchanged.
    let r = echoscu(gw, "NOREWRITE").await;
    r.expect_fail(
        "echoscu NOREWRITE via triage",
        "Called AE Title Not Recognized",
    );
    assert_eq!(associations(&rt, "orthanc-gw", "NOREWRITE", "rejected"), 1);
    assert_eq!(associations(&rt, "orthanc-gw", "ARCHIVE", "accepted"), 4);
}

//! The called-AE rewrite across a redispatch: the first server (with its own `ae_title`) gets
//! the request rewritten to that title and rejects it (rejected-transient); the second (no
//! `ae_title`) must get the called AE exactly as the client sent it, and the client's AC
//! carries its own called AE too (PS3.8 §9.3.3). Two fake SCPs recording the called AE, and
//! dcmtk's echoscu.

mod dicom_support;
mod support;

use dicom_support::*;
use support::*;

const AC: &[u8] = include_bytes!("../fixtures/dicom/storescp_echo_associate_ac.bin");
/// A-ASSOCIATE-RJ rejected-transient (2), service-provider ACSE (2), no reason (1).
const RJ_TRANSIENT: &[u8] = &[3, 0, 0, 0, 0, 4, 0, 2, 2, 1];

#[tokio::test]
async fn the_next_server_gets_the_clients_called_ae() {
    let first_scp = FakeScp::answering(RJ_TRANSIENT.to_vec()).await;
    let second_scp = FakeScp::answering(AC.to_vec()).await;
    let (first, second) = (first_scp.addr, second_scp.addr);
    let toml = render(
        r#"
[[service]]
name = "rw"
listen = ["127.0.0.1:0"]
protocol = "dicom"
pool = "p"

[[pool]]
name = "p"
balance = "first"
health = { kind = "none" }
  [[pool.server]]
  name = "a"
  address = "{first}"
  ae_title = "PACS1"
  [[pool.server]]
  name = "b"
  address = "{second}"
"#,
        &[("first", first.to_string()), ("second", second.to_string())],
    );
    let rt = start(&toml).await;
    let addr = listen(&rt, "rw");
    // echoscu gets the AC (then no C-ECHO answer from the recorder: the echo itself fails).
    let _ = echoscu(addr, "CLIENT-AE").await;
    let f = first_scp.called_aes();
    let s = second_scp.called_aes();
    assert_eq!(f, [b"PACS1           ".to_vec()], "first server's view");
    assert_eq!(s, [b"CLIENT-AE       ".to_vec()], "second server's view");
    assert_eq!(associations(&rt, "rw", "CLIENT-AE", "accepted"), 1);
}

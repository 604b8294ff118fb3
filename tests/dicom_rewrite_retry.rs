//! The called-AE rewrite across a redispatch: the first server (with its own `ae_title`) gets
//! the request rewritten to that title and rejects it (rejected-transient); the second (no
//! `ae_title`) must get the called AE exactly as the client sent it, and the client's AC
//! carries its own called AE too (PS3.8 §9.3.3). Two recording servers and dcmtk's echoscu.

mod dicom_support;
mod support;

use dicom_support::*;
use std::sync::{Arc, Mutex};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const AC: &[u8] = include_bytes!("../fixtures/dicom/storescp_echo_associate_ac.bin");
/// A-ASSOCIATE-RJ rejected-transient (2), service-provider ACSE (2), no reason (1).
const RJ_TRANSIENT: &[u8] = &[3, 0, 0, 0, 0, 4, 0, 2, 2, 1];

/// A server answering every request with `answer`; records each request's called-AE field.
async fn recording(answer: &'static [u8]) -> (std::net::SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let rec = rec.clone();
            tokio::spawn(async move {
                let Some(rq) = read_pdu(&mut s).await else {
                    return;
                };
                rec.lock().unwrap().push(rq[10..26].to_vec());
                let _ = s.write_all(answer).await;
                // Echo requests get no C-ECHO answer here: hold until the client gives up.
                let _ = read_pdu(&mut s).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn the_next_server_gets_the_clients_called_ae() {
    let (first, first_seen) = recording(RJ_TRANSIENT).await;
    let (second, second_seen) = recording(AC).await;
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
    let f = first_seen.lock().unwrap().clone();
    let s = second_seen.lock().unwrap().clone();
    assert_eq!(f, [b"PACS1           ".to_vec()], "first server's view");
    assert_eq!(s, [b"CLIENT-AE       ".to_vec()], "second server's view");
    assert_eq!(associations(&rt, "rw", "CLIENT-AE", "accepted"), 1);
}

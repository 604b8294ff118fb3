//! The association workloads' default backend: a DICOM acceptor that answers each PDU with the
//! answer dcmtk `storescp` gave to the same request (captured in `fixtures/dicom/`, PS3.8 §9.3):
//! A-ASSOCIATE-RQ → its A-ASSOCIATE-AC (the 1-context or the 128-context one, by the
//! request's size), P-DATA-TF (the C-ECHO-RQ) → the C-ECHO-RSP with status success,
//! A-RELEASE-RQ → A-RELEASE-RP, after which it closes, as the simulator does. Anything else
//! closes the connection.
//! PDUs are cut out of one buffer (one read per segment), not read with the client's
//! `read_pdu` (a header read, then a body read), to keep the backend cheap.
//!
//! Why not the triage DICOM simulator (`--simulator` still uses it): client and backend share
//! the harness's core, and the simulator's full `dicom-ul` association (every proposed context
//! parsed into strings) and command data-set parse kept that core busier than the proxy's
//! (association rate × harness CPU per association: 92–98% of it, at 106–114 µs per C-ECHO
//! association), so the association rate measured the load generator more than the proxy.
//! The canned answers cost the harness 76–85 µs (88–94% of its core), and the proxy in the
//! middle is the busier side (95–99%).

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const ECHO_AC: &[u8] = include_bytes!("../../fixtures/dicom/storescp_echo_associate_ac.bin");
const STORE_AC: &[u8] = include_bytes!("../../fixtures/dicom/storescp_store_associate_ac.bin");
const ECHO_RSP: &[u8] = include_bytes!("../../fixtures/dicom/storescp_echo_rsp_pdata.bin");
const RELEASE_RP: &[u8] = include_bytes!("../../fixtures/dicom/storescp_release_rp.bin");
/// A request longer than this proposed many contexts (echoscu's is 211 bytes, storescu's 9615).
const SMALL_RQ: usize = 1024;
/// Longest PDU accepted (the requests replayed are at most 9.6 KiB).
const MAX_PDU: usize = 64 * 1024;

/// Starts the backend on 127.0.0.1 (on the current runtime) until `stop`.
pub async fn start(stop: CancellationToken) -> io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                a = l.accept() => {
                    if let Ok((s, _)) = a {
                        let _ = s.set_nodelay(true);
                        tokio::spawn(session(s));
                    }
                }
            }
        }
    });
    Ok(addr)
}

/// The canned answer to one whole PDU, `None` to close instead; the flag says "close after".
fn answer(pdu: &[u8]) -> Option<(&'static [u8], bool)> {
    match pdu.first()? {
        0x01 if pdu.len() > SMALL_RQ => Some((STORE_AC, false)),
        0x01 => Some((ECHO_AC, false)),
        0x04 => Some((ECHO_RSP, false)),
        0x05 => Some((RELEASE_RP, true)),
        _ => None,
    }
}

async fn session(mut s: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        while let Some(head) = buf.get(..6) {
            let len = 6 + u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
            if len > MAX_PDU {
                return;
            }
            if buf.len() < len {
                break;
            }
            let Some((reply, last)) = answer(&buf[..len]) else {
                return;
            };
            buf.drain(..len);
            if s.write_all(reply).await.is_err() || last {
                return;
            }
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

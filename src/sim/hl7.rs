//! The HL7 simulator: an MLLP responder that acknowledges every message with AA (AR for an
//! unreadable header), like an interface engine that accepts everything (HL7 v2.5.1 ch. 2
//! §2.9.2 original-mode acknowledgement, MSA-2 = the message's MSH-10).

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage_hl7::{AckCode, MllpDecoder, MllpFrame};

pub async fn session(mut s: TcpStream) {
    let mut dec = MllpDecoder::new(triage_hl7::DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::with_capacity(4096);
    let mut n: u64 = 0;
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(item)) => {
                let MllpFrame::Message(p) = item.frame else {
                    continue;
                };
                n += 1;
                let ack = match triage_hl7::parse_msh(&p) {
                    Ok(msh) => triage_hl7::build_ack(&msh, AckCode::AA, &format!("SIM{n}"), None),
                    Err(e) => triage_hl7::build_nak_without_msh(
                        AckCode::AR,
                        &e.to_string(),
                        &format!("SIM{n}"),
                    ),
                };
                let mut out = BytesMut::new();
                triage_hl7::encode(&ack, &mut out);
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                buf.reserve(4096);
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
            Err(_) => continue,
        }
    }
}

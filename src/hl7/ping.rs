//! One HL7 test message over MLLP that must be acknowledged: MSA-1 AA/CA with MSA-2 equal to
//! the control id sent (HL7 v2.5.1 ch. 2 §2.9.2, §2.9.3, §2.14.8 MSA; table 0008). Used by the
//! `hl7-ack` health check and `triage hl7-ping`.

use super::conn::MllpConn;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use triage_hl7::AckCode;

/// Control ids of test messages start with this, so interface engines can filter them.
pub const CONTROL_ID_PREFIX: &str = "TRIAGE-PING-";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingOutcome {
    pub ok: bool,
    /// MSA-1 if an ACK came back.
    pub code: Option<String>,
    pub detail: String,
    pub rtt: Duration,
}

/// Sends `message` (or the built-in QRY^A19 test query when `None`; its MSH-10 is a
/// fresh `TRIAGE-PING-` control id; a configured message keeps its own) and judges the ACK.
pub async fn ping(addr: SocketAddr, message: Option<&str>, timeout: Duration) -> PingOutcome {
    let start = Instant::now();
    let control_id = format!("{CONTROL_ID_PREFIX}{:08X}", rand::random::<u32>());
    let payload: Vec<u8> = match message {
        Some(m) => m.replace("\r\n", "\r").replace('\n', "\r").into_bytes(),
        None => triage_hl7::build_test_message(&control_id, "2.5.1"),
    };
    let expect_id = match message {
        Some(_) => triage_hl7::parse_msh(&payload)
            .map(|m| m.control_id)
            .unwrap_or_default(),
        None => control_id,
    };
    let fail = |detail: String, code: Option<String>| PingOutcome {
        ok: false,
        code,
        detail,
        rtt: start.elapsed(),
    };
    let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return fail("connection refused".into(), None)
        }
        Ok(Err(e)) => return fail(format!("connect failed: {e}"), None),
        Err(_) => return fail("timeout".into(), None),
    };
    let _ = stream.set_nodelay(true);
    let mut conn = MllpConn::new(stream, triage_hl7::DEFAULT_MAX_FRAME);
    let left = timeout.saturating_sub(start.elapsed());
    let ack = match conn.exchange(&payload, left).await {
        Ok(a) => a,
        Err(e) => return fail(e.to_string(), None),
    };
    let rtt = start.elapsed();
    match triage_hl7::parse_ack(&ack) {
        Ok((_, msa)) => {
            let code = msa.code.as_str().to_string();
            if msa.control_id != expect_id {
                return fail(
                    format!(
                        "MSA-2 {:?} does not match MSH-10 {:?}",
                        msa.control_id, expect_id
                    ),
                    Some(code),
                );
            }
            let ok = matches!(msa.code, AckCode::AA | AckCode::CA);
            let detail = if ok {
                format!("ACK {code} in {} ms", rtt.as_millis())
            } else {
                format!(
                    "NAK {code}{}",
                    msa.text
                        .as_deref()
                        .map(|t| format!(": {t}"))
                        .unwrap_or_default()
                )
            };
            PingOutcome {
                ok,
                code: Some(code),
                detail,
                rtt,
            }
        }
        Err(e) => fail(format!("unreadable ACK: {e}"), None),
    }
}

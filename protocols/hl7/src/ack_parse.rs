//! Reading an acknowledgement returned by a backend: the MSH (HL7 v2.5.1
//! §2.14.9) and the first MSA segment (§2.14.8: MSA-1 acknowledgment code,
//! table 0008; MSA-2 message control ID; MSA-3 text message).
//!
//! The MSA is split by hand rather than with `hl7-parser`: it is three flat
//! fields, and `hl7-parser` would require the whole segment to be UTF-8 and
//! stops silently at the first bad segment of a message. MSA-3 text that is
//! not UTF-8 (e.g. an ISO 8859-1 backend) is read lossily, as it is only
//! logged. Any response structure carrying an MSA works (ACK, ADR^A19, ...).

use crate::ack::AckCode;
use crate::delims::show;
use crate::msh::{msh_line, parse_msh_lenient, Msh, MshError};
use crate::segments::{fields, segments};

/// The MSA segment of an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msa {
    /// MSA-1 acknowledgment code.
    pub code: AckCode,
    /// MSA-2: the MSH-10 of the message being acknowledged (raw).
    pub control_id: String,
    /// MSA-3 text message (raw), `None` when empty.
    pub text: Option<String>,
}

/// Read the header and MSA of an acknowledgement. Empty MSH fields are
/// accepted (a backend ACK is judged by its MSA); the MSA must be present and
/// MSA-1 must be a table 0008 code.
pub fn parse_ack(payload: &[u8]) -> Result<(Msh, Msa), MshError> {
    let msh = parse_msh_lenient(payload)?;
    let msa = msa(payload, msh.field_sep)?;
    Ok((msh, msa))
}

/// Like [`parse_ack`] (same checks of the header, same errors) but returns only the MSA,
/// without copying the header fields out: what the gateway needs for every ACK it relays.
pub fn parse_msa(payload: &[u8]) -> Result<Msa, MshError> {
    let (_, d, _) = msh_line(payload)?;
    msa(payload, d.field)
}

/// The first MSA segment of `payload`, whose fields are separated by `field_sep`.
fn msa(payload: &[u8], field_sep: u8) -> Result<Msa, MshError> {
    let seg = segments(payload)
        .find(|s| {
            s.strip_prefix(b"MSA")
                .is_some_and(|r| r.is_empty() || r[0] == field_sep)
        })
        .ok_or(MshError::MissingMsa)?;
    let mut f = fields(seg, field_sep).skip(1);
    let raw_code = f.next().unwrap_or_default();
    let code = std::str::from_utf8(raw_code)
        .ok()
        .and_then(|s| s.parse::<AckCode>().ok())
        .ok_or_else(|| MshError::BadAckCode {
            found: show(&raw_code[..raw_code.len().min(16)]),
        })?;
    let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let control_id = text(f.next());
    let msg = text(f.next());
    Ok(Msa {
        code,
        control_id,
        text: Some(msg).filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_msa() {
        let (msh, msa) =
            parse_ack(b"MSH|^~\\&|B|F|A|G|1||ACK^A01^ACK|9|P|2.5.1\rMSA|AE|42|oops\r").unwrap();
        assert_eq!(msh.message_type, "ACK");
        assert_eq!(msa.code, AckCode::AE);
        assert_eq!(msa.control_id, "42");
        assert_eq!(msa.text.as_deref(), Some("oops"));
    }

    #[test]
    fn parse_msa_agrees_with_parse_ack() {
        for p in [
            &b"MSH|^~\\&|B|F|A|G|1||ACK^A01^ACK|9|P|2.5.1\rMSA|AA|42\r"[..],
            b"MSH#$*!%#B\nMSAX|1\nMSA#CA#7#fine\n",
            b"MSH|^~\\&|B|F\rPID|1\r",
            b"MSH|^~\\&|B|F\rMSA|XX|1\r",
            b"MSH|^~\\&|\xff|F\rMSA|AA|1\r",
            b"MSH|^~|\rMSA|AA|1\r",
            b"PID|1\rMSA|AA|1\r",
            b"MSH|^~\\&\rMSA\r",
        ] {
            assert_eq!(
                parse_msa(p),
                parse_ack(p).map(|(_, msa)| msa),
                "{}",
                p.escape_ascii()
            );
        }
        assert_eq!(
            parse_msa(b"MSH#$*!%#B\nMSAX|1\nMSA#CA#7#fine\n")
                .unwrap()
                .control_id,
            "7"
        );
    }

    #[test]
    fn errors() {
        let e = parse_ack(b"MSH|^~\\&|B|F\rPID|1\r").unwrap_err();
        assert_eq!(e, MshError::MissingMsa);
        let e = parse_ack(b"MSH|^~\\&|B|F\rMSA|XX|1\r").unwrap_err();
        assert!(matches!(e, MshError::BadAckCode { .. }));
    }
}

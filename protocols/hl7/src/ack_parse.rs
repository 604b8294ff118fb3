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
use crate::msh::{parse_msh_lenient, Msh, MshError};
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
    let mut msa_id = b"MSA".to_vec();
    msa_id.push(msh.field_sep);
    let seg = segments(payload)
        .find(|s| s.starts_with(&msa_id) || *s == b"MSA")
        .ok_or(MshError::MissingMsa)?;
    let mut f = fields(seg, msh.field_sep).skip(1);
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
    Ok((
        msh,
        Msa {
            code,
            control_id,
            text: Some(msg).filter(|s| !s.is_empty()),
        },
    ))
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
    fn errors() {
        let e = parse_ack(b"MSH|^~\\&|B|F\rPID|1\r").unwrap_err();
        assert_eq!(e, MshError::MissingMsa);
        let e = parse_ack(b"MSH|^~\\&|B|F\rMSA|XX|1\r").unwrap_err();
        assert!(matches!(e, MshError::BadAckCode { .. }));
    }
}

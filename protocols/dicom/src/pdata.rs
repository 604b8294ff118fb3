//! P-DATA-TF: splitting into and building presentation data values (PDVs).
//!
//! PS3.8 §9.3.5 (P-DATA-TF PDU structure): after the header, one or more
//! PDV items, each a 4-byte big-endian Item-length, a Presentation-context-ID
//! and the PDV. PS3.8 Annex E.2 (message control header): the first PDV byte
//! has bit 0 set for a command fragment (clear for a data set fragment) and
//! bit 1 set for the last fragment.

use bytes::Bytes;

use crate::associate::check_whole_pdu;
use crate::error::DicomError;
use crate::header::{PduType, PDU_HEADER_LEN};

/// One presentation data value (PS3.8 §9.3.5.1, Annex E.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdv {
    /// Presentation-context-ID the fragment belongs to.
    pub context_id: u8,
    /// Message control header bit 0: command (true) or data set fragment.
    pub is_command: bool,
    /// Message control header bit 1: last fragment of the command/data set.
    pub is_last: bool,
    /// Fragment bytes (without the message control header).
    pub data: Bytes,
}

impl Pdv {
    /// The message control header byte (PS3.8 Annex E.2).
    pub const fn control_header(&self) -> u8 {
        (self.is_command as u8) | ((self.is_last as u8) << 1)
    }
}

struct PdvSpan<'a> {
    context_id: u8,
    header: u8,
    data: &'a [u8],
}

/// Walk the PDV items of a whole P-DATA-TF PDU (PS3.8 §9.3.5.1).
fn spans(pdu: &[u8]) -> Result<Vec<PdvSpan<'_>>, DicomError> {
    check_whole_pdu(pdu, PduType::PData)?;
    let mut out = Vec::new();
    let mut rest = pdu.get(PDU_HEADER_LEN..).unwrap_or_default();
    while !rest.is_empty() {
        let available = rest.len() as u64;
        let (len_bytes, tail) = rest.split_first_chunk::<4>().ok_or(DicomError::Truncated {
            field: "PDV Item-length",
            needed: 4,
            available,
        })?;
        let item_len = u32::from_be_bytes(*len_bytes);
        if item_len < 2 {
            return Err(DicomError::InvalidLength {
                field: "PDV Item-length",
                length: u64::from(item_len),
                expected: "at least 2 (context ID and message control header)",
            });
        }
        let (item, tail) = usize::try_from(item_len)
            .ok()
            .and_then(|l| tail.split_at_checked(l))
            .ok_or(DicomError::Truncated {
                field: "PDV item",
                needed: u64::from(item_len).saturating_add(4),
                available,
            })?;
        let ([context_id, header], data) =
            item.split_first_chunk::<2>().ok_or(DicomError::Truncated {
                field: "PDV header",
                needed: 2,
                available,
            })?;
        out.push(PdvSpan {
            context_id: *context_id,
            header: *header,
            data,
        });
        rest = tail;
    }
    if out.is_empty() {
        return Err(DicomError::InvalidLength {
            field: "PDU-length",
            length: 0,
            expected: "at least one PDV item in a P-DATA-TF",
        });
    }
    Ok(out)
}

fn to_pdv(span: &PdvSpan, data: Bytes) -> Pdv {
    Pdv {
        context_id: span.context_id,
        is_command: span.header & 0x01 != 0,
        is_last: span.header & 0x02 != 0,
        data,
    }
}

/// Split a whole P-DATA-TF PDU (header included) into its PDVs, copying
/// each fragment.
pub fn parse_pdata(pdu: &[u8]) -> Result<Vec<Pdv>, DicomError> {
    Ok(spans(pdu)?
        .iter()
        .map(|s| to_pdv(s, Bytes::copy_from_slice(s.data)))
        .collect())
}

/// Like [`parse_pdata`] but without copying: each `Pdv::data` shares the
/// PDU's buffer (e.g. `RawPdu::bytes`).
pub fn parse_pdata_bytes(pdu: &Bytes) -> Result<Vec<Pdv>, DicomError> {
    // `slice_ref` cannot panic here: every span is a sub-slice of `pdu`.
    Ok(spans(pdu)?
        .iter()
        .map(|s| to_pdv(s, pdu.slice_ref(s.data)))
        .collect())
}

fn too_long(what: &'static str, len: usize) -> DicomError {
    DicomError::Encode {
        what,
        message: format!("{len} bytes do not fit a 32-bit length field"),
    }
}

/// Build a P-DATA-TF PDU carrying `pdvs` in order (PS3.8 §9.3.5).
pub fn encode_pdata(pdvs: &[Pdv]) -> Result<Vec<u8>, DicomError> {
    let body = pdvs.iter().fold(0usize, |acc, p| {
        acc.saturating_add(p.data.len().saturating_add(6))
    });
    let pdu_len = u32::try_from(body).map_err(|_| too_long("P-DATA-TF", body))?;
    let mut out = Vec::with_capacity(body.saturating_add(PDU_HEADER_LEN));
    out.extend_from_slice(&[PduType::PData.as_u8(), 0]);
    out.extend_from_slice(&pdu_len.to_be_bytes());
    for pdv in pdvs {
        // Cannot overflow: the sum of all items fits in u32 (checked above).
        let item_len = u32::try_from(pdv.data.len().saturating_add(2))
            .map_err(|_| too_long("PDV item", pdv.data.len()))?;
        out.extend_from_slice(&item_len.to_be_bytes());
        out.push(pdv.context_id);
        out.push(pdv.control_header());
        out.extend_from_slice(&pdv.data);
    }
    Ok(out)
}

/// Build a P-DATA-TF holding one PDV; `data` must be small (command sets,
/// whose lengths are bounded by the UIDs put in them).
pub(crate) fn single_pdv_pdu(context_id: u8, is_command: bool, data: &[u8]) -> Vec<u8> {
    let item_len = data.len().saturating_add(2);
    let be = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    let mut out = Vec::with_capacity(item_len.saturating_add(10));
    out.extend_from_slice(&[PduType::PData.as_u8(), 0]);
    out.extend_from_slice(&be(item_len.saturating_add(4)));
    out.extend_from_slice(&be(item_len));
    out.push(context_id);
    out.push(u8::from(is_command) | 0x02);
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_echo_rq_pdata.bin");
    const STORE_DATA: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescu_store_rq_data_pdata.bin");

    #[test]
    fn real_echo_rq() {
        let pdvs = parse_pdata(ECHO_RQ).unwrap();
        assert_eq!(pdvs.len(), 1);
        assert_eq!(pdvs[0].context_id, 1);
        assert!(pdvs[0].is_command && pdvs[0].is_last);
        assert_eq!(pdvs[0].data.len(), 80 - 12);
        assert_eq!(encode_pdata(&pdvs).unwrap(), ECHO_RQ);
    }

    #[test]
    fn real_data_fragment_zero_copy() {
        let pdu = Bytes::from_static(STORE_DATA);
        let pdvs = parse_pdata_bytes(&pdu).unwrap();
        assert_eq!(pdvs.len(), 1);
        assert_eq!(pdvs[0].context_id, 0x29);
        assert!(!pdvs[0].is_command && !pdvs[0].is_last);
        assert_eq!(pdvs[0].data.as_ptr(), STORE_DATA[12..].as_ptr());
        assert_eq!(parse_pdata(STORE_DATA).unwrap(), pdvs);
    }

    #[test]
    fn multiple_pdvs_round_trip() {
        let pdvs = vec![
            Pdv {
                context_id: 3,
                is_command: true,
                is_last: true,
                data: Bytes::from_static(b"abcd"),
            },
            Pdv {
                context_id: 3,
                is_command: false,
                is_last: false,
                data: Bytes::new(),
            },
        ];
        let pdu = encode_pdata(&pdvs).unwrap();
        assert_eq!(parse_pdata(&pdu).unwrap(), pdvs);
        assert_eq!(
            single_pdv_pdu(3, true, b"abcd"),
            encode_pdata(&pdvs[..1]).unwrap()
        );
    }

    #[test]
    fn reserved_control_bits_are_ignored() {
        // Bits 2-7 of the message control header are reserved (Annex E.2).
        let pdvs = parse_pdata(&[4, 0, 0, 0, 0, 7, 0, 0, 0, 3, 1, 0x7D, 9]).unwrap();
        assert!(pdvs[0].is_command && !pdvs[0].is_last);
        assert_eq!(pdvs[0].control_header(), 0x01);
    }

    #[test]
    fn rejects_broken_items() {
        // Empty P-DATA-TF.
        assert!(parse_pdata(&[4, 0, 0, 0, 0, 0]).is_err());
        // Item length 1.
        assert!(parse_pdata(&[4, 0, 0, 0, 0, 5, 0, 0, 0, 1, 1]).is_err());
        // Item length past the end.
        assert!(parse_pdata(&[4, 0, 0, 0, 0, 6, 0, 0, 0, 9, 1, 3]).is_err());
        // Item length huge.
        assert!(parse_pdata(&[4, 0, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 1, 3]).is_err());
        // Dangling bytes shorter than an item header.
        assert!(parse_pdata(&[4, 0, 0, 0, 0, 8, 0, 0, 0, 2, 1, 3, 0, 0]).is_err());
        // Whole-PDU checks.
        assert!(parse_pdata(&ECHO_RQ[..40]).is_err());
        assert!(parse_pdata(&[5, 0, 0, 0, 0, 4, 0, 0, 0, 0]).is_err());
    }
}

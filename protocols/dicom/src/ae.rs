//! AE title fields of A-ASSOCIATE-RQ/AC: validation, reading, in-place rewrite.
//!
//! PS3.8 §9.3.2 (A-ASSOCIATE-RQ PDU structure): bytes 11-26 hold the
//! Called-AE-title and bytes 27-42 the Calling-AE-title, each 16 ISO 646 G0
//! characters with non-significant leading/trailing spaces. PS3.8 §9.3.3: the
//! A-ASSOCIATE-AC carries the same two fields at the same offsets, "identical
//! to the value received" in the RQ. PS3.5 §6.2 (AE VR): no backslash, no
//! control characters.

use crate::ae_title::AeTitle;
use crate::error::DicomError;
use crate::header::peek_header;

/// Width of an AE title field (PS3.8 §9.3.2).
pub const AE_TITLE_LEN: usize = 16;
/// Zero-based offset of Called-AE-title (PDU bytes 11-26, PS3.8 §9.3.2).
pub const CALLED_AE_OFFSET: usize = 10;
/// Zero-based offset of Calling-AE-title (PDU bytes 27-42, PS3.8 §9.3.2).
pub const CALLING_AE_OFFSET: usize = 26;

/// Check that `ae` can be sent as an AE title: 1..=16 printable ASCII
/// characters (ISO 646 G0, 20H..7EH), no backslash, not only spaces.
pub fn validate_ae_title(ae: &str) -> Result<(), DicomError> {
    let fail = |reason| {
        Err(DicomError::InvalidAeTitle {
            ae: ae.to_owned(),
            reason,
        })
    };
    if ae.is_empty() {
        return fail("empty");
    }
    if ae.len() > AE_TITLE_LEN {
        return fail("longer than 16 characters");
    }
    if ae.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return fail("control or non-ASCII character");
    }
    if ae.contains('\\') {
        return fail("contains a backslash");
    }
    if ae.bytes().all(|b| b == b' ') {
        return fail("only spaces");
    }
    Ok(())
}

/// Encode `ae` as a 16-byte, space-padded AE field after validation.
pub fn encode_ae_field(ae: &str) -> Result<[u8; AE_TITLE_LEN], DicomError> {
    validate_ae_title(ae)?;
    let mut field = [b' '; AE_TITLE_LEN];
    for (dst, src) in field.iter_mut().zip(ae.bytes()) {
        *dst = src;
    }
    Ok(field)
}

/// Decode an AE field, dropping non-significant spaces (and NUL padding some
/// broken peers send). Non-ASCII bytes are mapped as Latin-1, never rejected.
pub fn decode_ae_field(field: &[u8]) -> String {
    AeTitle::from_field(field).as_str().to_owned()
}

/// Whether the AE field says `ae` (compared as [`decode_ae_field`] would, `ae` trimmed of
/// spaces), without decoding it.
pub fn ae_field_is(field: &[u8], ae: &str) -> bool {
    let t = trim_ae_field(field);
    let ae = ae.trim();
    if t.is_ascii() {
        t == ae.as_bytes()
    } else {
        AeTitle::from_field(field) == ae
    }
}

/// The field without its non-significant spaces and NUL padding at either end.
pub(crate) fn trim_ae_field(mut field: &[u8]) -> &[u8] {
    let pad = |b: &u8| *b == b' ' || *b == 0;
    while let [first, rest @ ..] = field {
        if !pad(first) {
            break;
        }
        field = rest;
    }
    while let [rest @ .., last] = field {
        if !pad(last) {
            break;
        }
        field = rest;
    }
    field
}

/// Check that `pdu` is an A-ASSOCIATE-RQ or -AC long enough to hold both AE
/// fields; returns the PDU type byte.
fn check_assoc_pdu(pdu: &[u8]) -> Result<u8, DicomError> {
    let header = peek_header(pdu).ok_or(DicomError::Truncated {
        field: "PDU header",
        needed: 6,
        available: pdu.len() as u64,
    })?;
    if header.pdu_type != 0x01 && header.pdu_type != 0x02 {
        return Err(DicomError::UnexpectedPduType {
            expected: "A-ASSOCIATE-RQ or A-ASSOCIATE-AC",
            actual: header.pdu_type,
        });
    }
    let needed = CALLING_AE_OFFSET + AE_TITLE_LEN;
    if pdu.len() < needed {
        return Err(DicomError::Truncated {
            field: "AE title fields",
            needed: needed as u64,
            available: pdu.len() as u64,
        });
    }
    Ok(header.pdu_type)
}

fn field_at(pdu: &[u8], offset: usize) -> &[u8] {
    pdu.get(offset..offset.saturating_add(AE_TITLE_LEN))
        .unwrap_or_default()
}

/// Read (called, calling) AE titles, trimmed, from an RQ or AC without
/// parsing the variable items.
pub fn ae_titles(pdu: &[u8]) -> Result<(AeTitle, AeTitle), DicomError> {
    check_assoc_pdu(pdu)?;
    Ok((
        AeTitle::from_field(field_at(pdu, CALLED_AE_OFFSET)),
        AeTitle::from_field(field_at(pdu, CALLING_AE_OFFSET)),
    ))
}

fn rewrite_field(pdu: &mut [u8], offset: usize, new_ae: &str) -> Result<(), DicomError> {
    let field = encode_ae_field(new_ae)?;
    check_assoc_pdu(pdu)?;
    let dst = pdu
        .get_mut(offset..offset.saturating_add(AE_TITLE_LEN))
        .ok_or(DicomError::Truncated {
            field: "AE title field",
            needed: offset.saturating_add(AE_TITLE_LEN) as u64,
            available: 0,
        })?;
    dst.copy_from_slice(&field);
    Ok(())
}

/// Overwrite the 16-byte Called-AE-title (bytes 11-26) of an A-ASSOCIATE-RQ
/// or A-ASSOCIATE-AC in place, space padded; every other byte is kept.
///
/// Used on the RQ to retarget a backend, and on the AC to put back the
/// called AE the client sent (PS3.8 §9.3.3 asks for an identical echo).
/// The PDU length does not change, so no length field needs fixing.
pub fn rewrite_called_ae(pdu: &mut [u8], new_ae: &str) -> Result<(), DicomError> {
    rewrite_field(pdu, CALLED_AE_OFFSET, new_ae)
}

/// Overwrite the 16-byte Calling-AE-title (bytes 27-42) of an RQ or AC.
pub fn rewrite_calling_ae(pdu: &mut [u8], new_ae: &str) -> Result<(), DicomError> {
    rewrite_field(pdu, CALLING_AE_OFFSET, new_ae)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHOSCU_RQ: &[u8] = include_bytes!("../../../fixtures/dicom/echoscu_associate_rq.bin");
    const STORESCP_AC: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescp_echo_associate_ac.bin");

    #[test]
    fn validation() {
        for ok in ["A", "ARCHIVE", "0123456789ABCDEF", " LEAD", "MY AE"] {
            assert!(validate_ae_title(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0123456789ABCDEFG",
            "A\\B",
            "A\nB",
            "   ",
            "\u{e9}T",
            "A\0",
        ] {
            assert!(validate_ae_title(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_decode_trimmed_and_compare_without_decoding() {
        let cases: [(&[u8], &str); 6] = [
            (b"ARCHIVE         ", "ARCHIVE"),
            (b"  MY AE\0\0\0\0\0\0\0\0\0", "MY AE"),
            (b"                ", ""),
            (b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", ""),
            (b"0123456789ABCDEF", "0123456789ABCDEF"),
            (b"CAF\xc9           ", "CAF\u{c9}"),
        ];
        for (field, text) in cases {
            assert_eq!(decode_ae_field(field), text, "{field:?}");
            for ae in [
                "ARCHIVE",
                " ARCHIVE ",
                "MY AE",
                "",
                "0123456789ABCDEF",
                "CAF\u{c9}",
                "CAF",
            ] {
                assert_eq!(
                    ae_field_is(field, ae),
                    decode_ae_field(field) == ae.trim(),
                    "{field:?} vs {ae:?}"
                );
            }
        }
    }

    fn titles(pdu: &[u8]) -> (String, String) {
        let (called, calling) = ae_titles(pdu).unwrap();
        (called.to_string(), calling.to_string())
    }

    #[test]
    fn reads_real_titles() {
        assert_eq!(
            titles(ECHOSCU_RQ),
            ("ARCHIVE".to_owned(), "ECHOSCU".to_owned())
        );
        assert_eq!(
            titles(STORESCP_AC),
            ("ARCHIVE".to_owned(), "ECHOSCU".to_owned())
        );
    }

    #[test]
    fn rewrite_rq_keeps_other_bytes() {
        let mut pdu = ECHOSCU_RQ.to_vec();
        rewrite_called_ae(&mut pdu, "PACS_B").unwrap();
        assert_eq!(&pdu[10..26], b"PACS_B          ");
        assert_eq!(&pdu[..10], &ECHOSCU_RQ[..10]);
        assert_eq!(&pdu[26..], &ECHOSCU_RQ[26..]);
        rewrite_called_ae(&mut pdu, "ARCHIVE").unwrap();
        assert_eq!(pdu, ECHOSCU_RQ);
    }

    #[test]
    fn rewrite_ac_and_calling() {
        let mut pdu = STORESCP_AC.to_vec();
        rewrite_called_ae(&mut pdu, "0123456789ABCDEF").unwrap();
        rewrite_calling_ae(&mut pdu, "X").unwrap();
        assert_eq!(
            titles(&pdu),
            ("0123456789ABCDEF".to_owned(), "X".to_owned())
        );
        assert_eq!(&pdu[42..], &STORESCP_AC[42..]);
    }

    #[test]
    fn rewrite_rejects_bad_input() {
        let mut short = ECHOSCU_RQ[..30].to_vec();
        assert!(matches!(
            rewrite_called_ae(&mut short, "X"),
            Err(DicomError::Truncated { .. })
        ));
        let mut pdata = vec![4u8; 64];
        assert!(matches!(
            rewrite_called_ae(&mut pdata, "X"),
            Err(DicomError::UnexpectedPduType { actual: 4, .. })
        ));
        let mut pdu = ECHOSCU_RQ.to_vec();
        assert!(rewrite_called_ae(&mut pdu, "BAD\\AE").is_err());
        assert_eq!(pdu, ECHOSCU_RQ);
    }
}

//! The A-ASSOCIATE-RQ summary the gateway routes on, read by walking the PDU's item headers
//! instead of parsing every sub-item (PS3.8 §9.3.2): the fixed part gives the called and
//! calling AE titles (§9.3.2 items 11-26 and 27-42), the variable part is a run of items, each
//! `type (1) | reserved (1) | item-length (2, big endian) | value` (§9.3.2.1-§9.3.2.3), of
//! which the Presentation Context items (type 0x20) are counted.
//!
//! A forwarding gateway needs only this much: the server parses the request itself. A modality's
//! request with 128 presentation contexts walks in well under a microsecond, where the full
//! `dicom-ul` parse ([`crate::parse_associate_rq`]) builds a string for every syntax (tens of
//! microseconds). The walk still rejects what would make the request unforwardable: a PDU that
//! is not exactly one A-ASSOCIATE-RQ, a fixed part that is too short, an item whose length runs
//! past the PDU, and a request without Application Context or Presentation Context item.

use crate::ae::ae_titles;
use crate::ae_title::AeTitle;
use crate::associate::check_whole_pdu;
use crate::error::DicomError;
use crate::header::{PduType, PDU_HEADER_LEN};

/// Offset of the first variable item: header (6) + fixed part (68), PS3.8 §9.3.2.
const ITEMS_OFFSET: usize = PDU_HEADER_LEN + 68;
/// Application Context item (§9.3.2.1).
const ITEM_APPLICATION_CONTEXT: u8 = 0x10;
/// Presentation Context item, RQ form (§9.3.2.2).
const ITEM_PRESENTATION_CONTEXT: u8 = 0x20;

/// What the gateway keeps of an A-ASSOCIATE-RQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RqSummary {
    /// Called-AE-title, padding removed.
    pub called_ae: AeTitle,
    /// Calling-AE-title, padding removed.
    pub calling_ae: AeTitle,
    /// Number of Presentation Context items.
    pub presentation_contexts: usize,
}

fn malformed(message: &str) -> DicomError {
    DicomError::Malformed {
        pdu: PduType::AssociateRq.name(),
        message: message.to_owned(),
    }
}

/// Summarises one whole A-ASSOCIATE-RQ PDU (header included) by its item headers.
pub fn summarize_associate_rq(pdu: &[u8]) -> Result<RqSummary, DicomError> {
    check_whole_pdu(pdu, PduType::AssociateRq)?;
    let items = pdu.get(ITEMS_OFFSET..).ok_or(DicomError::InvalidLength {
        field: "PDU-length",
        length: pdu.len().saturating_sub(PDU_HEADER_LEN) as u64,
        expected: "at least 68 for A-ASSOCIATE-RQ",
    })?;
    let (called_ae, calling_ae) = ae_titles(pdu)?;
    let (mut contexts, mut app_context) = (0usize, false);
    let mut rest = items;
    // One bounds check for the item header and one for its value (≈130 items in a modality's
    // 128-context request).
    while let Some((&[kind, _, hi, lo], value)) = rest.split_first_chunk::<4>() {
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        rest = value.get(len..).ok_or_else(|| DicomError::Truncated {
            field: "item",
            needed: (len as u64).saturating_add(4),
            available: (value.len() as u64).saturating_add(4),
        })?;
        match kind {
            ITEM_APPLICATION_CONTEXT => app_context = true,
            ITEM_PRESENTATION_CONTEXT => contexts = contexts.saturating_add(1),
            _ => {}
        }
    }
    if !rest.is_empty() {
        return Err(DicomError::Truncated {
            field: "item header",
            needed: 4,
            available: rest.len() as u64,
        });
    }
    if !app_context {
        return Err(malformed("no Application Context item"));
    }
    if contexts == 0 {
        return Err(malformed("no Presentation Context item"));
    }
    Ok(RqSummary {
        called_ae,
        calling_ae,
        presentation_contexts: contexts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_associate_rq;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!("{}/../../fixtures/dicom/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn rq_fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = format!("{}/../../fixtures/dicom", env!("CARGO_MANIFEST_DIR"));
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                if !e.file_type().ok()?.is_file() {
                    return None;
                }
                let name = e.file_name().into_string().ok()?;
                let bytes = fixture(&name);
                (bytes.first() == Some(&0x01)).then_some((name, bytes))
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn agrees_with_the_full_parse_on_every_captured_request() {
        let all = rq_fixtures();
        assert!(!all.is_empty(), "no A-ASSOCIATE-RQ fixtures found");
        for (name, rq) in all {
            let Ok(full) = parse_associate_rq(&rq) else {
                assert!(
                    summarize_associate_rq(&rq).is_err(),
                    "{name}: the full parse fails, the walk must too"
                );
                continue;
            };
            let s = summarize_associate_rq(&rq).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.called_ae, full.called_ae, "{name}");
            assert_eq!(s.calling_ae, full.calling_ae, "{name}");
            assert_eq!(
                s.presentation_contexts, full.presentation_contexts,
                "{name}"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for (name, rq) in rq_fixtures() {
            if parse_associate_rq(&rq).is_err() {
                continue; // not one whole RQ (a stream of several PDUs, a broken one)
            }
            for cut in 0..rq.len() {
                assert!(
                    summarize_associate_rq(&rq[..cut]).is_err(),
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn an_item_running_past_the_pdu_is_rejected() {
        let (_, mut rq) = rq_fixtures().remove(0);
        // The first item's length field, made larger than what follows.
        rq[ITEMS_OFFSET + 2] = 0xff;
        rq[ITEMS_OFFSET + 3] = 0xff;
        let e = summarize_associate_rq(&rq).unwrap_err();
        assert!(
            matches!(e, DicomError::Truncated { field: "item", .. }),
            "{e}"
        );
    }

    #[test]
    fn a_request_without_presentation_context_is_rejected() {
        let (_, rq) = rq_fixtures().remove(0);
        // Keep the fixed part and the Application Context item only.
        let app_len = usize::from(u16::from_be_bytes([
            rq[ITEMS_OFFSET + 2],
            rq[ITEMS_OFFSET + 3],
        ]));
        let mut cut = rq[..ITEMS_OFFSET + 4 + app_len].to_vec();
        let body = (cut.len() - PDU_HEADER_LEN) as u32;
        cut[2..6].copy_from_slice(&body.to_be_bytes());
        let e = summarize_associate_rq(&cut).unwrap_err();
        assert!(e.to_string().contains("no Presentation Context"), "{e}");
    }
}

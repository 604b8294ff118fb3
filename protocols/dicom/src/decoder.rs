//! Streaming PDU framer: splits a TCP byte stream into whole PDUs.
//!
//! PS3.8 §9.3.1: the 6-byte header gives the PDU type and the length of what
//! follows. The header is validated (known type, length within the limit,
//! fixed lengths respected) as soon as it is visible, so a hostile peer can
//! never make us buffer more than `max_pdu_length` bytes.

use bytes::{Bytes, BytesMut};

use crate::error::DicomError;
use crate::header::{peek_header, PduHeader, PduType, PDU_HEADER_LEN};

/// Default cap on an A-ASSOCIATE-RQ PDU-length (PS3.8 §9.3.2). Real requests
/// are a few hundred bytes to ~10 KiB (storescu proposing 120+ contexts).
pub const DEFAULT_MAX_ASSOC_RQ: u32 = 64 * 1024;

/// One complete PDU, exactly as received (header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPdu {
    /// Validated PDU type.
    pub pdu_type: PduType,
    /// Whole PDU including the 6-byte header, byte-for-byte as received.
    pub bytes: Bytes,
}

impl RawPdu {
    /// Wrap bytes that must hold exactly one complete PDU (e.g. one built by
    /// this crate). The header is validated like [`PduDecoder::decode`] does,
    /// without a length limit.
    pub fn from_bytes(bytes: Bytes) -> Result<RawPdu, DicomError> {
        let header = peek_header(&bytes).ok_or(DicomError::Truncated {
            field: "PDU header",
            needed: PDU_HEADER_LEN as u64,
            available: bytes.len() as u64,
        })?;
        let pdu_type = check_type(&header)?;
        if header.total_len() != bytes.len() as u64 {
            return Err(DicomError::InvalidLength {
                field: "PDU-length",
                length: u64::from(header.length),
                expected: "the number of bytes after the header",
            });
        }
        Ok(RawPdu { pdu_type, bytes })
    }

    /// The PDU header.
    pub fn header(&self) -> PduHeader {
        PduHeader {
            pdu_type: self.pdu_type.as_u8(),
            length: self
                .bytes
                .len()
                .saturating_sub(PDU_HEADER_LEN)
                .try_into()
                .unwrap_or(u32::MAX),
        }
    }

    /// The PDU body (everything after the 6-byte header).
    pub fn body(&self) -> &[u8] {
        self.bytes.get(PDU_HEADER_LEN..).unwrap_or_default()
    }

    /// Append the PDU to `dst`, byte-exact (the inverse of decoding).
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.extend_from_slice(&self.bytes);
    }
}

/// Incremental PDU decoder over a growing receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduDecoder {
    /// Largest PDU-length accepted (bytes after the header). Raise it after
    /// the association is accepted if P-DATA PDUs may be larger.
    pub max_pdu_length: u32,
}

impl Default for PduDecoder {
    fn default() -> Self {
        PduDecoder::new(DEFAULT_MAX_ASSOC_RQ)
    }
}

fn check_type(header: &PduHeader) -> Result<PduType, DicomError> {
    header.kind().ok_or(DicomError::UnknownPduType {
        pdu_type: header.pdu_type,
        length: header.length,
    })
}

impl PduDecoder {
    /// Decoder accepting PDU-lengths up to `max_pdu_length`.
    pub const fn new(max_pdu_length: u32) -> Self {
        PduDecoder { max_pdu_length }
    }

    /// Validate a header: known type (PS3.8 §9.3 Table 9-10), length within
    /// the limit, and the fixed length of 4 for RJ/release/abort PDUs.
    pub fn check_header(&self, header: &PduHeader) -> Result<PduType, DicomError> {
        let pdu_type = check_type(header)?;
        if header.length > self.max_pdu_length {
            return Err(DicomError::PduTooLarge {
                pdu_type: header.pdu_type,
                length: header.length,
                max: self.max_pdu_length,
            });
        }
        if let Some(fixed) = pdu_type.fixed_length() {
            if header.length != fixed {
                return Err(DicomError::InvalidLength {
                    field: "PDU-length",
                    length: u64::from(header.length),
                    expected: "4 for A-ASSOCIATE-RJ, A-RELEASE-RQ/RP and A-ABORT",
                });
            }
        }
        Ok(pdu_type)
    }

    /// Take one whole PDU off the front of `buf`.
    ///
    /// * `Ok(None)`: not enough bytes yet; `buf` is left untouched.
    /// * `Ok(Some(pdu))`: exactly the PDU's bytes were removed from `buf`.
    /// * `Err(_)`: the header is invalid (unknown type, too long, ...); this
    ///   is reported as soon as the 6 header bytes are present, before the
    ///   body arrives. The connection should then be aborted.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RawPdu>, DicomError> {
        let Some(header) = peek_header(buf) else {
            return Ok(None);
        };
        let pdu_type = self.check_header(&header)?;
        let total = usize::try_from(header.total_len()).map_err(|_| DicomError::PduTooLarge {
            pdu_type: header.pdu_type,
            length: header.length,
            max: self.max_pdu_length,
        })?;
        if buf.len() < total {
            return Ok(None);
        }
        let bytes = buf.split_to(total).freeze();
        Ok(Some(RawPdu { pdu_type, bytes }))
    }

    /// Append `pdu` to `dst` (see [`RawPdu::encode`]).
    pub fn encode(&self, pdu: &RawPdu, dst: &mut BytesMut) {
        pdu.encode(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_header_then_body() {
        let mut d = PduDecoder::default();
        let pdu = [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0];
        let mut buf = BytesMut::new();
        for (i, b) in pdu.iter().enumerate() {
            assert_eq!(d.decode(&mut buf).unwrap(), None, "byte {i}");
            assert_eq!(buf.len(), i);
            buf.extend_from_slice(&[*b]);
        }
        let raw = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!(raw.pdu_type, PduType::ReleaseRq);
        assert_eq!(&raw.bytes[..], &pdu[..]);
        assert!(buf.is_empty());
    }

    #[test]
    fn two_pdus_back_to_back() {
        let mut d = PduDecoder::default();
        let mut buf = BytesMut::from(&[5, 0, 0, 0, 0, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 4, 0, 0][..]);
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap().pdu_type,
            PduType::ReleaseRq
        );
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 8);
        buf.extend_from_slice(&[0, 0]);
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap().pdu_type,
            PduType::ReleaseRp
        );
    }

    #[test]
    fn rejects_oversize_before_body() {
        let mut d = PduDecoder::new(1000);
        let mut buf = BytesMut::from(&[0x04, 0, 0, 0, 0x03, 0xE9][..]);
        let err = d.decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            DicomError::PduTooLarge {
                pdu_type: 4,
                length: 1001,
                max: 1000
            }
        );
        assert_eq!(buf.len(), 6);
    }

    #[test]
    fn rejects_unknown_type_and_bad_fixed_length() {
        let mut d = PduDecoder::default();
        let mut buf = BytesMut::from(&[0x08, 0, 0, 0, 0, 4][..]);
        assert!(matches!(
            d.decode(&mut buf),
            Err(DicomError::UnknownPduType {
                pdu_type: 8,
                length: 4
            })
        ));
        let mut buf = BytesMut::from(&[0x07, 0, 0, 0, 0, 5][..]);
        assert!(matches!(
            d.decode(&mut buf),
            Err(DicomError::InvalidLength { length: 5, .. })
        ));
    }

    #[test]
    fn raw_pdu_from_bytes_checks_length() {
        let ok = RawPdu::from_bytes(Bytes::from_static(&[6, 0, 0, 0, 0, 4, 0, 0, 0, 0])).unwrap();
        assert_eq!(ok.body(), &[0, 0, 0, 0]);
        assert_eq!(ok.header().length, 4);
        let mut out = BytesMut::new();
        PduDecoder::default().encode(&ok, &mut out);
        assert_eq!(&out[..], &ok.bytes[..]);
        assert!(RawPdu::from_bytes(Bytes::from_static(&[6, 0, 0, 0, 0, 4, 0])).is_err());
        assert!(RawPdu::from_bytes(Bytes::from_static(&[6, 0])).is_err());
    }
}

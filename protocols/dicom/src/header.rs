//! PDU types and the fixed 6-byte PDU header.
//!
//! PS3.8 §9.3.1: every PDU starts with PDU-type (1 byte), a reserved byte and
//! a 4-byte big-endian PDU-length counting the bytes that follow the header.
//! PS3.8 §9.3 Table 9-10 lists the seven PDU types (0x01..=0x07).

use std::fmt;

/// Size of the PDU header: type, reserved, 4-byte length (PS3.8 §9.3.1).
pub const PDU_HEADER_LEN: usize = 6;

/// The seven DICOM upper-layer PDU types (PS3.8 §9.3, Table 9-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PduType {
    /// 0x01 A-ASSOCIATE-RQ (PS3.8 §9.3.2).
    AssociateRq,
    /// 0x02 A-ASSOCIATE-AC (PS3.8 §9.3.3).
    AssociateAc,
    /// 0x03 A-ASSOCIATE-RJ (PS3.8 §9.3.4).
    AssociateRj,
    /// 0x04 P-DATA-TF (PS3.8 §9.3.5).
    PData,
    /// 0x05 A-RELEASE-RQ (PS3.8 §9.3.6).
    ReleaseRq,
    /// 0x06 A-RELEASE-RP (PS3.8 §9.3.7).
    ReleaseRp,
    /// 0x07 A-ABORT (PS3.8 §9.3.8).
    Abort,
}

impl PduType {
    /// Map a PDU-type byte to a known type; `None` for anything else.
    pub const fn from_u8(byte: u8) -> Option<PduType> {
        match byte {
            0x01 => Some(PduType::AssociateRq),
            0x02 => Some(PduType::AssociateAc),
            0x03 => Some(PduType::AssociateRj),
            0x04 => Some(PduType::PData),
            0x05 => Some(PduType::ReleaseRq),
            0x06 => Some(PduType::ReleaseRp),
            0x07 => Some(PduType::Abort),
            _ => None,
        }
    }

    /// The PDU-type byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            PduType::AssociateRq => 0x01,
            PduType::AssociateAc => 0x02,
            PduType::AssociateRj => 0x03,
            PduType::PData => 0x04,
            PduType::ReleaseRq => 0x05,
            PduType::ReleaseRp => 0x06,
            PduType::Abort => 0x07,
        }
    }

    /// The name used in PS3.8 (e.g. "A-ASSOCIATE-RQ").
    pub const fn name(self) -> &'static str {
        match self {
            PduType::AssociateRq => "A-ASSOCIATE-RQ",
            PduType::AssociateAc => "A-ASSOCIATE-AC",
            PduType::AssociateRj => "A-ASSOCIATE-RJ",
            PduType::PData => "P-DATA-TF",
            PduType::ReleaseRq => "A-RELEASE-RQ",
            PduType::ReleaseRp => "A-RELEASE-RP",
            PduType::Abort => "A-ABORT",
        }
    }

    /// PDU-length fixed by the standard, if any: A-ASSOCIATE-RJ, A-RELEASE-RQ,
    /// A-RELEASE-RP and A-ABORT always carry exactly 4 bytes
    /// (PS3.8 §9.3.4, §9.3.6, §9.3.7, §9.3.8).
    pub const fn fixed_length(self) -> Option<u32> {
        match self {
            PduType::AssociateRj | PduType::ReleaseRq | PduType::ReleaseRp | PduType::Abort => {
                Some(4)
            }
            _ => None,
        }
    }
}

impl fmt::Display for PduType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The decoded 6-byte PDU header (PS3.8 §9.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    /// PDU-type byte, not yet validated.
    pub pdu_type: u8,
    /// PDU-length: number of bytes after the header.
    pub length: u32,
}

impl PduHeader {
    /// The PDU type, if the type byte is one of the seven defined ones.
    pub const fn kind(&self) -> Option<PduType> {
        PduType::from_u8(self.pdu_type)
    }

    /// Header plus body length, in bytes (cannot overflow: u32 + 6 in u64).
    pub const fn total_len(&self) -> u64 {
        (self.length as u64).saturating_add(PDU_HEADER_LEN as u64)
    }
}

/// Read the PDU header from the start of `buf` without consuming anything.
///
/// Returns `None` while fewer than 6 bytes are available. The type byte is
/// not validated here (see [`crate::PduDecoder`]).
pub fn peek_header(buf: &[u8]) -> Option<PduHeader> {
    match buf {
        [pdu_type, _reserved, l0, l1, l2, l3, ..] => Some(PduHeader {
            pdu_type: *pdu_type,
            length: u32::from_be_bytes([*l0, *l1, *l2, *l3]),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_needs_six_bytes() {
        assert_eq!(peek_header(&[0x01, 0, 0, 0, 0]), None);
        assert_eq!(
            peek_header(&[0x04, 0, 0, 0, 1, 2, 9]),
            Some(PduHeader {
                pdu_type: 4,
                length: 0x102
            })
        );
    }

    #[test]
    fn type_round_trip() {
        for b in 0u8..=255 {
            match PduType::from_u8(b) {
                Some(t) => assert_eq!(t.as_u8(), b),
                None => assert!(!(1..=7).contains(&b)),
            }
        }
    }

    #[test]
    fn total_len_does_not_overflow() {
        let h = PduHeader {
            pdu_type: 1,
            length: u32::MAX,
        };
        assert_eq!(h.total_len(), u64::from(u32::MAX) + 6);
    }
}

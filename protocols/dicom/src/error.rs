//! Error type for the DICOM upper-layer codec.
//!
//! Every variant carries enough context (PDU type, field name, declared or
//! available length) for the gateway to log a useful line and pick the right
//! A-ABORT / A-ASSOCIATE-RJ answer (PS3.8 §9.3.4, §9.3.8).

use thiserror::Error;

/// Errors raised while framing, parsing or building DICOM UL PDUs and
/// DIMSE command sets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DicomError {
    /// PDU-type byte outside 0x01..=0x07 (PS3.8 §9.3.1). Usually means the
    /// peer is not speaking DICOM at all (HTTP, TLS ClientHello, ...).
    #[error("unknown PDU type 0x{pdu_type:02x} (declared length {length})")]
    UnknownPduType {
        /// The offending PDU-type byte.
        pdu_type: u8,
        /// The PDU-length field that followed it.
        length: u32,
    },

    /// Declared PDU-length exceeds the configured maximum; raised before
    /// any of the body is buffered.
    #[error("PDU type 0x{pdu_type:02x} declares length {length}, above the maximum {max}")]
    PduTooLarge {
        /// PDU-type byte.
        pdu_type: u8,
        /// Declared PDU-length (bytes after the 6-byte header).
        length: u32,
        /// Configured limit.
        max: u32,
    },

    /// A length field does not have the value the standard fixes for it
    /// (e.g. an A-RELEASE-RQ whose PDU-length is not 4, PS3.8 §9.3.6).
    #[error("{field}: invalid length {length} (expected {expected})")]
    InvalidLength {
        /// Name of the length field.
        field: &'static str,
        /// Length found.
        length: u64,
        /// What the standard requires, in words.
        expected: &'static str,
    },

    /// Input ended before a field was complete.
    #[error("{field}: truncated, need {needed} bytes but only {available} available")]
    Truncated {
        /// Name of the field being read.
        field: &'static str,
        /// Bytes needed to complete it.
        needed: u64,
        /// Bytes actually present.
        available: u64,
    },

    /// A PDU of another type was handed to a type-specific parser.
    #[error("expected {expected} PDU, got PDU type 0x{actual:02x}")]
    UnexpectedPduType {
        /// Human name of the PDU type that was expected.
        expected: &'static str,
        /// PDU-type byte found.
        actual: u8,
    },

    /// Structural error inside an association PDU, reported by `dicom-ul`.
    #[error("malformed {pdu}: {message}")]
    Malformed {
        /// Which PDU was being parsed.
        pdu: &'static str,
        /// Parser message.
        message: String,
    },

    /// An AE title that cannot be placed in a 16-byte AE field
    /// (PS3.8 §9.3.2: ISO 646 G0, 1..=16 chars, not all spaces).
    #[error("invalid AE title {ae:?}: {reason}")]
    InvalidAeTitle {
        /// The rejected title.
        ae: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A field holds a value outside its allowed range.
    #[error("{field}: invalid value {value}")]
    InvalidValue {
        /// Name of the field.
        field: &'static str,
        /// The value found.
        value: u32,
    },

    /// A DIMSE command set lacks a mandatory element (PS3.7 §9.3).
    #[error("command set: missing mandatory element {field}")]
    MissingElement {
        /// Name and tag of the missing element.
        field: &'static str,
    },

    /// Building a PDU failed (value too long for its length field, ...).
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
}

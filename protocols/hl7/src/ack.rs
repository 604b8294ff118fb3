//! ACK/NAK building (HL7 v2.5.1 §2.9.2 original-mode and §2.9.3
//! enhanced-mode acknowledgement, §2.14.8 MSA, §2.14.5 ERR, tables 0008 and
//! 0357). The output is an unframed payload, segments ended by CR.
//!
//! Layout of [`build_ack`]'s reply to message `M`:
//! * MSH with the delimiters and version (MSH-12) of `M`; MSH-3/4 = `M`'s
//!   MSH-5/6 and MSH-5/6 = `M`'s MSH-3/4 (sender and receiver swapped);
//!   MSH-7 = the given timestamp (no clock here: [`build_ack`] reuses `M`'s
//!   MSH-7, [`build_ack_at`] takes one, see [`crate::hl7_timestamp`]);
//!   MSH-9 = `ACK^<trigger>^ACK` from v2.3.1 (MSG type, 3 components),
//!   `ACK^<trigger>` for v2.2/v2.3 (CM, 2 components), bare `ACK` for v2.1
//!   (and v2.2/v2.3 without trigger); MSH-10 = the new control id; MSH-11 and
//!   MSH-18 copied from `M`.
//! * `MSA|<code>|<M's MSH-10>`, plus, when an error is given, MSA-3 text
//!   (kept for backward compatibility in v2.5.1 §2.14.8.3, withdrawn in v2.7,
//!   so omitted from v2.7 on) and, for v2.2 to v2.4, MSA-6 error condition
//!   `<0357 code>^<text>^HL70357`.
//! * For v2.5+ with an error: `ERR|||<code>^<text>^HL70357|E||||<reason>`
//!   (ERR-3 HL7 error code, ERR-4 severity E per table 0516, ERR-8 user
//!   message). Older versions get no ERR (its layout differed before v2.5).

use crate::delims::Delimiters;
use crate::escape::escape_text;
use crate::msh::Msh;
use crate::version::{at_least, message_type_field};
use std::fmt;
use std::str::FromStr;

/// Acknowledgment code, MSA-1 (HL7 table 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// Original mode: application accept.
    AA,
    /// Original mode: application error.
    AE,
    /// Original mode: application reject.
    AR,
    /// Enhanced mode: commit accept.
    CA,
    /// Enhanced mode: commit error.
    CE,
    /// Enhanced mode: commit reject.
    CR,
}

impl AckCode {
    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }

    /// True for AA and CA.
    pub fn is_accept(self) -> bool {
        matches!(self, AckCode::AA | AckCode::CA)
    }

    /// True for the enhanced-mode commit codes CA/CE/CR (§2.9.3).
    pub fn is_commit(self) -> bool {
        matches!(self, AckCode::CA | AckCode::CE | AckCode::CR)
    }
}

impl fmt::Display for AckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AckCode {
    type Err = ();
    /// Parse a table 0008 code (surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s.trim() {
            "AA" => AckCode::AA,
            "AE" => AckCode::AE,
            "AR" => AckCode::AR,
            "CA" => AckCode::CA,
            "CE" => AckCode::CE,
            "CR" => AckCode::CR,
            _ => return Err(()),
        })
    }
}

/// Message error condition codes (HL7 v2.5.1 table 0357), for ERR-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: message accepted.
    Accepted,
    /// 100: segment sequence error.
    SegmentSequence,
    /// 101: required field missing.
    RequiredFieldMissing,
    /// 102: data type error.
    DataType,
    /// 103: table value not found.
    TableValueNotFound,
    /// 200: unsupported message type.
    UnsupportedMessageType,
    /// 201: unsupported event code.
    UnsupportedEventCode,
    /// 202: unsupported processing id.
    UnsupportedProcessingId,
    /// 203: unsupported version id.
    UnsupportedVersionId,
    /// 204: unknown key identifier.
    UnknownKeyIdentifier,
    /// 205: duplicate key identifier.
    DuplicateKeyIdentifier,
    /// 206: application record locked.
    ApplicationRecordLocked,
    /// 207: application internal error.
    ApplicationInternalError,
}

impl ErrorCode {
    /// Numeric table 0357 value.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::Accepted => 0,
            ErrorCode::SegmentSequence => 100,
            ErrorCode::RequiredFieldMissing => 101,
            ErrorCode::DataType => 102,
            ErrorCode::TableValueNotFound => 103,
            ErrorCode::UnsupportedMessageType => 200,
            ErrorCode::UnsupportedEventCode => 201,
            ErrorCode::UnsupportedProcessingId => 202,
            ErrorCode::UnsupportedVersionId => 203,
            ErrorCode::UnknownKeyIdentifier => 204,
            ErrorCode::DuplicateKeyIdentifier => 205,
            ErrorCode::ApplicationRecordLocked => 206,
            ErrorCode::ApplicationInternalError => 207,
        }
    }

    /// Table 0357 description.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::Accepted => "Message accepted",
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataType => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersionId => "Unsupported version id",
            ErrorCode::UnknownKeyIdentifier => "Unknown key identifier",
            ErrorCode::DuplicateKeyIdentifier => "Duplicate key identifier",
            ErrorCode::ApplicationRecordLocked => "Application record locked",
            ErrorCode::ApplicationInternalError => "Application internal error",
        }
    }
}

/// The error reported in a NAK: a table 0357 code and a free-text reason
/// (escaped on output, so any text is safe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// ERR-3 / MSA-6 code.
    pub code: ErrorCode,
    /// ERR-8 user message and MSA-3 text.
    pub reason: String,
}

impl AckError {
    /// Convenience constructor.
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Reply to `msh` with `code`; MSH-7 reuses the incoming MSH-7 (no clock).
pub fn build_ack(msh: &Msh, code: AckCode, control_id: &str, err: Option<&AckError>) -> Vec<u8> {
    build_ack_at(msh, code, control_id, err, &msh.datetime)
}

/// Reply to `msh` with `code` and MSH-7 = `timestamp` (raw TS, e.g. from
/// [`crate::hl7_timestamp`]). `control_id` becomes the ACK's MSH-10.
pub fn build_ack_at(
    msh: &Msh,
    code: AckCode,
    control_id: &str,
    err: Option<&AckError>,
    timestamp: &str,
) -> Vec<u8> {
    let d = msh.delimiters();
    let header = Header {
        sending_application: &msh.receiving_application,
        sending_facility: &msh.receiving_facility,
        receiving_application: &msh.sending_application,
        receiving_facility: &msh.sending_facility,
        trigger: &msh.trigger_event,
        processing_id: &msh.processing_id,
        version: &msh.version,
        charset: msh.charset.as_deref().unwrap_or(""),
    };
    render(
        &d,
        &header,
        code,
        control_id,
        &msh.control_id,
        err,
        timestamp,
    )
}

/// NAK for a payload whose MSH could not be read at all: default delimiters
/// `|^~\&`, version 2.5.1, MSH-3 `TRIAGE`, MSH-9 `ACK^^ACK` (trigger
/// unknown), empty MSH-7 and MSA-2, ERR-3 100
/// (segment sequence error: no usable MSH as first segment).
pub fn build_nak_without_msh(code: AckCode, reason: &str, control_id: &str) -> Vec<u8> {
    let err = AckError::new(ErrorCode::SegmentSequence, reason);
    build_nak_without_msh_at(code, &err, control_id, "", "")
}

/// Like [`build_nak_without_msh`] with a chosen error code, MSA-2 (e.g. from
/// [`crate::salvage_control_id`], else empty) and MSH-7. MSH-7 and MSA-2 are
/// required fields in v2.5.1, so strict receivers want both valued.
pub fn build_nak_without_msh_at(
    code: AckCode,
    err: &AckError,
    control_id: &str,
    acked_control_id: &str,
    timestamp: &str,
) -> Vec<u8> {
    let header = Header {
        sending_application: "TRIAGE",
        sending_facility: "",
        receiving_application: "",
        receiving_facility: "",
        trigger: "",
        processing_id: "P",
        version: "2.5.1",
        charset: "",
    };
    let d = Delimiters::default();
    let acked = escape_text(acked_control_id, &d);
    render(&d, &header, code, control_id, &acked, Some(err), timestamp)
}

/// Raw (already escaped) MSH values of the reply.
struct Header<'a> {
    sending_application: &'a str,
    sending_facility: &'a str,
    receiving_application: &'a str,
    receiving_facility: &'a str,
    trigger: &'a str,
    processing_id: &'a str,
    version: &'a str,
    charset: &'a str,
}

fn render(
    d: &Delimiters,
    h: &Header<'_>,
    code: AckCode,
    control_id: &str,
    acked_control_id: &str,
    err: Option<&AckError>,
    timestamp: &str,
) -> Vec<u8> {
    let f = char::from(d.field);
    let c = char::from(d.component);
    let esc = |s: &str| escape_text(s, d);
    let msg_type = message_type_field(h.version, "ACK", h.trigger, "ACK", c);
    let mut out = d.msh_prefix();
    // MSH-3 .. MSH-12.
    let mut msh = [
        h.sending_application,
        h.sending_facility,
        h.receiving_application,
        h.receiving_facility,
        timestamp,
        "",
        &msg_type,
        &esc(control_id),
        h.processing_id,
        h.version,
    ]
    .join(&f.to_string());
    if !h.charset.is_empty() {
        // MSH-13 .. MSH-17 empty, MSH-18 character set.
        msh.push_str(&format!("{f}{f}{f}{f}{f}{f}{}", h.charset));
    }
    out.push(d.field);
    out.extend_from_slice(msh.as_bytes());
    out.push(b'\r');

    let mut msa = format!("MSA{f}{code}{f}{acked_control_id}");
    if let Some(e) = err.filter(|_| !at_least(h.version, (2, 7, 0))) {
        msa.push_str(&format!("{f}{}", esc(&e.reason)));
        if at_least(h.version, (2, 2, 0)) && !at_least(h.version, (2, 5, 0)) {
            // MSA-4, MSA-5 empty; MSA-6 error condition (CE, table 0357).
            msa.push_str(&format!("{f}{f}{f}{}", coded(e, c, &esc)));
        }
    }
    out.extend_from_slice(msa.as_bytes());
    out.push(b'\r');

    if let Some(e) = err.filter(|_| at_least(h.version, (2, 5, 0))) {
        let err_seg = format!(
            "ERR{f}{f}{f}{}{f}E{f}{f}{f}{f}{}",
            coded(e, c, &esc),
            esc(&e.reason)
        );
        out.extend_from_slice(err_seg.as_bytes());
        out.push(b'\r');
    }
    out
}

/// `<code>^<description>^HL70357` (CE/CWE with coding system name).
fn coded(e: &AckError, c: char, esc: &dyn Fn(&str) -> String) -> String {
    format!(
        "{}{c}{}{c}HL70357",
        e.code.code(),
        esc(e.code.description())
    )
}

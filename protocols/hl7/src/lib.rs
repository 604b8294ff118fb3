//! HL7 v2 / MLLP codec for triage: framing and pure helpers, no I/O.
//!
//! * [`mllp`]: MLLP framing (HL7 v2 Transport Specification: MLLP release 1
//!   and 2), `0x0B payload 0x1C 0x0D`, with junk skipping, a frame-size cap and
//!   release-2 commit acknowledgements.
//! * [`msh`]: reads the message header (HL7 v2.5.1 §2.14.9) from a payload;
//!   [`msh_fields`] borrows the few fields routing needs.
//! * [`ack`]: builds ACK/NAK payloads (HL7 v2.5.1 §2.9.2, §2.14.8 MSA,
//!   §2.14.5 ERR) and [`ack_parse`] reads those coming back from a backend.
//! * [`glob`]: `*`/`?` matching for `message_type = "ADT^A*"` routes.
//! * [`test_message`]: the synthetic health-check message.
//!
//! Nothing here reads a socket or a clock; nothing panics on network input
//! (checked by the `decode` fuzz target under `fuzz/`).
#![forbid(unsafe_code)]

pub mod ack;
pub mod ack_parse;
pub mod delims;
pub mod escape;
pub mod glob;
pub mod mllp;
pub mod msh;
pub mod msh_fields;
pub mod segments;
pub mod test_message;
pub mod ts;
mod version;

pub use ack::{
    build_ack, build_ack_at, build_nak_without_msh, build_nak_without_msh_at, AckCode, AckError,
    ErrorCode,
};
pub use ack_parse::{parse_ack, parse_msa, Msa};
pub use delims::Delimiters;
pub use glob::glob_match;
pub use mllp::{encode, encode_commit, MllpDecoder, MllpError, MllpFrame, MllpItem};
pub use msh::{parse_msh, parse_msh_lenient, salvage_control_id, Msh, MshError, MAX_MSH_LEN};
pub use msh_fields::{parse_msh_fields, MshFields};
pub use test_message::{build_test_message, build_test_message_at};
pub use ts::hl7_timestamp;

/// Default cap on one MLLP frame's payload: 16 MiB (large enough for an
/// ORU^R01 carrying an encapsulated PDF in OBX-5, small enough to bound memory).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

//! Message header reading (HL7 v2.5.1 §2.14.9 MSH).
//!
//! Only the first segment is read. Delimiters (MSH-1/MSH-2) are validated by
//! hand ([`Delimiters::from_msh_line`]). [`parse_msh`] then splits the fields
//! with `hl7-parser` 0.3's `parser::parse_msh`, with its known pitfalls handled:
//! * it is fed only the MSH line, never the whole payload;
//! * a v2.7 truncation character in MSH-2 (`MSH|^~\&#|`) is stripped first,
//!   since that crate reads exactly four encoding characters;
//! * the line must be UTF-8 (it takes `&str`): other bytes are an error
//!   ([`MshError::NotUtf8`], a NAK case), never a lossy guess;
//! * its escape decoding (which can panic on non-ASCII text) is never used:
//!   all values are kept raw, i.e. still escaped as on the wire (§2.7);
//! * it is superlinear on long fields full of repetitions/components (about
//!   0.4 s for 400 KB in a release build, found by fuzzing), so it only sees
//!   MSH-1..MSH-18, and that part must fit in [`MAX_MSH_LEN`] bytes (the
//!   §2.14.9 field lengths add up to well under 2 KB).
//!
//! The gateway's per-message path reads the header with
//! [`crate::parse_msh_fields`] instead: the same checks, the fields borrowed and
//! split at the delimiters by [`split_fields`] (§2.5.6), which a test proves to
//! split exactly as `hl7-parser` does; `hl7-parser`'s per-field allocations
//! were ≈30% of the gateway's CPU per message (`cargo bench --bench load_hl7`).

use crate::ack::ErrorCode;
use crate::delims::{show, Delimiters};
use crate::segments::first_segment;

/// Cap on the part of MSH that is parsed (MSH-1..MSH-18), in bytes.
pub const MAX_MSH_LEN: usize = 16 * 1024;

/// The header fields triage routes and acknowledges on. Strings are raw
/// field values (still escaped, §2.7), so they can be copied verbatim into a
/// reply that uses the same delimiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msh {
    /// MSH-1 field separator.
    pub field_sep: u8,
    /// MSH-2 component separator.
    pub components: u8,
    /// MSH-2 repetition separator.
    pub repetition: u8,
    /// MSH-2 escape character.
    pub escape: u8,
    /// MSH-2 subcomponent separator.
    pub subcomponent: u8,
    /// MSH-2 truncation character (v2.7+), if present.
    pub truncation: Option<u8>,
    /// MSH-3 sending application (whole HD field).
    pub sending_application: String,
    /// MSH-4 sending facility (whole HD field).
    pub sending_facility: String,
    /// MSH-5 receiving application (whole HD field).
    pub receiving_application: String,
    /// MSH-6 receiving facility (whole HD field).
    pub receiving_facility: String,
    /// MSH-7 date/time of message (raw TS/DTM).
    pub datetime: String,
    /// MSH-9.1 message code (table 0076), e.g. `ADT`.
    pub message_type: String,
    /// MSH-9.2 trigger event (table 0003), e.g. `A01`.
    pub trigger_event: String,
    /// MSH-9.3 message structure (table 0354), e.g. `ADT_A01`.
    pub message_structure: String,
    /// MSH-10 message control ID.
    pub control_id: String,
    /// MSH-11 processing ID (whole PT field, e.g. `P`).
    pub processing_id: String,
    /// MSH-12.1 version ID (table 0104), e.g. `2.5.1`.
    pub version: String,
    /// MSH-15 accept acknowledgment type (table 0155); `None` when empty.
    pub accept_ack_type: Option<String>,
    /// MSH-16 application acknowledgment type (table 0155); `None` when empty.
    pub application_ack_type: Option<String>,
    /// MSH-18 character set(s) (table 0211, raw, may repeat); `None` when empty.
    pub charset: Option<String>,
}

/// Why a header (or an acknowledgement) could not be read. Every variant is
/// a NAK case for the gateway; see [`MshError::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MshError {
    /// No segment at all.
    #[error("empty HL7 payload: no segment to read")]
    Empty,
    /// The first segment is not MSH (§2.14.9: a message starts with MSH).
    #[error("first segment starts with {found:?}, not MSH")]
    NotMsh {
        /// First three bytes of the segment (its ID, never data), escaped for display.
        found: String,
    },
    /// MSH-1/MSH-2 unusable (§2.5.4, §2.14.9.1-2).
    #[error("bad MSH delimiters {found:?}: {reason}")]
    BadDelimiters {
        /// The bytes after `MSH`, escaped for display.
        found: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// MSH-1..MSH-18 is longer than [`MAX_MSH_LEN`].
    #[error("MSH segment is {len} bytes up to MSH-18, over the {max}-byte limit")]
    TooLong {
        /// Length of MSH up to the end of MSH-18.
        len: usize,
        /// The limit, [`MAX_MSH_LEN`].
        max: usize,
    },
    /// The MSH segment is not valid UTF-8.
    #[error("MSH segment is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte within the MSH segment.
        offset: usize,
    },
    /// `hl7-parser` rejected the segment.
    #[error("MSH segment unparsable at position {position}: {detail}")]
    Syntax {
        /// Position reported by the parser.
        position: usize,
        /// The parser's message.
        detail: String,
    },
    /// A field the gateway needs (§2.14.9: MSH-9 and MSH-10 are required) is
    /// empty. The rest of the header is in `msh`, enough to address a NAK.
    #[error("required field {field} is empty")]
    MissingField {
        /// The field, e.g. `MSH-9.1`.
        field: &'static str,
        /// Everything that was read.
        msh: Box<Msh>,
    },
    /// An acknowledgement without MSA segment (§2.14.8).
    #[error("no MSA segment in acknowledgement")]
    MissingMsa,
    /// MSA-1 not in table 0008.
    #[error("MSA-1 acknowledgment code {found:?} is not AA/AE/AR/CA/CE/CR (table 0008)")]
    BadAckCode {
        /// The value found, escaped for display.
        found: String,
    },
}

impl MshError {
    /// The header read so far, when enough was parsed to address a NAK.
    pub fn partial_msh(&self) -> Option<&Msh> {
        match self {
            MshError::MissingField { msh, .. } => Some(msh),
            _ => None,
        }
    }

    /// The table 0357 code a NAK for this error should carry in ERR-3.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            MshError::Empty | MshError::NotMsh { .. } | MshError::MissingMsa => {
                ErrorCode::SegmentSequence
            }
            MshError::BadDelimiters { .. }
            | MshError::TooLong { .. }
            | MshError::NotUtf8 { .. }
            | MshError::Syntax { .. } => ErrorCode::DataType,
            MshError::MissingField { .. } => ErrorCode::RequiredFieldMissing,
            MshError::BadAckCode { .. } => ErrorCode::TableValueNotFound,
        }
    }
}

impl Msh {
    /// The delimiters of this message.
    pub fn delimiters(&self) -> Delimiters {
        Delimiters {
            field: self.field_sep,
            component: self.components,
            repetition: self.repetition,
            escape: self.escape,
            subcomponent: self.subcomponent,
            truncation: self.truncation,
        }
    }

    /// `type^trigger` (e.g. `ADT^A01`), always joined with `^` whatever the
    /// message's component separator, for matching routing globs; just the
    /// type when there is no trigger.
    pub fn message_type_full(&self) -> String {
        if self.trigger_event.is_empty() {
            self.message_type.clone()
        } else {
            format!("{}^{}", self.message_type, self.trigger_event)
        }
    }

    /// Enhanced acknowledgement mode (§2.9.3): MSH-15 or MSH-16 is valued.
    /// Otherwise original mode (§2.9.2).
    pub fn enhanced_mode(&self) -> bool {
        self.accept_ack_type.is_some() || self.application_ack_type.is_some()
    }

    /// Whether the sender wants an accept (commit) ACK for an outcome, per
    /// MSH-15 and table 0155 (AL always, NE never, ER errors only, SU
    /// success only). Original mode (MSH-15 empty) counts as "always".
    pub fn accept_ack_wanted(&self, success: bool) -> bool {
        match self.accept_ack_type.as_deref().map(str::trim) {
            None | Some("AL") => true,
            Some("NE") => false,
            Some("ER") => !success,
            Some("SU") => success,
            Some(_) => true,
        }
    }
}

/// Read the header of `payload` and require MSH-9.1 and MSH-10 (what the
/// gateway routes and acknowledges on). Segments may end in CR, LF or CRLF.
pub fn parse_msh(payload: &[u8]) -> Result<Msh, MshError> {
    let msh = parse_msh_lenient(payload)?;
    let missing = if msh.message_type.is_empty() {
        Some("MSH-9.1")
    } else if msh.control_id.is_empty() {
        Some("MSH-10")
    } else {
        None
    };
    match missing {
        Some(field) => Err(MshError::MissingField {
            field,
            msh: Box::new(msh),
        }),
        None => Ok(msh),
    }
}

/// The checks every header read makes: the first segment is MSH with usable delimiters, and
/// MSH-1..MSH-18 fit in [`MAX_MSH_LEN`] and are UTF-8. Returns that part of the line, the
/// delimiters and the offset where MSH-2 ends.
pub(crate) fn msh_line(payload: &[u8]) -> Result<(&str, Delimiters, usize), MshError> {
    let line = first_segment(payload).ok_or(MshError::Empty)?;
    if !line.starts_with(b"MSH") {
        return Err(MshError::NotMsh {
            // Only a segment-ID's worth (3 bytes): more could be patient data in logs.
            found: show(&line[..line.len().min(3)]),
        });
    }
    let (d, msh2_end) = Delimiters::from_msh_line(line)?;
    // Keep MSH-1..MSH-18: cut at the 18th field separator (counting MSH-1
    // itself), which opens MSH-19.
    let line = match line
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == d.field)
        .nth(17)
    {
        Some((cut, _)) => &line[..cut],
        None => line,
    };
    if line.len() > MAX_MSH_LEN {
        return Err(MshError::TooLong {
            len: line.len(),
            max: MAX_MSH_LEN,
        });
    }
    let text = std::str::from_utf8(line).map_err(|e| MshError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    Ok((text, d, msh2_end))
}

/// Like [`parse_msh`] but empty fields are accepted (used for ACKs coming
/// back from a backend, and to address NAKs).
pub fn parse_msh_lenient(payload: &[u8]) -> Result<Msh, MshError> {
    let (text, d, msh2_end) = msh_line(payload)?;
    // Strip the truncation character: hl7-parser reads exactly `MSH` plus
    // five ASCII delimiters. All bytes up to `msh2_end` are ASCII here.
    let normalized: String = match d.truncation {
        Some(_) => format!("{}{}", &text[..msh2_end - 1], &text[msh2_end..]),
        None => text.to_string(),
    };
    let (_, seg) = hl7_parser::parser::parse_msh(&normalized).map_err(|e| match e {
        hl7_parser::parser::ParseError::FailedToParse { position, fragment } => MshError::Syntax {
            position,
            detail: format!("near {fragment:?}"),
        },
        other => MshError::Syntax {
            position: normalized.len(),
            detail: other.to_string(),
        },
    })?;
    // Field numbers are 1-based and MSH-1 is the separator (§2.14.9.1).
    let field = |n: usize| seg.field(n).map(|f| f.raw_value()).unwrap_or("");
    let comp = |n: usize, c: usize| {
        seg.field(n)
            .and_then(|f| f.component(c))
            .map(|c| c.raw_value())
            .unwrap_or("")
    };
    let opt = |n: usize| Some(field(n).to_string()).filter(|s| !s.is_empty());
    Ok(Msh {
        field_sep: d.field,
        components: d.component,
        repetition: d.repetition,
        escape: d.escape,
        subcomponent: d.subcomponent,
        truncation: d.truncation,
        sending_application: field(3).to_string(),
        sending_facility: field(4).to_string(),
        receiving_application: field(5).to_string(),
        receiving_facility: field(6).to_string(),
        datetime: field(7).to_string(),
        message_type: comp(9, 1).to_string(),
        trigger_event: comp(9, 2).to_string(),
        message_structure: comp(9, 3).to_string(),
        control_id: field(10).to_string(),
        processing_id: field(11).to_string(),
        version: comp(12, 1).to_string(),
        accept_ack_type: opt(15),
        application_ack_type: opt(16),
        charset: opt(18),
    })
}

/// Raw MSH fields indexed by field number (index 0..=2 unused: `MSH`, MSH-1, MSH-2): the
/// values between field separators after MSH-2, which ends at `msh2_end` (the separator or
/// the line end). Delimiters are ASCII, so splitting the UTF-8 text at them is exact; no
/// value is unescaped (§2.7). `line` is already cut after MSH-18, so at most 16 values follow.
pub(crate) fn split_fields<'a>(line: &'a str, d: &Delimiters, msh2_end: usize) -> [&'a str; 19] {
    let mut f = [""; 19];
    let rest = line.get(msh2_end + 1..).unwrap_or("");
    for (slot, v) in f[3..].iter_mut().zip(rest.split(char::from(d.field))) {
        *slot = v;
    }
    f
}

/// Best-effort MSH-10 of a payload whose header [`parse_msh`] rejected (e.g.
/// non-UTF-8 bytes elsewhere in MSH), so a NAK can still carry MSA-2 for the
/// sender to correlate. Only a printable-ASCII value is returned.
pub fn salvage_control_id(payload: &[u8]) -> Option<String> {
    let line = first_segment(payload)?;
    if !line.starts_with(b"MSH") {
        return None;
    }
    let (d, _) = Delimiters::from_msh_line(line).ok()?;
    // Split yields [`MSH`, MSH-2, MSH-3, ...]: MSH-n is at index n - 1.
    let id = line.split(|&b| b == d.field).nth(9)?;
    let printable = !id.is_empty() && id.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    printable.then(|| String::from_utf8_lossy(id).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_header() {
        let m =
            parse_msh(b"MSH|^~\\&|APP|FAC|RAPP|RFAC|20240101||ADT^A01^ADT_A01|42|P|2.5.1\rPID|1")
                .unwrap();
        assert_eq!(m.message_type_full(), "ADT^A01");
        assert_eq!(m.control_id, "42");
        assert_eq!(m.version, "2.5.1");
        assert!(!m.enhanced_mode());
    }

    #[test]
    fn truncation_is_stripped() {
        let m = parse_msh(b"MSH|^~\\&#|APP|FAC|||2024||ADT^A01|1|P|2.7|||AL|NE").unwrap();
        assert_eq!(m.truncation, Some(b'#'));
        assert_eq!(m.sending_application, "APP");
        assert!(m.enhanced_mode());
    }

    #[test]
    fn missing_control_id_keeps_header() {
        let e = parse_msh(b"MSH|^~\\&|A|B|C|D|||ORM^O01||P|2.3").unwrap_err();
        assert_eq!(e.partial_msh().unwrap().sending_application, "A");
        assert_eq!(e.error_code(), ErrorCode::RequiredFieldMissing);
    }

    #[test]
    fn only_msh_1_to_18_is_parsed() {
        let mut p = b"MSH|^~\\&|A||||||X^Y|1|P|2.5.1||||||UNICODE UTF-8|".to_vec();
        p.extend_from_slice(b"\xff");
        p.extend(std::iter::repeat_n(b'~', 100_000));
        let m = parse_msh(&p).unwrap();
        assert_eq!(m.charset.as_deref(), Some("UNICODE UTF-8"));
        let mut p = b"MSH|^~\\&|".to_vec();
        p.extend(std::iter::repeat_n(b'~', MAX_MSH_LEN));
        assert!(matches!(parse_msh(&p), Err(MshError::TooLong { .. })));
    }

    /// The fields as `hl7-parser` 0.3 splits them (what this module used before splitting by
    /// hand): field, first repetition's component, for MSH-3..MSH-18.
    fn reference(line: &str, d: &Delimiters, msh2_end: usize) -> Vec<(String, Vec<String>)> {
        let normalized = match d.truncation {
            Some(_) => format!("{}{}", &line[..msh2_end - 1], &line[msh2_end..]),
            None => line.to_string(),
        };
        let (_, seg) = hl7_parser::parser::parse_msh(&normalized).unwrap();
        (3..=18)
            .map(|n| {
                let f = seg.field(n).map(|f| f.raw_value()).unwrap_or("");
                let comps = (1..=3)
                    .map(|c| {
                        seg.field(n)
                            .and_then(|f| f.component(c))
                            .map(|c| c.raw_value())
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect();
                (f.to_string(), comps)
            })
            .collect()
    }

    #[test]
    fn splits_fields_as_hl7_parser_does() {
        // Deterministic pseudo-random MSH lines over an alphabet full of delimiters, escapes
        // and multi-byte UTF-8, with standard, custom and v2.7 (truncation) delimiters.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let heads = ["MSH|^~\\&", "MSH|^~\\&#", "MSH#$*!%", "MSH!@%?/"];
        let mut checked = 0;
        for i in 0..3000 {
            let head = heads[i % heads.len()];
            let seps: Vec<char> = head[3..].chars().collect();
            let mut alpha: Vec<char> = "AB1 é_-.".chars().collect();
            alpha.extend(&seps);
            alpha.extend(std::iter::repeat_n(seps[0], 4));
            let mut line = head.to_string();
            if next(8) != 0 {
                line.push(seps[0]);
                for _ in 0..next(120) {
                    line.push(alpha[next(alpha.len())]);
                }
            }
            let Ok((d, end)) = Delimiters::from_msh_line(line.as_bytes()) else {
                continue;
            };
            let Ok(m) = parse_msh_lenient(line.as_bytes()) else {
                continue;
            };
            // What parse_msh_lenient read, against the reference on the same cut line.
            let cut = line
                .char_indices()
                .filter(|(_, c)| *c == char::from(d.field))
                .nth(17)
                .map_or(line.as_str(), |(i, _)| &line[..i]);
            let r = reference(cut, &d, end);
            let f = split_fields(cut, &d, end);
            for n in 3..=18 {
                assert_eq!(f[n], r[n - 3].0, "MSH-{n} of {line:?}");
            }
            assert_eq!(m.sending_application, r[0].0, "{line:?}");
            assert_eq!(m.datetime, r[4].0, "{line:?}");
            assert_eq!(m.message_type, r[6].1[0], "{line:?}");
            assert_eq!(m.trigger_event, r[6].1[1], "{line:?}");
            assert_eq!(m.message_structure, r[6].1[2], "{line:?}");
            assert_eq!(m.control_id, r[7].0, "{line:?}");
            assert_eq!(m.version, r[9].1[0], "{line:?}");
            assert_eq!(m.charset.as_deref().unwrap_or(""), r[15].0, "{line:?}");
            checked += 1;
        }
        assert!(checked > 1000, "only {checked} lines were valid MSH");
    }

    #[test]
    fn salvages_control_id() {
        let p = b"MSH|^~\\&|\xff|F|||2024||ADT^A01|C-9|P|2.5.1\r";
        assert!(matches!(parse_msh(p), Err(MshError::NotUtf8 { .. })));
        assert_eq!(salvage_control_id(p).as_deref(), Some("C-9"));
        assert_eq!(salvage_control_id(b"MSH|^~\\&|A"), None);
        assert_eq!(salvage_control_id(b"PID|1"), None);
    }
}

//! Message delimiters: MSH-1 field separator and MSH-2 encoding characters
//! (HL7 v2.5.1 §2.5.4 "Message delimiters", §2.14.9.1, §2.14.9.2; the v2.7
//! truncation character is the optional 5th encoding character, v2.7 §2.5.5.2).
//!
//! Validation is by hand, before `hl7-parser` sees the segment: that crate
//! takes exactly five ASCII characters after `MSH` as `|^~\&` and so shifts
//! every field by one when a truncation character is present.

use crate::msh::MshError;

/// The delimiters of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// MSH-1, usually `|`.
    pub field: u8,
    /// Component separator, usually `^`.
    pub component: u8,
    /// Repetition separator, usually `~`.
    pub repetition: u8,
    /// Escape character, usually `\`.
    pub escape: u8,
    /// Subcomponent separator, usually `&`.
    pub subcomponent: u8,
    /// v2.7+ truncation character, usually `#`; `None` before v2.7.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    /// The recommended `|^~\&` (HL7 v2.5.1 §2.5.4).
    fn default() -> Self {
        Self {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: b'\\',
            subcomponent: b'&',
            truncation: None,
        }
    }
}

/// A byte usable as a delimiter: printable ASCII, not a letter or digit
/// (letters/digits would collide with segment IDs and values; CR, LF and other
/// controls would collide with segment terminators and MLLP framing).
fn usable(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

/// Printable rendering of delimiter bytes for error messages.
pub(crate) fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

impl Delimiters {
    /// Read MSH-1 and MSH-2 from an MSH segment line (which starts with
    /// `MSH`). Returns the delimiters and the byte length of `MSH` + MSH-1 +
    /// MSH-2, i.e. the offset of the field separator that ends MSH-2 (or the
    /// line end).
    pub fn from_msh_line(line: &[u8]) -> Result<(Self, usize), MshError> {
        let bad = |reason: &'static str| MshError::BadDelimiters {
            found: show(line.get(3..line.len().min(9)).unwrap_or_default()),
            reason,
        };
        let field = *line.get(3).ok_or_else(|| bad("MSH-1 missing"))?;
        if !usable(field) {
            return Err(bad(
                "MSH-1 is not a printable non-alphanumeric ASCII character",
            ));
        }
        let rest = &line[4..];
        let enc_len = rest.iter().position(|&b| b == field).unwrap_or(rest.len());
        let enc = &rest[..enc_len];
        if enc.len() < 4 {
            return Err(bad("MSH-2 has fewer than 4 encoding characters"));
        }
        if enc.len() > 5 {
            return Err(bad("MSH-2 has more than 5 encoding characters"));
        }
        if !enc.iter().all(|&b| usable(b)) {
            return Err(bad(
                "MSH-2 holds a control, non-ASCII or alphanumeric character",
            ));
        }
        // At most 6 bytes: compare every pair (no allocation, this runs for every message).
        let all = &line[3..4 + enc_len];
        let distinct = all
            .iter()
            .enumerate()
            .all(|(i, b)| !all[i + 1..].contains(b));
        if !distinct {
            return Err(bad("MSH-1/MSH-2 delimiters are not all distinct"));
        }
        Ok((
            Self {
                field,
                component: enc[0],
                repetition: enc[1],
                escape: enc[2],
                subcomponent: enc[3],
                truncation: enc.get(4).copied(),
            },
            4 + enc_len,
        ))
    }

    /// MSH-2 as written: the four encoding characters plus the truncation
    /// character when present.
    pub fn encoding_chars(&self) -> Vec<u8> {
        let mut v = vec![
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ];
        v.extend(self.truncation);
        v
    }

    /// `MSH` + MSH-1 + MSH-2, the fixed start of a header segment.
    pub fn msh_prefix(&self) -> Vec<u8> {
        let mut v = b"MSH".to_vec();
        v.push(self.field);
        v.extend(self.encoding_chars());
        v
    }

    /// True when `b` is one of these delimiters.
    pub fn is_delimiter(&self, b: u8) -> bool {
        b == self.field
            || b == self.component
            || b == self.repetition
            || b == self.escape
            || b == self.subcomponent
            || Some(b) == self.truncation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_truncation() {
        let (d, end) = Delimiters::from_msh_line(b"MSH|^~\\&|A").unwrap();
        assert_eq!(d, Delimiters::default());
        assert_eq!(end, 8);
        let (d, end) = Delimiters::from_msh_line(b"MSH|^~\\&#|A").unwrap();
        assert_eq!(d.truncation, Some(b'#'));
        assert_eq!(end, 9);
        assert_eq!(d.msh_prefix(), b"MSH|^~\\&#");
    }

    #[test]
    fn rejects_bad() {
        for line in [
            &b"MSH"[..],
            b"MSH|",
            b"MSH|^~|",
            b"MSH|^^\\&|",
            b"MSHA^~\\&",
            b"MSH|^~\\&#$|",
        ] {
            assert!(Delimiters::from_msh_line(line).is_err(), "{line:?}");
        }
    }
}

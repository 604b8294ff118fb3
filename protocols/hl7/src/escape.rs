//! Escaping of text that triage itself writes into a message (ACK reason
//! text, control ids), per HL7 v2.5.1 §2.7 "Use of escape sequences in text
//! fields": `\F\` field, `\S\` component, `\T\` subcomponent, `\R\`
//! repetition, `\E\` escape, `\Xhh\` hexadecimal data (§2.7.4) for control
//! characters, and `\P\` for the v2.7 truncation character.
//!
//! There is deliberately no decoder: values read from the network are kept
//! raw (still escaped), and `hl7-parser`'s decoder can panic on non-ASCII
//! text before an escape sequence, so it is never called here.

use crate::delims::Delimiters;

/// Escape `text` so it can be placed inside one field component written
/// with delimiters `d`.
pub fn escape_text(text: &str, d: &Delimiters) -> String {
    let mut out = String::with_capacity(text.len());
    let e = char::from(d.escape);
    for c in text.chars() {
        let code = match u8::try_from(c) {
            Ok(b) if b == d.field => Some("F".to_string()),
            Ok(b) if b == d.component => Some("S".to_string()),
            Ok(b) if b == d.subcomponent => Some("T".to_string()),
            Ok(b) if b == d.repetition => Some("R".to_string()),
            Ok(b) if b == d.escape => Some("E".to_string()),
            Ok(b) if Some(b) == d.truncation => Some("P".to_string()),
            Ok(b) if b.is_ascii_control() => Some(format!("X{b:02X}")),
            _ => None,
        };
        match code {
            Some(code) => {
                out.push(e);
                out.push_str(&code);
                out.push(e);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_delimiters_and_controls() {
        let d = Delimiters::default();
        assert_eq!(
            escape_text("a|b^c&d~e\\f\rg", &d),
            r"a\F\b\S\c\T\d\R\e\E\f\X0D\g"
        );
        assert_eq!(escape_text("plain é", &d), "plain é");
        let d7 = Delimiters {
            truncation: Some(b'#'),
            ..d
        };
        assert_eq!(escape_text("#1", &d7), r"\P\1");
    }
}

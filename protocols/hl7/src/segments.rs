//! Segment splitting. HL7 v2.5.1 §2.5.1 (and §2.6) ends every segment with
//! a carriage return (0x0D); senders in the wild also use LF or CRLF, so any
//! run of CR/LF ends a segment and empty lines are skipped. LF never occurs
//! inside a conforming value (it would be escaped as `\X0A\`, §2.7.4).

/// Iterate over the non-empty segments of `payload`, without terminators.
pub fn segments(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    payload
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|s| !s.is_empty())
}

/// The first segment, if any, with a leading UTF-8 byte-order mark removed.
pub fn first_segment(payload: &[u8]) -> Option<&[u8]> {
    let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    segments(payload).next()
}

/// Split one segment into fields by the field separator (`fields[0]` is the
/// segment ID). Not for MSH, whose MSH-1 is the separator itself.
pub fn fields(segment: &[u8], field_sep: u8) -> impl Iterator<Item = &[u8]> {
    segment.split(move |&b| b == field_sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cr_lf_crlf() {
        let v: Vec<_> = segments(b"A|1\rB|2\nC|3\r\nD|4\r\r").collect();
        assert_eq!(v, vec![&b"A|1"[..], b"B|2", b"C|3", b"D|4"]);
        assert_eq!(first_segment(b"\xEF\xBB\xBF\r\nMSH|x"), Some(&b"MSH|x"[..]));
        assert_eq!(first_segment(b"\r\n"), None);
    }
}

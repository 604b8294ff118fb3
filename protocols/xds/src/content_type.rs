//! HTTP `Content-Type` parsing for SOAP 1.2, SOAP 1.1 and MTOM messages.
//!
//! Grammar: RFC 2045 §5.1 (`type/subtype *(";" parameter)`, parameter values
//! are tokens or quoted-strings, names are case-insensitive). The parameters
//! that matter for IHE XDS.b are those of `application/soap+xml` (`action`,
//! `charset`; RFC 3902) and of `multipart/related` (`boundary`, `type`,
//! `start`, `start-info`; RFC 2387 §3) as used by MTOM/XOP in
//! ITI TF-2 Appendix V.

use crate::error::XdsError;
use crate::finder::SoapVersion;

/// A parsed `Content-Type` header value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentType {
    /// Lowercased `type/subtype`, e.g. `multipart/related`.
    pub mime: String,
    /// `action` parameter (SOAP 1.2, RFC 3902).
    pub action: Option<String>,
    /// `boundary` parameter (RFC 2046 §5.1.1), case preserved.
    pub boundary: Option<String>,
    /// `start` parameter: Content-ID of the root part (RFC 2387 §3.2).
    pub start: Option<String>,
    /// `start-info` parameter (RFC 2387 §3.3), e.g. `application/soap+xml`.
    pub start_info: Option<String>,
    /// `charset` parameter as received.
    pub charset: Option<String>,
}

impl ContentType {
    /// True for `multipart/related` (MTOM/XOP packages, RFC 2387).
    pub fn is_multipart(&self) -> bool {
        self.mime == "multipart/related"
    }

    /// SOAP version implied by the media type: `text/xml` is SOAP 1.1,
    /// everything else (application/soap+xml, MTOM with
    /// start-info="application/soap+xml") is taken as SOAP 1.2.
    pub fn soap_version_hint(&self) -> SoapVersion {
        let start_info_11 = self
            .start_info
            .as_deref()
            .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("text/xml"));
        if self.mime == "text/xml" || (self.is_multipart() && start_info_11) {
            SoapVersion::V11
        } else {
            SoapVersion::V12
        }
    }
}

/// Parses a `Content-Type` header value (RFC 2045 §5.1).
///
/// Parameter names are matched case-insensitively; values may be tokens or
/// quoted-strings with `\` escapes. Unknown parameters are ignored; for a
/// repeated parameter the first occurrence wins.
pub fn parse_content_type(value: &str) -> Result<ContentType, XdsError> {
    let bad = |reason| XdsError::BadContentType {
        value: value.chars().take(256).collect(),
        reason,
    };
    let (mime_part, mut rest) = match memchr::memchr(b';', value.as_bytes()) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let mime = mime_part.trim().to_ascii_lowercase();
    let (ty, sub) = mime.split_once('/').ok_or_else(|| bad("missing '/'"))?;
    if !is_token(ty) || !is_token(sub) {
        return Err(bad("type/subtype is not a token"));
    }
    let mut ct = ContentType {
        mime,
        ..ContentType::default()
    };
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || is_lws(c));
        if rest.is_empty() {
            break;
        }
        let eq =
            memchr::memchr(b'=', rest.as_bytes()).ok_or_else(|| bad("parameter without '='"))?;
        let name = rest[..eq].trim();
        if !is_token(name) {
            return Err(bad("parameter name is not a token"));
        }
        rest = rest[eq + 1..].trim_start_matches(is_lws);
        // Only the parameters kept are copied.
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        let slot = if is("action") {
            Some(&mut ct.action)
        } else if is("boundary") {
            Some(&mut ct.boundary)
        } else if is("start") {
            Some(&mut ct.start)
        } else if is("start-info") {
            Some(&mut ct.start_info)
        } else if is("charset") {
            Some(&mut ct.charset)
        } else {
            None
        }
        .filter(|slot| slot.is_none());
        if let Some(quoted) = rest.strip_prefix('"') {
            let (v, used) = read_quoted(quoted).ok_or_else(|| bad("unterminated quoted-string"))?;
            if let Some(slot) = slot {
                *slot = Some(v);
            }
            rest = &quoted[used..];
            let after = rest.trim_start_matches(is_lws);
            if !(after.is_empty() || after.starts_with(';')) {
                return Err(bad("garbage after quoted-string"));
            }
        } else {
            let end = memchr::memchr(b';', rest.as_bytes()).unwrap_or(rest.len());
            let v = rest[..end].trim_end_matches(is_lws);
            // Lenient: accept any visible text, since real clients put '/' or
            // ':' unquoted into `action` and `start-info`.
            if v.is_empty() || memchr::memchr3(b'"', b' ', b'\t', v.as_bytes()).is_some() {
                return Err(bad("invalid unquoted parameter value"));
            }
            if let Some(slot) = slot {
                *slot = Some(v.to_string());
            }
            rest = &rest[end..];
        }
    }
    Ok(ct)
}

/// The authoritative action from the headers: the `action` parameter
/// (RFC 3902; ITI TF-2 Appendix V), else an `action` parameter
/// inside `start-info` (an MTOM root part's SOAP media type,
/// `start-info="application/soap+xml; action=..."`).
pub fn action_from_headers(ct: &ContentType) -> Option<String> {
    if let Some(a) = ct
        .action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        return Some(a.to_string());
    }
    let info = ct.start_info.as_deref()?;
    let inner = parse_content_type(info).ok()?;
    inner
        .action
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
}

/// Reads a quoted-string body (after the opening quote); returns the
/// unescaped value and the number of bytes used including the closing quote.
fn read_quoted(s: &str) -> Option<(String, usize)> {
    // Mostly there is no escape: the value is the text up to the quote.
    match memchr::memchr2(b'"', b'\\', s.as_bytes()) {
        Some(q) if s.as_bytes()[q] == b'"' => return Some((s[..q].to_string(), q + 1)),
        None => return None,
        Some(_) => {}
    }
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => out.push(chars.next()?.1),
            _ => out.push(c),
        }
    }
    None
}

fn is_lws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 2045 §5.1 token: visible ASCII except tspecials.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN[usize::from(b)])
}

/// Which bytes may appear in a token.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        t[b] = true;
        b += 1;
    }
    let specials = b"()<>@,;:\\\"/[]?=";
    let mut i = 0;
    while i < specials.len() {
        t[specials[i] as usize] = false;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_table_is_visible_ascii_without_tspecials() {
        for b in 0..=255u8 {
            let want = b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b);
            assert_eq!(TOKEN[usize::from(b)], want, "byte {b:#04x}");
        }
    }

    #[test]
    fn mtom_header_from_iti41() {
        let ct = parse_content_type(
            "Multipart/Related; boundary=MIMEBoundary_abc; type=\"application/xop+xml\"; \
             start=\"<0.urn:uuid:1@apache.org>\"; start-info=\"application/soap+xml\"; \
             ACTION=\"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b\"",
        )
        .unwrap();
        assert_eq!(ct.mime, "multipart/related");
        assert_eq!(ct.boundary.as_deref(), Some("MIMEBoundary_abc"));
        assert_eq!(ct.start.as_deref(), Some("<0.urn:uuid:1@apache.org>"));
        assert_eq!(ct.start_info.as_deref(), Some("application/soap+xml"));
        assert_eq!(ct.action.as_deref(), Some(crate::ITI41_ACTION));
        assert!(ct.is_multipart());
        assert_eq!(ct.soap_version_hint(), SoapVersion::V12);
    }

    #[test]
    fn soap12_with_unquoted_action_and_charset() {
        let ct = parse_content_type(
            "application/soap+xml;charset=UTF-8;action=urn:ihe:iti:2007:RegistryStoredQuery",
        )
        .unwrap();
        assert_eq!(ct.charset.as_deref(), Some("UTF-8"));
        assert_eq!(
            action_from_headers(&ct).as_deref(),
            Some(crate::ITI18_ACTION)
        );
    }

    #[test]
    fn quoted_escapes_and_first_wins() {
        let ct = parse_content_type(r#"text/xml; charset="ut\"f"; charset=x; foo=bar"#).unwrap();
        assert_eq!(ct.charset.as_deref(), Some("ut\"f"));
        assert_eq!(ct.soap_version_hint(), SoapVersion::V11);
    }

    #[test]
    fn action_inside_start_info() {
        let ct = parse_content_type(
            "multipart/related; boundary=b; start-info=\"application/soap+xml; action=\\\"urn:x\\\"\"",
        )
        .unwrap();
        assert_eq!(action_from_headers(&ct).as_deref(), Some("urn:x"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "soap",
            "/xml",
            "text/",
            "text/xml; charset",
            "text/xml; charset=\"utf-8",
            "text/xml; charset=\"a\" b",
            "te xt/xml",
            "text/xml; =x",
        ] {
            assert!(parse_content_type(bad).is_err(), "{bad:?}");
        }
        assert!(parse_content_type("text/xml;;; ").is_ok());
    }
}

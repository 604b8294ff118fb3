//! Shared XML helpers: hardened quick-xml reader setup, namespace
//! classification, reference resolution and output escaping.
//!
//! Security: DTDs are never processed. quick-xml itself never expands
//! entities; this module resolves only the five predefined entities and
//! character references (XML 1.0 §4.6, §4.1) and refuses any other
//! reference, so an "entity bomb" cannot grow memory.

use std::borrow::Cow;

use quick_xml::errors::{Error as QxError, IllFormedError, SyntaxError};
use quick_xml::events::BytesRef;
use quick_xml::name::ResolveResult;
use quick_xml::reader::Config;
use quick_xml::NsReader;

use crate::error::XdsError;
use crate::finder::SoapVersion;
use crate::ns::{QUERY_NS, RS_NS, SOAP11_NS, SOAP12_NS, WSA_NS};

/// Namespaces this crate cares about, resolved from a [`ResolveResult`] (or, by the fast
/// header scan, from its own bindings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Ns {
    Soap11,
    Soap12,
    Wsa,
    Query,
    Rs,
    /// Bound to some other namespace.
    #[default]
    Other,
    /// No namespace (no prefix and no default namespace).
    None,
    /// A prefix that is not declared (a namespace well-formedness error).
    Undeclared,
}

impl Ns {
    pub(crate) fn classify(r: &ResolveResult<'_>) -> Ns {
        match r {
            ResolveResult::Bound(ns) => Ns::of_uri(ns.as_ref().as_bytes()),
            ResolveResult::Unbound => Ns::None,
            ResolveResult::Unknown(_) => Ns::Undeclared,
        }
    }

    /// The namespace a URI names.
    pub(crate) fn of_uri(uri: &[u8]) -> Ns {
        [
            (SOAP12_NS, Ns::Soap12),
            (SOAP11_NS, Ns::Soap11),
            (WSA_NS, Ns::Wsa),
            (QUERY_NS, Ns::Query),
            (RS_NS, Ns::Rs),
        ]
        .into_iter()
        .find_map(|(u, ns)| (uri == u.as_bytes()).then_some(ns))
        .unwrap_or(Ns::Other)
    }

    /// The envelope namespace of a SOAP version.
    pub(crate) fn of_version(v: SoapVersion) -> Ns {
        match v {
            SoapVersion::V12 => Ns::Soap12,
            SoapVersion::V11 => Ns::Soap11,
        }
    }

    pub(crate) fn is_soap(self) -> bool {
        matches!(self, Ns::Soap11 | Ns::Soap12)
    }
}

/// A namespace-aware reader over `data` with conservative settings: no
/// end-name check (the caller tracks its own element stack so it can resume
/// on a later chunk), no text trimming, no empty-element expansion.
pub(crate) fn reader(data: &[u8]) -> NsReader<&[u8]> {
    let mut r = NsReader::from_reader(data);
    let cfg: &mut Config = r.config_mut();
    cfg.check_end_names = false;
    cfg.allow_unmatched_ends = true;
    cfg.check_comments = false;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);
    r
}

/// Outcome of classifying a reader error at the end of the available bytes.
pub(crate) enum ErrClass {
    /// The construct at `tail` may just be cut off: wait for more bytes.
    Incomplete,
    /// Definitive error.
    Fatal(XdsError),
}

/// Decides whether `err`, raised while reading the construct that starts at
/// `tail` (the unread rest of the input), could vanish with more input.
/// `offset` is the absolute body offset of `tail`.
pub(crate) fn classify_error(err: &QxError, tail: &[u8], offset: usize) -> ErrClass {
    if starts_doctype(tail) {
        return ErrClass::Fatal(XdsError::DoctypeForbidden { offset });
    }
    let incomplete = match err {
        QxError::Syntax(SyntaxError::InvalidBangMarkup) => tail.len() <= 2,
        QxError::Syntax(_) => true,
        QxError::IllFormed(IllFormedError::UnclosedReference) => {
            // Only a reference cut off by the end of input can complete later.
            let rest = tail.get(1..).unwrap_or_default();
            !rest.iter().any(|b| matches!(b, b'<' | b'&' | b';'))
        }
        QxError::Encoding(quick_xml::encoding::EncodingError::Utf8(e)) => e.error_len().is_none(),
        _ => false,
    };
    if incomplete {
        ErrClass::Incomplete
    } else if let QxError::Encoding(quick_xml::encoding::EncodingError::Utf8(e)) = err {
        // Report the absolute position, not quick-xml's event-relative index,
        // so the error does not depend on where a scan resumed.
        ErrClass::Fatal(XdsError::Xml {
            offset: offset + e.valid_up_to(),
            reason: "invalid UTF-8".to_string(),
        })
    } else {
        ErrClass::Fatal(XdsError::Xml {
            offset,
            reason: err.to_string(),
        })
    }
}

/// True if `tail` begins a `<!DOCTYPE` declaration (case-insensitive, as
/// quick-xml accepts `<!doctype`).
pub(crate) fn starts_doctype(tail: &[u8]) -> bool {
    tail.len() >= 3 && tail.starts_with(b"<!") && matches!(tail[2], b'D' | b'd')
}

/// Resolves a general reference: character references and the five
/// predefined entities only (XML 1.0 §4.6). Anything else is refused.
pub(crate) fn resolve_ref(r: &BytesRef<'_>, offset: usize) -> Result<char, XdsError> {
    let name: &str = r;
    let unknown = || XdsError::UnknownEntity {
        offset,
        name: name.chars().take(64).collect(),
    };
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(unknown()),
        };
    }
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(unknown()),
    }
}

/// Escapes text for use in XML character data and attribute values, and
/// replaces characters that XML 1.0 §2.2 forbids with U+FFFD, so the output
/// is always well-formed whatever the input.
pub fn escape_xml(s: &str) -> Cow<'_, str> {
    let needs = s
        .chars()
        .any(|c| matches!(c, '<' | '>' | '&' | '"' | '\'') || !is_xml_char(c));
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// XML 1.0 §2.2 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_markup_and_control_chars() {
        assert_eq!(escape_xml("plain"), "plain");
        assert_eq!(
            escape_xml("a<b>&\"'\u{1}\u{FFFE}"),
            "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn refs() {
        assert_eq!(resolve_ref(&BytesRef::new("amp"), 0).unwrap(), '&');
        assert_eq!(resolve_ref(&BytesRef::new("#x41"), 0).unwrap(), 'A');
        assert!(matches!(
            resolve_ref(&BytesRef::new("lol9"), 7),
            Err(XdsError::UnknownEntity { offset: 7, .. })
        ));
        assert!(resolve_ref(&BytesRef::new("#0"), 0).is_err());
    }
}

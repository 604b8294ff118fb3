//! Fast path of the SOAP header scan, for envelopes in the plain shape clients send: an
//! optional XML declaration and comments, then elements with quoted attributes, text without
//! references, and the whole header in the bytes at hand. It is one pass over the bytes (no
//! events; two small stacks on the stack for open elements and namespace bindings — deeper or
//! busier headers give up —, and the two values),
//! taken before quick-xml's `NsReader` (see `envelope`), which stays the reader of everything
//! else.
//!
//! It answers only when the answer is certain and the same as the `NsReader` scan's: anything
//! outside that subset — a reference (`&`), CDATA, a processing instruction or DOCTYPE, a
//! carriage return in a captured value, a name or attribute outside plain ASCII, a prefix not
//! declared, a duplicate attribute or header, invalid UTF-8, a header not complete yet — makes
//! it give up (`None`), and the `NsReader` scan then reads the envelope (and reports the
//! error, if there is one). Namespaces are resolved as XML Namespaces 1.0 §5 says: the
//! innermost declaration of a prefix wins; elements without prefix take the default namespace.
//! The unit tests compare both scans on the fixtures and on thousands of mutations of them.

use crate::envelope::MAX_DEPTH;
use crate::finder::{SoapInfo, SoapVersion};
use crate::memo::Scanned;
use crate::small::Small;
use crate::xml::Ns;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    Envelope,
    Header,
    Action,
    MessageId,
    #[default]
    Other,
}

/// A namespace declaration in scope: the prefix ("" for the default namespace) and what it
/// is bound to, known when it is bound (one URI comparison per declaration, not per element).
type Binding<'a> = (&'a [u8], Ns);

#[derive(Clone, Copy, Default)]
struct Open {
    /// The qualified name, as a range of the input.
    name: (usize, usize),
    kind: Kind,
    /// Namespace bindings in scope before this element's own.
    outer_bindings: usize,
}

/// The header's `wsa:Action` and `wsa:MessageID`, or `None`: see the module docs.
#[cfg(test)]
pub(crate) fn scan(b: &[u8]) -> Option<SoapInfo> {
    scan_shaped(b).map(|s| s.info)
}

/// [`scan`], with where the header ends and the `wsa:MessageID` text lies (for the memo).
pub(crate) fn scan_shaped(b: &[u8]) -> Option<Scanned> {
    let mut i = prolog(b)?;
    let mut stack: Small<Open> = Small::new();
    // (prefix, namespace) declarations in scope, innermost last; "" is the default namespace.
    let mut bindings: Small<Binding> = Small::new();
    let mut version = None;
    // A captured header: `Some(None)` when empty (`<wsa:Action/>`), else the text's range.
    let mut action: Option<Option<(usize, usize)>> = None;
    let mut message_id: Option<Option<(usize, usize)>> = None;
    loop {
        // At a '<'.
        match *b.get(i + 1)? {
            b'/' => {
                // An end tag names the open element: compare with its (valid) name instead
                // of reading a name again; only white space and `>` may follow it.
                let open = stack.pop()?;
                let (n0, n1) = open.name;
                let after = i + 2 + (n1 - n0);
                if !same(b.get(i + 2..after)?, &b[n0..n1]) {
                    return None;
                }
                let j = skip_ws(b, after);
                if *b.get(j)? != b'>' {
                    return None;
                }
                bindings.truncate(open.outer_bindings);
                if matches!(open.kind, Kind::Envelope | Kind::Header) {
                    return done(b, j + 1, version?, action, message_id);
                }
                i = j + 1;
            }
            b'!' if b.get(i..)?.starts_with(b"<!--") => i = find(b, i + 4, b"-->")? + 3,
            b'!' | b'?' => return None,
            _ => {
                let tag = start_tag(b, i, &mut bindings)?;
                let (n0, n1, colon) = tag.name;
                let (prefix, local) = match colon {
                    Some(c) => (&b[n0..c], &b[c + 1..n1]),
                    None => (&b""[..], &b[n0..n1]),
                };
                let ns = resolve(prefix, bindings.as_slice())?;
                let parent = stack.last().map(|o| o.kind);
                let kind = match parent {
                    None => {
                        if local != b"Envelope" {
                            return None;
                        }
                        version = Some(match ns {
                            Ns::Soap12 => SoapVersion::V12,
                            Ns::Soap11 => SoapVersion::V11,
                            _ => return None,
                        });
                        Kind::Envelope
                    }
                    Some(Kind::Envelope) if ns == Ns::of_version(version?) => match local {
                        b"Body" => return done(b, tag.end, version?, action, message_id),
                        b"Header" => Kind::Header,
                        _ => Kind::Other,
                    },
                    Some(Kind::Header) if ns == Ns::Wsa && local == b"Action" => Kind::Action,
                    Some(Kind::Header) if ns == Ns::Wsa && local == b"MessageID" => Kind::MessageId,
                    // Inside a captured header: the value would not be plain text.
                    Some(Kind::Action | Kind::MessageId) => return None,
                    _ => Kind::Other,
                };
                let seen = match kind {
                    Kind::Action => action.is_some(),
                    Kind::MessageId => message_id.is_some(),
                    _ => false,
                };
                if seen || stack.len >= MAX_DEPTH {
                    return None;
                }
                if tag.empty {
                    bindings.truncate(tag.outer_bindings);
                    match kind {
                        Kind::Envelope | Kind::Header => {
                            return done(b, tag.end, version?, action, message_id)
                        }
                        Kind::Action => action = Some(None),
                        Kind::MessageId => message_id = Some(None),
                        Kind::Other => {}
                    }
                    i = tag.end;
                } else if matches!(kind, Kind::Action | Kind::MessageId) {
                    // The value: text up to this element's end tag, without references or
                    // carriage returns (the `NsReader` would rewrite those: give up).
                    let t1 = tag.end + memchr::memchr3(b'<', b'&', b'\r', b.get(tag.end..)?)?;
                    if b[t1] != b'<' {
                        return None;
                    }
                    match kind {
                        Kind::Action => action = Some(Some((tag.end, t1))),
                        _ => message_id = Some(Some((tag.end, t1))),
                    }
                    stack.push(Open {
                        name: (n0, n1),
                        kind,
                        outer_bindings: tag.outer_bindings,
                    })?;
                    i = t1;
                    // Its end tag must come next (a comment or child: not plain text).
                    if b.get(i + 1) != Some(&b'/') {
                        return None;
                    }
                    continue;
                } else {
                    stack.push(Open {
                        name: (n0, n1),
                        kind,
                        outer_bindings: tag.outer_bindings,
                    })?;
                    i = tag.end;
                }
            }
        }
        // Character data up to the next markup: no references. Mostly it is the indentation
        // before the next tag, found without a memchr call.
        let ws = skip_ws(b, i);
        let next = if b.get(ws) == Some(&b'<') {
            ws
        } else {
            i + memchr::memchr2(b'<', b'&', b.get(i..)?)?
        };
        if b[next] == b'&' {
            return None;
        }
        i = next;
    }
}

fn done(
    b: &[u8],
    end: usize,
    version: SoapVersion,
    action: Option<Option<(usize, usize)>>,
    message_id: Option<Option<(usize, usize)>>,
) -> Option<Scanned> {
    // quick-xml decodes every event as UTF-8: so must everything read be.
    let head = b.get(..end)?;
    let s = std::str::from_utf8(head).ok()?;
    // A captured value: trimmed (as the `NsReader` scan trims), `None` when empty. Its
    // ends are ASCII delimiters, so the range is on character boundaries.
    let value = |r: Option<Option<(usize, usize)>>| -> Option<Option<String>> {
        match r.flatten() {
            None => Some(None),
            Some((v0, v1)) => {
                let t = s.get(v0..v1)?.trim();
                Some((!t.is_empty()).then(|| t.to_string()))
            }
        }
    };
    let info = SoapInfo {
        action: value(action)?,
        message_id: value(message_id)?,
        soap_version: version,
    };
    Some(Scanned {
        info,
        end,
        message_id: message_id.flatten(),
    })
}

/// Skips white space, an XML declaration at the very start and comments; returns the
/// position of the document element's `<`.
fn prolog(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    if b.starts_with(b"<?xml") && b.get(5).is_some_and(u8::is_ascii_whitespace) {
        let end = find(b, 5, b"?>")?;
        if !decl_ok(b.get(5..end)?) {
            return None;
        }
        i = end + 2;
    }
    loop {
        i = skip_ws(b, i);
        if *b.get(i)? != b'<' {
            return None;
        }
        if b.get(i..)?.starts_with(b"<!--") {
            i = find(b, i + 4, b"-->")? + 3;
        } else if matches!(b.get(i + 1)?, b'!' | b'?') {
            return None;
        } else {
            return Some(i);
        }
    }
}

/// The declaration's pseudo-attributes are plain and its encoding, if named, is UTF-8 (as
/// `finder::check_charset` accepts).
fn decl_ok(body: &[u8]) -> bool {
    if !body.is_ascii() || memchr::memchr2(b'&', b'<', body).is_some() {
        return false;
    }
    let Some(at) = find(body, 0, b"encoding") else {
        return true;
    };
    let rest = &body[at + 8..];
    let j = skip_ws(rest, 0);
    if rest.get(j) != Some(&b'=') {
        return false;
    }
    let k = skip_ws(rest, j + 1);
    let Some(&q @ (b'"' | b'\'')) = rest.get(k) else {
        return false;
    };
    let Some(len) = rest[k + 1..].iter().position(|&c| c == q) else {
        return false;
    };
    let enc = &rest[k + 1..k + 1 + len];
    ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|e| enc.eq_ignore_ascii_case(e.as_bytes()))
}

struct Tag {
    /// Start, end and the colon's position, if any.
    name: (usize, usize, Option<usize>),
    /// Just after the closing `>`.
    end: usize,
    empty: bool,
    outer_bindings: usize,
}

/// Reads the start tag at `i` (its `<`), pushing its namespace declarations.
fn start_tag<'a>(b: &'a [u8], i: usize, bindings: &mut Small<Binding<'a>>) -> Option<Tag> {
    let outer_bindings = bindings.len;
    let (n0, n1, colon) = name(b, i + 1)?;
    let mut j = n1;
    // Attribute names seen in this tag (to refuse duplicates).
    let mut names: [(usize, usize); 16] = [(0, 0); 16];
    let mut count = 0;
    loop {
        let k = skip_ws(b, j);
        match *b.get(k)? {
            b'>' => {
                return Some(Tag {
                    name: (n0, n1, colon),
                    end: k + 1,
                    empty: false,
                    outer_bindings,
                })
            }
            b'/' if b.get(k + 1) == Some(&b'>') => {
                return Some(Tag {
                    name: (n0, n1, colon),
                    end: k + 2,
                    empty: true,
                    outer_bindings,
                })
            }
            _ if k == j => return None, // attributes are separated by white space
            _ => {}
        }
        let (a0, a1, _) = name(b, k)?;
        let e = skip_ws(b, a1);
        if *b.get(e)? != b'=' {
            return None;
        }
        let v = skip_ws(b, e + 1);
        let q = *b.get(v)?;
        if q != b'"' && q != b'\'' {
            return None;
        }
        let v1 = v + 1 + memchr::memchr3(q, b'<', b'&', b.get(v + 1..)?)?;
        if b[v1] != q {
            return None;
        }
        let value = &b[v + 1..v1];
        let attr = &b[a0..a1];
        if count == names.len() || names[..count].iter().any(|&(s, t)| &b[s..t] == attr) {
            return None;
        }
        names[count] = (a0, a1);
        count += 1;
        if attr == b"xmlns" {
            bindings.push((b"", Ns::of_uri(value)))?;
        } else if let Some(prefix) = attr.strip_prefix(b"xmlns:") {
            if value.is_empty() || prefix.starts_with(b"xml") || prefix.contains(&b':') {
                return None;
            }
            bindings.push((prefix, Ns::of_uri(value)))?;
        } else if attr.starts_with(b"xml") && !attr.starts_with(b"xml:") {
            return None;
        }
        j = v1 + 1;
    }
}

/// The namespace of an element name's prefix ("" for none); `None` (give up) for an
/// undeclared prefix or a `xml:`/`xmlns:` one. No prefix and no default namespace: none.
fn resolve(prefix: &[u8], bindings: &[Binding<'_>]) -> Option<Ns> {
    if prefix.starts_with(b"xml") {
        return None;
    }
    match bindings.iter().rev().find(|(p, _)| same(p, prefix)) {
        Some(&(_, ns)) => Some(ns),
        None if prefix.is_empty() => Some(Ns::None),
        None => None,
    }
}

/// Byte equality of two short slices (prefixes, element names) without a `memcmp` call.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// What a byte is to [`name`] after its first: 1 a name byte (ASCII letter, digit, `_ - .`),
/// 2 a colon, 0 the end of the name.
const NAME_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
            t[c] = 1;
        } else if b == b':' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

/// A name at `i`: ASCII letters, digits, `_ - .`, at most one `:` (not last), starting with
/// a letter or `_`; its start, end and colon. One table lookup per byte, in a loop that
/// stops at the colon or the end. A name running to the end of the bytes is not known to be
/// whole: give up.
fn name(b: &[u8], i: usize) -> Option<(usize, usize, Option<usize>)> {
    let first = *b.get(i)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let run = |from: usize| -> Option<usize> {
        let rest = b.get(from..)?;
        rest.iter()
            .position(|&c| NAME_CLASS[usize::from(c)] != 1)
            .map(|p| from + p)
    };
    let j = run(i + 1)?;
    if b[j] != b':' {
        return Some((i, j, None));
    }
    let k = run(j + 1)?;
    // A colon last, or a second one: not a name here.
    if k == j + 1 || b[k] == b':' {
        return None;
    }
    Some((i, k, Some(j)))
}

fn skip_ws(b: &[u8], i: usize) -> usize {
    match b.get(i..) {
        Some(rest) => {
            i + rest
                .iter()
                .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len())
        }
        None => i,
    }
}

/// Position of the first `pat` (short, such as `-->`) at or after `from`: a `memchr` for its
/// last byte (building a `memmem` searcher would cost more than these short scans).
fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let (&last, head) = pat.split_last()?;
    let mut at = from + head.len();
    loop {
        let p = at + memchr::memchr(last, b.get(at..)?)?;
        let start = p - head.len();
        if b.get(start..p)? == head {
            return Some(start);
        }
        at = p + 1;
    }
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;

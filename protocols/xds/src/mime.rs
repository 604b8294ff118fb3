//! Incremental location of the root part of a `multipart/related` body.
//!
//! MTOM/XOP messages (ITI TF-2 Appendix V; XOP §3; RFC 2387) carry
//! the SOAP envelope in the *root* part: the part whose Content-ID equals the
//! `start` parameter, else the first part (RFC 2387 §3.2). Framing follows
//! RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary at the beginning of a
//! line (the first one may open the body), the close delimiter adds "--".
//! Bare LF line ends are tolerated.
//!
//! The locator works over a growing buffer and keeps a cursor, so each byte is
//! searched a bounded number of times however the body is chunked.

use memchr::{memchr_iter, memmem};

use crate::error::XdsError;
use crate::mime_headers::{normalise_cid, PartHeaders};

/// Where the root part's content is in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RootRegion {
    /// Offset of the first content byte (after the part headers).
    pub start: usize,
    /// End of the content known so far (exclusive).
    pub end: usize,
    /// True once the next delimiter was seen: the part is complete.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Before the first delimiter; `checked` once the first line was vetted.
    Preamble { scan: usize, checked: bool },
    /// Just after "--boundary" at `after`: transport padding and CRLF follow.
    DelimLine { after: usize },
    /// Part headers start at `start`; blank-line search resumes at `scan`.
    Headers { start: usize, scan: usize },
    /// Skipping a part that is not the root.
    Skip { scan: usize },
    /// Inside the root part.
    Root {
        start: usize,
        scan: usize,
        end: Option<usize>,
    },
}

/// Finds the SOAP root part of a multipart/related body chunk by chunk.
#[derive(Debug, Clone)]
pub(crate) struct RootLocator {
    /// "\n--" + boundary.
    needle: Vec<u8>,
    /// Normalised `start` (no angle brackets), if any.
    start_cid: Option<String>,
    state: State,
}

enum Delim {
    /// A delimiter whose line-feed is at `nl`; "--boundary" ends at `after`.
    Found { nl: usize, after: usize },
    /// Not found yet: resume at `scan`.
    Pending { scan: usize },
}

impl RootLocator {
    /// Rejects boundaries that are empty or longer than RFC 2046's 70 bytes
    /// (with slack for non-conforming senders).
    pub(crate) fn new(boundary: &str, start: Option<&str>) -> Result<Self, XdsError> {
        let b = boundary.trim();
        if b.is_empty() || b.len() > 200 || b.bytes().any(|c| c == b'\r' || c == b'\n') {
            return Err(XdsError::MissingBoundary);
        }
        let mut needle = b"\n--".to_vec();
        needle.extend_from_slice(b.as_bytes());
        Ok(Self {
            needle,
            start_cid: start.map(normalise_cid).filter(|s| !s.is_empty()),
            state: State::Preamble {
                scan: 0,
                checked: false,
            },
        })
    }

    /// Advances over `data` (the whole body received so far, growing between
    /// calls). Returns the root part's region once its headers are parsed.
    pub(crate) fn advance(&mut self, data: &[u8]) -> Result<Option<RootRegion>, XdsError> {
        loop {
            match self.state {
                State::Preamble {
                    scan,
                    checked: false,
                } => {
                    let p = data
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    let avail = &data[p..];
                    let delim = &self.needle[1..];
                    if avail.len() < 2 || (avail.starts_with(b"--") && avail.len() < delim.len()) {
                        if delim.starts_with(avail) || avail.len() < 2 {
                            return Ok(None);
                        }
                        return Err(mismatch(p));
                    }
                    if avail.starts_with(delim) {
                        self.state = State::DelimLine {
                            after: p + delim.len(),
                        };
                    } else if avail.starts_with(b"--") {
                        // A first line that looks like a delimiter but is not
                        // ours: almost surely a wrong boundary parameter.
                        return Err(mismatch(p));
                    } else {
                        self.state = State::Preamble {
                            scan,
                            checked: true,
                        };
                    }
                }
                State::Preamble {
                    scan,
                    checked: true,
                }
                | State::Skip { scan } => match self.find_delim(data, scan) {
                    Delim::Found { after, .. } => self.state = State::DelimLine { after },
                    Delim::Pending { scan } => {
                        self.state = match self.state {
                            State::Skip { .. } => State::Skip { scan },
                            _ => State::Preamble {
                                scan,
                                checked: true,
                            },
                        };
                        return Ok(None);
                    }
                },
                State::DelimLine { after } => {
                    let rest = &data[after..];
                    if rest.starts_with(b"--") {
                        return Err(XdsError::RootPartNotFound {
                            start: self
                                .start_cid
                                .clone()
                                .unwrap_or_else(|| "<first part>".into()),
                        });
                    }
                    let pad = rest
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t'))
                        .count();
                    match rest[pad..] {
                        [] | [b'-'] | [b'\r'] => return Ok(None),
                        [b'\n', ..] => {
                            let start = after + pad + 1;
                            self.state = State::Headers { start, scan: start };
                        }
                        [b'\r', b'\n', ..] => {
                            let start = after + pad + 2;
                            self.state = State::Headers { start, scan: start };
                        }
                        _ => {
                            return Err(XdsError::Mime {
                                offset: after + pad,
                                reason: "unexpected bytes after boundary delimiter",
                            })
                        }
                    }
                }
                State::Headers { start, scan } => {
                    let Some((hdr_end, content)) = blank_line(data, start, scan) else {
                        // Resume one byte before the end: a line-feed there may
                        // be followed by the blank line's CR/LF.
                        let scan = data.len().saturating_sub(2).max(start);
                        self.state = State::Headers { start, scan };
                        return Ok(None);
                    };
                    let headers = PartHeaders::parse(&data[start..hdr_end]);
                    let is_root = match &self.start_cid {
                        None => true,
                        Some(want) => headers.content_id.as_deref() == Some(want.as_str()),
                    };
                    if is_root {
                        headers.check_root()?;
                        self.state = State::Root {
                            start: content,
                            scan: content.saturating_sub(1),
                            end: None,
                        };
                    } else {
                        self.state = State::Skip {
                            scan: content.saturating_sub(1),
                        };
                    }
                }
                State::Root { start, scan, end } => {
                    if let Some(end) = end {
                        return Ok(Some(RootRegion {
                            start,
                            end,
                            complete: true,
                        }));
                    }
                    let (end, scan) = match self.find_delim(data, scan) {
                        Delim::Found { nl, .. } => {
                            let e = if nl > start && data[nl - 1] == b'\r' {
                                nl - 1
                            } else {
                                nl
                            };
                            (Some(e.max(start)), nl)
                        }
                        Delim::Pending { scan } => (None, scan),
                    };
                    self.state = State::Root { start, scan, end };
                    // Hold back a tail that may still become a delimiter, so
                    // the XML scanner only ever sees bytes of the root part.
                    let avail = data.len() - self.partial_delim_len(data);
                    return Ok(Some(RootRegion {
                        start,
                        end: end.unwrap_or(avail.max(start)),
                        complete: end.is_some(),
                    }));
                }
            }
        }
    }

    /// Length of the longest suffix of `data` that may be the beginning of
    /// a delimiter: a prefix of "\n--boundary" (the whole of it while the
    /// byte after it is unknown), with the CR before it, or a lone CR.
    fn partial_delim_len(&self, data: &[u8]) -> usize {
        let n = &self.needle;
        let window = data.len().saturating_sub(n.len());
        let cr_before = |at: usize| at > 0 && data[at - 1] == b'\r';
        for nl in memchr::memchr_iter(b'\n', &data[window..]).map(|k| window + k) {
            if n.starts_with(&data[nl..]) {
                return data.len() - nl + usize::from(cr_before(nl));
            }
        }
        usize::from(data.last() == Some(&b'\r'))
    }

    /// Searches "\n--boundary" followed by a byte that can follow a
    /// delimiter (padding, CR, LF or "--"); other matches are content.
    fn find_delim(&self, data: &[u8], mut from: usize) -> Delim {
        let n = &self.needle;
        loop {
            let hay = data.get(from..).unwrap_or_default();
            let Some(k) = memmem::find(hay, n) else {
                return Delim::Pending {
                    scan: from.max(data.len().saturating_sub(n.len() - 1)),
                };
            };
            let nl = from + k;
            let after = nl + n.len();
            match data.get(after) {
                None => return Delim::Pending { scan: nl },
                Some(b'-' | b' ' | b'\t' | b'\r' | b'\n') => return Delim::Found { nl, after },
                Some(_) => from = nl + 1,
            }
        }
    }
}

fn mismatch(offset: usize) -> XdsError {
    XdsError::Mime {
        offset,
        reason: "first delimiter does not match the boundary parameter",
    }
}

/// Finds the end of the header block starting at `start`: returns
/// (end of headers, start of content). An immediately empty line means no
/// headers.
fn blank_line(data: &[u8], start: usize, scan: usize) -> Option<(usize, usize)> {
    let at = |i: usize| data.get(i).copied();
    match (at(start), at(start + 1)) {
        (Some(b'\n'), _) => return Some((start, start + 1)),
        (Some(b'\r'), Some(b'\n')) => return Some((start, start + 2)),
        _ => {}
    }
    let from = scan.max(start);
    for j in memchr_iter(b'\n', &data[from..]).map(|k| from + k) {
        match (at(j + 1), at(j + 2)) {
            (Some(b'\n'), _) => return Some((j + 1, j + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((j + 1, j + 3)),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"\r\n--b1\r\nContent-ID: <doc>\r\n\r\nDOC\r\n--b1\r\n\
Content-Type: application/xop+xml\r\nContent-ID:\r\n <root>\r\n\r\n<x/>\r\n--b1--\r\n";

    #[test]
    fn finds_root_by_start_byte_by_byte() {
        let mut loc = RootLocator::new("b1", Some("root")).unwrap();
        let mut last = None;
        for n in 0..=BODY.len() {
            if let Some(r) = loc.advance(&BODY[..n]).unwrap() {
                last = Some(r);
            }
        }
        let r = last.unwrap();
        assert!(r.complete);
        assert_eq!(&BODY[r.start..r.end], b"<x/>");
    }

    #[test]
    fn first_part_without_start() {
        let mut loc = RootLocator::new("b1", None).unwrap();
        let r = loc.advance(BODY).unwrap().unwrap();
        assert_eq!(&BODY[r.start..r.end], b"DOC");
    }

    #[test]
    fn missing_root_and_wrong_boundary() {
        let mut loc = RootLocator::new("b1", Some("<nope>")).unwrap();
        assert!(matches!(
            loc.advance(BODY),
            Err(XdsError::RootPartNotFound { .. })
        ));
        let mut loc = RootLocator::new("other", None).unwrap();
        assert!(matches!(loc.advance(BODY), Err(XdsError::Mime { .. })));
        assert!(RootLocator::new("", None).is_err());
    }

    #[test]
    fn partial_delimiter_is_held_back() {
        let mut loc = RootLocator::new("bnd", None).unwrap();
        let body = b"--bnd\r\n\r\n<x/>\r\n--bnd--";
        for (cut, want_end) in [(13, 13), (14, 13), (15, 13), (17, 13), (18, 13), (12, 12)] {
            let mut l = loc.clone();
            let r = l.advance(&body[..cut]).unwrap().unwrap();
            assert_eq!((r.end, r.complete), (want_end, false), "cut {cut}");
        }
        let r = loc.advance(body).unwrap().unwrap();
        assert_eq!((r.start, r.end, r.complete), (9, 13, true));
        // A CR that turns out not to start a delimiter is released.
        let mut l = RootLocator::new("bnd", None).unwrap();
        assert_eq!(l.advance(b"--bnd\r\n\r\nab\rc").unwrap().unwrap().end, 13);
    }

    #[test]
    fn empty_part_and_false_match() {
        let body = b"--b\r\n\r\n\r\n--bX\r\n--b--";
        let mut loc = RootLocator::new("b", None).unwrap();
        let r = loc.advance(body).unwrap().unwrap();
        assert_eq!(&body[r.start..r.end], b"\r\n--bX");
        let body = b"--b\r\n\r\n\r\n--b--";
        let mut loc = RootLocator::new("b", None).unwrap();
        let r = loc.advance(body).unwrap().unwrap();
        assert_eq!((r.start, r.end), (7, 7));
    }
}

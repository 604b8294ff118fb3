//! Incremental SOAP action finder for the gateway's routing decision.
//!
//! An XDS.b request (ITI-18, ITI-41, ITI-42, ITI-43) is routed on its
//! `wsa:Action` (ITI TF-2 Appendix V). The finder:
//!
//! 1. trusts the Content-Type `action` parameter when present (RFC 3902,
//!    SOAP 1.2 Part 2 §7.5.1) and reads nothing;
//! 2. otherwise, for `multipart/related` (MTOM/XOP, RFC 2387) locates the
//!    root part by boundary and `start` and skips its MIME headers;
//! 3. scans the envelope with quick-xml's `NsReader` up to the end of
//!    `Header` (or the start of `Body`) and returns `wsa:Action` and
//!    `wsa:MessageID` (WS-Addressing 1.0).
//!
//! It is fed chunk by chunk, keeps at most `header_budget` bytes, and fails
//! with [`XdsError::HeaderTooLarge`] once more than that many bytes were fed
//! without reaching the end of the SOAP header.

use crate::content_type::{action_from_headers, ContentType};
use crate::envelope::{HeaderScanner, Scan};
use crate::error::XdsError;
use crate::memo::HeaderMemo;
use crate::mime::RootLocator;

/// The SOAP envelope version (by envelope namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    /// SOAP 1.1 (`http://schemas.xmlsoap.org/soap/envelope/`).
    V11,
    /// SOAP 1.2 (`http://www.w3.org/2003/05/soap-envelope`).
    V12,
}

impl SoapVersion {
    /// The envelope namespace URI.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V11 => crate::ns::SOAP11_NS,
            Self::V12 => crate::ns::SOAP12_NS,
        }
    }
}

/// What the finder learned from the SOAP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapInfo {
    /// `wsa:Action` (trimmed), or the Content-Type `action` parameter.
    /// `None` when the envelope has no such header.
    pub action: Option<String>,
    /// `wsa:MessageID` (trimmed); `None` when absent or when the action came
    /// from the Content-Type.
    pub message_id: Option<String>,
    /// SOAP version of the envelope (or implied by the media type).
    pub soap_version: SoapVersion,
}

/// Progress of an [`ActionFinder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindState {
    /// Feed more bytes.
    NeedMore,
    /// The SOAP header was read (or the action came from the headers).
    Found(SoapInfo),
}

#[derive(Debug, Clone)]
enum Mode {
    /// Result known (Found or a sticky error).
    Done(Result<SoapInfo, XdsError>),
    /// Plain SOAP: the whole body is the envelope.
    Plain,
    /// MTOM: the envelope is in the root part.
    Multipart(RootLocator),
}

/// Incremental finder of `wsa:Action` / `wsa:MessageID`; see the module docs.
#[derive(Debug, Clone)]
pub struct ActionFinder {
    budget: usize,
    /// Bytes fed so far, at most `budget` of them.
    buf: Vec<u8>,
    /// Total bytes fed, including those beyond the budget.
    fed: usize,
    mode: Mode,
    scanner: HeaderScanner,
    /// Only a finder made [`with_memo`](ActionFinder::with_memo) remembers.
    memo: Option<HeaderMemo>,
}

impl ActionFinder {
    /// Prepares a finder for a body with Content-Type `ct`. Errors about the
    /// Content-Type itself (unsupported media type, charset, boundary) are
    /// reported by the first [`feed`](Self::feed).
    pub fn new(ct: &ContentType, header_budget: usize) -> Self {
        Self::make(ct, header_budget, None)
    }

    /// Like [`new`](Self::new), with the previous request's [`HeaderMemo`] (one per client
    /// connection: a header repeated from request to request is then not scanned again).
    /// [`into_memo`](Self::into_memo) gives it back, updated.
    pub fn with_memo(ct: &ContentType, header_budget: usize, memo: HeaderMemo) -> Self {
        Self::make(ct, header_budget, Some(memo))
    }

    fn make(ct: &ContentType, header_budget: usize, memo: Option<HeaderMemo>) -> Self {
        let mode = match setup(ct) {
            Ok(m) => m,
            Err(e) => Mode::Done(Err(e)),
        };
        Self {
            budget: header_budget,
            buf: Vec::new(),
            fed: 0,
            mode,
            scanner: HeaderScanner::default(),
            memo,
        }
    }

    /// The memo, with this request's header remembered if the fast scan read it.
    pub fn into_memo(self) -> HeaderMemo {
        self.memo.unwrap_or_default()
    }

    /// Total bytes fed so far.
    pub fn consumed(&self) -> usize {
        self.fed
    }

    /// Feeds the next chunk of the body. Once `Found` or an error is
    /// returned, later calls return the same outcome. A first chunk that
    /// holds the whole SOAP header is scanned where it lies; bytes are only
    /// kept (up to the budget) while more are needed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<FindState, XdsError> {
        if let Mode::Done(r) = &self.mode {
            return r.clone().map(FindState::Found);
        }
        self.fed = self.fed.saturating_add(chunk.len());
        let r = if self.buf.is_empty() {
            let data = &chunk[..chunk.len().min(self.budget)];
            let r = step(
                &mut self.mode,
                &mut self.scanner,
                self.memo.as_mut(),
                data,
                self.fed,
                self.budget,
                false,
            );
            if matches!(r, Ok(FindState::NeedMore)) {
                self.buf.extend_from_slice(data);
            }
            r
        } else {
            let room = self.budget.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.step(false)
        };
        self.settle(r)
    }

    /// Signals the end of the body: a header still incomplete is an error.
    pub fn finish(&mut self) -> Result<FindState, XdsError> {
        if let Mode::Done(r) = &self.mode {
            return r.clone().map(FindState::Found);
        }
        let r = self.step(true);
        self.settle(r)
    }

    fn settle(&mut self, r: Result<FindState, XdsError>) -> Result<FindState, XdsError> {
        let r = match r {
            Ok(FindState::NeedMore) if self.fed > self.budget => Err(XdsError::HeaderTooLarge {
                budget: self.budget,
            }),
            other => other,
        };
        match &r {
            Ok(FindState::Found(info)) => self.mode = Mode::Done(Ok(info.clone())),
            Err(e) => self.mode = Mode::Done(Err(e.clone())),
            Ok(FindState::NeedMore) => {}
        }
        if !matches!(r, Ok(FindState::NeedMore)) {
            // The bytes are no longer needed.
            self.buf = Vec::new();
        }
        r
    }

    fn step(&mut self, eof: bool) -> Result<FindState, XdsError> {
        step(
            &mut self.mode,
            &mut self.scanner,
            self.memo.as_mut(),
            &self.buf,
            self.fed,
            self.budget,
            eof,
        )
    }
}

/// One look at `data` (every byte kept so far, at most `budget`; `fed` were
/// fed in all): locate the envelope, then scan it.
fn step(
    mode: &mut Mode,
    scanner: &mut HeaderScanner,
    memo: Option<&mut HeaderMemo>,
    data: &[u8],
    fed: usize,
    budget: usize,
    eof: bool,
) -> Result<FindState, XdsError> {
    let (start, end, complete) = match mode {
        Mode::Done(r) => return r.clone().map(FindState::Found),
        Mode::Plain => (0, data.len(), eof),
        Mode::Multipart(loc) => match loc.advance(data)? {
            Some(r) => (r.start, r.end, r.complete || eof),
            None if eof => return Err(XdsError::Truncated { consumed: fed }),
            None => return Ok(FindState::NeedMore),
        },
    };
    let region = &data[start..end];
    if let Some(info) = scanner.scan_fast(region, memo) {
        return Ok(FindState::Found(info));
    }
    // Skip the XML scan while the new bytes complete no markup (see
    // `tail`): keeps drip-fed input linear. Forced at the end of the
    // body / root part and once over budget.
    let force = complete || fed > budget;
    if !scanner.worth_scanning(region) && !force {
        return Ok(FindState::NeedMore);
    }
    match scanner.scan_xml(region, start, complete)? {
        Scan::NeedMore => Ok(FindState::NeedMore),
        Scan::Done(info) => Ok(FindState::Found(info)),
    }
}

fn setup(ct: &ContentType) -> Result<Mode, XdsError> {
    if let Some(action) = action_from_headers(ct) {
        return Ok(Mode::Done(Ok(SoapInfo {
            action: Some(action),
            message_id: None,
            soap_version: ct.soap_version_hint(),
        })));
    }
    check_charset(ct.charset.as_deref())?;
    match ct.mime.as_str() {
        "multipart/related" => {
            let boundary = ct.boundary.as_deref().ok_or(XdsError::MissingBoundary)?;
            Ok(Mode::Multipart(RootLocator::new(
                boundary,
                ct.start.as_deref(),
            )?))
        }
        "application/soap+xml" | "text/xml" | "application/xml" | "application/xop+xml" => {
            Ok(Mode::Plain)
        }
        other => Err(XdsError::UnsupportedMediaType {
            mime: other.chars().take(128).collect(),
        }),
    }
}

/// Only UTF-8 (and its subset US-ASCII) is accepted (ITI TF-2 Appendix V
/// follows WS-I Basic Profile 2.0, which requires UTF-8 or UTF-16; only UTF-8 is supported).
pub(crate) fn check_charset(charset: Option<&str>) -> Result<(), XdsError> {
    match charset.map(str::trim) {
        None => Ok(()),
        Some(c)
            if ["utf-8", "utf8", "us-ascii", "ascii"]
                .iter()
                .any(|e| c.eq_ignore_ascii_case(e)) =>
        {
            Ok(())
        }
        Some(_) => Err(XdsError::UnsupportedCharset {
            charset: charset.unwrap_or_default().chars().take(64).collect(),
        }),
    }
}

/// One-shot convenience: runs a fresh [`ActionFinder`] over `body_prefix`
/// (which may be the whole body or only its beginning). `NeedMore` means
/// the prefix ended before the end of the SOAP header.
pub fn find_action(
    ct: &ContentType,
    body_prefix: &[u8],
    budget: usize,
) -> Result<FindState, XdsError> {
    ActionFinder::new(ct, budget).feed(body_prefix)
}

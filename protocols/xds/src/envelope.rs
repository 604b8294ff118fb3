//! Resumable scan of a SOAP envelope up to the end of its `Header`.
//!
//! Reads `Envelope` (SOAP 1.2 Part 1 §5.1 / SOAP 1.1 §4.1) and the
//! WS-Addressing 1.0 message addressing properties `wsa:Action` and
//! `wsa:MessageID` (WS-Addressing 1.0 SOAP Binding §2; mandatory for XDS.b
//! per ITI TF-2 Appendix V) by *namespace*, never by prefix, using
//! quick-xml's `NsReader`. The scan stops at the end of `Header` or at the
//! start of `Body`.
//!
//! Bytes arrive in chunks. After each complete markup event the scanner
//! records a commit point together with the open elements (where their start
//! tags, which also carry the namespace declarations, sit in the region: the
//! caller keeps the region's bytes, so nothing is copied per element). On the
//! next chunk a fresh `NsReader` starts at the commit point and the open start
//! tags are pushed back into its namespace resolver, so earlier input is not
//! parsed again.
//! Character data is only taken into account once the markup that ends it
//! has arrived.

use quick_xml::events::{BytesStart, Event};

use crate::error::XdsError;
use crate::finder::{check_charset, SoapInfo, SoapVersion};
use crate::memo::HeaderMemo;
use crate::tail::TailWatch;
use crate::xml::{self, ErrClass, Ns};

/// Maximum element nesting accepted before the end of the SOAP header.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Action,
    MessageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Envelope,
    Header,
    Capture(Field),
    Other,
}

/// An open element: its start tag's content (name and attributes, between `<` and `>`) as a
/// range of the region, and the name's length.
#[derive(Debug, Clone)]
struct Open {
    tag: std::ops::Range<usize>,
    name_len: usize,
    kind: Kind,
}

impl Open {
    /// The tag's content (UTF-8: quick-xml made an event of these bytes).
    fn content<'r>(&self, region: &'r [u8]) -> &'r str {
        let bytes = region.get(self.tag.clone()).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    fn start<'r>(&self, region: &'r [u8]) -> BytesStart<'r> {
        let content = self.content(region);
        BytesStart::from_content(content, self.name_len.min(content.len()))
    }

    fn name<'r>(&self, region: &'r [u8]) -> &'r str {
        self.content(region)
            .get(..self.name_len)
            .unwrap_or_default()
    }
}

/// Result of one scan step.
pub(crate) enum Scan {
    NeedMore,
    Done(SoapInfo),
}

/// State kept between chunks.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderScanner {
    /// Commit point, relative to the XML region start.
    committed: usize,
    stack: Vec<Open>,
    version: Option<SoapVersion>,
    /// Text of the wsa header being captured.
    capture: String,
    action: Option<Option<String>>,
    message_id: Option<Option<String>>,
    watch: TailWatch,
    /// The fast path was tried (once, at the start: see [`HeaderScanner::scan_fast`]).
    fast_tried: bool,
}

impl HeaderScanner {
    /// The one-pass fast scan (see `fast`), tried once, on the first look at the envelope and
    /// before the completion watch lexes it: a first chunk holding the whole header, as requests
    /// usually come, is then read once instead of twice. Later looks go through the watch and
    /// the `NsReader` (which a chunk-by-chunk re-try of the fast path would make quadratic).
    /// A repeat of the header `memo` remembers is answered from it; a header the fast scan
    /// reads is remembered.
    pub(crate) fn scan_fast(
        &mut self,
        region: &[u8],
        memo: Option<&mut HeaderMemo>,
    ) -> Option<SoapInfo> {
        if self.fast_tried {
            return None;
        }
        self.fast_tried = true;
        if let Some(info) = memo.as_deref().and_then(|m| m.answer(region)) {
            return Some(info);
        }
        let s = crate::fast::scan_shaped(region)?;
        if let Some(memo) = memo {
            memo.remember(region, &s);
        }
        Some(s.info)
    }

    /// Scans `region` (the XML so far; `base` is its offset in the body) with quick-xml's
    /// `NsReader`, from the last commit point. `complete` says that no more bytes of this XML
    /// will come. The finder tries [`scan_fast`](Self::scan_fast) first.
    pub(crate) fn scan_xml(
        &mut self,
        region: &[u8],
        base: usize,
        complete: bool,
    ) -> Result<Scan, XdsError> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        if self.committed == 0 && self.version.is_none() {
            if region.starts_with(BOM) {
                self.committed = BOM.len();
            } else if region.len() < BOM.len() && BOM.starts_with(region) && !complete {
                return Ok(Scan::NeedMore);
            }
        }
        let mut pending = String::new();
        // A fresh quick-xml reader silently drops a UTF-8 BOM at its start
        // (without counting it in positions). Inside the document a resume
        // point may sit before U+FEFF character data: take it over here.
        let mut origin = self.committed.min(region.len());
        while !self.stack.is_empty() && region[origin..].starts_with(BOM) {
            if self.capturing() {
                pending.push('\u{FEFF}');
            }
            origin += BOM.len();
        }
        let data = &region[origin..];
        let abs = |rel: usize| base + origin + rel;
        let mut reader = xml::reader(data);
        for open in &self.stack {
            reader
                .resolver_mut()
                .push(&open.start(region))
                .map_err(|e| XdsError::Xml {
                    offset: abs(0),
                    reason: e.to_string(),
                })?;
        }
        loop {
            let before = reader.buffer_position() as usize;
            if self.stack.is_empty() {
                // Outside the document element only markup and white space
                // may appear (XML 1.0 §2.8): refuse anything else at once.
                let rest = data.get(before..).unwrap_or_default();
                if let Some(i) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                    if rest[i] != b'<' {
                        return Err(XdsError::NotXml {
                            offset: abs(before + i),
                        });
                    }
                }
            }
            let truncated = || XdsError::Truncated {
                consumed: abs(data.len()),
            };
            let (ns, event) = match reader.read_resolved_event() {
                Ok((r, ev)) => (Ns::classify(&r), ev),
                Err(e) => {
                    return match xml::classify_error(&e, &data[before..], abs(before)) {
                        ErrClass::Fatal(err) => Err(err),
                        ErrClass::Incomplete if complete => Err(truncated()),
                        ErrClass::Incomplete => Ok(Scan::NeedMore),
                    }
                }
            };
            let outside = self.stack.is_empty();
            match event {
                Event::Eof if complete => return Err(truncated()),
                Event::Eof => return Ok(Scan::NeedMore),
                Event::Text(t) => {
                    if outside {
                        if let Some(i) = t.bytes().position(|b| !b.is_ascii_whitespace()) {
                            return Err(XdsError::NotXml {
                                offset: abs(before + i),
                            });
                        }
                    } else if self.capturing() {
                        pending.push_str(&t.xml10_content());
                    }
                    continue;
                }
                Event::GeneralRef(r) => {
                    if outside {
                        return Err(XdsError::NotXml {
                            offset: abs(before),
                        });
                    }
                    let c = xml::resolve_ref(&r, abs(before))?;
                    if self.capturing() {
                        pending.push(c);
                    }
                    continue;
                }
                Event::DocType(_) => {
                    return Err(XdsError::DoctypeForbidden {
                        offset: abs(before),
                    })
                }
                _ => {}
            }
            // A markup event is complete: character data before it is final.
            self.capture.push_str(&pending);
            pending.clear();
            let done = match event {
                Event::CData(c) => {
                    if outside {
                        return Err(XdsError::NotXml {
                            offset: abs(before),
                        });
                    }
                    if self.capturing() {
                        self.capture.push_str(&c);
                    }
                    None
                }
                Event::Decl(d) => {
                    if let Some(Ok(enc)) = d.encoding() {
                        check_charset(Some(&enc))?;
                    }
                    None
                }
                Event::Start(e) => {
                    // The tag's content: after `<`, as long as the event's bytes.
                    let at = origin + before + 1;
                    let tag = at..at + e.len();
                    debug_assert_eq!(region.get(tag.clone()), Some(e.as_bytes()));
                    self.on_start(e, ns, Some(tag), abs(before))?
                }
                Event::Empty(e) => self.on_start(e, ns, None, abs(before))?,
                Event::End(e) => {
                    let Some(open) = self.stack.pop() else {
                        return Err(XdsError::Xml {
                            offset: abs(before),
                            reason: "end tag without start tag".into(),
                        });
                    };
                    if open.name(region) != e.name().as_ref() {
                        return Err(XdsError::Xml {
                            offset: abs(before),
                            reason: format!(
                                "expected </{}>, found </{}>",
                                open.name(region),
                                e.name().as_ref()
                            ),
                        });
                    }
                    match open.kind {
                        Kind::Capture(f) => {
                            self.finish_capture(f);
                            None
                        }
                        Kind::Header | Kind::Envelope => Some(self.info()),
                        Kind::Other => None,
                    }
                }
                _ => None,
            };
            self.committed = origin + reader.buffer_position() as usize;
            if let Some(info) = done {
                return Ok(Scan::Done(info));
            }
        }
    }

    /// Whether the bytes added to `region` since the last call may change
    /// the outcome of [`scan`](Self::scan) (see `tail`).
    pub(crate) fn worth_scanning(&mut self, region: &[u8]) -> bool {
        let pre_root = self.stack.is_empty();
        self.watch.completes(region, self.committed, pre_root)
    }

    fn capturing(&self) -> bool {
        self.stack
            .iter()
            .any(|o| matches!(o.kind, Kind::Capture(_)))
    }

    fn info(&self) -> SoapInfo {
        SoapInfo {
            action: self.action.clone().flatten(),
            message_id: self.message_id.clone().flatten(),
            soap_version: self.version.unwrap_or(SoapVersion::V12),
        }
    }

    fn finish_capture(&mut self, f: Field) {
        let text = self.capture.trim();
        let value = (!text.is_empty()).then(|| text.to_string());
        self.capture.clear();
        match f {
            Field::Action => self.action = Some(value),
            Field::MessageId => self.message_id = Some(value),
        }
    }

    /// Handles a start tag (`tag`: where its content sits in the region) or
    /// an empty-element tag (`None`); returns the result when the scan is
    /// finished.
    fn on_start(
        &mut self,
        e: BytesStart<'_>,
        ns: Ns,
        tag: Option<std::ops::Range<usize>>,
        offset: usize,
    ) -> Result<Option<SoapInfo>, XdsError> {
        if ns == Ns::Undeclared {
            return Err(XdsError::Xml {
                offset,
                reason: format!("undeclared namespace prefix in <{}>", e.name().as_ref()),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(XdsError::TooDeep {
                limit: MAX_DEPTH,
                offset,
            });
        }
        let local = e.local_name();
        let local = local.as_ref();
        let parent = self.stack.last().map(|o| o.kind);
        let soap_ns = self.version.map_or(Ns::Soap12, Ns::of_version);
        let kind = match parent {
            None => {
                if !(ns.is_soap() && local == "Envelope") {
                    return Err(XdsError::NotSoapEnvelope {
                        found: e.name().as_ref().chars().take(128).collect(),
                    });
                }
                self.version = Some(if ns == Ns::Soap11 {
                    SoapVersion::V11
                } else {
                    SoapVersion::V12
                });
                Kind::Envelope
            }
            Some(Kind::Envelope) if ns == soap_ns && local == "Body" => {
                return Ok(Some(self.info()))
            }
            Some(Kind::Envelope) if ns == soap_ns && local == "Header" => Kind::Header,
            Some(Kind::Header) if ns == Ns::Wsa && (local == "Action" || local == "MessageID") => {
                let (field, seen, name) = if local == "Action" {
                    (Field::Action, self.action.is_some(), "Action")
                } else {
                    (Field::MessageId, self.message_id.is_some(), "MessageID")
                };
                if seen {
                    return Err(XdsError::DuplicateHeader {
                        header: name,
                        offset,
                    });
                }
                Kind::Capture(field)
            }
            _ => Kind::Other,
        };
        let Some(tag) = tag else {
            return Ok(match kind {
                Kind::Capture(f) => {
                    self.finish_capture(f);
                    None
                }
                Kind::Header | Kind::Envelope => Some(self.info()),
                Kind::Other => None,
            });
        };
        self.stack.push(Open {
            tag,
            name_len: e.name().as_ref().len(),
            kind,
        });
        Ok(None)
    }
}

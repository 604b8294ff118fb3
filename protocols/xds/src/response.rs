//! Reading an XDS.b registry/repository response: status, errors, or Fault.
//!
//! The status lives on `rs:RegistryResponse/@status` (ITI-41, ITI-42; inside
//! `xdsb:RetrieveDocumentSetResponse` for ITI-43) or on
//! `query:AdhocQueryResponse/@status` (ITI-18); errors are
//! `rs:RegistryErrorList/rs:RegistryError` with `errorCode` and
//! `codeContext` (ITI TF-3 §4.2.4). A SOAP Fault (SOAP 1.2 Part 1 §5.4,
//! SOAP 1.1 §4.4) is reported with its reason text. MTOM responses
//! (ITI-43, RFC 2387) are unpacked to their root part first.

use quick_xml::events::{BytesStart, Event};

use crate::content_type::ContentType;
use crate::error::XdsError;
use crate::mime::RootLocator;
use crate::ns::{STATUS_FAILURE, STATUS_PARTIAL_SUCCESS, STATUS_SUCCESS};
use crate::xml::{self, ErrClass, Ns};

/// Cap on the number of errors collected from one response.
pub const MAX_REGISTRY_ERRORS: usize = 256;

/// `@status` of a registry response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegistryStatus {
    /// `urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success`.
    Success,
    /// `urn:ihe:iti:2007:ResponseStatusType:PartialSuccess`.
    PartialSuccess,
    /// `urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure`.
    Failure,
    /// Any other value, verbatim.
    Other(String),
}

impl RegistryStatus {
    /// Maps a status URI; the ebRS PartialSuccess spelling is accepted too.
    pub fn from_uri(uri: &str) -> Self {
        match uri.trim() {
            STATUS_SUCCESS => Self::Success,
            STATUS_FAILURE => Self::Failure,
            STATUS_PARTIAL_SUCCESS
            | "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess" => {
                Self::PartialSuccess
            }
            other => Self::Other(other.to_string()),
        }
    }

    /// The status URI.
    pub fn as_uri(&self) -> &str {
        match self {
            Self::Success => STATUS_SUCCESS,
            Self::PartialSuccess => STATUS_PARTIAL_SUCCESS,
            Self::Failure => STATUS_FAILURE,
            Self::Other(s) => s,
        }
    }
}

/// What a response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryResult {
    /// Response status; `Failure` when the body is a SOAP Fault.
    pub status: RegistryStatus,
    /// `"errorCode: codeContext"` for each `rs:RegistryError`.
    pub errors: Vec<String>,
    /// The Fault reason when the body is a SOAP Fault.
    pub fault: Option<String>,
}

/// Parses a registry/repository response body. `ct` selects MTOM unpacking
/// (`multipart/related`); with `None`, a body that starts with `--` is
/// unpacked using its first line as the delimiter.
pub fn parse_registry_response(
    ct: Option<&ContentType>,
    body: &[u8],
) -> Result<RegistryResult, XdsError> {
    let (start, end) = root_region(ct, body)?;
    parse_xml(&body[start..end], start)
}

fn root_region(ct: Option<&ContentType>, body: &[u8]) -> Result<(usize, usize), XdsError> {
    let boundary = match ct {
        Some(ct) if ct.is_multipart() => Some((
            ct.boundary.clone().ok_or(XdsError::MissingBoundary)?,
            ct.start.clone(),
        )),
        Some(_) => None,
        None => sniff_boundary(body).map(|b| (b, None)),
    };
    let Some((boundary, start)) = boundary else {
        return Ok((0, body.len()));
    };
    let mut loc = RootLocator::new(&boundary, start.as_deref())?;
    match loc.advance(body)? {
        Some(r) => Ok((r.start, r.end)),
        None => Err(XdsError::Truncated {
            consumed: body.len(),
        }),
    }
}

/// The boundary of a body whose first non-blank line is `--boundary`.
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let p = body
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let rest = body[p..].strip_prefix(b"--")?;
    let line_end = rest.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&rest[..line_end]).ok()?.trim_end();
    (!line.is_empty()).then(|| line.to_string())
}

#[derive(Debug, Default)]
struct Walk {
    depth: usize,
    status: Option<RegistryStatus>,
    /// Depth of the status-bearing element while inside it.
    response_depth: Option<usize>,
    errors: Vec<String>,
    in_fault: bool,
    /// Collecting fault reason text (Reason/Text or faultstring).
    reason_depth: Option<usize>,
    reason: Option<String>,
}

fn parse_xml(data: &[u8], base: usize) -> Result<RegistryResult, XdsError> {
    let data_start = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut reader = xml::reader(&data[data_start..]);
    reader.config_mut().check_end_names = true;
    reader.config_mut().allow_unmatched_ends = false;
    let base = base + data_start;
    let mut w = Walk::default();
    loop {
        let pos = reader.buffer_position() as usize;
        let (ns, ev) = match reader.read_resolved_event() {
            Ok((r, ev)) => (Ns::classify(&r), ev),
            Err(e) => {
                let tail = data.get(data_start + pos..).unwrap_or_default();
                return Err(match xml::classify_error(&e, tail, base + pos) {
                    ErrClass::Fatal(err) => err,
                    ErrClass::Incomplete => XdsError::Truncated {
                        consumed: base + data.len(),
                    },
                });
            }
        };
        match ev {
            Event::Start(e) => {
                w.depth += 1;
                w.on_start(&e, ns, base + pos)?;
            }
            Event::Empty(e) => {
                w.depth += 1;
                w.on_start(&e, ns, base + pos)?;
                w.on_end();
            }
            Event::End(_) => {
                w.on_end();
                if w.is_done() {
                    break;
                }
            }
            Event::Text(t) => {
                if w.depth == 0 && !t.trim().is_empty() {
                    return Err(XdsError::NotXml { offset: base + pos });
                }
                if let (Some(_), Some(r)) = (w.reason_depth, w.reason.as_mut()) {
                    r.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = xml::resolve_ref(&r, base + pos)?;
                if let (Some(_), Some(r)) = (w.reason_depth, w.reason.as_mut()) {
                    r.push(c);
                }
            }
            Event::CData(c) => {
                if let (Some(_), Some(r)) = (w.reason_depth, w.reason.as_mut()) {
                    r.push_str(&c);
                }
            }
            Event::DocType(_) => return Err(XdsError::DoctypeForbidden { offset: base + pos }),
            Event::Eof if w.depth > 0 => {
                return Err(XdsError::Truncated {
                    consumed: base + data.len(),
                })
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(reason) = w.reason {
        return Ok(RegistryResult {
            status: RegistryStatus::Failure,
            errors: w.errors,
            fault: Some(reason.trim().to_string()),
        });
    }
    match w.status {
        Some(status) => Ok(RegistryResult {
            status,
            errors: w.errors,
            fault: None,
        }),
        None => Err(XdsError::NoRegistryResponse),
    }
}

impl Walk {
    fn is_done(&self) -> bool {
        (self.status.is_some() && self.response_depth.is_none())
            || (self.reason.is_some() && self.reason_depth.is_none() && !self.in_fault)
    }

    fn on_start(&mut self, e: &BytesStart<'_>, ns: Ns, offset: usize) -> Result<(), XdsError> {
        if ns == Ns::Undeclared {
            return Err(XdsError::Xml {
                offset,
                reason: format!("undeclared namespace prefix in <{}>", e.name().as_ref()),
            });
        }
        let local = e.local_name();
        match (ns, local.as_ref()) {
            (Ns::Query, "AdhocQueryResponse") | (Ns::Rs, "RegistryResponse")
                if self.status.is_none() =>
            {
                let status = attr(e, "status", offset)?.unwrap_or_default();
                self.status = Some(RegistryStatus::from_uri(&status));
                self.response_depth = Some(self.depth);
            }
            (Ns::Rs, "RegistryError")
                if self.response_depth.is_some() && self.errors.len() < MAX_REGISTRY_ERRORS =>
            {
                let code = attr(e, "errorCode", offset)?.unwrap_or_default();
                let context = attr(e, "codeContext", offset)?.unwrap_or_default();
                self.errors
                    .push(format!("{}: {}", code.trim(), context.trim()));
            }
            (n, "Fault") if n.is_soap() => self.in_fault = true,
            // SOAP 1.2 env:Reason/env:Text (first one) or SOAP 1.1 faultstring.
            (n, "Text") if n.is_soap() && self.in_fault && self.reason.is_none() => {
                self.reason = Some(String::new());
                self.reason_depth = Some(self.depth);
            }
            (Ns::None, "faultstring") if self.in_fault && self.reason.is_none() => {
                self.reason = Some(String::new());
                self.reason_depth = Some(self.depth);
            }
            _ => {}
        }
        Ok(())
    }

    fn on_end(&mut self) {
        if self.response_depth == Some(self.depth) {
            self.response_depth = None;
        }
        if self.reason_depth == Some(self.depth) {
            self.reason_depth = None;
            // One reason is enough: stop at the end of the Fault.
            self.in_fault = false;
        }
        self.depth = self.depth.saturating_sub(1);
    }
}

/// Unescaped value of the unqualified attribute `name`.
fn attr(e: &BytesStart<'_>, name: &str, offset: usize) -> Result<Option<String>, XdsError> {
    for a in e.attributes() {
        let a = a.map_err(|err| XdsError::Xml {
            offset,
            reason: err.to_string(),
        })?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| XdsError::Xml {
                    offset,
                    reason: err.to_string(),
                })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

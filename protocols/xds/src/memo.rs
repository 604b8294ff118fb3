//! The last SOAP header a connection's fast scan answered for, so that the next request with
//! the same header — a client's template, in which WS-Addressing 1.0 §3.2 makes only
//! `wsa:MessageID` differ from message to message — is answered by two byte comparisons
//! instead of a scan.
//!
//! A repeat is a region whose bytes up to the header's end are those remembered, except the
//! `wsa:MessageID` text, which may be any text without `<`, `&` or a carriage return (what the
//! fast scan itself takes as a plain captured value) and must be UTF-8. On such bytes the fast
//! scan would read the same markup in the same order and differ only in that value, so the
//! answer is the remembered one with the new `wsa:MessageID`: the answer the scan (and the
//! `NsReader`, see `fast`) would give. Anything else — another header, a WS-Security
//! timestamp that changes, a header not complete in the region — is scanned as before.

use crate::finder::{SoapInfo, SoapVersion};

/// Headers longer than this are not remembered: the memo lives as long as the connection
/// (hyper's buffers for it are 8 KiB and more). WS-Addressing headers are well below it; the
/// long ones, WS-Security's, change from request to request and would not repeat anyway.
const MAX_REMEMBERED: usize = 2048;

/// What the fast scan found, and where.
pub(crate) struct Scanned {
    pub(crate) info: SoapInfo,
    /// Just after the markup that completed the header (`</Header>` or `<Body>`).
    pub(crate) end: usize,
    /// The `wsa:MessageID` text's range, when the header has one with text.
    pub(crate) message_id: Option<(usize, usize)>,
}

/// See the module docs. Empty (remembering nothing) by default.
#[derive(Debug, Clone, Default)]
pub struct HeaderMemo {
    /// The remembered region up to the header's end.
    bytes: Vec<u8>,
    message_id: Option<(usize, usize)>,
    /// The header's action and SOAP version (its MessageID is read from each repeat).
    info: Option<(Option<String>, SoapVersion)>,
}

impl HeaderMemo {
    /// The answer for `region` if it repeats the remembered header (see the module docs).
    pub(crate) fn answer(&self, region: &[u8]) -> Option<SoapInfo> {
        let (action, soap_version) = self.info.as_ref()?;
        let answer = |message_id| SoapInfo {
            action: action.clone(),
            message_id,
            soap_version: *soap_version,
        };
        let Some((v0, v1)) = self.message_id else {
            // No MessageID text: the same bytes, the same (empty) answer.
            return (region.get(..self.bytes.len())? == self.bytes).then(|| answer(None));
        };
        if region.get(..v0)? != self.bytes.get(..v0)? {
            return None;
        }
        let text_len = memchr::memchr3(b'<', b'&', b'\r', region.get(v0..)?)?;
        let t1 = v0 + text_len;
        let rest = self.bytes.get(v1..)?;
        if region[t1] != b'<' || region.get(t1..t1 + rest.len())? != rest {
            return None;
        }
        let text = std::str::from_utf8(&region[v0..t1]).ok()?.trim();
        Some(answer((!text.is_empty()).then(|| text.to_string())))
    }

    /// Remembers what the fast scan found in `region` (nothing for a header too long).
    pub(crate) fn remember(&mut self, region: &[u8], s: &Scanned) {
        let Some(head) = region.get(..s.end).filter(|h| h.len() <= MAX_REMEMBERED) else {
            *self = HeaderMemo::default();
            return;
        };
        self.bytes.clear();
        self.bytes.extend_from_slice(head);
        self.message_id = s.message_id;
        self.info = Some((s.info.action.clone(), s.info.soap_version));
    }
}

#[cfg(test)]
#[path = "memo_tests.rs"]
mod tests;

//! MIME part headers of a multipart/related body (MTOM/XOP).
//!
//! Only `Content-ID` (RFC 2045 §7, msg-id per RFC 2392), `Content-Type`
//! (RFC 2045 §5) and `Content-Transfer-Encoding` (RFC 2045 §6) matter: the
//! first selects the root part named by `start` (RFC 2387 §3.2), the others
//! must allow reading the SOAP envelope as UTF-8 text as-is (XOP §3 sends
//! the root part as binary `application/xop+xml`). Header lines may be
//! folded (RFC 5322 §2.2.3).

use crate::content_type::parse_content_type;
use crate::error::XdsError;

/// Strips whitespace and the angle brackets of a msg-id (RFC 2392 / RFC 2045 §7).
pub(crate) fn normalise_cid(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix('<').unwrap_or(s);
    let s = s.strip_suffix('>').unwrap_or(s);
    s.trim().to_string()
}

/// The MIME part headers this codec looks at (RFC 2045 §5, §6, §7).
#[derive(Debug, Default)]
pub(crate) struct PartHeaders {
    pub content_id: Option<String>,
    content_type: Option<String>,
    transfer_encoding: Option<String>,
}

impl PartHeaders {
    pub(crate) fn parse(block: &[u8]) -> Self {
        let text = String::from_utf8_lossy(block);
        // Unfold continuation lines (RFC 5322 §2.2.3).
        let mut lines: Vec<String> = Vec::new();
        for raw in text.split('\n') {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            match (line.starts_with([' ', '\t']), lines.last_mut()) {
                (true, Some(prev)) => prev.push_str(line),
                _ => lines.push(line.to_string()),
            }
        }
        let mut h = PartHeaders::default();
        for line in &lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_string();
            let slot = match name.trim().to_ascii_lowercase().as_str() {
                "content-id" => &mut h.content_id,
                "content-type" => &mut h.content_type,
                "content-transfer-encoding" => &mut h.transfer_encoding,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        h.content_id = h.content_id.as_deref().map(normalise_cid);
        h
    }

    /// The root part must be readable as-is: 7bit/8bit/binary only, UTF-8.
    pub(crate) fn check_root(&self) -> Result<(), XdsError> {
        if let Some(te) = &self.transfer_encoding {
            if !matches!(te.to_ascii_lowercase().as_str(), "binary" | "8bit" | "7bit") {
                return Err(XdsError::UnsupportedTransferEncoding {
                    encoding: te.chars().take(64).collect(),
                });
            }
        }
        if let Some(ct) = self
            .content_type
            .as_deref()
            .and_then(|v| parse_content_type(v).ok())
        {
            crate::finder::check_charset(ct.charset.as_deref())?;
        }
        Ok(())
    }
}

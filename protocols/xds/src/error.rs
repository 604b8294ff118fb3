//! Error type of the XDS / SOAP codec.
//!
//! Every variant carries enough context (offset into the body, the offending
//! value, the configured limit) for the gateway to log it and to pick a SOAP 1.2
//! Fault code (SOAP 1.2 Part 1 §5.4): everything here is a `env:Sender` fault
//! except [`XdsError::HeaderTooLarge`], which a gateway may also report as a
//! policy rejection.

use thiserror::Error;

/// Errors from Content-Type parsing, MIME (RFC 2046 / RFC 2387) framing,
/// SOAP envelope scanning and ebXML RegistryResponse reading.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XdsError {
    /// The Content-Type header value is not `type/subtype *(; name=value)`
    /// (RFC 2045 §5.1).
    #[error("malformed Content-Type {value:?}: {reason}")]
    BadContentType {
        /// The header value as received.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The media type cannot carry a SOAP envelope.
    #[error("unsupported media type {mime:?} for a SOAP message")]
    UnsupportedMediaType {
        /// The lowercased `type/subtype`.
        mime: String,
    },
    /// A charset other than UTF-8 / US-ASCII (this codec reads UTF-8 only).
    #[error("unsupported charset {charset:?}: only UTF-8 is accepted")]
    UnsupportedCharset {
        /// The charset parameter as received.
        charset: String,
    },
    /// `multipart/related` without a usable `boundary` parameter (RFC 2046 §5.1.1).
    #[error("multipart/related Content-Type has no valid boundary parameter")]
    MissingBoundary,
    /// Malformed MIME multipart framing.
    #[error("MIME framing error at offset {offset}: {reason}")]
    Mime {
        /// Byte offset into the HTTP body.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The multipart body ended (closing delimiter) without the root part
    /// named by the `start` parameter (RFC 2387 §3.2).
    #[error("no MIME part matches start={start:?}")]
    RootPartNotFound {
        /// The `start` parameter (or `<first part>`).
        start: String,
    },
    /// The SOAP root part uses a transfer encoding this codec does not decode.
    #[error("unsupported Content-Transfer-Encoding {encoding:?} on the SOAP root part")]
    UnsupportedTransferEncoding {
        /// The encoding as received.
        encoding: String,
    },
    /// More than the budget was consumed before the end of `soap:Header`.
    #[error("SOAP header not complete within the budget of {budget} bytes")]
    HeaderTooLarge {
        /// The configured budget in bytes.
        budget: usize,
    },
    /// The XML is not well-formed (as reported by quick-xml).
    #[error("XML error at offset {offset}: {reason}")]
    Xml {
        /// Byte offset into the HTTP body.
        offset: usize,
        /// The parser's message.
        reason: String,
    },
    /// The body does not start with XML markup.
    #[error("not XML: unexpected character data at offset {offset}")]
    NotXml {
        /// Byte offset into the HTTP body.
        offset: usize,
    },
    /// A `<!DOCTYPE` was seen. DTDs are refused so that entity expansion
    /// ("billion laughs") can never happen.
    #[error("DOCTYPE declarations are forbidden (offset {offset})")]
    DoctypeForbidden {
        /// Byte offset into the HTTP body.
        offset: usize,
    },
    /// An entity reference other than the five predefined ones or a
    /// character reference.
    #[error("entity reference &{name}; is not allowed (offset {offset})")]
    UnknownEntity {
        /// Byte offset into the HTTP body.
        offset: usize,
        /// Entity name without `&` and `;`.
        name: String,
    },
    /// The document element is not a SOAP 1.1 or SOAP 1.2 `Envelope`.
    #[error("root element {found:?} is not a SOAP 1.1/1.2 Envelope")]
    NotSoapEnvelope {
        /// `{namespace}local` of the element found.
        found: String,
    },
    /// A WS-Addressing 1.0 header that may appear at most once appeared twice.
    #[error("duplicate wsa:{header} header at offset {offset}")]
    DuplicateHeader {
        /// Local name of the header.
        header: &'static str,
        /// Byte offset into the HTTP body.
        offset: usize,
    },
    /// The body (or the SOAP root part) ended before the end of `soap:Header`.
    #[error("body ended after {consumed} bytes before the end of the SOAP header")]
    Truncated {
        /// Bytes consumed in total.
        consumed: usize,
    },
    /// Elements nested deeper than the scanner's limit.
    #[error("XML elements nested deeper than {limit} (offset {offset})")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
        /// Byte offset into the HTTP body.
        offset: usize,
    },
    /// A response body without `rs:RegistryResponse`,
    /// `query:AdhocQueryResponse` or SOAP Fault.
    #[error("no RegistryResponse, AdhocQueryResponse or SOAP Fault in the response body")]
    NoRegistryResponse,
}

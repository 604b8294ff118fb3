//! SOAP Fault builders for gateway-generated errors.
//!
//! SOAP 1.2 Part 1 §5.4 defines `env:Fault` with a mandatory `env:Code`
//! (`env:Value` of `env:Sender` / `env:Receiver`, optional `env:Subcode`) and
//! `env:Reason` with at least one `env:Text xml:lang`. ITI TF-2 Appendix V
//! requires WS-Addressing 1.0, whose SOAP binding (WS-Addressing 1.0 SOAP
//! Binding §6) gives faults the action
//! `http://www.w3.org/2005/08/addressing/soap/fault` and relates them to the
//! request with `wsa:RelatesTo`. SOAP 1.1 §4.4 uses `faultcode` /
//! `faultstring` with `Client` / `Server`.

use crate::ns::{SOAP11_NS, SOAP12_NS, WSA_NS, WSA_SOAP_FAULT_ACTION};
use crate::xml::escape_xml;

/// The SOAP fault class (SOAP 1.2 Part 1 §5.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// The message was wrong (SOAP 1.1: `Client`).
    Sender,
    /// The receiver (or an upstream) failed (SOAP 1.1: `Server`).
    Receiver,
}

impl FaultCode {
    fn soap12(self) -> &'static str {
        match self {
            Self::Sender => "env:Sender",
            Self::Receiver => "env:Receiver",
        }
    }

    fn soap11(self) -> &'static str {
        match self {
            Self::Sender => "env:Client",
            Self::Receiver => "env:Server",
        }
    }
}

/// WS-Addressing fault subcodes (WS-Addressing 1.0 SOAP Binding §6.4),
/// usable as the `subcode` argument of [`build_fault`].
pub mod subcode {
    /// `wsa:ActionNotSupported`: no upstream serves this action.
    pub const ACTION_NOT_SUPPORTED: &str = "wsa:ActionNotSupported";
    /// `wsa:MessageAddressingHeaderRequired`: wsa:Action missing.
    pub const HEADER_REQUIRED: &str = "wsa:MessageAddressingHeaderRequired";
    /// `wsa:InvalidAddressingHeader`: malformed addressing header.
    pub const INVALID_HEADER: &str = "wsa:InvalidAddressingHeader";
    /// `wsa:EndpointUnavailable`: no healthy upstream.
    pub const ENDPOINT_UNAVAILABLE: &str = "wsa:EndpointUnavailable";
}

/// Builds a complete SOAP 1.2 envelope holding a Fault.
///
/// * `reason` becomes `env:Reason/env:Text xml:lang="en"` (XML-escaped).
/// * `relates_to`, when given, becomes `wsa:RelatesTo` (the request's
///   `wsa:MessageID`).
/// * `subcode`, when given, is a QName placed in `env:Subcode/env:Value`; the
///   prefixes `env` and `wsa` are declared (see [`subcode`]).
pub fn build_fault(
    code: FaultCode,
    reason: &str,
    relates_to: Option<&str>,
    subcode: Option<&str>,
) -> String {
    let mut s = String::with_capacity(768 + reason.len());
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<env:Envelope xmlns:env=\"{SOAP12_NS}\" xmlns:wsa=\"{WSA_NS}\">\n"
    ));
    push_header(&mut s, relates_to);
    s.push_str("<env:Body>\n<env:Fault>\n<env:Code>\n<env:Value>");
    s.push_str(code.soap12());
    s.push_str("</env:Value>\n");
    if let Some(sub) = subcode {
        s.push_str("<env:Subcode><env:Value>");
        s.push_str(&escape_xml(sub.trim()));
        s.push_str("</env:Value></env:Subcode>\n");
    }
    s.push_str("</env:Code>\n<env:Reason><env:Text xml:lang=\"en\">");
    s.push_str(&escape_xml(reason));
    s.push_str("</env:Text></env:Reason>\n</env:Fault>\n</env:Body>\n</env:Envelope>\n");
    s
}

/// Builds a SOAP 1.1 Fault envelope (SOAP 1.1 §4.4) for SOAP 1.1 clients,
/// with the same WS-Addressing headers as [`build_fault`].
pub fn build_fault_11(code: FaultCode, reason: &str, relates_to: Option<&str>) -> String {
    let mut s = String::with_capacity(640 + reason.len());
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<env:Envelope xmlns:env=\"{SOAP11_NS}\" xmlns:wsa=\"{WSA_NS}\">\n"
    ));
    push_header(&mut s, relates_to);
    s.push_str("<env:Body>\n<env:Fault>\n<faultcode>");
    s.push_str(code.soap11());
    s.push_str("</faultcode>\n<faultstring>");
    s.push_str(&escape_xml(reason));
    s.push_str("</faultstring>\n</env:Fault>\n</env:Body>\n</env:Envelope>\n");
    s
}

fn push_header(s: &mut String, relates_to: Option<&str>) {
    s.push_str("<env:Header>\n<wsa:Action>");
    s.push_str(WSA_SOAP_FAULT_ACTION);
    s.push_str("</wsa:Action>\n");
    if let Some(rel) = relates_to {
        s.push_str("<wsa:RelatesTo>");
        s.push_str(&escape_xml(rel.trim()));
        s.push_str("</wsa:RelatesTo>\n");
    }
    s.push_str("</env:Header>\n");
}

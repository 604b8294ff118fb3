//! Response builders for test responders (registry/repository stand-ins).
//!
//! * ITI-18 response: `query:AdhocQueryResponse` (ITI TF-2a §3.18.4.2).
//! * ITI-41 / ITI-42 response: `rs:RegistryResponse` (ITI TF-2b §3.41.4.2,
//!   §3.42.4.2).
//! * ITI-43 response: `xdsb:RetrieveDocumentSetResponse` with the documents as
//!   XOP attachments in an MTOM package (ITI TF-2b §3.43.4.2; XOP §3;
//!   RFC 2387), as ITI TF-2 Appendix V requires for ITI-43.
//!
//! All are SOAP 1.2 envelopes with `wsa:Action` set to the response action
//! and `wsa:RelatesTo` set to the request's `wsa:MessageID`.

use crate::builder::{soap12_envelope, Addressing};
use crate::ns::{
    ITI18_RESPONSE_ACTION, ITI43_RESPONSE_ACTION, QUERY_NS, RIM_NS, RS_NS, XDSB_NS, XOP_NS,
};
use crate::response::RegistryStatus;
use crate::xml::escape_xml;

/// ITI-18 response with status Success and an empty `rim:RegistryObjectList`.
pub fn build_adhoc_query_response_success(relates_to: &str) -> String {
    let body = format!(
        "<query:AdhocQueryResponse xmlns:query=\"{QUERY_NS}\" xmlns:rim=\"{RIM_NS}\" \
status=\"{}\">\n<rim:RegistryObjectList/>\n</query:AdhocQueryResponse>",
        RegistryStatus::Success.as_uri()
    );
    soap12_envelope(
        &response_addressing(ITI18_RESPONSE_ACTION, relates_to),
        &body,
    )
}

/// A `rs:RegistryResponse` envelope with `wsa:Action` = `action` (e.g.
/// [`ITI41_RESPONSE_ACTION`](crate::ITI41_RESPONSE_ACTION)). A `Failure` or
/// `PartialSuccess` status carries one `XDSRegistryError` in a
/// `rs:RegistryErrorList`.
pub fn build_registry_response(relates_to: &str, action: &str, status: RegistryStatus) -> String {
    let body = registry_response_xml(&status);
    soap12_envelope(&response_addressing(action, relates_to), &body)
}

fn registry_response_xml(status: &RegistryStatus) -> String {
    let uri = escape_xml(status.as_uri()).into_owned();
    match status {
        RegistryStatus::Failure | RegistryStatus::PartialSuccess => format!(
            "<rs:RegistryResponse xmlns:rs=\"{RS_NS}\" status=\"{uri}\">\n\
<rs:RegistryErrorList>\n\
<rs:RegistryError errorCode=\"XDSRegistryError\" codeContext=\"synthetic failure from test responder\" \
severity=\"urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error\"/>\n\
</rs:RegistryErrorList>\n</rs:RegistryResponse>"
        ),
        _ => format!("<rs:RegistryResponse xmlns:rs=\"{RS_NS}\" status=\"{uri}\"/>"),
    }
}

fn response_addressing<'a>(action: &'a str, relates_to: &'a str) -> Addressing<'a> {
    Addressing {
        action,
        relates_to: Some(relates_to),
        ..Addressing::default()
    }
}

/// One document of an ITI-43 response.
#[derive(Debug, Clone, Copy)]
pub struct RetrievedDocument<'a> {
    /// `xdsb:RepositoryUniqueId` (an OID).
    pub repository_unique_id: &'a str,
    /// `xdsb:DocumentUniqueId`.
    pub document_unique_id: &'a str,
    /// `xdsb:mimeType` and the attachment's Content-Type.
    pub mime_type: &'a str,
    /// Document bytes, sent as a binary MIME part.
    pub content: &'a [u8],
}

/// An MTOM message: the HTTP Content-Type value and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtomMessage {
    /// Value for the HTTP `Content-Type` header.
    pub content_type: String,
    /// The multipart/related body (CRLF line ends).
    pub body: Vec<u8>,
}

/// Content-ID of the SOAP root part of built MTOM messages.
const ROOT_CID: &str = "root.message@triage.invalid";

/// ITI-43 response as an MTOM package: the envelope in the root part, each
/// document as an attachment referenced by `xop:Include`.
pub fn build_retrieve_response(
    relates_to: &str,
    status: RegistryStatus,
    documents: &[RetrievedDocument<'_>],
) -> MtomMessage {
    let boundary = pick_boundary(documents);
    let mut xml = format!(
        "<xdsb:RetrieveDocumentSetResponse xmlns:xdsb=\"{XDSB_NS}\">\n{}\n",
        registry_response_xml(&status)
    );
    for (i, d) in documents.iter().enumerate() {
        xml.push_str(&format!(
            "<xdsb:DocumentResponse>\n\
<xdsb:RepositoryUniqueId>{}</xdsb:RepositoryUniqueId>\n\
<xdsb:DocumentUniqueId>{}</xdsb:DocumentUniqueId>\n\
<xdsb:mimeType>{}</xdsb:mimeType>\n\
<xdsb:Document><xop:Include xmlns:xop=\"{XOP_NS}\" href=\"cid:doc{i}@triage.invalid\"/></xdsb:Document>\n\
</xdsb:DocumentResponse>\n",
            escape_xml(d.repository_unique_id),
            escape_xml(d.document_unique_id),
            escape_xml(d.mime_type),
        ));
    }
    xml.push_str("</xdsb:RetrieveDocumentSetResponse>");
    let envelope = soap12_envelope(
        &response_addressing(ITI43_RESPONSE_ACTION, relates_to),
        &xml,
    );

    let mut body = Vec::with_capacity(envelope.len() + 512);
    let part = |body: &mut Vec<u8>, ctype: &str, cid: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {ctype}\r\n\
Content-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n"
            )
            .as_bytes(),
        );
    };
    part(
        &mut body,
        "application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"",
        ROOT_CID,
    );
    body.extend_from_slice(envelope.as_bytes());
    for (i, d) in documents.iter().enumerate() {
        body.extend_from_slice(b"\r\n");
        let ctype: String = d.mime_type.chars().filter(|c| !c.is_control()).collect();
        part(&mut body, &ctype, &format!("doc{i}@triage.invalid"));
        body.extend_from_slice(d.content);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    MtomMessage {
        content_type: format!(
            "multipart/related; boundary=\"{boundary}\"; type=\"application/xop+xml\"; \
start=\"<{ROOT_CID}>\"; start-info=\"application/soap+xml\"; action=\"{ITI43_RESPONSE_ACTION}\""
        ),
        body,
    }
}

/// A boundary that occurs in no document (RFC 2046 §5.1.1).
fn pick_boundary(documents: &[RetrievedDocument<'_>]) -> String {
    let mut n = 0u32;
    loop {
        let b = format!("MIMEBoundary_triage_xds_{n}");
        let needle = format!("--{b}");
        let clash = documents
            .iter()
            .any(|d| memchr::memmem::find(d.content, needle.as_bytes()).is_some());
        if !clash {
            return b;
        }
        n += 1;
    }
}

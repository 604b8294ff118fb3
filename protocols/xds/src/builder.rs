//! SOAP 1.2 envelope writer and the ITI-18 request builder used for health
//! checks.
//!
//! Envelope layout per SOAP 1.2 Part 1 §5 with the WS-Addressing 1.0
//! headers that ITI TF-2 Appendix V requires (`wsa:Action` with
//! `mustUnderstand`, `wsa:MessageID`, `wsa:ReplyTo` anonymous, `wsa:To`;
//! `wsa:RelatesTo` on responses). The ITI-18 body follows ITI TF-2a §3.18.4.1
//! (`query:AdhocQueryRequest` with `query:ResponseOption` and
//! `rim:AdhocQuery`, stored query GetDocuments).

use crate::ns::{
    GET_DOCUMENTS_QUERY_ID, ITI18_ACTION, QUERY_NS, RIM_NS, SOAP12_NS, WSA_ANONYMOUS, WSA_NS,
};
use crate::xml::escape_xml;

/// WS-Addressing headers of an outgoing message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Addressing<'a> {
    pub action: &'a str,
    pub message_id: Option<&'a str>,
    pub relates_to: Option<&'a str>,
    pub to: Option<&'a str>,
    /// Adds `wsa:ReplyTo` with the anonymous address (requests).
    pub reply_to_anonymous: bool,
}

/// Writes `<?xml?>` + SOAP 1.2 envelope with `body_xml` (already XML) as the
/// only child of `soap:Body`.
pub(crate) fn soap12_envelope(a: &Addressing<'_>, body_xml: &str) -> String {
    let mut s = String::with_capacity(640 + body_xml.len());
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<soap:Envelope xmlns:soap=\"{SOAP12_NS}\" xmlns:wsa=\"{WSA_NS}\">\n<soap:Header>\n"
    ));
    push_el(
        &mut s,
        "wsa:Action soap:mustUnderstand=\"1\"",
        "wsa:Action",
        a.action,
    );
    if let Some(id) = a.message_id {
        push_el(&mut s, "wsa:MessageID", "wsa:MessageID", id);
    }
    if a.reply_to_anonymous {
        s.push_str("<wsa:ReplyTo><wsa:Address>");
        s.push_str(WSA_ANONYMOUS);
        s.push_str("</wsa:Address></wsa:ReplyTo>\n");
    }
    if let Some(rel) = a.relates_to {
        push_el(&mut s, "wsa:RelatesTo", "wsa:RelatesTo", rel);
    }
    if let Some(to) = a.to {
        push_el(&mut s, "wsa:To soap:mustUnderstand=\"1\"", "wsa:To", to);
    }
    s.push_str("</soap:Header>\n<soap:Body>\n");
    s.push_str(body_xml);
    s.push_str("\n</soap:Body>\n</soap:Envelope>\n");
    s
}

fn push_el(s: &mut String, open: &str, close: &str, text: &str) {
    s.push('<');
    s.push_str(open);
    s.push('>');
    s.push_str(&escape_xml(text.trim()));
    s.push_str("</");
    s.push_str(close);
    s.push_str(">\n");
}

/// Prefixes `urn:uuid:` unless already present (ITI TF-3 §4.2.3.1.5: entryUUIDs
/// are `urn:uuid:` URNs).
pub(crate) fn urn_uuid(id: &str) -> String {
    let id = id.trim();
    if id
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:uuid:"))
    {
        id.to_string()
    } else {
        format!("urn:uuid:{id}")
    }
}

/// Builds an ITI-18 Registry Stored Query "GetDocuments" request (SOAP 1.2,
/// ITI TF-2a §3.18) for one DocumentEntry entryUUID, with
/// `returnType="ObjectRef"` so the registry answers cheaply. `message_id`
/// becomes `wsa:MessageID` (a `urn:uuid:` is expected), `to` the `wsa:To`.
pub fn build_iti18_get_documents(message_id: &str, entry_uuid: &str, to: Option<&str>) -> String {
    // Single quotes inside the value would break the stored-query value
    // syntax ('...'); they cannot occur in a UUID, so drop them.
    let uuid: String = urn_uuid(entry_uuid)
        .chars()
        .filter(|c| *c != '\'')
        .collect();
    let body = format!(
        "<query:AdhocQueryRequest xmlns:query=\"{QUERY_NS}\" xmlns:rim=\"{RIM_NS}\">\n\
<query:ResponseOption returnComposedObjects=\"true\" returnType=\"ObjectRef\"/>\n\
<rim:AdhocQuery id=\"{GET_DOCUMENTS_QUERY_ID}\">\n\
<rim:Slot name=\"$XDSDocumentEntryEntryUUID\">\n\
<rim:ValueList><rim:Value>('{}')</rim:Value></rim:ValueList>\n\
</rim:Slot>\n\
</rim:AdhocQuery>\n\
</query:AdhocQueryRequest>",
        escape_xml(&uuid)
    );
    soap12_envelope(
        &Addressing {
            action: ITI18_ACTION,
            message_id: Some(message_id),
            to,
            reply_to_anonymous: true,
            ..Addressing::default()
        },
        &body,
    )
}

//! The responder's answers, written out by hand from the ITI TF-2 examples (ITI-18 TF-2a
//! §3.18.4.2, ITI-41 TF-2b §3.41.4.2, ITI-43 TF-2b §3.43.4.2; SOAP 1.2 Fault, Part 1 §5.4),
//! independent of the codec under test. Synthetic identifiers only.

use super::responder::ITI18;

const ENV_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">";

fn header(action: &str, mid: &str) -> String {
    format!("<env:Header><wsa:Action env:mustUnderstand=\"1\">{action}</wsa:Action><wsa:RelatesTo>{mid}</wsa:RelatesTo></env:Header>")
}

pub fn registry_xml(action: &str, mid: &str, ok: bool) -> String {
    let status = if ok {
        "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
    } else {
        "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
    };
    let errors = if ok {
        String::new()
    } else {
        "<rs:RegistryErrorList><rs:RegistryError errorCode=\"XDSRegistryBusy\" codeContext=\"registry database unavailable\" severity=\"urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error\"/></rs:RegistryErrorList>".to_string()
    };
    let (resp_action, body) = if action == ITI18 {
        (
            "urn:ihe:iti:2007:RegistryStoredQueryResponse",
            format!("<query:AdhocQueryResponse xmlns:query=\"urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\" xmlns:rs=\"urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0\" status=\"{status}\">{errors}<rim:RegistryObjectList/></query:AdhocQueryResponse>"),
        )
    } else {
        (
            "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse",
            format!("<rs:RegistryResponse xmlns:rs=\"urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0\" status=\"{status}\">{errors}</rs:RegistryResponse>"),
        )
    };
    format!(
        "{ENV_OPEN}{}<env:Body>{body}</env:Body></env:Envelope>\n",
        header(resp_action, mid)
    )
}

pub fn fault_xml(mid: &str) -> String {
    format!(
        "{ENV_OPEN}{}<env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang=\"en\">registry database unavailable</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>\n",
        header("http://www.w3.org/2005/08/addressing/soap/fault", mid)
    )
}

/// The document every ITI-43 answer carries.
pub const DOCUMENT: &[u8] = b"synthetic document retrieved from the test repository\n";

pub fn retrieve_mtom(mid: &str) -> (String, Vec<u8>) {
    let b = "MIMEBoundary_test_43";
    let ct = format!("multipart/related; boundary={b}; type=\"application/xop+xml\"; start=\"<root@test.invalid>\"; start-info=\"application/soap+xml\"");
    let env = format!(
        "{ENV_OPEN}{}<env:Body><xdsb:RetrieveDocumentSetResponse xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\"><rs:RegistryResponse xmlns:rs=\"urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0\" status=\"urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success\"/><xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.3.6.1.4.1.21367.2010.1.2.1125</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>1.2.3.4.5.6.7.8.9.1</xdsb:DocumentUniqueId><xdsb:mimeType>text/plain</xdsb:mimeType><xdsb:Document><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:doc1@test.invalid\"/></xdsb:Document></xdsb:DocumentResponse></xdsb:RetrieveDocumentSetResponse></env:Body></env:Envelope>",
        header("urn:ihe:iti:2007:RetrieveDocumentSetResponse", mid)
    );
    let mut body = format!(
        "--{b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root@test.invalid>\r\n\r\n{env}\r\n--{b}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <doc1@test.invalid>\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(DOCUMENT);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (ct, body)
}

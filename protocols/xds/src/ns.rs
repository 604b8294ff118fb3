//! Namespace URIs and WS-Addressing action URIs of the IHE XDS.b transactions.
//!
//! Sources: SOAP 1.2 Part 1 §5 (envelope namespace), SOAP 1.1 §4,
//! WS-Addressing 1.0 Core §2.1, ITI TF-2 Appendix V (wsa:Action values)
//! and the per-transaction "Web Services Transport" sections:
//! ITI-18 (ITI TF-2a §3.18), ITI-41 (ITI TF-2b §3.41), ITI-42 (ITI TF-2b §3.42),
//! ITI-43 (ITI TF-2b §3.43).

/// SOAP 1.2 envelope namespace (SOAP 1.2 Part 1 §5).
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace (SOAP 1.1 §4).
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Addressing 1.0 namespace (WS-Addressing 1.0 Core §1.2), required by
/// ITI TF-2 Appendix V.
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";
/// wsa:Action of a SOAP fault (WS-Addressing 1.0 SOAP Binding §6).
pub const WSA_SOAP_FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";
/// Anonymous wsa:ReplyTo address (WS-Addressing 1.0 Core §2.1).
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
/// XOP namespace (XOP §2).
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";

/// ebRS 3.0 query namespace (ITI TF-2a §3.18.4.1).
pub const QUERY_NS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
/// ebRIM 3.0 namespace.
pub const RIM_NS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
/// ebRS 3.0 registry services namespace (`rs:RegistryResponse`).
pub const RS_NS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
/// ebLCM 3.0 namespace (`lcm:SubmitObjectsRequest`, ITI-41/ITI-42).
pub const LCM_NS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
/// IHE XDS.b namespace (ITI-41 ProvideAndRegister, ITI-43 Retrieve).
pub const XDSB_NS: &str = "urn:ihe:iti:xds-b:2007";

/// ITI-18 Registry Stored Query request action.
pub const ITI18_ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
/// ITI-18 Registry Stored Query response action.
pub const ITI18_RESPONSE_ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQueryResponse";
/// ITI-41 Provide and Register Document Set-b request action.
pub const ITI41_ACTION: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
/// ITI-41 response action.
pub const ITI41_RESPONSE_ACTION: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse";
/// ITI-42 Register Document Set-b request action.
pub const ITI42_ACTION: &str = "urn:ihe:iti:2007:RegisterDocumentSet-b";
/// ITI-42 response action.
pub const ITI42_RESPONSE_ACTION: &str = "urn:ihe:iti:2007:RegisterDocumentSet-bResponse";
/// ITI-43 Retrieve Document Set request action.
pub const ITI43_ACTION: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";
/// ITI-43 response action.
pub const ITI43_RESPONSE_ACTION: &str = "urn:ihe:iti:2007:RetrieveDocumentSetResponse";

/// ITI-18 stored query id of GetDocuments (ITI TF-2a §3.18.4.1.2.3.7).
pub const GET_DOCUMENTS_QUERY_ID: &str = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4";

/// ebRS 3.0 status: Success (ITI TF-3 §4.2.4).
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
/// ebRS status: Failure.
pub const STATUS_FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
/// IHE status: PartialSuccess (ITI TF-3 §4.2.4).
pub const STATUS_PARTIAL_SUCCESS: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";

/// The four XDS.b transactions this crate knows by their wsa:Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transaction {
    /// ITI-18 Registry Stored Query.
    Iti18,
    /// ITI-41 Provide and Register Document Set-b.
    Iti41,
    /// ITI-42 Register Document Set-b.
    Iti42,
    /// ITI-43 Retrieve Document Set.
    Iti43,
}

impl Transaction {
    /// All transactions, in number order.
    pub const ALL: [Transaction; 4] = [Self::Iti18, Self::Iti41, Self::Iti42, Self::Iti43];

    /// Short name such as `"ITI-41"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Iti18 => "ITI-18",
            Self::Iti41 => "ITI-41",
            Self::Iti42 => "ITI-42",
            Self::Iti43 => "ITI-43",
        }
    }

    /// The request wsa:Action.
    pub fn request_action(self) -> &'static str {
        match self {
            Self::Iti18 => ITI18_ACTION,
            Self::Iti41 => ITI41_ACTION,
            Self::Iti42 => ITI42_ACTION,
            Self::Iti43 => ITI43_ACTION,
        }
    }

    /// The response wsa:Action.
    pub fn response_action(self) -> &'static str {
        match self {
            Self::Iti18 => ITI18_RESPONSE_ACTION,
            Self::Iti41 => ITI41_RESPONSE_ACTION,
            Self::Iti42 => ITI42_RESPONSE_ACTION,
            Self::Iti43 => ITI43_RESPONSE_ACTION,
        }
    }

    /// The transaction whose *request* action is `action` (exact match after
    /// trimming whitespace; URIs are case-sensitive).
    pub fn from_request_action(action: &str) -> Option<Self> {
        let action = action.trim();
        Self::ALL.into_iter().find(|t| t.request_action() == action)
    }

    /// The transaction whose *response* action is `action`.
    pub fn from_response_action(action: &str) -> Option<Self> {
        let action = action.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.response_action() == action)
    }
}

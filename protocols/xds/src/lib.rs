//! IHE XDS.b / SOAP codec for triage: pure helpers, no I/O.
//!
//! * [`parse_content_type`] / [`action_from_headers`]: HTTP Content-Type of
//!   SOAP 1.2, SOAP 1.1 and MTOM (RFC 2045, RFC 2387, RFC 3902).
//! * [`ActionFinder`] / [`find_action`]: incremental, budget-bounded read of
//!   `wsa:Action` and `wsa:MessageID` (WS-Addressing 1.0, required by ITI TF-2
//!   Appendix V) from the SOAP header of ITI-18/41/42/43 requests, plain or
//!   MTOM/XOP packaged.
//! * [`build_fault`] / [`build_fault_11`]: SOAP Faults (SOAP 1.2 Part 1 §5.4).
//! * [`build_iti18_get_documents`]: ITI-18 GetDocuments health query
//!   (ITI TF-2a §3.18).
//! * [`parse_registry_response`]: status/errors/Fault of registry and
//!   repository responses (ITI TF-3 §4.2.4).
//! * [`build_adhoc_query_response_success`], [`build_registry_response`],
//!   [`build_retrieve_response`]: test responder helpers.
//!
//! XML is read with quick-xml's namespace-aware `NsReader`; DOCTYPEs are
//! refused and only predefined/character references are resolved, so no
//! input can make the codec expand entities. Nothing here panics on input.
#![forbid(unsafe_code)]

mod builder;
mod content_type;
mod envelope;
mod error;
mod fast;
mod fault;
mod finder;
mod memo;
mod mime;
mod mime_headers;
mod ns;
mod responder;
mod response;
mod small;
mod tail;
#[cfg(test)]
mod test_inputs;
mod xml;

pub use builder::build_iti18_get_documents;
pub use content_type::{action_from_headers, parse_content_type, ContentType};
pub use error::XdsError;
pub use fault::{build_fault, build_fault_11, subcode, FaultCode};
pub use finder::{find_action, ActionFinder, FindState, SoapInfo, SoapVersion};
pub use memo::HeaderMemo;
pub use ns::*;
pub use responder::{
    build_adhoc_query_response_success, build_registry_response, build_retrieve_response,
    MtomMessage, RetrievedDocument,
};
pub use response::{parse_registry_response, RegistryResult, RegistryStatus, MAX_REGISTRY_ERRORS};
pub use xml::escape_xml;

/// Default bound on the bytes read to find the end of the SOAP header.
pub const DEFAULT_HEADER_BUDGET: usize = 64 * 1024;

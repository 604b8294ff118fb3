//! DICOM upper-layer codec for triage: framing and pure helpers, no I/O.
//!
//! * [`PduDecoder`] frames a byte stream into [`RawPdu`]s, validating the
//!   6-byte header (PS3.8 §9.3.1) before buffering any body.
//! * [`parse_associate_rq`] / [`parse_associate_ac`] summarise association
//!   PDUs (PS3.8 §9.3.2, §9.3.3) using `dicom-ul`.
//! * [`summarize_associate_rq`] reads what forwarding needs (AE titles, context count) by
//!   walking item headers only (PS3.8 §9.3.2).
//! * [`rewrite_called_ae`] patches the Called-AE field in place.
//! * [`AssociateRj`], [`encode_abort`], [`encode_release_rq`],
//!   [`encode_release_rp`] build the control PDUs (PS3.8 §9.3.4-§9.3.8).
//! * [`build_verification_ac`], [`build_associate_ac_accept_all`] and the
//!   `build_*_pdata` helpers let the gateway answer C-ECHO and simulate a
//!   storage SCP (PS3.7 §9.3.1, §9.3.5).
//! * [`parse_pdata`], [`parse_command`], [`DimseAssembler`] read P-DATA-TF
//!   and DIMSE command sets (PS3.8 §9.3.5, Annex E; PS3.7 §E.1).
//!
//! Nothing here performs I/O, reads a clock or panics on network input.
#![forbid(unsafe_code)]
// Network input must never panic: no indexing, unwrap, expect or panic
// outside tests (enforced by clippy).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod accept;
mod ae;
mod ae_title;
mod assembler;
mod associate;
mod command;
mod control;
mod decoder;
mod error;
mod header;
mod messages;
mod pdata;
mod reject;
mod summary;
mod uids;

pub use accept::{
    build_associate_ac, build_associate_ac_accept_all, build_verification_ac, pc_result,
    verification_decision, ContextDecision, AC_MAX_PDU_LENGTH,
};
pub use ae::{
    ae_field_is, ae_titles, decode_ae_field, encode_ae_field, rewrite_called_ae,
    rewrite_calling_ae, validate_ae_title, AE_TITLE_LEN, CALLED_AE_OFFSET, CALLING_AE_OFFSET,
};
pub use ae_title::AeTitle;
pub use assembler::{DimseAssembler, DimseEvent, DEFAULT_MAX_COMMAND_LEN};
pub use associate::{
    parse_associate_ac, parse_associate_ac_full, parse_associate_rq, parse_associate_rq_full,
    proposes_verification, AssociateAcInfo, AssociateInfo, ContextResult, ProposedContext,
};
pub use command::*;
pub use control::*;
pub use decoder::{PduDecoder, RawPdu, DEFAULT_MAX_ASSOC_RQ};
pub use error::DicomError;
pub use header::{peek_header, PduHeader, PduType, PDU_HEADER_LEN};
pub use messages::{
    build_command_pdata, build_echo_rq_pdata, build_echo_rsp_pdata, build_store_rsp_pdata,
};
pub use pdata::{encode_pdata, parse_pdata, parse_pdata_bytes, Pdv};
pub use reject::*;
pub use summary::{summarize_associate_rq, RqSummary};
pub use uids::*;

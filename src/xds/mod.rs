//! IHE XDS on the gateway side (I/O): the ITI-18 health query used by the `xds-query` check and
//! `triage xds-ping`.

pub mod ping;

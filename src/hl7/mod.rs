//! HL7 v2 over MLLP on the gateway side (I/O): one framed connection that sends a message and
//! waits for the acknowledgement, the ping used by the `hl7-ack` health check and
//! `triage hl7-ping`, and the delivery counters of the `mllp` services.

pub mod conn;
pub mod ping;
pub mod stats;

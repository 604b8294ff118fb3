//! HL7 v2 over MLLP on the gateway side (I/O): one framed connection that sends a message and
//! waits for the acknowledgement, and the ping used by the `hl7-ack` health check and
//! `triage hl7-ping`.

pub mod conn;
pub mod ping;

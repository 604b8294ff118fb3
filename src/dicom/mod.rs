//! DICOM on the gateway side (I/O): the C-ECHO client used by health checks and `triage echo`.

pub mod echo;

//! dicom codec for triage: framing and pure helpers, no I/O.
#![forbid(unsafe_code)]

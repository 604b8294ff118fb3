//! Shared helpers for the integration tests: fixture loading from
//! `fixtures/hl7/` (synthetic HL7 v2 payloads and MLLP streams).
#![allow(dead_code)]

use std::path::PathBuf;

/// Bytes of `fixtures/hl7/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/hl7")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

//! Well-known UIDs and triage's own implementation identity.
//!
//! PS3.8 §7.1.1.2 / Annex A (application context name), PS3.4 Annex A
//! (Verification SOP Class), PS3.5 §10 (transfer syntaxes), PS3.7 §D.3.3.2
//! (implementation class UID and version name sent in user information).

/// DICOM Application Context Name (PS3.8 Annex A.2, PS3.7 Annex A).
pub const APPLICATION_CONTEXT_NAME: &str = "1.2.840.10008.3.1.1.1";

/// Verification SOP Class, the C-ECHO abstract syntax (PS3.4 Annex A).
pub const VERIFICATION_SOP_CLASS: &str = "1.2.840.10008.1.1";

/// Implicit VR Little Endian, the default transfer syntax (PS3.5 §10.1).
pub const IMPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";

/// Explicit VR Little Endian (PS3.5 §10.1).
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";

/// triage's Implementation Class UID (PS3.7 §D.3.3.2). A UUID-derived UID
/// under the `2.25` root (PS3.5 §B.2), so no registered org root is needed.
pub const TRIAGE_IMPLEMENTATION_CLASS_UID: &str = "2.25.43724741704292095255589523367074104919";

/// triage's Implementation Version Name (PS3.7 §D.3.3.2, 1..=16 chars).
pub const TRIAGE_IMPLEMENTATION_VERSION_NAME: &str = concat!("TRIAGE_", env!("CARGO_PKG_VERSION"));

/// Strip the padding a UID may carry on the wire: a trailing NUL (PS3.5
/// §9.1 pads UIDs to even length with 00H) or spaces some toolkits use.
pub fn trim_uid(uid: &str) -> &str {
    uid.trim_matches(|c: char| c == '\0' || c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_fits_pdu_limits() {
        assert!(TRIAGE_IMPLEMENTATION_CLASS_UID.len() <= 64);
        assert!((1..=16).contains(&TRIAGE_IMPLEMENTATION_VERSION_NAME.len()));
    }

    #[test]
    fn trims_padding() {
        assert_eq!(trim_uid("1.2.840.10008.1.1\0"), VERIFICATION_SOP_CLASS);
        assert_eq!(trim_uid("1.2.840.10008.3.1.1.1 "), APPLICATION_CONTEXT_NAME);
    }
}

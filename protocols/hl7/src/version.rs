//! HL7 version ID (MSH-12.1, HL7 v2.5.1 §2.14.9.12, table 0104) comparison,
//! used where the wire format changed between versions (MSH-9 structure,
//! ERR segment layout).

/// `(major, minor, patch)` of a version ID such as `2.3.1`; `None` when it is
/// not dotted numbers.
pub(crate) fn parse(version: &str) -> Option<(u16, u16, u16)> {
    let mut parts = version.trim().split('.');
    let mut next = |required: bool| match parts.next() {
        Some(p) => p.parse::<u16>().ok(),
        None if required => None,
        None => Some(0),
    };
    let v = (next(true)?, next(true)?, next(false)?);
    if parts.next().is_some() {
        return None;
    }
    Some(v)
}

/// True when `version` is at least `min`. Unknown or empty versions are
/// treated as 2.5.1, the version this crate targets.
pub(crate) fn at_least(version: &str, min: (u16, u16, u16)) -> bool {
    parse(version).unwrap_or((2, 5, 1)) >= min
}

/// MSH-9 for a message of `kind` (e.g. `ACK`, `QRY`), shaped for `version`:
/// v2.1 MSH-9 is a bare ID; v2.2 and v2.3 add the trigger event component;
/// v2.3.1 onwards (MSG, HL7 v2.5.1 §2.A.47) add the message structure,
/// which is written even when the trigger is empty (`ACK^^ACK`): parsers such
/// as hl7apy identify the structure from MSH-9.3 alone.
pub(crate) fn message_type_field(
    version: &str,
    kind: &str,
    trigger: &str,
    structure: &str,
    component_sep: char,
) -> String {
    if !at_least(version, (2, 3, 1)) {
        if trigger.is_empty() || !at_least(version, (2, 2, 0)) {
            return kind.to_string();
        }
        return format!("{kind}{component_sep}{trigger}");
    }
    format!("{kind}{component_sep}{trigger}{component_sep}{structure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse("2.3.1"), Some((2, 3, 1)));
        assert_eq!(parse("2.5"), Some((2, 5, 0)));
        assert_eq!(parse("x"), None);
        assert!(at_least("", (2, 5, 0)));
        assert!(!at_least("2.4", (2, 5, 0)));
        assert_eq!(message_type_field("2.1", "ACK", "A01", "ACK", '^'), "ACK");
        assert_eq!(
            message_type_field("2.3", "ACK", "A01", "ACK", '^'),
            "ACK^A01"
        );
        assert_eq!(
            message_type_field("2.3.1", "ACK", "A01", "ACK", '^'),
            "ACK^A01^ACK"
        );
        assert_eq!(message_type_field("2.3", "ACK", "", "ACK", '^'), "ACK");
        assert_eq!(
            message_type_field("2.5.1", "ACK", "", "ACK", '^'),
            "ACK^^ACK"
        );
    }
}

//! The few header fields (HL7 v2.5.1 §2.14.9 MSH) a gateway needs for every message it
//! routes, borrowed from the payload instead of copied out as [`Msh`] does: MSH-4 sending
//! facility, MSH-9.1/9.2 message type and trigger event, MSH-10 control id and MSH-16
//! application acknowledgment type. The same checks as [`parse_msh`], with the same errors.

use crate::msh::{msh_line, parse_msh, split_fields, Msh, MshError};
use std::borrow::Cow;

/// Borrowed header fields; raw values (still escaped, §2.7) as in [`Msh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MshFields<'a> {
    /// MSH-4.
    pub sending_facility: &'a str,
    /// MSH-9.1 (non-empty).
    pub message_type: &'a str,
    /// MSH-9.2.
    pub trigger_event: &'a str,
    /// MSH-10 (non-empty).
    pub control_id: &'a str,
    /// MSH-16, `None` when empty.
    pub application_ack_type: Option<&'a str>,
    /// MSH-9's first repetition, raw (for [`MshFields::message_type_full`]).
    msh9: &'a str,
    component: u8,
}

impl<'a> MshFields<'a> {
    /// As [`Msh::message_type_full`]: `type^trigger`, borrowed when the message's component
    /// separator is `^` (then it is the start of MSH-9 itself).
    pub fn message_type_full(&self) -> Cow<'a, str> {
        if self.trigger_event.is_empty() {
            Cow::Borrowed(self.message_type)
        } else if self.component == b'^' {
            let n = self.message_type.len() + 1 + self.trigger_event.len();
            Cow::Borrowed(&self.msh9[..n])
        } else {
            Cow::Owned(format!("{}^{}", self.message_type, self.trigger_event))
        }
    }
}

/// [`parse_msh`]'s fields a gateway routes and acknowledges on, without copying them. Fails
/// exactly when [`parse_msh`] fails, with its error.
pub fn parse_msh_fields(payload: &[u8]) -> Result<MshFields<'_>, MshError> {
    let fast = msh_line(payload).ok().map(|(text, d, msh2_end)| {
        let f = split_fields(text, &d, msh2_end);
        let msh9 = f[9].split(char::from(d.repetition)).next().unwrap_or("");
        let mut comps = msh9.split(char::from(d.component));
        MshFields {
            sending_facility: f[4],
            message_type: comps.next().unwrap_or(""),
            trigger_event: comps.next().unwrap_or(""),
            control_id: f[10],
            application_ack_type: Some(f[16]).filter(|s| !s.is_empty()),
            msh9,
            component: d.component,
        }
    });
    match fast {
        Some(m) if !m.message_type.is_empty() && !m.control_id.is_empty() => Ok(m),
        // The header is unusable: the full read says why (`Empty` cannot happen here).
        _ => Err(parse_msh(payload).err().unwrap_or(MshError::Empty)),
    }
}

impl MshFields<'_> {
    /// Whether these are the fields of `msh` (for tests and debug checks).
    pub fn agrees_with(&self, msh: &Msh) -> bool {
        self.sending_facility == msh.sending_facility
            && self.message_type == msh.message_type
            && self.trigger_event == msh.trigger_event
            && self.control_id == msh.control_id
            && self.application_ack_type == msh.application_ack_type.as_deref()
            && self.message_type_full() == msh.message_type_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_fields_and_errors_as_parse_msh() {
        let cases: [&[u8]; 10] = [
            b"MSH|^~\\&|APP|FAC|RAPP|RFAC|20240101||ADT^A01^ADT_A01|42|P|2.5.1|||AL|NE\rPID|1",
            b"MSH|^~\\&#|APP|FAC|||2024||ORU^R01~X^Y|7|P|2.7",
            b"MSH#$*!%#A#LAB#####ORM$O01#9#P#2.3",
            b"MSH|^~\\&|A|B|C|D|||ACK|1|P|2.5.1",
            b"MSH|^~\\&|A|B|C|D|||ORM^O01||P|2.3",
            b"MSH|^~\\&|A|B|C|D||||5|P|2.3",
            b"MSH|^~\\&|\xff|F|||2024||ADT^A01|C-9|P|2.5.1\r",
            b"PID|1",
            b"",
            b"MSH|^~|",
        ];
        for p in cases {
            match (parse_msh_fields(p), parse_msh(p)) {
                (Ok(f), Ok(m)) => assert!(f.agrees_with(&m), "{}", p.escape_ascii()),
                (Err(a), Err(b)) => assert_eq!(a, b, "{}", p.escape_ascii()),
                (a, b) => panic!("{}: {a:?} vs {b:?}", p.escape_ascii()),
            }
        }
        let f = parse_msh_fields(cases[0]).unwrap();
        assert_eq!(f.message_type_full(), "ADT^A01");
        assert!(matches!(f.message_type_full(), Cow::Borrowed(_)));
        let f = parse_msh_fields(cases[2]).unwrap();
        assert_eq!(f.message_type_full(), "ORM^O01");
        assert_eq!(f.sending_facility, "LAB");
    }
}

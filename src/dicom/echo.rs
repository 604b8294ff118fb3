//! A DICOM C-ECHO (Verification, PS3.7 §9.1.5 / §9.3.5) as a service class user, with
//! `dicom-ul`'s async client and `dicom-object` for the command set. Used by the `dicom-echo`
//! health check and by `triage echo`. The association is released properly (A-RELEASE), so
//! checks do not flood PACS logs with aborted associations.

use dicom_core::{dicom_value, DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How a C-ECHO went; `Display` gives the operator-facing detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EchoOutcome {
    /// The echo answered; status 0x0000 is success.
    Status {
        status: u16,
        rtt: Duration,
    },
    Refused,
    Timeout,
    /// A-ASSOCIATE-RJ, with the reason as text.
    Rejected(String),
    /// No presentation context for Verification was accepted.
    NotAccepted,
    /// Anything else: aborted, protocol error, I/O error.
    Failed(String),
}

impl EchoOutcome {
    pub fn ok(&self) -> bool {
        matches!(self, EchoOutcome::Status { status: 0, .. })
    }
}

impl std::fmt::Display for EchoOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EchoOutcome::Status { status: 0, rtt } => write!(
                f,
                "C-ECHO status 0x0000 (success) in {} ms",
                rtt.as_millis()
            ),
            EchoOutcome::Status { status, rtt } => write!(
                f,
                "C-ECHO status 0x{status:04X} (failure) in {} ms",
                rtt.as_millis()
            ),
            EchoOutcome::Refused => write!(f, "connection refused"),
            EchoOutcome::Timeout => write!(f, "timeout"),
            EchoOutcome::Rejected(r) => write!(f, "association rejected: {r}"),
            EchoOutcome::NotAccepted => write!(
                f,
                "association accepted but Verification SOP Class not accepted"
            ),
            EchoOutcome::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// One C-ECHO: associate, echo, release; everything within `timeout`.
pub async fn c_echo(
    addr: SocketAddr,
    calling_ae: &str,
    called_ae: &str,
    timeout: Duration,
) -> EchoOutcome {
    match tokio::time::timeout(timeout, echo_inner(addr, calling_ae, called_ae, timeout)).await {
        Ok(o) => o,
        Err(_) => EchoOutcome::Timeout,
    }
}

async fn echo_inner(
    addr: SocketAddr,
    calling_ae: &str,
    called_ae: &str,
    timeout: Duration,
) -> EchoOutcome {
    let start = Instant::now();
    let opts = dicom_ul::ClientAssociationOptions::new()
        .with_abstract_syntax(uids::VERIFICATION)
        .calling_ae_title(calling_ae.to_string())
        .called_ae_title(called_ae.to_string())
        .connection_timeout(timeout)
        .read_timeout(timeout);
    let mut assoc = match opts.establish_async(addr).await {
        Ok(a) => a,
        Err(e) => return classify(e),
    };
    let Some(pc) = assoc.presentation_contexts().first().map(|pc| pc.id) else {
        let _ = assoc.abort().await;
        return EchoOutcome::NotAccepted;
    };
    let rq = match echo_rq_command(1) {
        Ok(b) => b,
        Err(e) => return EchoOutcome::Failed(e),
    };
    let pdu = Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc,
            value_type: PDataValueType::Command,
            is_last: true,
            data: rq,
        }],
    };
    if let Err(e) = assoc.send(&pdu).await {
        return EchoOutcome::Failed(format!("sending C-ECHO-RQ failed: {e}"));
    }
    let status = match assoc.receive().await {
        Ok(Pdu::PData { data }) => match data.first().map(|v| read_status(&v.data)) {
            Some(Ok(s)) => s,
            Some(Err(e)) => return EchoOutcome::Failed(e),
            None => return EchoOutcome::Failed("empty P-DATA in answer to C-ECHO-RQ".into()),
        },
        Ok(Pdu::AbortRQ { .. }) => {
            return EchoOutcome::Failed("association aborted by the peer".into())
        }
        Ok(other) => {
            return EchoOutcome::Failed(format!(
                "unexpected answer to C-ECHO-RQ: {}",
                other.short_description()
            ))
        }
        Err(e) => return EchoOutcome::Failed(format!("no C-ECHO-RSP: {e}")),
    };
    let rtt = start.elapsed();
    let _ = assoc.release().await;
    EchoOutcome::Status { status, rtt }
}

fn classify(e: dicom_ul::association::Error) -> EchoOutcome {
    use dicom_ul::association::Error as E;
    if let E::Rejected { association_rj, .. } = &e {
        return EchoOutcome::Rejected(format!(
            "{:?}, {}",
            association_rj.result, association_rj.source
        ));
    }
    if let E::NoAcceptedPresentationContexts { .. } = &e {
        return EchoOutcome::NotAccepted;
    }
    let text = e.to_string();
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return EchoOutcome::Refused,
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    return EchoOutcome::Timeout
                }
                _ => {}
            }
        }
        src = s.source();
    }
    if text.to_ascii_lowercase().contains("refused") {
        EchoOutcome::Refused
    } else {
        EchoOutcome::Failed(text)
    }
}

/// The C-ECHO-RQ command set (PS3.7 §9.3.5.1), Implicit VR Little Endian.
fn echo_rq_command(message_id: u16) -> Result<Vec<u8>, String> {
    let obj = InMemDicomObject::command_from_element_iter([
        DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            dicom_value!(Str, uids::VERIFICATION),
        ),
        DataElement::new(tags::COMMAND_FIELD, VR::US, dicom_value!(U16, [0x0030])),
        DataElement::new(tags::MESSAGE_ID, VR::US, dicom_value!(U16, [message_id])),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            dicom_value!(U16, [0x0101]),
        ),
    ]);
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| format!("cannot encode C-ECHO-RQ: {e}"))?;
    Ok(out)
}

/// Reads the Status (0000,0900) of a C-ECHO-RSP command set.
fn read_status(data: &[u8]) -> Result<u16, String> {
    let obj = InMemDicomObject::read_dataset_with_ts(data, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| format!("unreadable C-ECHO-RSP: {e}"))?;
    let field = obj
        .element(tags::COMMAND_FIELD)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok());
    if field != Some(0x8030) {
        return Err(format!(
            "answer is not a C-ECHO-RSP (command field {field:?})"
        ));
    }
    obj.element(Tag(0x0000, 0x0900))
        .map_err(|_| "C-ECHO-RSP without Status".to_string())?
        .to_int::<u16>()
        .map_err(|e| format!("C-ECHO-RSP status unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_round_trip() {
        let rq = echo_rq_command(7).unwrap();
        // Group length first, then Affected SOP Class UID.
        assert_eq!(&rq[..4], &[0x00, 0x00, 0x00, 0x00]);
        assert!(read_status(&rq).is_err(), "a request is not a response");
    }

    #[tokio::test]
    async fn refused_is_told_apart() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let o = c_echo(addr, "TRIAGE", "ANY", Duration::from_secs(2)).await;
        assert_eq!(o, EchoOutcome::Refused, "{o}");
    }
}

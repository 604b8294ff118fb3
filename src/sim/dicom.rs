//! The DICOM simulator: a Verification and Storage SCP (any AE title, any SOP class) that
//! answers every request with success and discards the data; C-FIND gets a final "no more
//! matches". Built on `dicom-ul`'s async server association.

use dicom_core::{dicom_value, DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};
use tokio::net::TcpStream;

/// A request awaiting its data set before the answer.
struct Pending {
    ctx: u8,
    cmd: InMemDicomObject,
}

pub async fn session(s: TcpStream) {
    let opts = dicom_ul::ServerAssociationOptions::new()
        .accept_any()
        .promiscuous(true)
        .ae_title("TRIAGE-SIM")
        .max_pdu_length(65536);
    let Ok(mut assoc) = opts.establish_async(s).await else {
        return;
    };
    let mut cmd_buf: Vec<u8> = Vec::new();
    let mut pending: Option<Pending> = None;
    loop {
        match assoc.receive().await {
            Ok(Pdu::PData { data }) => {
                for v in data {
                    let ctx = v.presentation_context_id;
                    match v.value_type {
                        PDataValueType::Command => {
                            cmd_buf.extend_from_slice(&v.data);
                            if !v.is_last {
                                continue;
                            }
                            let Ok(cmd) = InMemDicomObject::read_dataset_with_ts(
                                &cmd_buf[..],
                                &IMPLICIT_VR_LITTLE_ENDIAN.erased(),
                            ) else {
                                let _ = assoc.abort().await;
                                return;
                            };
                            cmd_buf.clear();
                            let has_data = cmd
                                .element(tags::COMMAND_DATA_SET_TYPE)
                                .ok()
                                .and_then(|e| e.to_int::<u16>().ok())
                                .is_some_and(|t| t != 0x0101);
                            if has_data {
                                pending = Some(Pending { ctx, cmd });
                            } else if answer(&mut assoc, ctx, &cmd).await.is_err() {
                                return;
                            }
                        }
                        PDataValueType::Data => {
                            // Discarded; answer once the last fragment is in.
                            if v.is_last {
                                if let Some(p) = pending.take() {
                                    if answer(&mut assoc, p.ctx, &p.cmd).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Ok(Pdu::ReleaseRQ) => {
                let _ = assoc.send(&Pdu::ReleaseRP).await;
                return;
            }
            _ => return,
        }
    }
}

/// Answers a request command with its response (command field | 0x8000), status success.
async fn answer<S>(
    assoc: &mut dicom_ul::association::server::AsyncServerAssociation<S>,
    ctx: u8,
    rq: &InMemDicomObject,
) -> Result<(), ()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let u16_of = |t| rq.element(t).ok().and_then(|e| e.to_int::<u16>().ok());
    let str_of = |t| {
        rq.element(t)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches('\0').to_string())
    };
    let field = u16_of(tags::COMMAND_FIELD).unwrap_or(0x0030);
    let mut elems = vec![
        DataElement::new(
            tags::COMMAND_FIELD,
            VR::US,
            dicom_value!(U16, [field | 0x8000]),
        ),
        DataElement::new(
            tags::MESSAGE_ID_BEING_RESPONDED_TO,
            VR::US,
            dicom_value!(U16, [u16_of(tags::MESSAGE_ID).unwrap_or(1)]),
        ),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            dicom_value!(U16, [0x0101]),
        ),
        DataElement::new(tags::STATUS, VR::US, dicom_value!(U16, [0x0000])),
    ];
    if let Some(uid) = str_of(tags::AFFECTED_SOP_CLASS_UID) {
        elems.push(DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            dicom_value!(Str, uid),
        ));
    }
    if let Some(uid) = str_of(tags::AFFECTED_SOP_INSTANCE_UID) {
        elems.push(DataElement::new(
            tags::AFFECTED_SOP_INSTANCE_UID,
            VR::UI,
            dicom_value!(Str, uid),
        ));
    }
    let obj = InMemDicomObject::command_from_element_iter(elems);
    let mut data = Vec::new();
    obj.write_dataset_with_ts(&mut data, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|_| ())?;
    let pdu = Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: ctx,
            value_type: PDataValueType::Command,
            is_last: true,
            data,
        }],
    };
    assoc.send(&pdu).await.map_err(|_| ())
}

//! Reassembly of DIMSE messages from PDVs, for simulators and inspectors.
//!
//! PS3.8 Annex E.2: a command set may be split over several command PDVs
//! (possibly in several P-DATA-TF PDUs); the one with the "last" bit ends
//! it. The data set that follows (if CommandDataSetType says so, PS3.7
//! §E.1) arrives as data PDVs and is reported fragment by fragment, never
//! buffered, so a C-STORE simulator can discard images in constant memory.

use crate::command::{parse_command, Command};
use crate::error::DicomError;
use crate::pdata::Pdv;

/// Default cap on a reassembled command set. Real ones are < 1 KiB.
pub const DEFAULT_MAX_COMMAND_LEN: usize = 64 * 1024;

/// What one PDV completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimseEvent {
    /// A whole command set arrived and parsed.
    Command {
        /// Presentation context it arrived on.
        context_id: u8,
        /// The parsed command.
        command: Command,
    },
    /// A data-set fragment went by (contents not kept).
    DataFragment {
        /// Presentation context it arrived on.
        context_id: u8,
        /// Fragment length in bytes.
        len: usize,
        /// True for the last fragment of the data set.
        is_last: bool,
    },
}

/// Incremental command-set reassembler (no I/O, bounded memory).
#[derive(Debug, Clone)]
pub struct DimseAssembler {
    max_command_len: usize,
    pending: Vec<u8>,
    pending_context: Option<u8>,
}

impl Default for DimseAssembler {
    fn default() -> Self {
        DimseAssembler::new(DEFAULT_MAX_COMMAND_LEN)
    }
}

impl DimseAssembler {
    /// Reassembler refusing command sets longer than `max_command_len`.
    pub fn new(max_command_len: usize) -> Self {
        DimseAssembler {
            max_command_len,
            pending: Vec::new(),
            pending_context: None,
        }
    }

    /// True while a command set is partially received.
    pub fn in_command(&self) -> bool {
        self.pending_context.is_some()
    }

    /// Feed one PDV. Returns `Ok(None)` for a non-final command fragment.
    /// Errors on a command longer than the cap, on fragments of one
    /// command switching context, or on data interleaved inside a command.
    pub fn push(&mut self, pdv: &Pdv) -> Result<Option<DimseEvent>, DicomError> {
        if !pdv.is_command {
            if self.in_command() {
                return Err(DicomError::InvalidValue {
                    field: "data PDV inside an unfinished command set",
                    value: u32::from(pdv.context_id),
                });
            }
            return Ok(Some(DimseEvent::DataFragment {
                context_id: pdv.context_id,
                len: pdv.data.len(),
                is_last: pdv.is_last,
            }));
        }
        match self.pending_context {
            Some(ctx) if ctx != pdv.context_id => {
                return Err(DicomError::InvalidValue {
                    field: "command fragment presentation context changed",
                    value: u32::from(pdv.context_id),
                });
            }
            _ => self.pending_context = Some(pdv.context_id),
        }
        let new_len = self.pending.len().saturating_add(pdv.data.len());
        if new_len > self.max_command_len {
            self.reset();
            return Err(DicomError::InvalidLength {
                field: "command set",
                length: new_len as u64,
                expected: "no more than the command size limit",
            });
        }
        self.pending.extend_from_slice(&pdv.data);
        if !pdv.is_last {
            return Ok(None);
        }
        let parsed = parse_command(&self.pending);
        self.reset();
        Ok(Some(DimseEvent::Command {
            context_id: pdv.context_id,
            command: parsed?,
        }))
    }

    fn reset(&mut self) {
        self.pending.clear();
        self.pending_context = None;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::command::C_STORE_RQ;
    use crate::pdata::parse_pdata;

    const STORE_RQ: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescu_store_rq_command_pdata.bin");
    const STORE_DATA: &[u8] =
        include_bytes!("../../../fixtures/dicom/storescu_store_rq_data_pdata.bin");

    fn frag(data: &[u8], is_command: bool, is_last: bool) -> Pdv {
        Pdv {
            context_id: 0x29,
            is_command,
            is_last,
            data: Bytes::copy_from_slice(data),
        }
    }

    #[test]
    fn real_store_split_in_fragments() {
        let cmd = parse_pdata(STORE_RQ).unwrap().remove(0).data;
        let mut asm = DimseAssembler::default();
        let (a, b) = cmd.split_at(17);
        assert_eq!(asm.push(&frag(a, true, false)).unwrap(), None);
        assert!(asm.in_command());
        match asm.push(&frag(b, true, true)).unwrap() {
            Some(DimseEvent::Command {
                context_id: 0x29,
                command,
            }) => {
                assert_eq!(command.command_field, C_STORE_RQ);
                assert!(command.has_data_set());
            }
            other => panic!("unexpected {other:?}"),
        }
        let data = parse_pdata(STORE_DATA).unwrap().remove(0);
        assert_eq!(
            asm.push(&data).unwrap(),
            Some(DimseEvent::DataFragment {
                context_id: 0x29,
                len: 16384 - 12,
                is_last: false
            })
        );
    }

    #[test]
    fn protocol_errors() {
        let mut asm = DimseAssembler::new(8);
        assert!(asm.push(&frag(&[0; 9], true, false)).is_err());
        assert!(!asm.in_command());
        let mut asm = DimseAssembler::default();
        asm.push(&frag(&[0; 4], true, false)).unwrap();
        assert!(asm.push(&frag(&[0; 4], false, true)).is_err());
        let mut other = frag(&[0; 4], true, true);
        other.context_id = 1;
        assert!(asm.push(&other).is_err());
        let mut asm = DimseAssembler::default();
        assert!(asm.push(&frag(&[1, 2, 3], true, true)).is_err());
        assert!(!asm.in_command());
    }
}

//! Health kind `hl7-ack`: sends a test message over MLLP and requires MSA-1 AA/CA with the
//! matching MSA-2 (HL7 v2.5.1 ch. 2 §2.14.8); an AE/AR answer marks the server down with the
//! code (and MSA-3 text, if any) in the detail.

use super::{BoxFuture, Check, Probe, Target};
use crate::hl7::ping::ping;
use std::time::Duration;

pub struct Hl7AckCheck {
    /// Custom test message (segments separated by CR or newlines); default: minimal ADT^A01.
    pub message: Option<String>,
    pub timeout: Duration,
}

impl Check for Hl7AckCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            let o = ping(t.addr, self.message.as_deref(), self.timeout).await;
            Probe {
                ok: o.ok,
                detail: o.detail,
            }
        })
    }
}

//! Health kind `dicom-echo`: a real association and C-ECHO (see [`crate::dicom::echo`]),
//! released properly. Up only on status 0x0000; the detail tells refused, timeout, association
//! rejected (with reason) and a failing echo status apart.

use super::{BoxFuture, Check, Probe, Target};
use crate::dicom::echo::c_echo;
use std::time::Duration;

pub struct DicomEchoCheck {
    pub calling_ae: String,
    /// Called AE when the check names one; else the server's `ae_title`, else "ANY-SCP".
    pub called_ae: Option<String>,
    pub timeout: Duration,
}

impl Check for DicomEchoCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            let called = self
                .called_ae
                .as_deref()
                .or(t.server.spec.ae_title.as_deref())
                .unwrap_or("ANY-SCP");
            let o = c_echo(t.addr, &self.calling_ae, called, self.timeout).await;
            Probe {
                ok: o.ok(),
                detail: o.to_string(),
            }
        })
    }
}

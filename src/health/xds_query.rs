//! Health kind `xds-query`: the ITI-18 GetDocuments query (see [`crate::xds::ping`]) on the
//! check's `path` (default "/").

use super::{BoxFuture, Check, Probe, Target};
use std::time::Duration;

pub struct XdsQueryCheck {
    pub path: String,
    pub timeout: Duration,
}

impl Check for XdsQueryCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            let host = t.addr.to_string();
            let o = crate::xds::ping::ping(t.addr, &host, &self.path, self.timeout).await;
            Probe {
                ok: o.ok,
                detail: o.detail,
            }
        })
    }
}

//! Logging for `triage run`: `RUST_LOG` filter (default `info`), one line per event on
//! standard output.
//!
//! At `info` every association, MLLP connection and XDS client connection ends with a line, so
//! the line's cost is part of the gateway's cost per connection. Not on a terminal (a log file,
//! a pipe, the journal) lines are written by [`format`] (the default layout, in half the
//! instructions per DICOM association: ≈14 000 instead of ≈28 000 with the span) and
//! [`batch`]ed (one `write` per 20 ms or per warning, not per line). On a terminal the default
//! format with colours is kept, each line written as it comes.

pub mod batch;
pub mod format;
pub mod time;

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// The batch lines go to, once [`init`] chose batching.
static ACTIVE: OnceLock<&'static batch::Batch> = OnceLock::new();

/// Installs the subscriber (once per process) and a panic hook that writes pending lines out
/// before the panic message.
pub fn init() {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let spec = if spec.trim().is_empty() {
        "info"
    } else {
        spec.trim()
    };
    if std::io::stdout().is_terminal() {
        let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| "info".into());
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .init();
        return;
    }
    let out = *ACTIVE.get_or_init(|| batch::Batch::leak(Box::new(std::io::stdout()), batch::DELAY));
    let lines = tracing_subscriber::fmt::layer()
        .event_format(format::Line)
        .fmt_fields(format::Fields)
        .with_writer(out);
    let registry = tracing_subscriber::registry();
    // `target=level` lists (all `RUST_LOG` usually says) filter by callsite alone; EnvFilter,
    // needed only for span or field directives, also looks each span up on every enter and
    // exit of a connection's task.
    match spec.parse::<Targets>() {
        Ok(targets) => registry.with(lines).with(targets).init(),
        Err(_) => {
            let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| "info".into());
            registry.with(lines).with(filter).init();
        }
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        out.try_flush();
        previous(info);
    }));
}

/// Writes out pending log lines (before the process exits).
pub fn flush() {
    if let Some(b) = ACTIVE.get() {
        b.flush();
    }
}

/// A socket address for a log field, IPv4 written without `fmt`'s machinery (≈1 200
/// instructions for `SocketAddr`'s own `Display` per connection span); the same text.
pub struct Addr(pub SocketAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let IpAddr::V4(ip) = self.0.ip() else {
            return fmt::Display::fmt(&self.0, f);
        };
        let mut buf = [0u8; 20];
        for (k, o) in ip.octets().into_iter().enumerate() {
            if k > 0 {
                f.write_char('.')?;
            }
            f.write_str(format::decimal(u64::from(o), &mut buf))?;
        }
        f.write_char(':')?;
        f.write_str(format::decimal(u64::from(self.0.port()), &mut buf))
    }
}

#[cfg(test)]
mod tests {
    use super::Addr;

    #[test]
    fn addr_is_written_as_socket_addr_display() {
        for a in [
            "0.0.0.0:0",
            "127.0.0.1:104",
            "10.20.30.40:11112",
            "255.255.255.255:65535",
            "[::1]:2575",
            "[fe80::1%2]:80",
        ] {
            let sa: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(Addr(sa).to_string(), sa.to_string());
        }
    }
}

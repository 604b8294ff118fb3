//! The lean format against tracing-subscriber's default (ansi off, no target): the same text
//! for every kind of field, span nesting and message, but for the one documented difference.

use super::{Fields, Line};
use std::io;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// The text with each line's timestamp (27 bytes, checked for shape) replaced by `TS`.
    fn text(&self) -> String {
        let raw = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        raw.lines()
            .map(|l| match l.get(..27) {
                Some(ts)
                    if ts.as_bytes()[10] == b'T' && ts.ends_with('Z') && l.starts_with("20") =>
                {
                    format!("TS{}\n", &l[27..])
                }
                _ => format!("{l}\n"),
            })
            .collect()
    }
}

/// Runs `emit` under the default format and under ours; both texts.
fn both(emit: impl Fn()) -> (String, String) {
    let theirs = Capture::default();
    let ours = Capture::default();
    let t = theirs.clone();
    let default = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_target(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || t.clone())
        .finish();
    tracing::subscriber::with_default(default, &emit);
    let o = ours.clone();
    let lean = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .event_format(Line)
        .fmt_fields(Fields)
        .with_writer(move || o.clone())
        .finish();
    tracing::subscriber::with_default(lean, &emit);
    (theirs.text(), ours.text())
}

#[derive(Debug)]
struct Outer(io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("forwarding failed")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn same_text_as_the_default_format() {
    let (theirs, ours) = both(|| {
        tracing::info!("outside any span");
        let peer: std::net::SocketAddr = "10.0.0.7:5104".parse().unwrap();
        let span = tracing::info_span!("conn", service = %"dicom", protocol = "dicom", peer = %peer, calling_ae = tracing::field::Empty);
        let _g = span.enter();
        tracing::info!("plain message");
        span.record("calling_ae", "CT1");
        tracing::info!(
            calling_ae = "CT1",
            called_ae = "ARCHIVE",
            contexts = 128u64,
            up = 412u64,
            ms = 3u64,
            closed_by = "client",
            "association ended"
        );
        let e = io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer");
        tracing::warn!(error = %e, side = "server", "association ended");
        tracing::debug!(
            n = -5i64,
            zero = 0u64,
            ok = true,
            no = false,
            f = 1.5f64,
            big = u64::MAX,
            small = i64::MIN,
            "numbers"
        );
        tracing::error!(
            quoted = "say \"hi\" \\",
            unicode = "Grüße",
            tab = "a\tb",
            nl = "a\nb",
            "strings {}",
            42
        );
        tracing::info!(event = ?Some("x"), r#type = "raw", "debug and raw names");
        let outer = Outer(io::Error::other("inner cause"));
        tracing::error!(err = &outer as &dyn std::error::Error, "error with sources");
        let plain = io::Error::other("no source");
        tracing::error!(err = &plain as &dyn std::error::Error, "error alone");
        tracing::info!("escapes in the message: \x1b[31m red \u{85} \x07 \x7f");
        tracing::info!("a multi-line message:\nsecond line\n\tthird");
        tracing::debug_span!("inner", id = 7u64).in_scope(|| tracing::trace!("nested"));
        tracing::info_span!("bare")
            .in_scope(|| tracing::info!(k = "v", "in a span without fields"));
        tracing::info!(only = "fields");
        let long = "x".repeat(600);
        tracing::info!(long = %long, short = 1u64, "{}", "y".repeat(300));
        tracing::info_span!("wide", a = %long).in_scope(|| tracing::info!("in a wide span"));
    });
    assert!(theirs.lines().count() >= 16, "{theirs}");
    assert_eq!(ours, theirs);
}

#[test]
fn display_values_cannot_forge_lines_or_send_escapes() {
    let (theirs, ours) = both(|| {
        let hostile = "peer said: ok\n2026-12-01T00:00:00.000000Z  INFO forged\x1b[2J\u{9b}";
        tracing::warn!(reason = %hostile, "refused");
    });
    assert_eq!(
        theirs.lines().count(),
        2,
        "the default passes the newline: {theirs}"
    );
    assert_eq!(
        ours,
        "TS  WARN refused reason=peer said: ok\\n2026-12-01T00:00:00.000000Z  INFO forged\\x1b[2J\\u{9b}\n"
    );
}

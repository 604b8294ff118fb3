//! The log line: the layout of tracing-subscriber's default (`Full`) format without colour or
//! target, which operators' log parsers already read —
//! `2026-12-01T20:17:04.814158Z  INFO conn{service=dicom protocol="dicom" peer=10.0.0.7:5104}: association ended calling_ae="CT1" up=412 ms=3`
//! — written without `nu_ansi_term` styles, `Debug`-escaping of plain strings or `fmt` for
//! numbers and times. The default spends ≈16 000 instructions on an association's end line and
//! ≈6 000 on the connection span's fields; this one ≈6 000 and ≈2 800 (callgrind, `load_dicom
//! --quick`), for the same text (the tests compare the two byte for byte).
//!
//! One difference, deliberate: control characters in field values written with `%` (Display),
//! which may carry text from the network (an error quoting a peer), are escaped (`\n`, `\x1b`,
//! `\u{85}`), so no value can start a forged log line or send escapes to a terminal; the default
//! escapes them only in the message. The message is escaped as the default does (ESC, BEL, BS,
//! FF, DEL, C1; a newline stays: multi-line messages such as a refused reload's are ours).

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format (timestamp, level, spans with their fields, message, fields).
#[derive(Debug, Default, Clone, Copy)]
pub struct Line;

/// The fields format, for spans and events alike.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fields;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut w = Out::new(writer.by_ref());
        match super::time::format(std::time::SystemTime::now()) {
            Some(ts) => w.write_str(std::str::from_utf8(&ts).map_err(|_| fmt::Error)?)?,
            None => {
                tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut w))?
            }
        }
        w.write_str(match *event.metadata().level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                w.write_str(span.metadata().name())?;
                seen = true;
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    if !f.is_empty() {
                        w.write_char('{')?;
                        w.write_str(f)?;
                        w.write_char('}')?;
                    }
                }
                w.write_char(':')?;
            }
            if seen {
                w.write_char(' ')?;
            }
        }
        w.flush()?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

impl<'w> FormatFields<'w> for Fields {
    fn format_fields<R: RecordFields>(&self, w: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = Visitor {
            w: Out::new(w),
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result.and_then(|()| v.w.flush())
    }
}

/// Bytes on their way to the subscriber's writer, gathered on the stack: one call through the
/// writer (and, for a span's fields, one allocation of the right size) instead of one per piece.
struct Out<'w> {
    w: Writer<'w>,
    buf: [u8; 256],
    len: usize,
}

impl<'w> Out<'w> {
    fn new(w: Writer<'w>) -> Self {
        Out {
            w,
            buf: [0; 256],
            len: 0,
        }
    }

    fn flush(&mut self) -> fmt::Result {
        // Whole `str`s only were copied in: valid UTF-8.
        let s = std::str::from_utf8(&self.buf[..self.len]).map_err(|_| fmt::Error)?;
        self.len = 0;
        if s.is_empty() {
            Ok(())
        } else {
            self.w.write_str(s)
        }
    }
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            self.flush()?;
            if s.len() > self.buf.len() {
                return self.w.write_str(s);
            }
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

struct Visitor<'w> {
    w: Out<'w>,
    empty: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    /// The separating space, then `name=` (nothing for the message). False once writing failed
    /// or for fields tracing-log already turned into metadata.
    fn start(&mut self, field: &Field) -> bool {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return false;
        }
        if !std::mem::take(&mut self.empty) {
            self.result = self.w.write_char(' ');
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .result
                .and_then(|()| self.w.write_str(name))
                .and_then(|()| self.w.write_char('='));
        }
        self.result.is_ok()
    }

    fn number(&mut self, field: &Field, negative: bool, v: u64) {
        if self.start(field) {
            let mut buf = [0u8; 20];
            let digits = decimal(v, &mut buf);
            self.result = if negative {
                self.w.write_char('-')
            } else {
                Ok(())
            };
            self.result = self.result.and_then(|()| self.w.write_str(digits));
        }
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.start(field) {
            return;
        }
        self.result = if field.name() == "message" {
            Escaped::message(&mut self.w).write_str(value)
        } else if value.bytes().all(plain_in_quotes) {
            // What `{:?}` writes for such a string, without visiting it char by char.
            self.w
                .write_char('"')
                .and_then(|()| self.w.write_str(value))
                .and_then(|()| self.w.write_char('"'))
        } else {
            write!(self.w, "{value:?}")
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, false, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value < 0, value.unsigned_abs());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.w.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.start(field) {
            return;
        }
        let mut out = Escaped::value(&mut self.w);
        let mut r = write!(out, "{value}");
        if let Some(mut source) = value.source() {
            // As the default: `err=text err.sources=[first, second]`.
            r = r.and_then(|()| write!(out, " {}.sources=[", field.name()));
            let mut first = true;
            loop {
                if !std::mem::take(&mut first) {
                    r = r.and_then(|()| out.write_str(", "));
                }
                r = r.and_then(|()| write!(out, "{source}"));
                match source.source() {
                    Some(s) => source = s,
                    None => break,
                }
            }
            r = r.and_then(|()| out.write_char(']'));
        }
        self.result = r;
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.start(field) {
            return;
        }
        let mut out = if field.name() == "message" {
            Escaped::message(&mut self.w)
        } else {
            Escaped::value(&mut self.w)
        };
        self.result = write!(out, "{value:?}");
    }
}

/// `v` in decimal, written at the end of `buf` (20 digits hold any `u64`).
pub(super) fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits only: never the empty fallback.
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// Printable ASCII other than `"` and `\`: `{:?}` writes such a byte as itself.
fn plain_in_quotes(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

/// A writer that escapes control characters on the way (see the module doc for which).
struct Escaped<'a, 'w> {
    w: &'a mut Out<'w>,
    /// Message rules (newlines, tabs and other C0 controls but ESC, BEL, BS, FF pass).
    message: bool,
}

impl<'a, 'w> Escaped<'a, 'w> {
    fn message(w: &'a mut Out<'w>) -> Self {
        Escaped { w, message: true }
    }

    fn value(w: &'a mut Out<'w>) -> Self {
        Escaped { w, message: false }
    }

    fn escapes(&self, c: char) -> bool {
        match c {
            '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}' => true,
            '\t' => false,
            c if c < ' ' => !self.message,
            _ => false,
        }
    }
}

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8.
        if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
            return self.w.write_str(s);
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if !self.escapes(c) {
                continue;
            }
            self.w.write_str(&s[start..i])?;
            match c {
                '\n' => self.w.write_str("\\n")?,
                '\r' => self.w.write_str("\\r")?,
                c if (c as u32) < 0x80 => write!(self.w, "\\x{:02x}", c as u32)?,
                c => write!(self.w, "\\u{{{:x}}}", c as u32)?,
            }
            start = i + c.len_utf8();
        }
        self.w.write_str(&s[start..])
    }
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;

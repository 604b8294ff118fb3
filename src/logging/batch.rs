//! Where `triage run`'s log lines go: standard output, in batches. Each line is appended to one
//! buffer; a flusher thread writes the buffer out `DELAY` after the first line went into it
//! (one `write` for every line of the batch, instead of one per line on the thread that serves
//! connections). Warnings and errors, a full buffer (`HIGH_WATER`), [`flush`] at exit and a
//! panic write out at once, in order. What a `kill -9` can lose is the last `DELAY` of
//! info/debug lines.

use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::{self, Thread};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait for the lines after it.
pub const DELAY: Duration = Duration::from_millis(20);
/// A buffer this full is written out at once.
pub const HIGH_WATER: usize = 64 * 1024;

/// The pending lines, and where they go (a `Vec` in tests, standard output in the binary).
struct Pending {
    bytes: Vec<u8>,
    out: Box<dyn Write + Send>,
}

/// One buffer, one flusher: a [`Batch`] is made once ([`Batch::leak`]; `triage run`'s to
/// standard output by [`super::init`]) and lives as long as the process.
pub struct Batch {
    pending: Mutex<Pending>,
    flusher: OnceLock<Thread>,
}

impl Batch {
    /// A batch to `out` with its own flusher thread, which writes out `delay` after a line
    /// came into an empty buffer; for the process's lifetime.
    pub fn leak(out: Box<dyn Write + Send>, delay: Duration) -> &'static Batch {
        let batch: &'static Batch = Box::leak(Box::new(Batch {
            pending: Mutex::new(Pending {
                bytes: Vec::with_capacity(HIGH_WATER),
                out,
            }),
            flusher: OnceLock::new(),
        }));
        let spawned = thread::Builder::new()
            .name("triage-log".into())
            .spawn(move || loop {
                thread::park();
                thread::sleep(delay);
                batch.flush();
            });
        match spawned {
            Ok(h) => {
                let _ = batch.flusher.set(h.thread().clone());
            }
            // No thread: every line is written at once (as before batching).
            Err(e) => eprintln!("triage: no log flusher thread ({e}); writing lines unbatched"),
        }
        batch
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves whole lines behind it (append is one
        // extend): the buffer is still good.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one line; `urgent` lines (and a full buffer) are written out with everything
    /// before them.
    fn append(&self, line: &[u8], urgent: bool) {
        let mut p = self.lock();
        let was_empty = p.bytes.is_empty();
        p.bytes.extend_from_slice(line);
        match self.flusher.get() {
            Some(f) if !urgent && p.bytes.len() < HIGH_WATER => {
                if was_empty {
                    f.unpark();
                }
            }
            _ => write_out(&mut p),
        }
    }

    /// Writes out whatever is pending.
    pub fn flush(&self) {
        write_out(&mut self.lock());
    }

    /// As [`flush`](Self::flush) unless the buffer is locked (a panic inside `append`): for the
    /// panic hook, which must not wait on the thread that panicked.
    pub fn try_flush(&self) {
        if let Ok(mut p) = self.pending.try_lock() {
            write_out(&mut p);
        }
    }
}

/// One write of the pending bytes. A failed write (standard output closed) drops them: a
/// gateway does not stop or grow without bound because nobody reads its log.
fn write_out(p: &mut Pending) {
    if p.bytes.is_empty() {
        return;
    }
    let Pending { bytes, out } = p;
    let _ = out.write_all(bytes).and_then(|()| out.flush());
    bytes.clear();
    if bytes.capacity() > 4 * HIGH_WATER {
        bytes.shrink_to(HIGH_WATER);
    }
}

/// The per-event writer tracing-subscriber asks for: it hands over one formatted line.
pub struct LineWriter {
    batch: &'static Batch,
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.batch.append(b, self.urgent);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for &'static Batch {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            batch: self,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            batch: self,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn writes(&self) -> Vec<String> {
            let w = self.0.lock().unwrap();
            w.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        }
    }

    fn wait_for(sink: &Sink, n: usize) -> Vec<String> {
        let start = Instant::now();
        while sink.writes().len() < n && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(2));
        }
        sink.writes()
    }

    fn info() -> &'static Metadata<'static> {
        struct Cs;
        impl tracing::callsite::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                info()
            }
        }
        static CS: Cs = Cs;
        static META: Metadata<'static> = tracing::metadata!(
            name: "test",
            target: "test",
            level: Level::INFO,
            fields: &[],
            callsite: &CS,
            kind: tracing::metadata::Kind::EVENT,
        );
        &META
    }

    /// Long enough that the test's own steps surely fit in it.
    const TEST_DELAY: Duration = Duration::from_millis(500);

    #[test]
    fn info_lines_go_out_together_after_the_delay() {
        let sink = Sink::default();
        let batch = Batch::leak(Box::new(sink.clone()), TEST_DELAY);
        for i in 0..3 {
            batch
                .make_writer_for(info())
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        // Nothing is written by the appending thread itself.
        assert!(sink.writes().is_empty());
        let got = wait_for(&sink, 1);
        assert_eq!(got, ["line 0\nline 1\nline 2\n"]);
        // The flusher goes back to waiting: a later line comes out in a batch of its own.
        batch.make_writer_for(info()).write_all(b"later\n").unwrap();
        assert_eq!(wait_for(&sink, 2)[1], "later\n");
    }

    #[test]
    fn urgent_lines_write_out_everything_before_them_in_order() {
        let sink = Sink::default();
        let batch = Batch::leak(Box::new(sink.clone()), TEST_DELAY);
        batch.make_writer_for(info()).write_all(b"info\n").unwrap();
        batch.make_writer().write_all(b"warn\n").unwrap();
        // Written by the appending call, before any flusher could have run: one write, both
        // lines, in order.
        assert_eq!(sink.writes(), ["info\nwarn\n"]);
    }

    #[test]
    fn a_full_buffer_is_written_at_once() {
        let sink = Sink::default();
        let batch = Batch::leak(Box::new(sink.clone()), TEST_DELAY);
        let line = vec![b'x'; 1000];
        for _ in 0..HIGH_WATER / 1000 + 1 {
            batch.make_writer_for(info()).write_all(&line).unwrap();
        }
        let w = sink.writes();
        assert_eq!(w.len(), 1);
        assert!(w[0].len() >= HIGH_WATER, "{}", w[0].len());
        batch.flush();
        assert!(sink.writes().len() <= 2);
    }
}

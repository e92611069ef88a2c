//! Logging set-up for `xkmsd`: text or JSON lines on stderr, colour only on a terminal.

use clap::ValueEnum;
use std::io::IsTerminal;
use std::time::Duration;
use tracing_subscriber::fmt::writer::EitherWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (`key=value` fields).
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Installs the global subscriber: level filter from `XKMS_LOG` (default `info`).
///
/// With `background`, lines are formatted on the thread that logs and written to
/// stderr by one writer thread ([`LogGuard`]) in batches: a busy service pays a queue
/// push per line instead of a `write(2)` each (measured: the per-request line cost
/// ~18 % of a Locate written in place, docs/PERFORMANCE.md). Nothing is dropped: when the writer
/// falls behind by [`QUEUED_LINES`] lines, logging waits, as a direct write would.
/// Short commands log in place, so that their lines and `eprintln!` keep their order.
pub fn init(format: LogFormat, background: bool) -> Option<LogGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("XKMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = format == LogFormat::Text && colour_on_stderr();
    // Without a writer thread (none could be started), lines are written in place.
    let (writer, guard) = match background
        .then(|| background_writer(std::io::stderr()).ok())
        .flatten()
    {
        Some((writer, guard)) => (LogWriter::Queued(writer), Some(guard)),
        None => (LogWriter::InPlace, None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    guard
}

/// Where log lines go: to the writer thread, or straight to stderr.
enum LogWriter {
    Queued(BackgroundWriter),
    InPlace,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = EitherWriter<QueuedLine<'a>, std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            LogWriter::Queued(writer) => EitherWriter::A(writer.make_writer()),
            LogWriter::InPlace => EitherWriter::B(std::io::stderr()),
        }
    }
}

/// How many formatted lines may wait for the writer thread before logging blocks.
pub const QUEUED_LINES: usize = 16_384;

enum Queued {
    Line(Vec<u8>),
    /// Write out everything queued before, then answer.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The [`tracing_subscriber::fmt::MakeWriter`] of the background writer: each event's
/// line is collected in a [`QueuedLine`] and queued whole when the formatter is done.
#[derive(Clone)]
pub struct BackgroundWriter {
    queue: std::sync::mpsc::SyncSender<Queued>,
}

/// Keeps the writer thread's lines from being lost at exit: dropping it waits (at most
/// a second) until every line logged before has been written.
pub struct LogGuard {
    queue: std::sync::mpsc::SyncSender<Queued>,
}

/// A writer thread that owns `out`, and the handle to queue lines for it.
pub fn background_writer<W: std::io::Write + Send + 'static>(
    out: W,
) -> std::io::Result<(BackgroundWriter, LogGuard)> {
    let (queue, lines) = std::sync::mpsc::sync_channel::<Queued>(QUEUED_LINES);
    std::thread::Builder::new()
        .name("xkmsd-log".into())
        .spawn(move || write_lines(lines, out))?;
    Ok((
        BackgroundWriter {
            queue: queue.clone(),
        },
        LogGuard { queue },
    ))
}

/// How long the writer thread lets lines gather after a write. While it sleeps, logging
/// a line is a queue push without a wake-up (measured: waking the writer for every line
/// cost ~16 % of a Locate's CPU); a line reaches stderr at most this much later.
pub const LINGER: Duration = Duration::from_millis(20);

/// Writes what has queued up in one write, then lingers ([`LINGER`]); waits when idle.
fn write_lines<W: std::io::Write>(lines: std::sync::mpsc::Receiver<Queued>, out: W) {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = lines.recv() {
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(item) = next {
            match item {
                // A log line that cannot be written has nowhere else to go.
                Queued::Line(line) => drop(out.write_all(&line)),
                Queued::Flush(done) => waiting.push(done),
            }
            next = lines.try_recv().ok();
        }
        let _ = out.flush();
        for done in waiting {
            let _ = done.send(());
        }
        std::thread::sleep(LINGER);
    }
    let _ = out.flush();
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BackgroundWriter {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> QueuedLine<'a> {
        QueuedLine {
            line: Vec::new(),
            queue: &self.queue,
        }
    }
}

/// One event's formatted line, queued for the writer thread when dropped.
pub struct QueuedLine<'a> {
    line: Vec<u8>,
    queue: &'a std::sync::mpsc::SyncSender<Queued>,
}

impl std::io::Write for QueuedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine<'_> {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            let _ = self
                .queue
                .send(Queued::Line(std::mem::take(&mut self.line)));
        }
    }
}

impl LogGuard {
    /// Waits (at most `limit`) until every line queued before this call is written.
    pub fn flush(&self, limit: Duration) -> bool {
        let (done, written) = std::sync::mpsc::sync_channel(1);
        self.queue.send(Queued::Flush(done)).is_ok() && written.recv_timeout(limit).is_ok()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(1));
    }
}

/// ANSI colour only when stderr is a terminal, and never with `NO_COLOR` set
/// (no-color.org: any non-empty value): log files and journals get plain text.
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A duration in milliseconds with at most three decimals (whole microseconds), so
/// that log lines say `12.345`, not `12.345000000000001`.
pub fn duration_ms(elapsed: Duration) -> f64 {
    // Whole microseconds as f64 are exact; dividing by 1000 gives the double nearest
    // to the three-decimal value, which prints as exactly those digits.
    elapsed.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A `Write` into shared memory, to read what the writer thread wrote.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_background_writer_loses_no_line_and_keeps_each_whole() {
        use tracing_subscriber::fmt::MakeWriter;
        let out = Shared::default();
        let (writer, guard) = background_writer(out.clone()).unwrap();
        // More lines than the queue holds, from several threads: logging waits, it
        // does not drop.
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = writer.clone();
                s.spawn(move || {
                    for i in 0..(QUEUED_LINES / 2) {
                        let mut line = writer.make_writer();
                        // One event written in pieces, as a formatter may.
                        write!(line, "thread {t} ").unwrap();
                        writeln!(line, "line {i}").unwrap();
                    }
                });
            }
        });
        assert!(guard.flush(Duration::from_secs(10)));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4 * (QUEUED_LINES / 2));
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..QUEUED_LINES / 2)
                .map(|i| format!("thread {t} line {i}"))
                .collect();
            assert_eq!(
                mine, expected,
                "every line of thread {t}, whole and in order"
            );
        }
    }

    #[test]
    fn durations_print_with_three_decimals() {
        for (nanos, shown) in [
            (117_068_999, "117.068"),
            (117_068, "0.117"),
            (3_989_600, "3.989"),
            (1_000_000, "1"),
            (999, "0"),
        ] {
            assert_eq!(duration_ms(Duration::from_nanos(nanos)).to_string(), shown);
        }
    }
}

//! Standard output and error that survive a closed pipe.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`xkms … | head -1`):
//! Rust ignores SIGPIPE, so the write fails with EPIPE and the macro panics (exit 101).
//! Resetting SIGPIPE would need `unsafe`, which this workspace forbids; instead every
//! line goes through [`line`], which stops writing after EPIPE and lets the command
//! finish its work (files it was asked to write are written first anyway). Any other
//! write error (a full disk behind a redirection) is kept and reported at exit.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout cannot take more output.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error other than a closed pipe.
static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes one line to stdout (see the module comment).
pub fn line(args: std::fmt::Arguments<'_>) {
    write(args, true);
}

/// Writes to stdout without a newline and flushes (progress lines).
pub fn partial(args: std::fmt::Arguments<'_>) {
    write(args, false);
}

/// Writes raw bytes to stdout (completions, DER).
pub fn bytes(data: &[u8]) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out.write_all(data).and_then(|()| out.flush());
    record(result);
}

/// Writes one line to stderr, ignoring failure: there is nowhere left to report it.
pub fn error_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// The write error to report at exit, if stdout failed for a reason other than EPIPE.
pub fn failure() -> Option<std::io::Error> {
    match FAILED.lock() {
        Ok(mut failed) => failed.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    }
}

fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    record(result);
}

fn record(result: std::io::Result<()>) {
    let Err(e) = result else {
        return;
    };
    CLOSED.store(true, Ordering::Relaxed);
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        let mut failed = match FAILED.lock() {
            Ok(failed) => failed,
            Err(poisoned) => poisoned.into_inner(),
        };
        failed.get_or_insert(e);
    }
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// `print!` + flush that survives a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::partial(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::error_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};

//! `--record FILE`: one line per registration the service answered with Success.
//!
//! A line is `<serial> <binding id>` (serial in upper-case hex, as the store and
//! `xkmsd admin bindings list` write it), written and flushed as soon as the answer is
//! received: what the file lists, the service has promised. `scripts/crash-test` kills
//! the server meanwhile and then checks every line against the store.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use x509_parser::prelude::{FromDer, X509Certificate};
use xkms_proto::ResultMessage;

pub struct Recorder(Mutex<BufWriter<File>>);

impl Recorder {
    /// Opens `path` for appending (created if missing).
    pub fn append(path: &Path) -> anyhow::Result<Recorder> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Recorder(Mutex::new(BufWriter::new(file))))
    }

    /// Appends the line of a successful RegisterResult.
    pub fn record(&self, result: &ResultMessage) -> Result<(), String> {
        let line = line(result)?;
        let mut file = self.0.lock().map_err(|_| "record file lock poisoned")?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| format!("writing the record file: {e}"))
    }

    pub fn flush(&self) -> anyhow::Result<()> {
        let mut file = self
            .0
            .lock()
            .map_err(|_| anyhow::anyhow!("record file lock poisoned"))?;
        file.flush().context("writing the record file")
    }
}

/// `<serial> <binding id>\n` of the first key binding of a RegisterResult (its first
/// certificate is the one issued).
fn line(result: &ResultMessage) -> Result<String, String> {
    let ResultMessage::Register(r) = result else {
        return Err("not a RegisterResult".into());
    };
    let binding = r.key_bindings.first().ok_or("no key binding")?;
    let id = binding.core.id.as_deref().ok_or("key binding without Id")?;
    let der = binding
        .core
        .key_info
        .iter()
        .flat_map(|k| &k.x509_data)
        .flat_map(|x| &x.certificates)
        .next()
        .ok_or("no certificate in the RegisterResult")?;
    let (_, certificate) =
        X509Certificate::from_der(der).map_err(|_| "unparsable certificate in the result")?;
    // As the store writes serials: 32 upper-case hex digits, left-padded.
    let serial = certificate.raw_serial_as_string().replace(':', "");
    let serial = serial.trim_start_matches('0').to_uppercase();
    Ok(format!("{serial:0>32} {id}\n"))
}

//! What `serve` checks before it creates anything, and all that `xkmsd check-config`
//! does: the configuration values, the database URL, the `[trust]` files, the TLS
//! certificate and key, the CA key (file, decrypted with its passphrase; or the token,
//! logged in to and searched), and the key files of the data directory that exist. Nothing is created or connected to: no data
//! directory, no CA, no database file (a PostgreSQL server is not contacted).

use crate::config::Config;
use crate::keyfiles::{MASTER_KEY_FILE, SERVICE_SECRET_FILE, SIGNING_CERT_FILE, SIGNING_KEY_FILE};
use anyhow::{Context, bail};
use std::path::Path;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};
use xkms_ca::pem::{self, Label};
use xkms_store::StoreLocation;

/// Checks `config`; what was found, one line each, for `check-config` to print.
pub fn preflight(config: &Config) -> anyhow::Result<Vec<String>> {
    config.check()?;
    let mut found = Vec::new();
    let url = config.database_url();
    let shown = xkms_store::redact_url(&url);
    match xkms_store::check_url(&url).with_context(|| format!("database {shown}"))? {
        StoreLocation::SqliteFile(path) if path.exists() => {
            std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
            found.push(format!("database: {shown}"));
        }
        StoreLocation::SqliteFile(_) => found.push(format!("database: {shown} (will be created)")),
        StoreLocation::SqliteMemory => found.push(format!("database: {shown} (in memory)")),
        StoreLocation::Postgres => found.push(format!("database: {shown} (not contacted)")),
    }
    found.extend(trust_files(config)?);
    if let Some(tls) = crate::tls::check(config)? {
        found.push(tls);
    }
    let dir = &config.data_dir;
    if !dir.exists() {
        found.push(format!(
            "data directory {}: will be created, with a new CA and keys if the store holds \
             no records (otherwise serve refuses: restore the key files)",
            dir.display()
        ));
        // The token and the passphrase file are checked all the same.
        if config.ca.pkcs11_module.is_some() || config.ca.key_passphrase_file.is_some() {
            found.push(crate::ca_key::check_ca_key(config)?);
        }
        return Ok(found);
    }
    if !dir.is_dir() {
        bail!("data directory {} is not a directory", dir.display());
    }
    found.push(format!("data directory {}", dir.display()));
    found.push(crate::ca_key::check_ca_key(config)?);
    let master = dir.join(MASTER_KEY_FILE);
    if let Some(bytes) = read_optional(&master)? {
        xkms_service::escrow::MasterKey::from_bytes(&bytes)
            .map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", master.display()))?;
    }
    let secret = dir.join(SERVICE_SECRET_FILE);
    if let Some(bytes) = read_optional(&secret)?
        && bytes.len() != 32
    {
        bail!(
            "{}: {} bytes, expected 32 (restore it from the backup)",
            secret.display(),
            bytes.len()
        );
    }
    for (name, label) in [
        (SIGNING_KEY_FILE, Label::PrivateKey),
        (SIGNING_CERT_FILE, Label::Certificate),
    ] {
        let path = dir.join(name);
        if let Some(bytes) = read_optional(&path)? {
            let block =
                pem::decode_first(&bytes, &[label]).with_context(|| path.display().to_string())?;
            if block.is_none() {
                bail!("{}: no {} block", path.display(), label.as_str());
            }
        }
    }
    Ok(found)
}

/// The `[trust]` files: each must exist and hold certificates (anchors, intermediates)
/// or CRLs, PEM or DER.
fn trust_files(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for (kind, paths, label) in [
        ("trust anchor", &config.trust.anchors, Label::Certificate),
        (
            "intermediate certificate",
            &config.trust.intermediates,
            Label::Certificate,
        ),
        ("CRL", &config.trust.crls, Label::X509Crl),
    ] {
        for path in paths {
            let named = || format!("[trust] {kind} {}", path.display());
            let bytes = std::fs::read(path).with_context(named)?;
            let ders = crate::app::pem_or_der(bytes, label).with_context(named)?;
            for der in &ders {
                let parses = if label == Label::X509Crl {
                    CertificateRevocationList::from_der(der).is_ok()
                } else {
                    X509Certificate::from_der(der).is_ok()
                };
                if !parses {
                    bail!(
                        "[trust] {kind} {}: not a{} (PEM or DER)",
                        path.display(),
                        if label == Label::X509Crl {
                            " CRL"
                        } else {
                            "n X.509 certificate"
                        }
                    );
                }
            }
            found.push(format!("{kind} {}: {} read", path.display(), ders.len()));
        }
    }
    Ok(found)
}

fn read_optional(path: &Path) -> anyhow::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(zeroize::Zeroizing::new(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

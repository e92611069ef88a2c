//! What `serve` checks before it creates anything, and all that `xkmsd check-config`
//! does: the configuration values, the database URL, the `[trust]` files, and the key
//! files of the data directory that exist. Nothing is created or connected to: no data
//! directory, no CA, no database file (a PostgreSQL server is not contacted).

use crate::config::Config;
use crate::keyfiles::{MASTER_KEY_FILE, SERVICE_SECRET_FILE, SIGNING_CERT_FILE, SIGNING_KEY_FILE};
use anyhow::{Context, bail};
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};
use xkms_ca::pem::{self, Label};
use xkms_ca::{CA_CERT_FILE, CA_KEY_FILE, Ca};
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
    let dir = &config.data_dir;
    if !dir.exists() {
        found.push(format!(
            "data directory {}: will be created, with a new CA and keys if the store holds \
             no records (otherwise serve refuses: restore the key files)",
            dir.display()
        ));
        return Ok(found);
    }
    if !dir.is_dir() {
        bail!("data directory {} is not a directory", dir.display());
    }
    found.push(format!("data directory {}", dir.display()));
    found.push(ca_files(dir)?);
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

/// The CA key and certificate, if present: they load, belong together, and the key is
/// not readable by others.
fn ca_files(dir: &Path) -> anyhow::Result<String> {
    let key_path = dir.join(CA_KEY_FILE);
    let cert_path = dir.join(CA_CERT_FILE);
    let key = read_optional(&key_path)?;
    let cert = read_optional(&cert_path)?;
    match (key, cert) {
        (None, None) => Ok("CA: will be created if the store holds no records".into()),
        (None, Some(_)) => bail!(
            "{} exists without {}: the CA key is missing",
            cert_path.display(),
            key_path.display()
        ),
        (Some(_), None) => {
            check_private(&key_path)?;
            Ok(format!(
                "CA: key {} (the certificate will be created)",
                key_path.display()
            ))
        }
        (Some(key), Some(cert)) => {
            check_private(&key_path)?;
            let text = |b: &[u8], p: &Path| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| anyhow::anyhow!("{}: not a PEM file", p.display()))
            };
            let key = zeroize::Zeroizing::new(text(&key, &key_path)?);
            let ca = Ca::from_pem(&key, &text(&cert, &cert_path)?)
                .with_context(|| format!("loading the CA from {}", dir.display()))?;
            Ok(format!(
                "CA: {} valid until {}",
                ca.subject(),
                ca.not_after()
                    .format(&Rfc3339)
                    .unwrap_or_else(|_| ca.not_after().to_string())
            ))
        }
    }
}

fn read_optional(path: &Path) -> anyhow::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(zeroize::Zeroizing::new(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The CA key must not be readable by group or others (`serve` refuses it otherwise).
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("inspecting {}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is accessible to group or others (mode {mode:o}); chmod 600 it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

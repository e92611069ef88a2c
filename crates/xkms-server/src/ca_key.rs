//! Where the CA key lives: a PKCS#8 file in the data directory (optionally encrypted
//! under a passphrase, `[ca] key_passphrase_file`) or a PKCS#11 token (`[ca]
//! pkcs11_*`), where it is generated and used and from which it never leaves. Either way
//! the CA certificate is `ca-cert.pem` in the data directory, and a new key or
//! certificate is created only for a store without records (`keyfiles::Creation`).
//!
//! Secret files (passphrase, PIN) are read once at start, only their first line, and
//! refused when group or others may read them.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use xkms_ca::{
    CA_CERT_FILE, CA_KEY_FILE, Ca, CaParams, Passphrase, Pkcs11Config, Pkcs11Signer,
    TokenKeyProtection,
};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::keyfiles::Creation;

/// Loads the CA — from the token or the key file the configuration names — creating
/// key and certificate only when `creation` allows.
pub fn open_ca(config: &Config, creation: &Creation) -> anyhow::Result<Ca> {
    let dir = &config.data_dir;
    let params = CaParams {
        key_type: config.ca_key_type()?,
        common_name: config.ca.common_name.clone(),
        validity: time::Duration::days(config.ca.validity_days),
        ..CaParams::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let cert_path = dir.join(CA_CERT_FILE);
    let may_create_cert = || {
        if cert_path.exists() {
            Ok(())
        } else {
            creation.check(&cert_path, "the CA certificate")
        }
    };
    let (ca, created) = match token_config(config)? {
        Some(token) => {
            refuse_key_file_beside_token(dir)?;
            let signer = match Pkcs11Signer::open(&token).context("the CA key's token")? {
                Some(signer) => signer,
                None => {
                    creation.check_named(&token_key_name(&token), "the CA key")?;
                    let signer = Pkcs11Signer::generate(&token, params.key_type)
                        .context("generating the CA key in the token")?;
                    tracing::info!(
                        key = signer.description(),
                        "generated the CA key in the token"
                    );
                    signer
                }
            };
            may_create_cert()?;
            Ca::load_or_create_certificate(dir, Arc::new(signer), &params, now).with_context(
                || {
                    format!(
                        "the CA certificate {} and the key {} in the token",
                        cert_path.display(),
                        token_key_name(&token)
                    )
                },
            )?
        }
        None => {
            let key_path = dir.join(CA_KEY_FILE);
            if !key_path.exists() {
                creation.check(&key_path, "the CA")?;
            }
            may_create_cert()?;
            let passphrase = passphrase(config)?;
            Ca::load_or_create_file_key(dir, &params, now, passphrase.as_ref())
                .with_context(|| format!("loading the CA from {}", dir.display()))?
        }
    };
    if created {
        tracing::info!(dir = %dir.display(), subject = %ca.subject(), "created a new CA");
    }
    Ok(ca)
}

/// What `check-config` reports about the CA key, creating nothing: the token is logged
/// in to and searched, the key file decrypted. `None` for the key when it would be
/// created.
pub fn check_ca_key(config: &Config) -> anyhow::Result<String> {
    let dir = &config.data_dir;
    let cert = read_cert(dir)?;
    if let Some(token) = token_config(config)? {
        refuse_key_file_beside_token(dir)?;
        let Some(signer) = Pkcs11Signer::open(&token).context("the CA key's token")? else {
            return Ok(format!(
                "CA key: {} will be generated in the token if the store holds no records",
                token_key_name(&token)
            ));
        };
        let protection = signer.protection()?;
        let described = format!(
            "CA key: {}, {}",
            signer.description(),
            protection_words(protection)
        );
        let Some(cert) = cert else {
            return Ok(format!("{described}; the CA certificate will be created"));
        };
        let ca = Ca::from_signer(Arc::new(signer), cert).with_context(|| {
            format!(
                "{} and the key in the token",
                dir.join(CA_CERT_FILE).display()
            )
        })?;
        return Ok(format!("{described}; {}", ca_summary(&ca)));
    }
    let key_path = dir.join(CA_KEY_FILE);
    let passphrase = passphrase(config)?;
    let key = match std::fs::read_to_string(&key_path) {
        Ok(key) => Some(Zeroizing::new(key)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", key_path.display())),
    };
    let encrypted = if passphrase.is_some() {
        " (key file encrypted)"
    } else {
        ""
    };
    match (key, cert) {
        (None, None) => Ok(format!(
            "CA: will be created{encrypted} if the store holds no records"
        )),
        (None, Some(_)) => bail!(
            "{} exists without {}: the CA key is missing",
            dir.join(CA_CERT_FILE).display(),
            key_path.display()
        ),
        (Some(key), cert) => {
            require_private(&key_path, "the CA key")?;
            let signer = xkms_ca::FileKeySigner::from_pem(&key, passphrase.as_ref())
                .with_context(|| format!("reading {}", key_path.display()))?;
            let Some(cert) = cert else {
                return Ok(format!(
                    "CA: key {}{encrypted} (the certificate will be created)",
                    key_path.display()
                ));
            };
            let ca = Ca::from_signer(Arc::new(signer), cert)
                .with_context(|| format!("loading the CA from {}", dir.display()))?;
            Ok(format!("CA: {}{encrypted}", ca_summary(&ca)))
        }
    }
}

/// The token settings of `[ca]`, with the PIN read from its file.
fn token_config(config: &Config) -> anyhow::Result<Option<Pkcs11Config>> {
    let Some(module) = &config.ca.pkcs11_module else {
        return Ok(None);
    };
    let (Some(token_label), Some(pin_file)) =
        (&config.ca.pkcs11_token_label, &config.ca.pkcs11_pin_file)
    else {
        bail!("ca.pkcs11_token_label and ca.pkcs11_pin_file are required with ca.pkcs11_module");
    };
    let pin = first_line_of_secret_file(pin_file, "the token PIN (ca.pkcs11_pin_file)")?;
    let pin = String::from_utf8(pin.to_vec())
        .map_err(|_| anyhow::anyhow!("{}: the PIN is not UTF-8", pin_file.display()))?;
    Ok(Some(Pkcs11Config {
        module: module.clone(),
        token_label: token_label.clone(),
        pin: Zeroizing::new(pin),
        key_label: config.pkcs11_key_label().to_owned(),
    }))
}

/// The CA key file's passphrase, when `[ca] key_passphrase_file` names one.
fn passphrase(config: &Config) -> anyhow::Result<Option<Passphrase>> {
    let Some(path) = &config.ca.key_passphrase_file else {
        return Ok(None);
    };
    let line = first_line_of_secret_file(path, "the CA key passphrase (ca.key_passphrase_file)")?;
    Ok(Some(
        Passphrase::from_file_contents(&line).with_context(|| format!("{}", path.display()))?,
    ))
}

/// Refuses a secret file (key, PIN, passphrase) that group or others may access.
pub(crate) fn require_private(path: &Path, what: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("{what}: {}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{what}: {} is accessible to group or others (mode {mode:o}); chmod 600 it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// The first line of a secret file that only its owner may read.
fn first_line_of_secret_file(path: &Path, what: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    require_private(path, what)?;
    let contents = Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {what}: {}", path.display()))?,
    );
    let line = contents.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        bail!("{what}: the first line of {} is empty", path.display());
    }
    Ok(Zeroizing::new(line.to_vec()))
}

/// A key file next to a token key would defeat the token: refuse to guess which is
/// meant.
fn refuse_key_file_beside_token(dir: &Path) -> anyhow::Result<()> {
    let key_file = dir.join(CA_KEY_FILE);
    if key_file.exists() {
        bail!(
            "{} exists, but [ca] pkcs11_module puts the CA key in a token: remove the key file \
             (after moving it somewhere safe) or remove the pkcs11 settings",
            key_file.display()
        );
    }
    Ok(())
}

fn token_key_name(token: &Pkcs11Config) -> String {
    format!(
        "key {:?} in token {:?} ({})",
        token.key_label,
        token.token_label,
        token.module.display()
    )
}

fn read_cert(dir: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let path = dir.join(CA_CERT_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let der = xkms_ca::pem::decode_all(&bytes, xkms_ca::pem::Label::Certificate)
                .ok()
                .and_then(|mut all| (!all.is_empty()).then(|| all.swap_remove(0)))
                .with_context(|| {
                    format!("{}: no CERTIFICATE block that decodes", path.display())
                })?;
            Ok(Some(der))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn ca_summary(ca: &Ca) -> String {
    format!(
        "{} valid until {}",
        ca.subject(),
        ca.not_after()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| ca.not_after().to_string())
    )
}

fn protection_words(p: TokenKeyProtection) -> String {
    let mut words = Vec::new();
    words.push(if p.sensitive {
        "sensitive"
    } else {
        "NOT sensitive"
    });
    words.push(if p.extractable {
        "EXTRACTABLE"
    } else if p.never_extractable {
        "never extractable"
    } else {
        "not extractable"
    });
    words.push(if p.local {
        "generated in the token"
    } else {
        "imported into the token"
    });
    words.join(", ")
}

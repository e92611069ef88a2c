//! Files the commands read and write: certificates, private keys, secrets. Everything
//! read is checked here, before anything is sent: a file that is not what the flag
//! asks for fails locally, naming the file and what it holds instead.

use anyhow::Context;
use std::path::Path;
use x509_parser::prelude::{FromDer, X509Certificate};
use xkms_client::ClientKey;
use xkms_client::pem::{self, Label};

/// Every certificate in a file: PEM (one or more CERTIFICATE blocks, e.g. a chain) or a
/// single DER certificate. Each must parse as X.509.
pub fn read_certificates(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let shown = path.display();
    let blocks: Vec<pem::Block<'_>> = pem::blocks(&bytes).collect();
    if blocks.is_empty() {
        if check_certificate(&bytes).is_err() {
            anyhow::bail!("{shown} is not a certificate (neither PEM nor DER X.509)");
        }
        return Ok(vec![bytes]);
    }
    let mut out = Vec::new();
    let mut labels = Vec::new();
    for block in blocks {
        if !block.is(Label::Certificate) {
            labels.push(block.label);
            continue;
        }
        let mut der = block.der.with_context(|| shown.to_string())?;
        check_certificate(&der).with_context(|| {
            format!(
                "{shown}: CERTIFICATE block {} is not an X.509 certificate",
                out.len() + 1
            )
        })?;
        out.push(std::mem::take(&mut *der));
    }
    if out.is_empty() {
        anyhow::bail!(
            "no CERTIFICATE in {shown}{}",
            if labels.is_empty() {
                String::new()
            } else {
                format!(" (it holds {})", labels.join(", "))
            }
        );
    }
    Ok(out)
}

/// The first (end-entity) certificate of a file.
pub fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut all = read_certificates(path)?;
    Ok(all.swap_remove(0))
}

/// A private RSA key (PEM or DER); the error names the file and what is wrong with it
/// (an EC key, an encrypted key, a certificate …).
pub fn read_key(path: &Path) -> anyhow::Result<ClientKey> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    ClientKey::from_file_bytes(&bytes).map_err(|e| match e {
        xkms_client::ClientError::Key(reason) => anyhow::anyhow!("{}: {reason}", path.display()),
        other => anyhow::anyhow!("{}: {other}", path.display()),
    })
}

/// Writes a file only its owner can read; refuses to overwrite.
pub fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(data)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes a certificate as PEM.
pub fn write_certificate(path: &Path, der: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, pem::encode(Label::Certificate, der))
        .with_context(|| format!("writing {}", path.display()))
}

/// The secret in the file of `--secret-file` (a trailing newline is ignored).
pub fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim_end_matches(['\r', '\n'])
        .to_owned())
}

fn check_certificate(der: &[u8]) -> anyhow::Result<()> {
    match X509Certificate::from_der(der) {
        Ok(([], _)) => Ok(()),
        Ok(_) => anyhow::bail!("trailing data after the certificate"),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_not_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "this is not a certificate\n").unwrap();
        let err = format!("{:#}", read_certificates(&junk).unwrap_err());
        assert!(err.contains("is not a certificate"), "{err}");
        let fake = dir.path().join("fake.pem");
        std::fs::write(
            &fake,
            pem::encode(Label::Certificate, &[0x30, 0x03, 1, 2, 3]),
        )
        .unwrap();
        let err = format!("{:#}", read_certificates(&fake).unwrap_err());
        assert!(err.contains("block 1 is not an X.509 certificate"), "{err}");
        let key = dir.path().join("key.pem");
        std::fs::write(&key, pem::encode(Label::PrivateKey, &[0x30, 0x00])).unwrap();
        let err = format!("{:#}", read_certificates(&key).unwrap_err());
        assert!(err.contains("it holds PRIVATE KEY"), "{err}");
    }
}

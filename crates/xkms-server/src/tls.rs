//! TLS in `xkmsd`'s own accept loop (`connection`): rustls on aws-lc-rs (the service's
//! one crypto provider), TLS 1.2 and 1.3 with rustls' safe defaults, HTTP/1.1 announced
//! by ALPN, no client certificates. The certificate chain and key come from `[server]
//! tls_cert` / `tls_key` (`xkmsd admin server-certificate` issues a pair from the
//! built-in CA); the key file must be readable by the service account only.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use crate::config::Config;

/// The acceptor `serve` hands every connection to; `None` without `[server] tls_cert`.
pub fn acceptor(config: &Config) -> anyhow::Result<Option<TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    Ok(Some(TlsAcceptor::from(Arc::new(server_config(cert, key)?))))
}

/// What `check-config` reports about TLS (`None` without it): the chain and key load,
/// belong together, and the key is private; the leaf's names and validity.
pub fn check(config: &Config) -> anyhow::Result<Option<String>> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    server_config(cert, key)?;
    let chain = read_chain(cert)?;
    let Some(leaf) = chain.first() else {
        bail!("{}: no CERTIFICATE block", cert.display());
    };
    let parsed = xkms_ca::parse_certificate(leaf.as_ref())
        .map_err(|_| anyhow::anyhow!("{}: the certificate does not parse", cert.display()))?;
    let not_after = parsed.not_after;
    if not_after < time::OffsetDateTime::now_utc() {
        bail!(
            "{}: the certificate expired at {not_after} (issue a new one: xkmsd admin \
             server-certificate)",
            cert.display()
        );
    }
    let names: Vec<String> = parsed
        .dns_names
        .iter()
        .map(|d| format!("DNS:{d}"))
        .chain(parsed.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
        .collect();
    Ok(Some(format!(
        "TLS: {} ({} certificate(s), for {}), valid until {}; key {}",
        cert.display(),
        chain.len(),
        if names.is_empty() {
            "no subjectAltName".to_owned()
        } else {
            names.join(", ")
        },
        not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| not_after.to_string()),
        key.display()
    )))
}

/// The rustls configuration: our provider, safe defaults, HTTP/1.1 only.
fn server_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let chain = read_chain(cert)?;
    if chain.is_empty() {
        bail!("{}: no CERTIFICATE block (PEM expected)", cert.display());
    }
    crate::ca_key::require_private(key, "the TLS key (server.tls_key)")?;
    let pem = Zeroizing::new(
        std::fs::read(key).with_context(|| format!("reading the TLS key {}", key.display()))?,
    );
    let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        anyhow::anyhow!(
            "{}: no private key (PEM: PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "the TLS certificate {} and key {} (do they belong together?)",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading the TLS certificate {}", path.display()))?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| anyhow::anyhow!("{}: malformed PEM", path.display()))
}

/// What `xkmsd admin server-certificate` writes.
#[derive(Debug, Clone)]
pub struct ServerCertificateFiles {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<std::net::IpAddr>,
    pub cert_out: std::path::PathBuf,
    pub key_out: std::path::PathBuf,
    pub days: Option<i64>,
}

/// Generates an RSA-2048 key, writes it to `key_out` (0600, a new file), has the
/// built-in CA certify it for the names (recorded as a key binding the operator can list
/// and revoke), and writes the certificate to `cert_out`. Nothing is overwritten; if
/// the CA refuses, the key file is removed again.
pub async fn issue_server_certificate(
    service: &xkms_service::XkmsService,
    files: &ServerCertificateFiles,
) -> anyhow::Result<()> {
    if files.dns_names.is_empty() && files.ip_addresses.is_empty() {
        bail!("name the server: --dns NAME and/or --ip ADDRESS");
    }
    for path in [&files.cert_out, &files.key_out] {
        if path.exists() {
            bail!("{} exists: refusing to overwrite it", path.display());
        }
    }
    if files.days.is_some_and(|d| d <= 0) {
        bail!("--days must be positive");
    }
    let pkcs8 = xkms_service::keypool::generate(2048).context("generating the server key")?;
    let pair = xkms_xmlsec::key_pair::rsa_key_pair_from_pkcs8(&pkcs8)?;
    let key_pem = Zeroizing::new(xkms_ca::pem::encode(
        xkms_ca::pem::Label::PrivateKey,
        &pkcs8,
    ));
    crate::keyfiles::write_new_file(&files.key_out, key_pem.as_bytes(), 0o600)?;
    let request = xkms_service::operator::ServerCertificateRequest {
        dns_names: files.dns_names.clone(),
        ip_addresses: files.ip_addresses.clone(),
        public_key: xkms_ca::RsaPublicKey {
            modulus: pair.modulus.clone(),
            exponent: pair.exponent.clone(),
        },
        validity: files.days.map(time::Duration::days),
    };
    let issued = match service.issue_server_certificate(&request).await {
        Ok(issued) => issued,
        Err(e) => {
            let _ = std::fs::remove_file(&files.key_out);
            return Err(e).context("issuing the server certificate");
        }
    };
    let cert_pem = xkms_ca::pem::encode(xkms_ca::pem::Label::Certificate, &issued.certificate.der);
    crate::keyfiles::write_new_file(&files.cert_out, cert_pem.as_bytes(), 0o644)?;
    let names: Vec<String> = files
        .dns_names
        .iter()
        .map(|d| format!("DNS:{d}"))
        .chain(files.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
        .collect();
    println!(
        "server certificate {} for {} (serverAuth), valid until {}; key binding {}",
        issued.certificate.serial,
        names.join(", "),
        crate::display::rfc3339(issued.certificate.not_after),
        issued.binding.id
    );
    println!(
        "certificate: {}\nkey (mode 0600): {}",
        files.cert_out.display(),
        files.key_out.display()
    );
    println!(
        "serve with: xkmsd serve --tls-cert {} --tls-key {}; clients trust the CA: xkmsd admin \
         ca-certificate > ca.pem; xkms --ca-cert ca.pem --service https://…/xkms",
        files.cert_out.display(),
        files.key_out.display()
    );
    Ok(())
}

//! Start-up: open the store, load or create the CA, build the service.

use crate::config::Config;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use time::Duration;
use xkms_ca::{Ca, CaParams};
use xkms_service::escrow::MasterKey;
use xkms_service::keypool::KeyPool;
use xkms_service::{Escrow, Policy, Processing, ServiceConfig, SystemClock, XkmsService};

/// Opens everything `config` names; `bound` is the address the server listens on (it
/// decides the default Service URI).
pub async fn build_service(config: &Config, bound: SocketAddr) -> anyhow::Result<XkmsService> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let ca = open_ca(config)?;
    let url = config.database_url();
    let store = xkms_store::open_store(&url)
        .await
        .with_context(|| format!("opening database {}", xkms_store::redact_url(&url)))?;
    let service_config = ServiceConfig {
        service_uri: config.service_uri(bound),
        policy: Policy {
            certificate_validity: Duration::days(config.policy.certificate_validity_days),
            authorization_lifetime: Duration::days(config.policy.authorization_lifetime_days),
            min_rsa_bits: config.policy.min_rsa_bits,
            register: processing(&config.policy.register),
            reissue: processing(&config.policy.reissue),
            revoke: processing(&config.policy.revoke),
            recover: processing(&config.policy.recover),
            generated_key_bits: config.policy.generated_key_bits,
            private_key_cipher: config.private_key_cipher_uri()?,
            revoke_on_recover: config.policy.revoke_on_recover,
            ..Policy::default()
        },
        trust: load_trust(config)?,
        protocol: config.protocol_policy()?,
    };
    let master_key = open_master_key(config)?;
    let escrow = Escrow {
        master_key,
        key_pool: KeyPool::start(
            config.policy.key_pool_size,
            config.policy.generated_key_bits,
        ),
    };
    let nonce_secret = open_secret_file(&config.data_dir.join(SERVICE_SECRET_FILE))?;
    let service = XkmsService::new(store, Arc::new(ca), Arc::new(SystemClock), service_config)
        .with_escrow(escrow)
        .with_nonce_secret(&nonce_secret);
    let signer = open_result_signer(config, &service).await?;
    Ok(service.with_result_signer(signer))
}

/// File of the secret shared by all nodes for two-phase nonces.
pub const SERVICE_SECRET_FILE: &str = "service.key";
/// The service's result-signing key and certificate (issued by the built-in CA).
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
pub const SIGNING_CERT_FILE: &str = "signing-cert.pem";

/// Loads the result-signing key and certificate, creating them on first start (a fresh
/// RSA-2048 key certified by the built-in CA for "XKMS Service").
async fn open_result_signer(
    config: &Config,
    service: &XkmsService,
) -> anyhow::Result<xkms_xmlsec::MessageSigner> {
    let key_path = config.data_dir.join(SIGNING_KEY_FILE);
    let cert_path = config.data_dir.join(SIGNING_CERT_FILE);
    if !cert_path.exists() {
        let pkcs8 = xkms_service::keypool::generate(2048).context("generating the signing key")?;
        let pair = xkms_xmlsec::key_pair::rsa_key_pair_from_pkcs8(&pkcs8)?;
        let cert = service
            .issue_signing_certificate(&pair.modulus, &pair.exponent)
            .await?;
        // Key first (exclusively), then the certificate: a loser of a start-up race
        // loads the winner's pair.
        let key_pem = zeroize::Zeroizing::new(pem_encode("PRIVATE KEY", &pkcs8));
        if write_exclusive(&key_path, key_pem.as_bytes())? {
            write_exclusive(&cert_path, pem_encode("CERTIFICATE", &cert).as_bytes())?;
            tracing::info!(path = %cert_path.display(), "created the result-signing certificate");
        }
    }
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?,
    );
    let cert_pem = std::fs::read_to_string(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?;
    let key = zeroize::Zeroizing::new(
        pem_blocks(key_pem.as_bytes(), "PRIVATE KEY")
            .into_iter()
            .next()
            .context("signing key file holds no PRIVATE KEY")?,
    );
    let cert = pem_blocks(cert_pem.as_bytes(), "CERTIFICATE")
        .into_iter()
        .next()
        .context("signing certificate file holds no CERTIFICATE")?;
    let chain = vec![cert, service.ca().certificate_der().to_vec()];
    Ok(xkms_xmlsec::MessageSigner::rsa(&key, chain)?)
}

/// Creates `path` with `bytes`, mode 0600, only if it does not exist; whether it did.
fn write_exclusive(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(bytes)?;
            file.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// 32 secret bytes from `path`, created (0600, exclusively) on first start.
pub fn open_secret_file(path: &std::path::Path) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    if !path.exists() {
        let bytes = MasterKey::generate_bytes()?;
        if write_exclusive(path, &bytes)? {
            tracing::info!(path = %path.display(), "created a service secret");
        }
    }
    Ok(zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

fn processing(value: &str) -> Processing {
    // Checked by Config::check; synchronous is the safe fallback.
    Processing::parse(value).unwrap_or(Processing::Synchronous)
}

/// File of the escrow master key in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Loads the escrow master key, creating it (mode 0600, exclusively) on first start.
/// Every node of a deployment must see the same file (shared data directory or a copy).
pub fn open_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    let bytes = open_secret_file(&config.data_dir.join(MASTER_KEY_FILE))?;
    Ok(MasterKey::from_bytes(&bytes)?)
}

/// Loads the CA from the data directory, creating it on first start.
pub fn open_ca(config: &Config) -> anyhow::Result<Ca> {
    let params = CaParams {
        key_type: config.ca_key_type()?,
        common_name: config.ca.common_name.clone(),
        validity: Duration::days(config.ca.validity_days),
        ..CaParams::default()
    };
    let (ca, created) =
        Ca::load_or_create(&config.data_dir, &params, time::OffsetDateTime::now_utc())
            .with_context(|| format!("loading the CA from {}", config.data_dir.display()))?;
    if created {
        tracing::info!(dir = %config.data_dir.display(), subject = %ca.subject(), "created a new CA");
    }
    Ok(ca)
}

/// Reads the `[trust]` files: every PEM block (or a whole DER file) becomes one entry.
pub fn load_trust(config: &Config) -> anyhow::Result<xkms_service::validate::TrustConfig> {
    let read_all = |paths: &[std::path::PathBuf], label: &str| -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for path in paths {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let blocks = pem_blocks(&bytes, label);
            if blocks.is_empty() {
                out.push(bytes);
            } else {
                out.extend(blocks);
            }
        }
        Ok(out)
    };
    Ok(xkms_service::validate::TrustConfig {
        anchors: read_all(&config.trust.anchors, "CERTIFICATE")?,
        intermediates: read_all(&config.trust.intermediates, "CERTIFICATE")?,
        crls: read_all(&config.trust.crls, "X509 CRL")?,
    })
}

/// PEM armour around DER, 64 columns.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER contents of every PEM block labelled `label`.
pub(crate) fn pem_blocks(bytes: &[u8], label: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let Some(stop) = after.find(&end) else { break };
        let body: String = after[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body) {
            out.push(der);
        }
        rest = &after[stop + end.len()..];
    }
    out
}

//! Start-up: open the store, load (or, for an empty store, create) the key files, build
//! the service.

use crate::config::Config;
use crate::keyfiles::{
    self, Creation, MASTER_KEY_FILE, SERVICE_SECRET_FILE, SIGNING_CERT_FILE, SIGNING_KEY_FILE,
};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use time::Duration;
use xkms_ca::pem::{self, Label};
use xkms_service::escrow::MasterKey;
use xkms_service::keypool::KeyPool;
use xkms_service::{Escrow, Policy, Processing, ServiceConfig, SystemClock, XkmsService};

/// The service as an admin command needs it: no key pool (nothing to pre-generate).
pub async fn admin_service(config: &Config) -> anyhow::Result<XkmsService> {
    let mut config = config.clone();
    config.policy.key_pool_size = 0;
    build_service(&config, config.server.listen).await
}

/// Opens everything `config` names; `bound` is the address the server listens on (it
/// decides the default Service URI). Key files are created only for a store without
/// records ([`keyfiles`]); records an earlier version wrote unsealed are sealed.
pub async fn build_service(config: &Config, bound: SocketAddr) -> anyhow::Result<XkmsService> {
    keyfiles::prepare_data_dir(&config.data_dir)?;
    let url = config.database_url();
    let store = xkms_store::open_store(&url)
        .await
        .with_context(|| format!("opening database {}", xkms_store::redact_url(&url)))?;
    let creation = Creation::for_store(store.as_ref(), &url).await?;
    let ca = crate::ca_key::open_ca(config, &creation)?;
    let service_config = ServiceConfig {
        service_uri: config.service_uri(bound),
        policy: Policy {
            certificate_validity: Duration::days(config.policy.certificate_validity_days),
            authorization_lifetime: Duration::days(config.policy.authorization_lifetime_days),
            min_rsa_bits: config.policy.min_rsa_bits,
            register: processing("policy.register", &config.policy.register)?,
            reissue: processing("policy.reissue", &config.policy.reissue)?,
            revoke: processing("policy.revoke", &config.policy.revoke)?,
            recover: processing("policy.recover", &config.policy.recover)?,
            generated_key_bits: config.policy.generated_key_bits,
            private_key_cipher: config.private_key_cipher_uri()?,
            revoke_on_recover: config.policy.revoke_on_recover,
            result_retention: Duration::hours(config.policy.result_retention_hours),
            lockout: xkms_service::LockoutPolicy {
                after_failures: config.policy.lockout_after_failures,
                per_address: config.policy.lockout_after_failures_per_address,
                window: Duration::seconds(config.policy.lockout_seconds),
            },
            max_pending_per_identity: config.policy.max_pending_per_identity,
            max_pending_total: config.policy.max_pending_total,
            ..Policy::default()
        },
        trust: load_trust(config)?,
        protocol: xkms_service::ProtocolPolicy {
            trusted_signers: read_certificates(&config.protocol.trusted_signers)?,
            ..config.protocol_policy()?
        },
    };
    let master_key = MasterKey::from_bytes(&keyfiles::open_secret(
        &config.data_dir,
        MASTER_KEY_FILE,
        "the master key",
        &creation,
    )?)?;
    let escrow = Escrow {
        key_pool: KeyPool::start(
            config.policy.key_pool_size,
            config.policy.generated_key_bits,
        ),
    };
    let nonce_secret = keyfiles::open_secret(
        &config.data_dir,
        SERVICE_SECRET_FILE,
        "the two-phase nonce secret",
        &creation,
    )?;
    let service = XkmsService::new(
        store,
        Arc::new(ca),
        Arc::new(SystemClock),
        service_config,
        master_key,
    )
    .with_escrow(escrow)
    .with_nonce_secret(&nonce_secret);
    service
        .seal_legacy_records()
        .await
        .context("sealing records of an earlier version under the master key (is master.key the one of this store?)")?;
    let signer = open_result_signer(config, &service, &creation).await?;
    Ok(service.with_result_signer(signer))
}

/// Loads the result-signing key and certificate, creating them on first start (a fresh
/// RSA-2048 key certified by the built-in CA for "XKMS Service").
async fn open_result_signer(
    config: &Config,
    service: &XkmsService,
    creation: &Creation,
) -> anyhow::Result<xkms_xmlsec::MessageSigner> {
    let (key_path, cert_path) = keyfiles::signing_files(&config.data_dir);
    if !key_path.exists() {
        keyfiles::may_create_signing_key(&key_path, creation)?;
        let pkcs8 = xkms_service::keypool::generate(2048).context("generating the signing key")?;
        let pair = xkms_xmlsec::key_pair::rsa_key_pair_from_pkcs8(&pkcs8)?;
        let cert = service
            .issue_signing_certificate(&pair.modulus, &pair.exponent)
            .await?;
        // Key first, then the certificate, each published atomically and exclusively: a
        // loser of a start-up race loads the winner's pair.
        let key_pem = zeroize::Zeroizing::new(pem::encode(Label::PrivateKey, &pkcs8));
        if xkms_ca::publish_exclusive(
            &config.data_dir,
            SIGNING_KEY_FILE,
            key_pem.as_bytes(),
            0o600,
        )? {
            xkms_ca::publish_exclusive(
                &config.data_dir,
                SIGNING_CERT_FILE,
                pem::encode(Label::Certificate, &cert).as_bytes(),
                0o600,
            )?;
            tracing::info!(path = %cert_path.display(), "created the result-signing certificate");
        }
    }
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?,
    );
    let cert_pem = std::fs::read_to_string(&cert_path).with_context(|| {
        format!(
            "reading {} (restore it with its key from the backup)",
            cert_path.display()
        )
    })?;
    let key = pem::decode_first(key_pem.as_bytes(), &[Label::PrivateKey])
        .with_context(|| key_path.display().to_string())?
        .with_context(|| format!("{} holds no PRIVATE KEY", key_path.display()))?;
    let cert = pem::decode_all(cert_pem.as_bytes(), Label::Certificate)
        .with_context(|| cert_path.display().to_string())?
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no CERTIFICATE", cert_path.display()))?;
    let chain = vec![cert, service.ca().certificate_der().to_vec()];
    xkms_xmlsec::MessageSigner::rsa(&key, chain).with_context(|| {
        format!(
            "{} does not fit {}",
            key_path.display(),
            cert_path.display()
        )
    })
}

/// `Config::check` refuses a bad value at load; a configuration built otherwise fails
/// here rather than falling back to some processing the operator did not choose.
fn processing(name: &str, value: &str) -> anyhow::Result<Processing> {
    Processing::parse(value).with_context(|| format!("{name}: one of sync, async, approval"))
}

/// Every certificate (PEM blocks, or a whole DER file) of `paths`.
fn read_certificates(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    read_pem_files(paths, Label::Certificate)
}

/// Every PEM block labelled `label` of `paths` (a file without one is taken as DER).
fn read_pem_files(paths: &[std::path::PathBuf], label: Label) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        out.extend(pem_or_der(bytes, label).with_context(|| path.display().to_string())?);
    }
    Ok(out)
}

/// The blocks labelled `label` of a file's contents; a file without any PEM block is one
/// DER object.
pub(crate) fn pem_or_der(bytes: Vec<u8>, label: Label) -> Result<Vec<Vec<u8>>, pem::PemError> {
    let blocks = pem::decode_all(&bytes, label)?;
    Ok(if blocks.is_empty() {
        vec![bytes]
    } else {
        blocks
    })
}

/// Reads the `[trust]` files: every PEM block (or a whole DER file) becomes one entry.
pub fn load_trust(config: &Config) -> anyhow::Result<xkms_service::TrustConfig> {
    Ok(xkms_service::TrustConfig {
        anchors: read_pem_files(&config.trust.anchors, Label::Certificate)?,
        intermediates: read_pem_files(&config.trust.intermediates, Label::Certificate)?,
        crls: read_pem_files(&config.trust.crls, Label::X509Crl)?,
    })
}

//! What Register, Reissue and Recover share: the [`Issuer`] context they run in, and
//! the steps of issuing a certificate (key checks, a serial reserved before signing
//! ([`SerialPool`]), the
//! CA's signature off the async workers, the store record and the KeyBinding answered).

use crate::authenticate::AuthenticationVerified;
use crate::clock::Clock;
use crate::config::Policy;
use crate::error::ServiceError;
use crate::escrow::{Escrow, MasterKey};
use crate::guard::Guard;
use crate::ids::IdSource;
use crate::respond::{BindingMaterial, describe, valid_status};
use crate::store::{CertificateRecord, Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;
use xkms_ca::{Ca, IssueRequest, IssuedCertificate, RsaPublicKey, Serial, XkmsKeyUsage};
use xkms_proto::{
    KeyBinding, KeyBindingAbstract, KeyUsage, PrivateKey, RsaKeyPair, write_rsa_key_pair,
};
use zeroize::Zeroizing;

/// How many fresh serials to try before giving up (a 128-bit collision is practically
/// impossible; a duplicate means a store problem worth surfacing).
const SERIAL_ATTEMPTS: usize = 3;

/// What Register, Reissue and Recover use: the store, the CA, the clock, identifiers,
/// the master key (escrowed keys are sealed under it), the key pool, the policy and the
/// authentication checks. Nothing of the protocol options, the nonce key or the caches.
pub(crate) struct Issuer<'a> {
    pub store: &'a dyn Store,
    /// Shared: the CA signs on a blocking thread.
    pub ca: &'a Arc<Ca>,
    pub clock: &'a dyn Clock,
    pub ids: IdSource,
    pub master_key: &'a MasterKey,
    /// Key pool; without it service-generated keys and Recover are off.
    pub escrow: Option<&'a Escrow>,
    pub policy: &'a Policy,
    pub guard: Guard<'a>,
    /// For result headers.
    pub service_uri: &'a str,
    /// Dropped at once when a recovery revokes.
    pub validate_cache: &'a crate::validate_cache::ValidateCache,
    pub serials: &'a SerialPool,
}

/// Refuses a key outside the policy's size range before any signature work.
pub(crate) fn check_key_size(policy: &Policy, key: &RsaPublicKey) -> Result<(), ServiceError> {
    let bits = key.bits();
    let minimum = policy.min_rsa_bits;
    if bits < minimum {
        return Err(ServiceError::KeyTooSmall { bits, minimum });
    }
    if bits > xkms_ca::MAX_RSA_BITS {
        return Err(ServiceError::KeyTooLarge {
            bits,
            maximum: xkms_ca::MAX_RSA_BITS,
        });
    }
    Ok(())
}

/// Refuses a key whose binding was revoked for key compromise: a compromised key
/// stays dead, whoever asks and under whichever names.
pub(crate) async fn refuse_compromised_key(
    store: &dyn Store,
    key: &RsaPublicKey,
) -> Result<(), ServiceError> {
    if store
        .key_compromised(&crate::identity::key_fingerprint(key))
        .await?
    {
        return Err(ServiceError::Refused(
            "this key was revoked for key compromise",
        ));
    }
    Ok(())
}

/// `PrivateKey`: the RSAKeyPair encrypted under the authorization's 0x04 key, in the
/// string preparation the client authenticated with.
pub(crate) fn private_key_for(
    policy: &Policy,
    auth: &AuthenticationVerified,
    pair: &RsaKeyPair,
) -> Result<PrivateKey, ServiceError> {
    let cipher = &policy.private_key_cipher;
    let len = xkms_xmlsec::encryption::key_length(cipher).ok_or(ServiceError::Internal(
        "configured private-key cipher is unknown",
    ))?;
    let kek = auth
        .private_key_encryption_key(len)
        .ok_or(ServiceError::Internal(
            "stored key-encryption key is too short",
        ))?;
    let plaintext = Zeroizing::new(write_rsa_key_pair(pair));
    let encrypted_data =
        xkms_xmlsec::encryption::encrypt_private_key_data(plaintext.as_bytes(), kek, cipher)
            .map_err(ServiceError::PrivateKeyEncryption)?;
    Ok(PrivateKey { encrypted_data })
}

/// Takes a serial reserved in the store (before anything is signed with it), then has
/// the CA sign.
pub(crate) async fn issue_certificate(
    store: &dyn Store,
    ca: &Arc<Ca>,
    serials: &SerialPool,
    request: &IssueRequest,
    now: OffsetDateTime,
) -> Result<IssuedCertificate, ServiceError> {
    let serial = serials.take(store, now).await?;
    // The CA's private-key operation takes milliseconds: run it off the async
    // workers, which meanwhile keep every other request (and its store round trips)
    // moving.
    let ca = ca.clone();
    let request = request.clone();
    let issued = tokio::task::spawn_blocking(move || ca.issue(&request, &serial, now))
        .await
        .map_err(|_| ServiceError::Internal("the signing task failed"))?;
    issued.map_err(|e| match e {
        xkms_ca::CaError::KeyTooSmall { bits } => ServiceError::KeyTooSmall {
            bits,
            minimum: xkms_ca::MIN_RSA_BITS,
        },
        xkms_ca::CaError::InvalidPublicKey { .. } => {
            ServiceError::Refused("the public key is not acceptable")
        }
        other => ServiceError::Ca(other),
    })
}

/// The most serials a node reserves in one transaction.
pub const SERIAL_BATCH: usize = 32;

/// Serials reserved in the store ahead of their use. Boulder's rule still holds: each
/// serial is recorded durably before anything is signed with it, and handed out once.
/// A busy node reserves up to [`SERIAL_BATCH`] in one transaction (the batch doubles
/// from 1 with every refill), so an issuance waits for one commit (its own record), not
/// two; a node that stops leaves the rest of its batch reserved and unused, which is
/// harmless: a reserved serial is never handed out again, by any node.
pub struct SerialPool {
    state: tokio::sync::Mutex<PoolState>,
}

struct PoolState {
    reserved: Vec<Serial>,
    next_batch: usize,
}

impl Default for SerialPool {
    fn default() -> Self {
        SerialPool {
            state: tokio::sync::Mutex::new(PoolState {
                reserved: Vec::new(),
                next_batch: 1,
            }),
        }
    }
}

impl SerialPool {
    /// A reserved serial, never handed out before; reserves a batch when none is left.
    pub(crate) async fn take(
        &self,
        store: &dyn Store,
        now: OffsetDateTime,
    ) -> Result<Serial, ServiceError> {
        // Held across the refill: concurrent callers wait for the one batch.
        let mut state = self.state.lock().await;
        if state.reserved.is_empty() {
            let n = state.next_batch;
            state.reserved = reserve_serials(store, n, now).await?;
            state.next_batch = (n * 2).min(SERIAL_BATCH);
        }
        state
            .reserved
            .pop()
            .ok_or(ServiceError::Internal("no serial was reserved"))
    }
}

async fn reserve_serials(
    store: &dyn Store,
    n: usize,
    now: OffsetDateTime,
) -> Result<Vec<Serial>, ServiceError> {
    for _ in 0..SERIAL_ATTEMPTS {
        let serials = (0..n)
            .map(|_| Serial::random())
            .collect::<Result<Vec<_>, _>>()?;
        match store.reserve_serials(&serials, now).await {
            Ok(()) => return Ok(serials),
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::Internal("could not reserve unique serials"))
}

/// A `KeyBinding` with Status Valid (all four reasons) for a freshly issued
/// certificate, KeyInfo per RespondWith; and whether something asked for is missing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn valid_key_binding(
    ca: &Ca,
    respond_with: &[xkms_proto::RespondWith],
    binding_id: &str,
    key_name: Option<&str>,
    key: &RsaPublicKey,
    certificate: &IssuedCertificate,
    key_usage: &[KeyUsage],
    use_key_with: &[xkms_proto::UseKeyWith],
    private_key_handled: bool,
) -> (KeyBinding, bool) {
    let chain = vec![ca.certificate_der().to_vec()];
    let described = describe(
        respond_with,
        &BindingMaterial {
            key_name,
            modulus: &key.modulus,
            exponent: &key.exponent,
            certificate: Some(&certificate.der),
            chain: &chain,
        },
        private_key_handled,
    );
    let binding = KeyBinding {
        core: KeyBindingAbstract {
            id: Some(binding_id.to_owned()),
            key_info: described.key_info,
            key_usage: key_usage.to_vec(),
            use_key_with: use_key_with.to_vec(),
        },
        validity_interval: Some(crate::respond::validity_interval(
            certificate.not_before,
            certificate.not_after,
        )),
        status: valid_status(),
    };
    (binding, described.incomplete)
}

/// The store record of a certificate the CA just issued.
pub(crate) fn certificate_record(
    binding_id: &str,
    certificate: &IssuedCertificate,
    now: OffsetDateTime,
) -> CertificateRecord {
    CertificateRecord {
        serial: certificate.serial,
        binding_id: binding_id.to_owned(),
        der: certificate.der.clone(),
        ski: certificate_ski(&certificate.der),
        not_before: certificate.not_before,
        not_after: certificate.not_after,
        issued_at: now,
        revoked_at: None,
        revocation_reason: None,
    }
}

/// The SubjectKeyIdentifier of a certificate we issued (empty if it has none).
pub(crate) fn certificate_ski(der: &[u8]) -> Vec<u8> {
    xkms_ca::parse_certificate(der)
        .ok()
        .and_then(|info| info.subject_key_identifier)
        .unwrap_or_default()
}

pub(crate) fn xkms_key_usage(usage: &KeyUsage) -> XkmsKeyUsage {
    match usage {
        KeyUsage::Signature => XkmsKeyUsage::Signature,
        KeyUsage::Encryption => XkmsKeyUsage::Encryption,
        KeyUsage::Exchange => XkmsKeyUsage::Exchange,
    }
}

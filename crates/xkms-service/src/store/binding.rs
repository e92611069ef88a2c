//! Key bindings, their certificates and serials, and the composite changes that write them.

use super::StoreError;
use super::audit::AuditEvent;
use super::replay::ReplayMark;
use async_trait::async_trait;
use time::OffsetDateTime;
use xkms_ca::Serial;
use xkms_proto::{Application, KeyUsage};

/// Status of a key binding in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingStatus {
    Valid,
    Revoked,
}

impl BindingStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            BindingStatus::Valid => "valid",
            BindingStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<BindingStatus> {
        match s {
            "valid" => Some(BindingStatus::Valid),
            "revoked" => Some(BindingStatus::Revoked),
            _ => None,
        }
    }
}

/// A UseKeyWith pair as stored: application and normalised identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredUseKeyWith {
    pub application: Application,
    /// Normalised for matching (lower-case e-mail/DNS, RFC 4514 DN).
    pub identifier: String,
}

/// A key binding: a public key bound to names and uses, backed by certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBindingRecord {
    /// The binding's Id (as returned in `KeyBinding/@Id`).
    pub id: String,
    pub key_name: Option<String>,
    /// RSA modulus / exponent, big-endian unsigned.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo DER: the lookup key for KeyValue queries.
    pub key_fingerprint: Vec<u8>,
    /// XKMS key usages granted (none: every usage).
    pub key_usage: Vec<KeyUsage>,
    pub use_key_with: Vec<StoredUseKeyWith>,
    pub status: BindingStatus,
    pub revocation_code_identifier: Option<Vec<u8>>,
    pub authorization_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl KeyBindingRecord {
    /// The binding's UseKeyWith pairs as message elements (normalised identifiers).
    pub fn use_key_with_elements(&self) -> Vec<xkms_proto::UseKeyWith> {
        self.use_key_with
            .iter()
            .map(|u| xkms_proto::UseKeyWith {
                application: u.application.clone(),
                identifier: u.identifier.clone(),
            })
            .collect()
    }
}

/// A certificate the CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Serial (stored as its 32 upper-case hex digits).
    pub serial: Serial,
    pub binding_id: String,
    pub der: Vec<u8>,
    /// SubjectKeyIdentifier of the certificate (lookup key for `ds:X509SKI`).
    pub ski: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub issued_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// RFC 5280 CRLReason code (1 = keyCompromise …).
    pub revocation_reason: Option<u8>,
}

/// Everything a successful registration writes, atomically.
#[derive(Debug, Clone)]
pub struct Registration {
    pub binding: KeyBindingRecord,
    pub certificate: CertificateRecord,
    /// The authorization used (equal to `binding.authorization_id`); its use count is
    /// incremented inside the transaction and the whole registration fails with
    /// `Conflict` if it is used up, expired, or not of purpose `register`.
    pub authorization_id: Option<String>,
    /// The service-generated private key, encrypted under the service master key with
    /// the binding id as associated data (escrow for Recover). `None` for
    /// client-generated keys.
    pub escrowed_private_key: Option<Vec<u8>>,
    /// Single-use values this registration consumes (`StoreError::Replayed` if one was
    /// already remembered).
    pub replay: Vec<ReplayMark>,
    pub audit: Vec<AuditEvent>,
}

/// A new certificate for an existing, valid binding (Reissue).
#[derive(Debug, Clone)]
pub struct Reissue {
    pub binding_id: String,
    /// Its serial must have been reserved.
    pub certificate: CertificateRecord,
    /// Counted like in [`Registration`] (purpose `register`), when present.
    pub authorization_id: Option<String>,
    /// As in [`Registration`].
    pub replay: Vec<ReplayMark>,
    pub audit: Vec<AuditEvent>,
}

/// Revocation of a binding and every certificate of it not yet revoked.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub binding_id: String,
    pub at: OffsetDateTime,
    /// RFC 5280 CRLReason for the certificates (1 = keyCompromise).
    pub reason: u8,
    /// As in [`Registration`].
    pub replay: Vec<ReplayMark>,
    pub audit: Vec<AuditEvent>,
}

/// A recovery of an escrowed key: consumes the (single-use) recover authorization and,
/// by policy, revokes the binding — atomically.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub binding_id: String,
    /// Purpose `recover`; counted like in [`Registration`].
    pub authorization_id: String,
    /// When set, the binding is revoked as by [`Revocation`] in the same transaction.
    pub revoke: Option<Revocation>,
    /// As in [`Registration`].
    pub replay: Vec<ReplayMark>,
    pub audit: Vec<AuditEvent>,
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificate {
    pub serial: Serial,
    pub revoked_at: OffsetDateTime,
    pub reason: u8,
}

/// How to find key bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingSelector {
    Id(String),
    KeyFingerprint(Vec<u8>),
    KeyName(String),
    /// Any of these (application, normalised identifier) pairs.
    UseKeyWith(Vec<StoredUseKeyWith>),
    CertificateSerial(Serial),
    /// SubjectKeyIdentifier of any of the binding's certificates.
    CertificateSki(Vec<u8>),
}

/// Key bindings, certificates and serials.
#[async_trait]
pub trait KeyBindingStore: Send + Sync {
    /// Records serials before anything is signed with them (Boulder's rule: a serial is
    /// never used twice, even if signing or the later commit fails): all of them in one
    /// transaction, or none (`Duplicate` when one is already recorded).
    async fn reserve_serials(
        &self,
        serials: &[Serial],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Writes binding, certificate, authorization use and audit events in one transaction.
    async fn commit_registration(&self, registration: &Registration) -> Result<(), StoreError>;

    /// Bindings matching the selector, at most `limit`, oldest first.
    async fn find_bindings(
        &self,
        selector: &BindingSelector,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError>;

    /// Certificates of a binding, newest first.
    async fn certificates_of(&self, binding_id: &str)
    -> Result<Vec<CertificateRecord>, StoreError>;

    /// [`find_bindings`](Self::find_bindings), each binding with its certificates as
    /// [`certificates_of`](Self::certificates_of) lists them (newest first), read
    /// together: one statement per lookup, not one more per binding found (Locate and
    /// Validate). No default built from the two: a backend says how it reads them at once.
    async fn find_bindings_with_certificates(
        &self,
        selector: &BindingSelector,
        limit: usize,
    ) -> Result<Vec<(KeyBindingRecord, Vec<CertificateRecord>)>, StoreError>;

    /// Adds a certificate to a valid binding. `Conflict` if the binding is revoked, the
    /// serial unreserved, or the authorization unusable; `NotFound` if no such binding.
    async fn commit_reissue(&self, reissue: &Reissue) -> Result<(), StoreError>;

    /// Revokes a valid binding and its unrevoked certificates. `Conflict` if it is
    /// already revoked; `NotFound` if no such binding.
    async fn revoke_binding(&self, revocation: &Revocation) -> Result<(), StoreError>;

    /// The escrowed (master-key encrypted) private key of a binding, if any.
    async fn escrowed_key(&self, binding_id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` escrowed keys sealed in the first format (whose associated data
    /// did not name the binding), as (binding id, blob).
    async fn legacy_escrowed_keys(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Replaces a first-format escrow blob by one bound to its binding. `Conflict` if the
    /// row is not in the first format; `NotFound` if absent.
    async fn reseal_escrowed_key(&self, binding_id: &str, blob: &[u8]) -> Result<(), StoreError>;

    /// Whether a binding with this key (SHA-256 SPKI fingerprint) has a certificate
    /// revoked for key compromise.
    async fn key_compromised(&self, key_fingerprint: &[u8]) -> Result<bool, StoreError>;

    /// Whether the store holds anything the key files vouch for: an authorization, a
    /// key binding or a reserved serial (a certificate). A new CA or master key may only
    /// be created for a store without any.
    async fn holds_records(&self) -> Result<bool, StoreError>;

    /// Records a recovery (consumes the authorization; revokes if asked), atomically.
    async fn commit_recovery(&self, recovery: &Recovery) -> Result<(), StoreError>;

    /// Every revoked certificate (for the CRL), oldest revocation first.
    async fn revoked_certificates(&self) -> Result<Vec<RevokedCertificate>, StoreError>;

    /// Number of stored bindings (operations and tests). Counts every row: not for
    /// health checks (see [`ping`](Self::ping)).
    async fn count_bindings(&self) -> Result<u64, StoreError>;

    /// Whether the store answers: one cheap read (`/healthz`), whatever its size.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Where revocation stands: the number of revoked certificates and the newest
    /// revocation time. Any revocation on any node changes it (CRL and cache freshness).
    async fn revocation_generation(&self) -> Result<(u64, Option<OffsetDateTime>), StoreError>;

    /// A counter bumped in the same transaction as every revocation (by
    /// [`revoke_binding`](Self::revoke_binding) or [`commit_recovery`](Self::commit_recovery)),
    /// on any node: one cheap read tells a node whether anything was revoked since it
    /// last looked (the Validate cache).
    async fn revocation_counter(&self) -> Result<u64, StoreError>;

    /// The next CRL number: greater than every number handed out before, on any node, and
    /// at least `at_least`.
    async fn next_crl_number(&self, at_least: u64) -> Result<u64, StoreError>;
}

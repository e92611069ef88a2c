//! The storage contract of the registration authority.
//!
//! Every method is one atomic unit: an implementation runs it in a single database
//! transaction, so a failure leaves nothing half-written. Composite changes (a
//! registration = binding + certificate + authorization use + audit events) are one
//! method, as in Boulder's storage authority. Implementations live in `xkms-store`.

use async_trait::async_trait;
use time::OffsetDateTime;

/// What may go wrong in a store. Details go to the log, never to the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated (e.g. serial or binding id already present).
    #[error("duplicate {what}")]
    Duplicate { what: &'static str },
    /// The row to change does not exist (or no longer satisfies the precondition).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A precondition checked inside the transaction failed (e.g. authorization used up).
    #[error("conflict: {what}")]
    Conflict { what: &'static str },
    /// The backend failed (connection, I/O, corrupt row).
    #[error("store backend: {0}")]
    Backend(String),
}

/// What an authorization code may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Register and reissue.
    Register,
    /// Recover a private key.
    Recover,
}

impl Purpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Recover => "recover",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "register" => Some(Purpose::Register),
            "recover" => Some(Purpose::Recover),
            _ => None,
        }
    }
}

/// Key material derived from an authorization code's shared secret. The plain secret is
/// never stored. Both string preparations are kept (digest §7.1: REC SASLprep and the
/// legacy rule used by the REC examples and older clients).
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct DerivedSecrets {
    /// K_auth (key id 0x01), SASLprep.
    pub auth_key_saslprep: Vec<u8>,
    /// K_auth, legacy preparation.
    pub auth_key_legacy: Vec<u8>,
    /// 32 bytes of the 0x04 stream (a shorter KEK is a prefix), SASLprep.
    pub kek_saslprep: Vec<u8>,
    /// 32 bytes of the 0x04 stream, legacy preparation.
    pub kek_legacy: Vec<u8>,
}

impl DerivedSecrets {
    /// The authentication keys in the order a verifier should try them (REC first).
    pub fn auth_keys(&self) -> [(xkms_xmlsec::kdf::SecretPreparation, &[u8]); 2] {
        use xkms_xmlsec::kdf::SecretPreparation;
        [
            (SecretPreparation::SaslPrep, &self.auth_key_saslprep),
            (SecretPreparation::Legacy, &self.auth_key_legacy),
        ]
    }
}

impl std::fmt::Debug for DerivedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedSecrets(<redacted>)")
    }
}

/// An authorization code ("shared secret" of the seeds), created by an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: String,
    /// E-mail address (lower case) or DN (RFC 4514, as normalised by the CA crate).
    pub identity: String,
    pub purpose: Purpose,
    pub secrets: DerivedSecrets,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// `None` = unlimited until expiry.
    pub max_uses: Option<u32>,
    pub uses: u32,
}

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

/// A UseKeyWith pair as stored: application URI and normalised identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredUseKeyWith {
    pub application: String,
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
    /// XKMS KeyUsage URIs granted.
    pub key_usage: Vec<String>,
    pub use_key_with: Vec<StoredUseKeyWith>,
    pub status: BindingStatus,
    pub revocation_code_identifier: Option<Vec<u8>>,
    pub authorization_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A certificate the CA issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Serial, lower-case hex without leading zeros stripped (32 hex digits).
    pub serial: String,
    pub binding_id: String,
    pub der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub issued_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// RFC 5280 CRLReason code (1 = keyCompromise …).
    pub revocation_reason: Option<u8>,
}

/// An audit event, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    /// e.g. `authorization.created`, `certificate.issued`, `authorization.used`.
    pub kind: String,
    /// The request Id that caused it, if any.
    pub request_id: Option<String>,
    /// Binding id, serial, authorization id …
    pub subject: String,
    /// Free text without secrets.
    pub detail: String,
}

/// Everything a successful registration writes, atomically.
#[derive(Debug, Clone)]
pub struct Registration {
    pub binding: KeyBindingRecord,
    pub certificate: CertificateRecord,
    /// The authorization used; its use count is incremented inside the transaction and
    /// the whole registration fails with `Conflict` if it is used up or expired.
    pub authorization_id: Option<String>,
    pub audit: Vec<AuditEvent>,
}

/// How to find key bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingSelector {
    Id(String),
    KeyFingerprint(Vec<u8>),
    KeyName(String),
    /// Any of these (application, normalised identifier) pairs.
    UseKeyWith(Vec<StoredUseKeyWith>),
    CertificateSerial(String),
}

/// Authorization codes.
#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    async fn insert_authorization(
        &self,
        authorization: &Authorization,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Unexpired, not used-up authorizations for one of `identities` and `purpose`.
    async fn usable_authorizations(
        &self,
        identities: &[String],
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Vec<Authorization>, StoreError>;
}

/// Key bindings, certificates and serials.
#[async_trait]
pub trait KeyBindingStore: Send + Sync {
    /// Records a serial before anything is signed with it (Boulder's rule: a serial is
    /// never used twice, even if signing or the later commit fails).
    async fn reserve_serial(&self, serial: &str, now: OffsetDateTime) -> Result<(), StoreError>;

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

    /// Number of stored bindings (operations and tests).
    async fn count_bindings(&self) -> Result<u64, StoreError>;
}

/// Audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Most recent events first.
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
}

/// The whole store a service needs.
pub trait Store: AuthorizationStore + KeyBindingStore + AuditStore {}

impl<T: AuthorizationStore + KeyBindingStore + AuditStore> Store for T {}

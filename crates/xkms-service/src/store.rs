//! The storage contract of the registration authority.
//!
//! Every method is one atomic unit: an implementation runs it in a single database
//! transaction, so a failure leaves nothing half-written. Composite changes (a
//! registration = binding + certificate + authorization use + audit events) are one
//! method, as in Boulder's storage authority. Implementations live in `xkms-store`.

use async_trait::async_trait;
use time::OffsetDateTime;
pub use xkms_ca::Serial;
/// The vocabularies of stored records, re-exported so a store needs no other crate.
pub use xkms_proto::{Application, KeyUsage};

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
    /// A single-use value (an authentication value, a revocation code) written with
    /// the change was already remembered: the whole change is refused.
    #[error("single-use value already used")]
    Replayed,
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

/// The kind of a name an authorization grants (`xkmsd admin authorize --allow-name
/// TYPE:VALUE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// rfc822Name / S/MIME and PGP identifiers.
    Email,
    /// dNSName / TLS/HTTPS and TLS/SMTP identifiers.
    Dns,
    /// iPAddress / IPsec identifiers.
    Ip,
    /// uniformResourceIdentifier / TLS and XKMS identifiers.
    Uri,
    /// A certificate subject / PKIX identifiers.
    Dn,
    /// A `ds:KeyName`.
    KeyName,
}

impl NameKind {
    pub const ALL: [NameKind; 6] = [
        NameKind::Email,
        NameKind::Dns,
        NameKind::Ip,
        NameKind::Uri,
        NameKind::Dn,
        NameKind::KeyName,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            NameKind::Email => "email",
            NameKind::Dns => "dns",
            NameKind::Ip => "ip",
            NameKind::Uri => "uri",
            NameKind::Dn => "dn",
            NameKind::KeyName => "keyname",
        }
    }

    pub fn parse(s: &str) -> Option<NameKind> {
        NameKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A name an authorization grants besides its identity, normalised (see
/// [`crate::names`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrantedName {
    pub kind: NameKind,
    pub value: String,
}

/// An authorization code ("shared secret" of the seeds), created by an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: String,
    /// E-mail address (lower case) or DN (RFC 4514, as normalised by the CA crate).
    /// Always granted.
    pub identity: String,
    pub purpose: Purpose,
    /// Further names a request authenticated by this code may put into a binding or
    /// certificate (normalised, no control characters).
    pub granted_names: Vec<GrantedName>,
    /// The [`DerivedSecrets`], sealed under the master key with the row's identity as
    /// associated data (`crate::secrets`). Empty for a row written before sealing (it
    /// authenticates nobody until the start-up re-encryption seals it).
    pub sealed_secrets: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// `None` = unlimited until expiry.
    pub max_uses: Option<u32>,
    pub uses: u32,
    /// When an operator revoked it (`xkmsd admin authorizations revoke`): from then on
    /// it authenticates nobody.
    pub revoked_at: Option<OffsetDateTime>,
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

/// A value that may be accepted once (an authentication SignatureValue, a revocation
/// code's hash), remembered until `expires_at` in the same transaction as the change it
/// authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayMark {
    pub kind: String,
    pub value: Vec<u8>,
    pub expires_at: OffsetDateTime,
}

/// What an audit event records (closed: every kind the service writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// `authorization.created`
    AuthorizationCreated,
    /// `authorization.used`
    AuthorizationUsed,
    /// `authorization.revoked` (by the operator)
    AuthorizationRevoked,
    /// `key.generated`
    KeyGenerated,
    /// `key.recovered`
    KeyRecovered,
    /// `keybinding.registered`
    KeyBindingRegistered,
    /// `keybinding.revoked`
    KeyBindingRevoked,
    /// `certificate.issued`
    CertificateIssued,
    /// `request.pending`
    RequestPending,
    /// `request.approved`
    RequestApproved,
    /// `request.rejected`
    RequestRejected,
    /// `request.completed`
    RequestCompleted,
    /// `request.refused`
    RequestRefused,
    /// `result.delivered`
    ResultDelivered,
    /// `pending.purged`
    PendingPurged,
    /// `authentication.failed`
    AuthenticationFailed,
    /// `authentication.locked`
    AuthenticationLocked,
    /// `authentication.unlocked`
    AuthenticationUnlocked,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuditKind; 18] = [
        AuditKind::AuthorizationCreated,
        AuditKind::AuthorizationUsed,
        AuditKind::AuthorizationRevoked,
        AuditKind::KeyGenerated,
        AuditKind::KeyRecovered,
        AuditKind::KeyBindingRegistered,
        AuditKind::KeyBindingRevoked,
        AuditKind::CertificateIssued,
        AuditKind::RequestPending,
        AuditKind::RequestApproved,
        AuditKind::RequestRejected,
        AuditKind::RequestCompleted,
        AuditKind::RequestRefused,
        AuditKind::ResultDelivered,
        AuditKind::PendingPurged,
        AuditKind::AuthenticationFailed,
        AuditKind::AuthenticationLocked,
        AuditKind::AuthenticationUnlocked,
    ];

    /// The stored (and hashed) form, e.g. `certificate.issued`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditKind::AuthorizationCreated => "authorization.created",
            AuditKind::AuthorizationUsed => "authorization.used",
            AuditKind::AuthorizationRevoked => "authorization.revoked",
            AuditKind::KeyGenerated => "key.generated",
            AuditKind::KeyRecovered => "key.recovered",
            AuditKind::KeyBindingRegistered => "keybinding.registered",
            AuditKind::KeyBindingRevoked => "keybinding.revoked",
            AuditKind::CertificateIssued => "certificate.issued",
            AuditKind::RequestPending => "request.pending",
            AuditKind::RequestApproved => "request.approved",
            AuditKind::RequestRejected => "request.rejected",
            AuditKind::RequestCompleted => "request.completed",
            AuditKind::RequestRefused => "request.refused",
            AuditKind::ResultDelivered => "result.delivered",
            AuditKind::PendingPurged => "pending.purged",
            AuditKind::AuthenticationFailed => "authentication.failed",
            AuditKind::AuthenticationLocked => "authentication.locked",
            AuditKind::AuthenticationUnlocked => "authentication.unlocked",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audit event, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    /// The request Id that caused it, if any.
    pub request_id: Option<String>,
    /// Binding id, serial, authorization id …
    pub subject: String,
    /// Free text without secrets.
    pub detail: String,
}

/// An audit event with its place in the hash chain: `hash` = SHA-256 over the previous
/// event's hash, `seq` and the event's fields ([`audit_hash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedAuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    pub event: AuditEvent,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The newest link of the audit chain (`seq` 0 and 32 zero bytes before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: Vec<u8>,
}

/// The hash of the chain before its first event.
pub const AUDIT_GENESIS: [u8; 32] = [0u8; 32];

/// The chain hash of `event` at position `seq` after an event hashed `prev`: SHA-256 of a
/// length-prefixed encoding, so no two different events hash the same input. Stores call
/// it when they append; `xkmsd admin audit --verify` recomputes it.
pub fn audit_hash(prev: &[u8], seq: u64, event: &AuditEvent) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"xkms audit v1\0");
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    field(prev);
    field(&seq.to_be_bytes());
    field(
        &event
            .at
            .unix_timestamp_nanos()
            .div_euclid(1_000)
            .to_be_bytes(),
    );
    field(event.kind.as_str().as_bytes());
    match &event.request_id {
        Some(id) => field(id.as_bytes()),
        None => field(b"\xff"),
    }
    field(event.subject.as_bytes());
    field(event.detail.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
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

/// State of an asynchronous (Pending) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingState {
    /// Waiting for an operator (`xkmsd admin pending approve|reject`).
    AwaitingApproval,
    /// Ready for a worker.
    Queued,
    /// Claimed by a worker until `lease_until`.
    Running,
    /// Finished; `result` holds the final result.
    Done,
    /// Refused by an operator; `result` holds the final (Sender/Refused) result.
    Rejected,
}

impl PendingState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingState::AwaitingApproval => "awaiting-approval",
            PendingState::Queued => "queued",
            PendingState::Running => "running",
            PendingState::Done => "done",
            PendingState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<PendingState> {
        match s {
            "awaiting-approval" => Some(PendingState::AwaitingApproval),
            "queued" => Some(PendingState::Queued),
            "running" => Some(PendingState::Running),
            "done" => Some(PendingState::Done),
            "rejected" => Some(PendingState::Rejected),
            _ => None,
        }
    }

    /// Whether the final result is available.
    pub fn is_final(&self) -> bool {
        matches!(self, PendingState::Done | PendingState::Rejected)
    }
}

/// A request answered `Pending`, durable across restarts and shared by all nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    /// The `Id` of the Pending result = the `ResponseId` clients quote.
    pub response_id: String,
    /// The `Id` of the original request.
    pub original_request_id: String,
    /// Operation name (`Register`, `Recover`, `Compound` …), for operators.
    pub operation: String,
    /// Who asked (identity the request named), for operators. No secrets.
    pub requester: String,
    pub state: PendingState,
    /// The original request document, verbatim (its signatures are re-verified when
    /// the job runs).
    pub document: String,
    /// The final result element (serialized XKMS), once final.
    pub result: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// While `Running`: until when the claiming node owns it.
    pub lease_until: Option<OffsetDateTime>,
    /// Counters for a compound request: (success, failure, pending) of its inner
    /// requests; `None` for a simple request.
    pub counters: Option<(u32, u32, u32)>,
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

    /// One authorization by id, whatever its state.
    async fn get_authorization(&self, id: &str) -> Result<Option<Authorization>, StoreError>;

    /// Up to `limit` authorizations written before secrets were sealed, with their
    /// derived secrets in the clear (start-up re-encryption only).
    async fn unsealed_authorizations(
        &self,
        limit: usize,
    ) -> Result<Vec<(Authorization, DerivedSecrets)>, StoreError>;

    /// Stores the sealed secrets of an unsealed authorization and erases the clear ones.
    /// `Conflict` if it is already sealed; `NotFound` if absent.
    async fn seal_authorization(&self, id: &str, sealed_secrets: &[u8]) -> Result<(), StoreError>;
}

/// Key bindings, certificates and serials.
#[async_trait]
pub trait KeyBindingStore: Send + Sync {
    /// Records a serial before anything is signed with it (Boulder's rule: a serial is
    /// never used twice, even if signing or the later commit fails).
    async fn reserve_serial(&self, serial: &Serial, now: OffsetDateTime) -> Result<(), StoreError>;

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

    /// Number of stored bindings (operations and tests).
    async fn count_bindings(&self) -> Result<u64, StoreError>;

    /// Where revocation stands: the number of revoked certificates and the newest
    /// revocation time. Any revocation on any node changes it (CRL and cache freshness).
    async fn revocation_generation(&self) -> Result<(u64, Option<OffsetDateTime>), StoreError>;

    /// The next CRL number: greater than every number handed out before, on any node, and
    /// at least `at_least`.
    async fn next_crl_number(&self, at_least: u64) -> Result<u64, StoreError>;
}

/// Which key bindings an operator lists (`xkmsd admin bindings list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingFilter {
    /// Only bindings whose KeyName or a UseKeyWith identifier contains this text
    /// (case-insensitive).
    pub name: Option<String>,
    /// Only revoked bindings.
    pub revoked_only: bool,
}

/// Which authorization codes an operator lists (`xkmsd admin authorizations list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationFilter {
    /// Only codes for this identity (normalised as stored).
    pub identity: Option<String>,
    /// Only codes that can still authenticate at this instant: not expired, used up or
    /// revoked.
    pub usable_at: Option<OffsetDateTime>,
}

/// What an operator's inventory commands read and change.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Bindings matching `filter`, oldest first (then by id), at most `limit`.
    async fn list_bindings(
        &self,
        filter: &BindingFilter,
        limit: usize,
    ) -> Result<Vec<KeyBindingRecord>, StoreError>;

    /// Authorizations matching `filter`, oldest first (then by id), at most `limit`.
    async fn list_authorizations(
        &self,
        filter: &AuthorizationFilter,
        limit: usize,
    ) -> Result<Vec<Authorization>, StoreError>;

    /// Revokes an authorization code at `at` with its audit event, in one transaction:
    /// from then on it authenticates nobody, and a registration that read it before
    /// fails when it commits. `Conflict` if it is already revoked; `NotFound` if absent.
    async fn revoke_authorization(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

/// Audit trail: a hash chain ([`audit_hash`]). Every append, in every transaction that
/// writes events, extends the chain under a lock on its head, so concurrent writers
/// (several nodes on one database) link one after the other.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Most recent events first.
    async fn recent_audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends events on their own, in one transaction (refusals and failed
    /// authentications: nothing else changes).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Chained events with `seq > after`, in chain order, at most `limit`.
    async fn audit_chain(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChainedAuditEvent>, StoreError>;

    /// The newest link.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;

    /// Events written before the chain existed (not covered by it).
    async fn unchained_audit_events(&self) -> Result<u64, StoreError>;
}

/// Asynchronous requests and their jobs, shared by every node.
#[async_trait]
pub trait PendingStore: Send + Sync {
    /// Jobs not finished (awaiting approval, queued or running): those of `requester`,
    /// and in total. One query.
    async fn open_pending_counts(&self, requester: &str) -> Result<(u64, u64), StoreError>;

    /// The number of jobs in each state (one query; `/metrics`).
    async fn pending_counts(&self) -> Result<Vec<(PendingState, u64)>, StoreError>;

    /// Records a new pending request. `Duplicate` if the response id exists.
    async fn insert_pending(
        &self,
        record: &PendingRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    async fn get_pending(&self, response_id: &str) -> Result<Option<PendingRecord>, StoreError>;

    /// Claims the oldest `Queued` job, or a `Running` one whose lease expired, for
    /// `lease` — exactly one claimant wins under concurrency (SKIP LOCKED or equivalent).
    async fn claim_pending(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<PendingRecord>, StoreError>;

    /// Moves a record from `from` to `to` (approve: AwaitingApproval→Queued; reject:
    /// AwaitingApproval→Rejected with a result; finish: Running→Done with a result).
    /// `Conflict` if the record is not in state `from`; `NotFound` if absent.
    #[allow(clippy::too_many_arguments)]
    async fn transition_pending(
        &self,
        response_id: &str,
        from: PendingState,
        to: PendingState,
        result: Option<&str>,
        counters: Option<(u32, u32, u32)>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Records in `state` (all when `None`), oldest first, at most `limit`.
    async fn list_pending(
        &self,
        state: Option<PendingState>,
        limit: usize,
    ) -> Result<Vec<PendingRecord>, StoreError>;

    /// Deletes a final record (its result was delivered). `Conflict` if it is not
    /// final; `NotFound` if absent.
    async fn delete_pending(&self, response_id: &str, audit: &AuditEvent)
    -> Result<(), StoreError>;

    /// Deletes every final record last updated before `before`; how many. An audit event
    /// `audit` is written when any was deleted.
    async fn purge_pending(
        &self,
        before: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` (response id, result) whose result is not sealed (`sealed:` prefix),
    /// written before results were sealed.
    async fn unsealed_pending_results(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Replaces an unsealed result by its sealed form. `Conflict` if the stored result
    /// is already sealed or absent.
    async fn seal_pending_result(&self, response_id: &str, sealed: &str) -> Result<(), StoreError>;
}

/// Single-use values with an expiry: request Ids (replay window) and two-phase nonces.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Remembers `value` of `kind` until `expires_at`. `Ok(true)` the first time,
    /// `Ok(false)` if it was already remembered and has not expired. Expired entries
    /// may be purged by the same call.
    async fn remember_once(
        &self,
        kind: &str,
        value: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Whether `value` of `kind` is remembered and has not expired (read only).
    async fn is_remembered(
        &self,
        kind: &str,
        value: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// A subject of failed authentications — an identity (`id:…`), a binding's revocation
/// code (`binding:…`), a client address (`ip:…`) — with the number of failures that locks
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSubject {
    pub subject: String,
    pub threshold: u32,
}

/// The failures recorded for a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub subject: String,
    /// Failures since the count last restarted (a success, or a quiet window).
    pub failures: u32,
    pub last_failure: OffsetDateTime,
    /// While in the future, every authentication of the subject is refused.
    pub locked_until: Option<OffsetDateTime>,
}

/// Failed authentications and lockouts, shared by every node (brute-force limits).
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// The records of those `subjects` that have any.
    async fn failure_records(&self, subjects: &[String]) -> Result<Vec<FailureRecord>, StoreError>;

    /// One more failure for each subject, and `events` appended, in one transaction. The
    /// count restarts when the subject's last failure is older than `window`; a subject
    /// whose count reaches its threshold is locked until `now + window`. Returns the
    /// subjects locked by this call.
    async fn record_failures(
        &self,
        subjects: &[FailureSubject],
        events: &[AuditEvent],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<Vec<String>, StoreError>;

    /// Forgets the failures of `subjects` (a successful authentication).
    async fn clear_failures(&self, subjects: &[String]) -> Result<(), StoreError>;

    /// Operator: the subjects locked at `now`.
    async fn locked_subjects(&self, now: OffsetDateTime) -> Result<Vec<FailureRecord>, StoreError>;

    /// Operator: lifts the lock of `subject` and forgets its failures, audited. Whether
    /// it had a record.
    async fn unlock(&self, subject: &str, audit: &AuditEvent) -> Result<bool, StoreError>;
}

/// The whole store a service needs.
pub trait Store:
    AuthorizationStore
    + KeyBindingStore
    + AuditStore
    + PendingStore
    + ReplayStore
    + LockoutStore
    + InventoryStore
{
}

impl<
    T: AuthorizationStore
        + KeyBindingStore
        + AuditStore
        + PendingStore
        + ReplayStore
        + LockoutStore
        + InventoryStore,
> Store for T
{
}

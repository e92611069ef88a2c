//! Authorization codes: what an administrator creates and requests authenticate with.

use super::StoreError;
use super::audit::AuditEvent;
use async_trait::async_trait;
use time::OffsetDateTime;

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

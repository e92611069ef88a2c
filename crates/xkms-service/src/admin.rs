//! Operator actions: authorization codes ("shared secrets" of the seeds).

use crate::clock::Clock;
use crate::config::Policy;
use crate::error::ServiceError;
use crate::escrow::MasterKey;
use crate::identity::normalize_authorization_identity;
use crate::ids::IdSource;
use crate::store::{AuditEvent, Authorization, DerivedSecrets, GrantedName, Purpose, Store};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::Duration;
use xkms_xmlsec::kdf::{KeyId, SecretPreparation, SharedSecret, derive};
use zeroize::Zeroizing;

/// Bytes of the 0x04 stream kept per preparation: enough for AES-256, and every shorter
/// KEK (3DES 24, AES-128 16) is a prefix of it.
const KEK_BYTES: usize = 32;

/// Secrets shorter than this (in characters) get a warning: K_auth is an HMAC of the
/// secret, so whoever sees one authenticated request can guess offline.
pub const SHORT_SECRET_CHARS: usize = 12;

/// Characters of a generated code: 20 of RFC 4648 base32 = 100 bits.
const GENERATED_CODE_CHARS: usize = 20;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub identity: String,
    pub purpose: Purpose,
    /// Defaults to the policy's authorization lifetime.
    pub lifetime: Option<Duration>,
    pub max_uses: Option<u32>,
    /// Names granted besides the identity (see [`crate::names`]); normalised again here.
    pub granted_names: Vec<GrantedName>,
}

/// A fresh authorization code of 100 random bits: 20 base32 characters in groups of
/// five joined by `-` (the dashes are part of the code).
pub fn generate_authorization_code() -> Result<Zeroizing<String>, ServiceError> {
    let mut bytes = Zeroizing::new([0u8; GENERATED_CODE_CHARS]);
    SystemRandom::new()
        .fill(&mut *bytes)
        .map_err(|_| ServiceError::Internal("no randomness for an authorization code"))?;
    let mut code = Zeroizing::new(String::with_capacity(GENERATED_CODE_CHARS + 3));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            code.push('-');
        }
        // 5 bits of each byte: 256 is a multiple of 32, so every symbol is equally likely.
        code.push(char::from(BASE32[usize::from(b & 0x1f)]));
    }
    Ok(code)
}

/// Whether a secret is short enough to deserve a warning.
pub fn is_short_secret(secret: &str) -> bool {
    secret.chars().count() < SHORT_SECRET_CHARS
}

/// What creating an authorization code uses: the store, the clock, identifiers, the
/// master key (the derived keys are sealed under it) and the policy's lifetimes.
pub(crate) struct Authorizer<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub ids: IdSource,
    pub master_key: &'a MasterKey,
    pub policy: &'a Policy,
}

/// Creates an authorization code for `identity`. Only keys derived from `secret` are
/// stored, never the secret itself.
pub(crate) async fn create_authorization(
    cx: &Authorizer<'_>,
    request: &NewAuthorization,
    secret: &SharedSecret,
) -> Result<Authorization, ServiceError> {
    let identity = normalize_authorization_identity(&request.identity).ok_or(
        ServiceError::InvalidRequest("identity must be an e-mail address or an X.509 name"),
    )?;
    let mut granted_names: Vec<GrantedName> = Vec::new();
    for name in &request.granted_names {
        let name = crate::names::granted_name(name.kind, &name.value)?;
        // The identity is granted anyway.
        let is_identity = name.value == identity
            && matches!(
                name.kind,
                crate::store::NameKind::Email | crate::store::NameKind::Dn
            );
        if !is_identity && !granted_names.contains(&name) {
            granted_names.push(name);
        }
    }
    let now = cx.clock.now();
    let secrets = derive_secrets(secret)?;
    let mut authorization = Authorization {
        id: cx.ids.message_id(),
        identity,
        purpose: request.purpose,
        granted_names,
        sealed_secrets: Vec::new(),
        created_at: now,
        expires_at: now + request.lifetime.unwrap_or(cx.policy.authorization_lifetime),
        // A recovery code is single-use unless the operator says otherwise.
        max_uses: request.max_uses.or(match request.purpose {
            Purpose::Recover => Some(cx.policy.recover_authorization_uses),
            Purpose::Register => None,
        }),
        uses: 0,
        revoked_at: None,
    };
    authorization.sealed_secrets =
        crate::secrets::seal_authorization_secrets(cx.master_key, &authorization, &secrets)?;
    let granted: Vec<String> = authorization
        .granted_names
        .iter()
        .map(|g| format!("{}:{}", g.kind.as_str(), g.value))
        .collect();
    let audit = AuditEvent {
        at: now,
        kind: crate::store::AuditKind::AuthorizationCreated,
        request_id: None,
        subject: authorization.id.clone(),
        detail: format!(
            "{} for {} until {}{}",
            request.purpose.as_str(),
            authorization.identity,
            authorization.expires_at,
            if granted.is_empty() {
                String::new()
            } else {
                format!(", also granting {}", granted.join(", "))
            }
        ),
    };
    cx.store
        .insert_authorization(&authorization, &audit)
        .await?;
    Ok(authorization)
}

/// Derives everything the service needs to verify and answer a holder of `secret`.
pub fn derive_secrets(secret: &SharedSecret) -> Result<DerivedSecrets, ServiceError> {
    let sasl = secret
        .prepare(SecretPreparation::SaslPrep)
        .map_err(|_| ServiceError::InvalidRequest("the secret is not a valid SASLprep string"))?;
    let legacy = secret
        .prepare(SecretPreparation::Legacy)
        .map_err(|_| ServiceError::InvalidRequest("the secret cannot be prepared"))?;
    Ok(DerivedSecrets {
        auth_key_saslprep: derive(&sasl, KeyId::Authentication, 20).to_vec(),
        auth_key_legacy: derive(&legacy, KeyId::Authentication, 20).to_vec(),
        kek_saslprep: derive(&sasl, KeyId::PrivateKeyEncryption, KEK_BYTES).to_vec(),
        kek_legacy: derive(&legacy, KeyId::PrivateKeyEncryption, KEK_BYTES).to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_long_random_and_grouped() {
        let a = generate_authorization_code().unwrap();
        let b = generate_authorization_code().unwrap();
        assert_ne!(*a, *b);
        assert_eq!(a.len(), 23);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.len(), 4);
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.bytes().all(|c| BASE32.contains(&c)))
        );
        assert!(!is_short_secret(&a));
        assert!(is_short_secret("secret"));
    }
}

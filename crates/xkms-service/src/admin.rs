//! Operator actions: authorization codes ("shared secrets" of the seeds).

use crate::error::ServiceError;
use crate::identity::normalize_authorization_identity;
use crate::service::XkmsService;
use crate::store::{AuditEvent, Authorization, DerivedSecrets, Purpose};
use time::Duration;
use xkms_xmlsec::kdf::{KeyId, SecretPreparation, SharedSecret, derive};

/// Bytes of the 0x04 stream kept per preparation: enough for AES-256, and every shorter
/// KEK (3DES 24, AES-128 16) is a prefix of it.
const KEK_BYTES: usize = 32;

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub identity: String,
    pub purpose: Purpose,
    /// Defaults to the policy's authorization lifetime.
    pub lifetime: Option<Duration>,
    pub max_uses: Option<u32>,
}

impl XkmsService {
    /// Creates an authorization code for `identity`. Only keys derived from `secret` are
    /// stored, never the secret itself.
    pub async fn create_authorization(
        &self,
        request: &NewAuthorization,
        secret: &SharedSecret,
    ) -> Result<Authorization, ServiceError> {
        let identity = normalize_authorization_identity(&request.identity).ok_or(
            ServiceError::InvalidRequest("identity must be an e-mail address or an X.509 name"),
        )?;
        let now = self.clock.now();
        let secrets = derive_secrets(secret)?;
        let authorization = Authorization {
            id: self.ids.message_id(),
            identity,
            purpose: request.purpose,
            secrets,
            created_at: now,
            expires_at: now
                + request
                    .lifetime
                    .unwrap_or(self.config.policy.authorization_lifetime),
            // A recovery code is single-use unless the operator says otherwise.
            max_uses: request.max_uses.or(match request.purpose {
                Purpose::Recover => Some(self.config.policy.recover_authorization_uses),
                Purpose::Register => None,
            }),
            uses: 0,
        };
        let audit = AuditEvent {
            at: now,
            kind: "authorization.created".into(),
            request_id: None,
            subject: authorization.id.clone(),
            detail: format!(
                "{} for {} until {}",
                request.purpose.as_str(),
                authorization.identity,
                authorization.expires_at
            ),
        };
        self.store
            .insert_authorization(&authorization, &audit)
            .await?;
        Ok(authorization)
    }
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

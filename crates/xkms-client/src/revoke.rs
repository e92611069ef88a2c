//! Revoke (X-KRSS, seed T104): by revocation pass phrase or by authorization code.

use crate::krss::{BindingRef, authentication_template, sign_request};
use crate::register::result_kind;
use crate::{ClientError, XkmsClient};
use xkms_proto::{
    Request, RequestAbstract, RespondWith, ResultMessage, RevokeAuthorization, RevokeRequest,
    RevokeResult, StatusValue,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

/// The authority to revoke.
pub enum RevokeWith<'a> {
    /// The pass phrase given at registration: sends RevocationCode = HMAC-SHA1(0x02, phrase).
    Phrase(&'a SharedSecret),
    /// An authorization code: KeyBindingAuthentication.
    Secret(&'a SharedSecret),
}

/// What to revoke.
pub struct RevokeParams<'a> {
    pub binding: BindingRef,
    pub with: RevokeWith<'a>,
    pub preparation: SecretPreparation,
    pub respond_with: Vec<RespondWith>,
}

impl XkmsClient {
    /// Sends a RevokeRequest.
    pub async fn revoke(&self, params: &RevokeParams<'_>) -> Result<RevokeResult, ClientError> {
        let kb_id = self.new_id();
        let authorization = match params.with {
            RevokeWith::Phrase(phrase) => RevokeAuthorization::RevocationCode(
                phrase
                    .revocation_code(params.preparation)
                    .map_err(|e| ClientError::Secret(e.to_string()))?
                    .to_vec(),
            ),
            RevokeWith::Secret(_) => {
                RevokeAuthorization::Authentication(authentication_template(&kb_id))
            }
        };
        let request = RevokeRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: self.new_id(),
                    service: self.service_uri().to_owned(),
                    ..Default::default()
                },
                respond_with: params.respond_with.clone(),
                ..Default::default()
            },
            revoke_key_binding: params
                .binding
                .key_binding(kb_id, StatusValue::Indeterminate),
            authorization,
        };
        let secret = match params.with {
            RevokeWith::Secret(secret) => Some((secret, params.preparation)),
            RevokeWith::Phrase(_) => None,
        };
        let result = self
            .send_signed(&Request::Revoke(request), |doc, request_id| {
                sign_request(&doc, request_id, secret, None)
            })
            .await?;
        match result {
            ResultMessage::Revoke(r) => Ok(r),
            other => Err(ClientError::BadResponse(format!(
                "expected RevokeResult, got {}",
                result_kind(&other)
            ))),
        }
    }
}

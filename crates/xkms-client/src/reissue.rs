//! Reissue (X-KRSS, seed T102): a new certificate for a registered key.

use crate::krss::{
    BindingRef, authentication_template, first_certificate, proof_of_possession_template,
    sign_request,
};
use crate::register::result_kind;
use crate::{ClientError, ClientKey, XkmsClient};
use xkms_proto::{
    ReissueRequest, ReissueResult, Request, RequestAbstract, RespondWith, ResultMessage,
    StatusValue,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

/// What to reissue.
pub struct ReissueParams<'a> {
    /// The binding, usually by its current certificate (as in the seed).
    pub binding: BindingRef,
    /// The private key, when it is the client's own (proof of possession).
    pub key: Option<&'a ClientKey>,
    pub secret: &'a SharedSecret,
    pub preparation: SecretPreparation,
    pub respond_with: Vec<RespondWith>,
}

impl XkmsClient {
    /// Sends a ReissueRequest (KeyBindingAuthentication, ProofOfPossession if a key is given).
    pub async fn reissue(&self, params: &ReissueParams<'_>) -> Result<ReissueResult, ClientError> {
        let kb_id = self.new_id();
        let request = ReissueRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: self.new_id(),
                    service: self.service_uri().to_owned(),
                    ..Default::default()
                },
                respond_with: params.respond_with.clone(),
                ..Default::default()
            },
            reissue_key_binding: params
                .binding
                .key_binding(kb_id.clone(), StatusValue::Valid),
            authentication: authentication_template(&kb_id),
            proof_of_possession: params.key.map(|_| proof_of_possession_template(&kb_id)),
        };
        let result = self
            .send_signed(&Request::Reissue(request), |doc, request_id| {
                sign_request(
                    &doc,
                    request_id,
                    Some((params.secret, params.preparation)),
                    params.key,
                )
            })
            .await?;
        match result {
            ResultMessage::Reissue(r) => Ok(r),
            other => Err(ClientError::BadResponse(format!(
                "expected ReissueResult, got {}",
                result_kind(&other)
            ))),
        }
    }
}

/// The new certificate of a ReissueResult.
pub fn reissued_certificate(result: &ReissueResult) -> Option<&[u8]> {
    first_certificate(&result.key_bindings)
}

//! Register a key (X-KRSS): the client's own (seed T100) or one the service generates
//! (seed T101).

use crate::krss::{
    authentication_template, first_certificate, proof_of_possession_template, returned_private_key,
    sign_request,
};
use crate::{ClientError, ClientKey, XkmsClient};
use xkms_proto::{
    KeyBindingAbstract, KeyInfo, KeyUsage, KeyValue, PrototypeKeyBinding, RegisterRequest,
    RegisterResult, Request, RequestAbstract, RespondWith, ResponseMechanism, ResultMessage,
    RsaKeyValue, UseKeyWith,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret, revocation_code_identifier};

/// What to register.
pub struct RegisterParams<'a> {
    /// The client's key; `None` asks the service to generate one (returned encrypted).
    pub key: Option<&'a ClientKey>,
    pub key_name: Option<String>,
    pub use_key_with: Vec<UseKeyWith>,
    pub key_usage: Vec<KeyUsage>,
    pub respond_with: Vec<RespondWith>,
    pub response_mechanism: Vec<ResponseMechanism>,
    /// The authorization code (shared secret) for KeyBindingAuthentication.
    pub secret: &'a SharedSecret,
    /// How the secret is prepared (the REC's SASLprep unless the service is an old one).
    pub preparation: SecretPreparation,
    /// Pass phrase whose double HMAC becomes the RevocationCodeIdentifier.
    pub revocation_phrase: Option<&'a SharedSecret>,
}

/// A register exchange: what was sent and what came back.
#[derive(Debug)]
pub struct Registered {
    pub request_id: String,
    pub result: RegisterResult,
}

impl Registered {
    /// The first certificate of the first returned key binding (the end entity).
    pub fn certificate(&self) -> Option<&[u8]> {
        first_certificate(&self.result.key_bindings)
    }
}

impl Registered {
    /// Decrypts the service-generated private key (T101) with the authorization code's
    /// 0x04 key and checks it belongs to the returned key binding.
    pub fn private_key(
        &self,
        secret: &SharedSecret,
        preparation: SecretPreparation,
    ) -> Result<ClientKey, ClientError> {
        returned_private_key(
            self.result.private_key.as_ref(),
            &self.result.key_bindings,
            secret,
            preparation,
        )
    }
}

impl XkmsClient {
    /// Registers a key: HMAC-SHA1 KeyBindingAuthentication; for the client's own key an
    /// RSA-SHA256 proof of possession; without a key the service generates one.
    pub async fn register(&self, params: &RegisterParams<'_>) -> Result<Registered, ClientError> {
        let request = self.register_request(params)?;
        let request_id = request.request.message.id.clone();
        let result = self
            .send_signed(&Request::Register(request), |doc, request_id| {
                sign_request(
                    &doc,
                    request_id,
                    Some((params.secret, params.preparation)),
                    params.key,
                )
            })
            .await?;
        match result {
            // The Id the service answered (a two-phase exchange sends a second Id).
            ResultMessage::Register(result) => Ok(Registered {
                request_id: result.result.request_id.clone().unwrap_or(request_id),
                result,
            }),
            other => Err(ClientError::BadResponse(format!(
                "expected RegisterResult, got {}",
                result_kind(&other)
            ))),
        }
    }

    /// The unsigned request with signature templates in place.
    pub fn register_request(
        &self,
        params: &RegisterParams<'_>,
    ) -> Result<RegisterRequest, ClientError> {
        let kb_id = self.new_id();
        let revocation_code_identifier = match params.revocation_phrase {
            Some(phrase) => {
                let code = phrase
                    .revocation_code(params.preparation)
                    .map_err(|e| ClientError::Secret(e.to_string()))?;
                Some(revocation_code_identifier(&code).to_vec())
            }
            None => None,
        };
        let mut respond_with = params.respond_with.clone();
        if params.key.is_none() && !respond_with.contains(&RespondWith::PrivateKey) {
            respond_with.push(RespondWith::PrivateKey);
        }
        Ok(RegisterRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: self.new_id(),
                    service: self.service_uri().to_owned(),
                    ..Default::default()
                },
                response_mechanism: params.response_mechanism.clone(),
                respond_with,
                ..Default::default()
            },
            prototype_key_binding: PrototypeKeyBinding {
                core: KeyBindingAbstract {
                    id: Some(kb_id.clone()),
                    key_info: Some(KeyInfo {
                        key_names: params.key_name.iter().cloned().collect(),
                        key_values: params
                            .key
                            .map(|key| {
                                KeyValue::Rsa(RsaKeyValue {
                                    modulus: key.modulus().to_vec(),
                                    exponent: key.exponent().to_vec(),
                                })
                            })
                            .into_iter()
                            .collect(),
                        ..Default::default()
                    }),
                    key_usage: params.key_usage.clone(),
                    use_key_with: params.use_key_with.clone(),
                },
                validity_interval: None,
                revocation_code_identifier,
            },
            authentication: authentication_template(&kb_id),
            proof_of_possession: params.key.map(|_| proof_of_possession_template(&kb_id)),
        })
    }
}

/// The element name of a result (for messages).
pub fn result_kind(result: &ResultMessage) -> &'static str {
    result.element()
}

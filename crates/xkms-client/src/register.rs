//! Register a client-generated key (X-KRSS, seed T100).

use crate::{ClientError, ClientKey, XkmsClient};
use xkms_proto::{
    Authentication, KeyBindingAbstract, KeyBindingAuthentication, KeyInfo, KeyUsage, KeyValue,
    ProofOfPossession, PrototypeKeyBinding, RegisterRequest, RegisterResult, Request,
    RequestAbstract, RespondWith, ResponseMechanism, ResultMessage, RsaKeyValue, Signature,
    UseKeyWith, alg,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret, revocation_code_identifier};
use xkms_xmlsec::signature::{HmacAlgorithm, RsaAlgorithm, SigningKey, Slot, sign_key_binding};

/// What to register.
pub struct RegisterParams<'a> {
    pub key: &'a ClientKey,
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
        self.result
            .key_bindings
            .first()?
            .core
            .key_info
            .as_ref()?
            .x509_data
            .iter()
            .flat_map(|d| d.certificates.iter())
            .next()
            .map(Vec::as_slice)
    }
}

impl XkmsClient {
    /// Registers `params.key`: HMAC-SHA1 KeyBindingAuthentication and RSA-SHA256 proof of
    /// possession (the REC examples use RSA-SHA1, which our signing provider does not
    /// produce; services verify both), exclusive c14n.
    pub async fn register(&self, params: &RegisterParams<'_>) -> Result<Registered, ClientError> {
        let request = self.register_request(params)?;
        let request_id = request.request.message.id.clone();
        let auth_key = params
            .secret
            .authentication_key(params.preparation)
            .map_err(|e| ClientError::Secret(e.to_string()))?;
        let hmac = SigningKey::Hmac {
            key: auth_key,
            algorithm: HmacAlgorithm::Sha1,
        };
        let rsa = SigningKey::Rsa {
            pkcs8_der: zeroize::Zeroizing::new(params.key.pkcs8_der().to_vec()),
            algorithm: RsaAlgorithm::Sha256,
        };
        let id = request_id.clone();
        let result = self
            .send_signed(&Request::Register(request), move |doc| {
                let doc = sign_key_binding(&doc, &id, Slot::KeyBindingAuthentication, &hmac)
                    .map_err(|e| ClientError::Signing(e.to_string()))?;
                sign_key_binding(&doc, &id, Slot::ProofOfPossession, &rsa)
                    .map_err(|e| ClientError::Signing(e.to_string()))
            })
            .await?;
        match result {
            ResultMessage::Register(result) => Ok(Registered { request_id, result }),
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
        let reference = format!("#{kb_id}");
        let revocation_code_identifier = match params.revocation_phrase {
            Some(phrase) => {
                let code = phrase
                    .revocation_code(params.preparation)
                    .map_err(|e| ClientError::Secret(e.to_string()))?;
                Some(revocation_code_identifier(&code).to_vec())
            }
            None => None,
        };
        Ok(RegisterRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: self.new_id(),
                    service: self.service_uri().to_owned(),
                    ..Default::default()
                },
                response_mechanism: params.response_mechanism.clone(),
                respond_with: params.respond_with.clone(),
                ..Default::default()
            },
            prototype_key_binding: PrototypeKeyBinding {
                core: KeyBindingAbstract {
                    id: Some(kb_id),
                    key_info: Some(KeyInfo {
                        key_names: params.key_name.iter().cloned().collect(),
                        key_values: vec![KeyValue::Rsa(RsaKeyValue {
                            modulus: params.key.modulus().to_vec(),
                            exponent: params.key.exponent().to_vec(),
                        })],
                        ..Default::default()
                    }),
                    key_usage: params.key_usage.clone(),
                    use_key_with: params.use_key_with.clone(),
                },
                validity_interval: None,
                revocation_code_identifier,
            },
            authentication: Authentication {
                key_binding_authentication: Some(KeyBindingAuthentication {
                    signature: Signature::template(
                        alg::HMAC_SHA1,
                        &reference,
                        alg::EXC_C14N,
                        alg::SHA1,
                    ),
                }),
                not_bound_authentication: None,
            },
            proof_of_possession: Some(ProofOfPossession {
                signature: Signature::template(
                    alg::RSA_SHA256,
                    &reference,
                    alg::EXC_C14N,
                    alg::SHA1,
                ),
            }),
        })
    }
}

/// The element name of a result (for messages).
pub fn result_kind(result: &ResultMessage) -> &'static str {
    match result {
        ResultMessage::Locate(_) => "LocateResult",
        ResultMessage::Validate(_) => "ValidateResult",
        ResultMessage::Register(_) => "RegisterResult",
        ResultMessage::Reissue(_) => "ReissueResult",
        ResultMessage::Recover(_) => "RecoverResult",
        ResultMessage::Revoke(_) => "RevokeResult",
        ResultMessage::Compound(_) => "CompoundResult",
        ResultMessage::Status(_) => "StatusResult",
        ResultMessage::Result(_) => "Result",
    }
}

//! What every X-KRSS request shares: naming a key binding, signature templates, and
//! signing the KeyBindingAuthentication (HMAC from the shared secret) and the
//! ProofOfPossession (the client's RSA key) over the final document.

use crate::{ClientError, ClientKey};
use xkms_proto::{
    Authentication, KeyBinding, KeyBindingAbstract, KeyBindingAuthentication, KeyInfo, KeyValue,
    ProofOfPossession, RsaKeyValue, Signature, Status, StatusValue, X509Data, alg,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};
use xkms_xmlsec::signature::{HmacAlgorithm, RsaAlgorithm, SigningKey, Slot, sign_key_binding};

/// How a request names an existing key binding.
#[derive(Debug, Clone, Default)]
pub struct BindingRef {
    /// A certificate of the binding (DER) — the most precise.
    pub certificate: Option<Vec<u8>>,
    /// The binding's public key.
    pub key_value: Option<RsaKeyValue>,
    pub key_name: Option<String>,
}

impl BindingRef {
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo {
            key_names: self.key_name.iter().cloned().collect(),
            key_values: self.key_value.iter().cloned().map(KeyValue::Rsa).collect(),
            x509_data: self
                .certificate
                .iter()
                .map(|c| X509Data {
                    certificates: vec![c.clone()],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// A Reissue/Revoke/RecoverKeyBinding naming this binding (its Status is required by
    /// the schema and not meaningful in a request).
    pub fn key_binding(&self, id: String, status: StatusValue) -> KeyBinding {
        KeyBinding {
            core: KeyBindingAbstract {
                id: Some(id),
                key_info: Some(self.key_info()),
                ..Default::default()
            },
            validity_interval: None,
            status: Status::new(status),
        }
    }
}

/// Authentication with a KeyBindingAuthentication template over `#kb_id`.
pub fn authentication_template(kb_id: &str) -> Authentication {
    Authentication {
        key_binding_authentication: Some(KeyBindingAuthentication {
            signature: Signature::template(
                alg::HMAC_SHA1,
                &format!("#{kb_id}"),
                alg::EXC_C14N,
                alg::SHA1,
            ),
        }),
        not_bound_authentication: None,
    }
}

/// A ProofOfPossession template over `#kb_id` (RSA-SHA256: our signing provider cannot
/// produce the REC examples' RSA-SHA1; services verify both).
pub fn proof_of_possession_template(kb_id: &str) -> ProofOfPossession {
    ProofOfPossession {
        signature: Signature::template(
            alg::RSA_SHA256,
            &format!("#{kb_id}"),
            alg::EXC_C14N,
            alg::SHA1,
        ),
    }
}

/// Signs the templates of request `request_id` in `doc`: the KeyBindingAuthentication
/// with the secret's K_auth, then (if a key is given) the ProofOfPossession.
pub fn sign_request(
    doc: &str,
    request_id: &str,
    secret: Option<(&SharedSecret, SecretPreparation)>,
    pop_key: Option<&ClientKey>,
) -> Result<String, ClientError> {
    let mut doc = doc.to_owned();
    if let Some((secret, preparation)) = secret {
        let key = secret
            .authentication_key(preparation)
            .map_err(|e| ClientError::Secret(e.to_string()))?;
        let hmac = SigningKey::Hmac {
            key,
            algorithm: HmacAlgorithm::Sha1,
        };
        doc = sign_key_binding(&doc, request_id, Slot::KeyBindingAuthentication, &hmac)
            .map_err(|e| ClientError::Signing(e.to_string()))?;
    }
    if let Some(key) = pop_key {
        let rsa = SigningKey::Rsa {
            pkcs8_der: zeroize::Zeroizing::new(key.pkcs8_der().to_vec()),
            algorithm: RsaAlgorithm::Sha256,
        };
        doc = sign_key_binding(&doc, request_id, Slot::ProofOfPossession, &rsa)
            .map_err(|e| ClientError::Signing(e.to_string()))?;
    }
    Ok(doc)
}

/// The first certificate of the first key binding of a result.
pub fn first_certificate(bindings: &[KeyBinding]) -> Option<&[u8]> {
    bindings
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

/// Decrypts a returned `PrivateKey` with the secret's 0x04 key and checks it is the key
/// of `expected_modulus` (when given).
pub fn decrypt_private_key(
    private_key: &xkms_proto::PrivateKey,
    secret: &SharedSecret,
    preparation: SecretPreparation,
    expected_modulus: Option<&[u8]>,
) -> Result<ClientKey, ClientError> {
    let algorithm = private_key
        .encrypted_data
        .encryption_method
        .as_deref()
        .ok_or(ClientError::Key("PrivateKey has no EncryptionMethod"))?;
    let len = xkms_xmlsec::encryption::key_length(algorithm)
        .ok_or(ClientError::Key("PrivateKey uses an unknown cipher"))?;
    let kek = secret
        .private_key_encryption_key(preparation, len)
        .map_err(|e| ClientError::Secret(e.to_string()))?;
    let plaintext =
        xkms_xmlsec::encryption::decrypt_private_key_data(&private_key.encrypted_data, &kek)
            .map_err(|_| ClientError::Key("PrivateKey does not decrypt with this secret"))?;
    let text = std::str::from_utf8(&plaintext)
        .map_err(|_| ClientError::Key("PrivateKey plaintext is not text"))?;
    let pair = xkms_proto::parse_rsa_key_pair(text, &xkms_proto::Limits::default())
        .map_err(|_| ClientError::Key("PrivateKey plaintext is not an RSAKeyPair"))?;
    if expected_modulus.is_some_and(|m| m != pair.modulus.as_slice()) {
        return Err(ClientError::Key(
            "the returned private key is not the certified key",
        ));
    }
    let pkcs8 = xkms_xmlsec::key_pair::rsa_key_pair_to_pkcs8(&pair)
        .map_err(|_| ClientError::Key("the returned RSAKeyPair is inconsistent"))?;
    ClientKey::from_der(&pkcs8)
}

/// Decrypts the `PrivateKey` of a Register/Recover result and checks that it is the key
/// of the first returned key binding (when that binding shows its KeyValue).
pub fn returned_private_key(
    private_key: Option<&xkms_proto::PrivateKey>,
    bindings: &[KeyBinding],
    secret: &SharedSecret,
    preparation: SecretPreparation,
) -> Result<ClientKey, ClientError> {
    let private_key = private_key.ok_or(ClientError::Key("the result carries no PrivateKey"))?;
    let expected = bindings.first().and_then(|kb| {
        kb.core
            .key_info
            .as_ref()?
            .key_values
            .iter()
            .find_map(|v| match v {
                KeyValue::Rsa(rsa) => Some(rsa.modulus.clone()),
                KeyValue::Unsupported => None,
            })
    });
    decrypt_private_key(private_key, secret, preparation, expected.as_deref())
}

//! Request authentication and proof of possession.
//!
//! Both checks return proof values ([`AuthenticationVerified`], [`PossessionProven`]) that
//! only this module can construct; the operations take them as arguments, so an
//! operation that forgot a check does not compile. Signatures are verified over the
//! original document, and the xmlsec layer requires their single Reference to resolve
//! to the key-binding element of the very request being processed (no wrapping).

use crate::error::ServiceError;
use crate::escrow::MasterKey;
use crate::store::{Authorization, DerivedSecrets, Purpose, ReplayMark, Store};
use time::OffsetDateTime;
use xkms_ca::RsaPublicKey;
use xkms_proto::{Authentication, KeyInfo, KeyValue, ProofOfPossession};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret, constant_time_eq};
use xkms_xmlsec::signature::{Slot, VerifyKey, verify_key_binding_signature_any};

/// Replay kind of an accepted KeyBindingAuthentication SignatureValue.
const KBA_REPLAY: &str = "kba";
/// Replay kind of an accepted ProofOfPossession SignatureValue.
const POP_REPLAY: &str = "pop";

/// Proof that the request's authentication verified against a stored authorization.
#[derive(Debug)]
pub struct AuthenticationVerified {
    authorization: Authorization,
    secrets: DerivedSecrets,
    preparation: SecretPreparation,
    /// The KeyBindingAuthentication's SignatureValue (`None` for NotBoundAuthentication).
    signature_value: Option<Vec<u8>>,
}

impl AuthenticationVerified {
    /// The authorization that verified.
    pub fn authorization(&self) -> &Authorization {
        &self.authorization
    }

    /// The string preparation the client used (decides which derived KEK to use).
    pub fn preparation(&self) -> SecretPreparation {
        self.preparation
    }

    /// The 0x04 key-encryption key of the authorization, `len` bytes, in the
    /// preparation the client authenticated with.
    pub fn private_key_encryption_key(&self, len: usize) -> Option<&[u8]> {
        let kek = match self.preparation {
            SecretPreparation::SaslPrep => &self.secrets.kek_saslprep,
            SecretPreparation::Legacy => &self.secrets.kek_legacy,
        };
        kek.get(..len)
    }

    /// The accepted authentication value, remembered with the change it authorizes for
    /// as long as the authorization could still be used: a captured request replayed
    /// under a new Id (the KeyBindingAuthentication does not cover the request Id) is
    /// refused. NotBoundAuthentication is a password and has nothing single-use.
    pub fn replay_marks(&self) -> Vec<ReplayMark> {
        self.signature_value
            .iter()
            .map(|value| ReplayMark {
                kind: KBA_REPLAY.to_owned(),
                value: value.clone(),
                expires_at: self.authorization.expires_at,
            })
            .collect()
    }
}

/// Proof that the requester holds the private key of `key`.
#[derive(Debug)]
pub struct PossessionProven {
    key: RsaPublicKey,
    signature_value: Vec<u8>,
}

impl PossessionProven {
    pub fn key(&self) -> &RsaPublicKey {
        &self.key
    }

    /// The accepted ProofOfPossession value, remembered like the authentication's.
    pub fn replay_mark(&self, auth: &AuthenticationVerified) -> ReplayMark {
        ReplayMark {
            kind: POP_REPLAY.to_owned(),
            value: self.signature_value.clone(),
            expires_at: auth.authorization.expires_at,
        }
    }
}

/// Where the request sits in the received document.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The whole received document (envelope included), parsed once.
    pub document: &'a xkms_xmlsec::ReceivedDocument<'a>,
    /// `Id` of the request element inside it.
    pub request_id: &'a str,
}

/// An authorization with its secrets unsealed.
struct Candidate {
    authorization: Authorization,
    secrets: DerivedSecrets,
}

/// Verifies `authentication` against the usable authorizations of `identities`.
///
/// KeyBindingAuthentication is tried with each candidate's K_auth, SASLprep first, then
/// the legacy preparation. NotBoundAuthentication compares the derived K_auth of the
/// presented value in constant time (it has no integrity: deploy behind TLS). A
/// KeyBindingAuthentication already accepted once is refused (`Sender/Refused`).
pub async fn authenticate(
    store: &dyn Store,
    master_key: &MasterKey,
    signed: SignedRequest<'_>,
    authentication: &Authentication,
    identities: &[String],
    purpose: Purpose,
    now: OffsetDateTime,
) -> Result<AuthenticationVerified, ServiceError> {
    if authentication.key_binding_authentication.is_none()
        && authentication.not_bound_authentication.is_none()
    {
        return Err(ServiceError::NoAuthentication("no authentication element"));
    }
    if identities.is_empty() {
        return Err(ServiceError::NoAuthentication("request names no identity"));
    }
    let candidates = store
        .usable_authorizations(identities, purpose, now)
        .await?;
    let candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter_map(|authorization| {
            match crate::secrets::open_authorization_secrets(master_key, &authorization) {
                Ok(secrets) => Some(Candidate {
                    authorization,
                    secrets,
                }),
                Err(_) => {
                    // Not sealed yet, sealed for another row, or another master key.
                    tracing::warn!(authorization = %authorization.id, "authorization secrets do not open: skipped");
                    None
                }
            }
        })
        .collect();
    // Without a usable authorization the same work is done against a key nobody holds:
    // the answer's timing must not tell which identities have codes.
    let decoy = candidates.is_empty();
    let candidates = if decoy {
        vec![decoy_candidate()?]
    } else {
        candidates
    };

    let found = if authentication.key_binding_authentication.is_some() {
        find_kba_match(signed, &candidates)?
    } else {
        find_not_bound_match(authentication, &candidates)?.map(|(i, p)| (i, p, None))
    };
    let Some((index, preparation, signature_value)) = found.filter(|_| !decoy) else {
        return Err(ServiceError::NoAuthentication(
            "authentication did not verify",
        ));
    };
    if let Some(value) = &signature_value
        && store.is_remembered(KBA_REPLAY, value, now).await?
    {
        return Err(ServiceError::Refused(
            "this authentication was already used",
        ));
    }
    Ok(verified(candidates, index, preparation, signature_value))
}

/// A candidate with random keys, standing in when the identity has no usable
/// authorization (see `authenticate`).
fn decoy_candidate() -> Result<Candidate, ServiceError> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut keys = [[0u8; 20]; 2];
    for key in &mut keys {
        SystemRandom::new()
            .fill(key)
            .map_err(|_| ServiceError::Internal("no randomness"))?;
    }
    let [saslprep, legacy] = keys;
    Ok(Candidate {
        authorization: Authorization {
            id: String::new(),
            identity: String::new(),
            purpose: Purpose::Register,
            granted_names: Vec::new(),
            sealed_secrets: Vec::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            max_uses: None,
            uses: 0,
            revoked_at: None,
        },
        secrets: DerivedSecrets {
            auth_key_saslprep: saslprep.to_vec(),
            auth_key_legacy: legacy.to_vec(),
            kek_saslprep: Vec::new(),
            kek_legacy: Vec::new(),
        },
    })
}

/// The candidate (and preparation) whose K_auth verifies the KeyBindingAuthentication,
/// with the SignatureValue it accepted. All candidate keys are tried over one parse of
/// each reading of the document.
#[allow(clippy::type_complexity)]
fn find_kba_match(
    signed: SignedRequest<'_>,
    candidates: &[Candidate],
) -> Result<Option<(usize, SecretPreparation, Option<Vec<u8>>)>, ServiceError> {
    let mut owners = Vec::new();
    let mut keys = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        for (preparation, key) in candidate.secrets.auth_keys() {
            owners.push((index, preparation));
            keys.push(VerifyKey::Hmac(key));
        }
    }
    match verify_key_binding_signature_any(
        signed.document,
        signed.request_id,
        Slot::KeyBindingAuthentication,
        &keys,
    ) {
        Ok((key, signature)) => Ok(owners
            .get(key)
            .map(|&(index, preparation)| (index, preparation, Some(signature.signature_value)))),
        // A wrong key only means "no candidate verifies".
        Err(e) if e.is_wrong_key() => Ok(None),
        // Anything structural fails the request at once.
        Err(e) => {
            tracing::info!(error = %e, "key binding authentication refused");
            Err(ServiceError::NoAuthentication(
                "key binding authentication is not acceptable",
            ))
        }
    }
}

/// The candidate whose K_auth equals the one derived from the presented plain secret.
fn find_not_bound_match(
    authentication: &Authentication,
    candidates: &[Candidate],
) -> Result<Option<(usize, SecretPreparation)>, ServiceError> {
    let Some(nba) = &authentication.not_bound_authentication else {
        return Err(ServiceError::NoAuthentication("no authentication element"));
    };
    let presented = std::str::from_utf8(&nba.value)
        .map_err(|_| ServiceError::NoAuthentication("not-bound value is not text"))?;
    let secret = SharedSecret::new(presented.to_owned());
    for (index, candidate) in candidates.iter().enumerate() {
        for (preparation, stored) in candidate.secrets.auth_keys() {
            let Ok(derived) = secret.authentication_key(preparation) else {
                continue;
            };
            if constant_time_eq(&derived, stored) {
                return Ok(Some((index, preparation)));
            }
        }
    }
    Ok(None)
}

fn verified(
    mut candidates: Vec<Candidate>,
    index: usize,
    preparation: SecretPreparation,
    signature_value: Option<Vec<u8>>,
) -> AuthenticationVerified {
    let candidate = candidates.swap_remove(index);
    AuthenticationVerified {
        authorization: candidate.authorization,
        secrets: candidate.secrets,
        preparation,
        signature_value,
    }
}

/// Verifies the ProofOfPossession signature with the public key being registered.
pub fn prove_possession(
    signed: SignedRequest<'_>,
    proof: Option<&ProofOfPossession>,
    key: RsaPublicKey,
) -> Result<PossessionProven, ServiceError> {
    if proof.is_none() {
        return Err(ServiceError::ProofOfPossessionRequired(
            "no proof of possession",
        ));
    }
    match verify_key_binding_signature_any(
        signed.document,
        signed.request_id,
        Slot::ProofOfPossession,
        &[VerifyKey::RsaPublic {
            modulus: &key.modulus,
            exponent: &key.exponent,
        }],
    ) {
        Ok(v) => Ok(PossessionProven {
            key,
            signature_value: v.1.signature_value,
        }),
        Err(e) => {
            tracing::info!(error = %e, "proof of possession refused");
            Err(ServiceError::ProofOfPossessionRequired(
                "proof of possession did not verify",
            ))
        }
    }
}

/// The RSA public key in a key binding's KeyInfo (`ds:KeyValue/ds:RSAKeyValue`), if any.
pub fn rsa_key_of(key_info: Option<&KeyInfo>) -> Result<Option<RsaPublicKey>, ServiceError> {
    let Some(key_info) = key_info else {
        return Ok(None);
    };
    let mut found = None;
    for value in &key_info.key_values {
        match value {
            KeyValue::Rsa(rsa) => {
                if found.is_some() {
                    return Err(ServiceError::InvalidRequest("more than one key value"));
                }
                found = Some(RsaPublicKey {
                    modulus: rsa.modulus.clone(),
                    exponent: rsa.exponent.clone(),
                });
            }
            KeyValue::Unsupported => {
                return Err(ServiceError::Refused("only RSA keys can be registered"));
            }
        }
    }
    Ok(found)
}

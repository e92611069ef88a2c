//! Detached key-binding signatures: `KeyBindingAuthentication` and `ProofOfPossession`.
//!
//! Both are `ds:Signature` elements that live beside the key binding they sign
//! (`request/Authentication/KeyBindingAuthentication/ds:Signature`,
//! `request/ProofOfPossession/ds:Signature`) with one `ds:Reference URI="#<key binding Id>"`.
//!
//! # Threats and how they are closed
//!
//! * **Signature wrapping.** The signature must sit at the slot's exact path under the request
//!   with the given Id, and reference that request's one key-binding child by its Id. Every ID
//!   value in the whole document must be unique, so `#<id>` cannot designate a second,
//!   attacker-placed element. After verification the backend's resolved reference target is
//!   compared with the key binding node once more.
//! * **Verifying a different signature.** A document may hold several signatures (KBA, POP, a
//!   message signature). The backend verifies "the first ds:Signature"; we verify a copy of the
//!   DOM where every other signature is detached, which is digest-neutral by construction (see
//!   `placement::isolate`).
//! * **Transform tricks.** Only canonicalization transforms (exclusive or inclusive, with or
//!   without comments) are accepted: no XPath, XSLT, enveloped-signature, base64 or external
//!   URIs. No `ds:Object`.
//! * **Key confusion / truncation.** The signature method must fit the supplied key type
//!   (HMAC key → hmac-sha1/-sha256, RSA key → rsa-sha1/-sha256) and `HMACOutputLength`, if
//!   present, must be the full output length. Keys inside `ds:KeyInfo` are never used.
//! * **Parser attacks.** DTDs and entity declarations are refused, nesting depth is bounded.
//!
//! Errors name the failed check, never document content.
//!
//! The service stores derived authentication keys, not pass phrases: verify with
//! `VerifyKey::Hmac(&stored_key)`. With the pass phrase at hand use
//! [`verify_authentication_with_secret`], which also accepts the pre-REC legacy preparation.

mod keys;
mod placement;

use bergshamra::DsigContext;
use xkms_proto::vocab::alg;
use zeroize::Zeroizing;

use crate::XmlSecError;
use crate::backend::{Target, Verdict};
use crate::document::ReceivedDocument;
use crate::kdf::{SecretPreparation, SharedSecret};
use crate::profile::{self, KeyKind};

/// Which key-binding signature of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `Authentication/KeyBindingAuthentication/ds:Signature`.
    KeyBindingAuthentication,
    /// `ProofOfPossession/ds:Signature`.
    ProofOfPossession,
}

impl Slot {
    /// The slot's path below the request element, for messages.
    pub fn element_path(self) -> &'static str {
        match self {
            Slot::KeyBindingAuthentication => "Authentication/KeyBindingAuthentication",
            Slot::ProofOfPossession => "ProofOfPossession",
        }
    }
}

/// The key a signature must verify with.
#[derive(Clone, Copy)]
pub enum VerifyKey<'a> {
    /// An HMAC key, e.g. the stored `K_auth` of a registration (`SharedSecret::authentication_key`).
    Hmac(&'a [u8]),
    /// An RSA public key; big-endian unsigned modulus and exponent (`ds:RSAKeyValue` octets).
    RsaPublic {
        /// Modulus `n`.
        modulus: &'a [u8],
        /// Public exponent `e`.
        exponent: &'a [u8],
    },
}

impl std::fmt::Debug for VerifyKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Hmac(_) => f.write_str("VerifyKey::Hmac(<redacted>)"),
            VerifyKey::RsaPublic { modulus, .. } => {
                write!(f, "VerifyKey::RsaPublic({} octet modulus)", modulus.len())
            }
        }
    }
}

/// Proof that the signature at a slot verified and covers the key binding `key_binding_id`.
///
/// Only this crate constructs it (`#[non_exhaustive]`): functions that act on a key binding
/// take it as an argument, so "forgot to check" does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedSignature {
    /// The slot that was verified.
    pub slot: Slot,
    /// `Id` of the request element.
    pub request_id: String,
    /// `Id` of the key binding the signature covers.
    pub key_binding_id: String,
    /// `SignatureMethod/@Algorithm`.
    pub signature_method: String,
    /// Decoded `SignatureValue` (e.g. for `RequestSignatureValue`-style bookkeeping).
    pub signature_value: Vec<u8>,
}

/// HMAC signature methods for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// `xmldsig#hmac-sha1` — the XKMS interop convention.
    Sha1,
    /// `xmldsig-more#hmac-sha256`.
    Sha256,
}

/// RSA PKCS#1 v1.5 signature methods for signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaAlgorithm {
    /// `xmldsig#rsa-sha1` — the REC examples.
    ///
    /// Signing fails with [`XmlSecError::AlgorithmUnavailable`] on the aws-lc provider: aws-lc-rs
    /// offers RSA PKCS#1 v1.5 with SHA-1 for verification only. Verification works.
    Sha1,
    /// `xmldsig-more#rsa-sha256`.
    Sha256,
}

/// A key to fill a signature template with.
pub enum SigningKey {
    /// HMAC key (for `KeyBindingAuthentication`, `K_auth`).
    Hmac {
        /// Raw key octets.
        key: Zeroizing<Vec<u8>>,
        /// Signature method; must equal the template's.
        algorithm: HmacAlgorithm,
    },
    /// RSA private key (for `ProofOfPossession`).
    Rsa {
        /// PKCS#8 `PrivateKeyInfo`, DER.
        pkcs8_der: Zeroizing<Vec<u8>>,
        /// Signature method; must equal the template's.
        algorithm: RsaAlgorithm,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::Hmac { algorithm, .. } => write!(f, "SigningKey::Hmac({algorithm:?})"),
            SigningKey::Rsa { algorithm, .. } => write!(f, "SigningKey::Rsa({algorithm:?})"),
        }
    }
}

impl SigningKey {
    /// The `SignatureMethod` URI this key signs with.
    pub fn signature_method(&self) -> &'static str {
        match self {
            SigningKey::Hmac {
                algorithm: HmacAlgorithm::Sha1,
                ..
            } => alg::HMAC_SHA1,
            SigningKey::Hmac {
                algorithm: HmacAlgorithm::Sha256,
                ..
            } => alg::HMAC_SHA256,
            SigningKey::Rsa {
                algorithm: RsaAlgorithm::Sha1,
                ..
            } => alg::RSA_SHA1,
            SigningKey::Rsa {
                algorithm: RsaAlgorithm::Sha256,
                ..
            } => alg::RSA_SHA256,
        }
    }

    fn kind(&self) -> KeyKind {
        match self {
            SigningKey::Hmac { .. } => KeyKind::Hmac,
            SigningKey::Rsa { .. } => KeyKind::Rsa,
        }
    }
}

/// Verify the signature at `slot` of the request with Id `request_id` inside `doc_xml`
/// (the whole received document, SOAP envelope included).
///
/// Parses `doc_xml`; with the document already at hand use
/// [`verify_key_binding_signature_any`].
pub fn verify_key_binding_signature(
    doc_xml: &str,
    request_id: &str,
    slot: Slot,
    key: &VerifyKey<'_>,
) -> Result<VerifiedSignature, XmlSecError> {
    verify_key_binding_signature_any(
        &ReceivedDocument::parse(doc_xml),
        request_id,
        slot,
        std::slice::from_ref(key),
    )
    .map(|(_, verified)| verified)
}

/// Verify the signature at `slot` of request `request_id` in a document parsed once, with
/// several candidate keys of one kind (e.g. the K_auth of every usable authorization).
/// Returns the index of the first key that verifies; with none the error is
/// [`XmlSecError::BadSignature`].
///
/// The signature is verified over the request re-rooted with the namespaces in scope (as
/// it sits in the document) and, failing that, over the request taken as its own document
/// (clients that sign before wrapping in SOAP; see `document`). The profile applies in full
/// to each reading, and each reading is parsed once for all keys.
pub fn verify_key_binding_signature_any(
    doc: &ReceivedDocument<'_>,
    request_id: &str,
    slot: Slot,
    keys: &[VerifyKey<'_>],
) -> Result<(usize, VerifiedSignature), XmlSecError> {
    let kind = match keys.first() {
        Some(VerifyKey::Hmac(_)) => KeyKind::Hmac,
        Some(VerifyKey::RsaPublic { .. }) => KeyKind::Rsa,
        None => return Err(XmlSecError::BadSignature),
    };
    if keys.iter().any(|k| key_kind(k) != kind) {
        return Err(XmlSecError::KeyMismatch);
    }
    crate::document::verify_in_readings(doc, request_id, XmlSecError::RequestNotFound, |reading| {
        verify_in_document(&reading.text, request_id, slot, kind, keys)
    })
}

fn key_kind(key: &VerifyKey<'_>) -> KeyKind {
    match key {
        VerifyKey::Hmac(_) => KeyKind::Hmac,
        VerifyKey::RsaPublic { .. } => KeyKind::Rsa,
    }
}

/// One reading: profile checks once, then each key until one verifies.
fn verify_in_document(
    doc_xml: &str,
    request_id: &str,
    slot: Slot,
    kind: KeyKind,
    candidates: &[VerifyKey<'_>],
) -> Result<(usize, VerifiedSignature), XmlSecError> {
    let mut doc = profile::parse(doc_xml)?;
    let (located, checked) = placement::locate_checked(&doc, request_id, slot, kind)?;
    let signature_value = checked.signature_value(&doc)?;
    let hmac_min_out_len = profile::key_binding_method(&checked.signature_method)
        .map_or(160, |(_, bits)| bits.max(160));
    placement::isolate(&mut doc, located.signature);

    for (index, key) in candidates.iter().enumerate() {
        let mut ctx = DsigContext::new(keys::verify_manager(key)?);
        // Strict mode demands that the target be an ancestor or sibling of the Signature; the
        // key binding is a sibling of the signature's *grandparent*, so strict mode would
        // refuse every KBA. The profile checks above take its place.
        ctx.strict_verification = false;
        ctx.trusted_keys_only = true;
        ctx.hmac_min_out_len = hmac_min_out_len;
        let target = Target::Element(located.key_binding);
        match crate::backend::verify(&ctx, &doc, located.signature, target)? {
            Verdict::Valid => {
                return Ok((
                    index,
                    VerifiedSignature {
                        slot,
                        request_id: request_id.to_owned(),
                        key_binding_id: located.key_binding_id,
                        signature_method: checked.signature_method,
                        signature_value,
                    },
                ));
            }
            Verdict::WrongKey => continue,
        }
    }
    Err(XmlSecError::BadSignature)
}

/// Verify a `KeyBindingAuthentication` HMAC with the authentication key derived from `secret`,
/// trying SASLprep (the REC rule) first and the legacy preparation second when it yields
/// different octets. Returns the preparation that matched.
pub fn verify_authentication_with_secret(
    doc_xml: &str,
    request_id: &str,
    secret: &SharedSecret,
) -> Result<(VerifiedSignature, SecretPreparation), XmlSecError> {
    let sasl = secret.prepare(SecretPreparation::SaslPrep);
    let legacy = secret.prepare(SecretPreparation::Legacy);
    let mut last = XmlSecError::InvalidSecret;
    if let Ok(prepared) = &sasl {
        match verify_with_prepared(doc_xml, request_id, prepared) {
            Ok(v) => return Ok((v, SecretPreparation::SaslPrep)),
            // Only a wrong key is worth a second attempt; anything else is key-independent.
            Err(XmlSecError::BadSignature) => last = XmlSecError::BadSignature,
            Err(e) => return Err(e),
        }
    }
    if let Ok(prepared) = &legacy {
        let same = sasl.as_ref().is_ok_and(|s| s[..] == prepared[..]);
        if !same {
            let v = verify_with_prepared(doc_xml, request_id, prepared)?;
            return Ok((v, SecretPreparation::Legacy));
        }
    }
    Err(last)
}

fn verify_with_prepared(
    doc_xml: &str,
    request_id: &str,
    prepared: &[u8],
) -> Result<VerifiedSignature, XmlSecError> {
    let key = crate::kdf::derive(prepared, crate::kdf::KeyId::Authentication, 20);
    verify_key_binding_signature(
        doc_xml,
        request_id,
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&key),
    )
}

/// Fill the signature template at `slot` of request `request_id`: compute `DigestValue` over
/// the key binding and `SignatureValue` over `SignedInfo`, and return the document text.
/// Everything outside the two values is returned byte for byte.
///
/// The template must satisfy the same profile the verifier enforces, carry the signature method
/// of `key`, and have empty `DigestValue` / `SignatureValue`.
pub fn sign_key_binding(
    doc_xml: &str,
    request_id: &str,
    slot: Slot,
    key: &SigningKey,
) -> Result<String, XmlSecError> {
    let mut doc = profile::parse(doc_xml)?;
    let (located, checked) = placement::locate_checked(&doc, request_id, slot, key.kind())?;
    if checked.signature_method != key.signature_method() {
        return Err(XmlSecError::KeyMismatch);
    }
    let keys = keys::signing_manager(key)?;
    crate::backend::sign_template(doc_xml, &mut doc, located.signature, &checked, keys)
}

/// A `ds:Signature` template (declaring `xmlns:ds`) with one Reference to `reference_uri`,
/// one `c14n` Transform, the same `c14n` as CanonicalizationMethod, and empty values.
pub fn signature_template_xml(
    signature_method: &str,
    reference_uri: &str,
    c14n: &str,
    digest_method: &str,
) -> String {
    use crate::splice::escape_attr;
    let (sm, uri, c14n, dm) = (
        escape_attr(signature_method),
        escape_attr(reference_uri),
        escape_attr(c14n),
        escape_attr(digest_method),
    );
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{c14n}\"/><ds:SignatureMethod Algorithm=\"{sm}\"/>\
         <ds:Reference URI=\"{uri}\"><ds:Transforms><ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{dm}\"/><ds:DigestValue></ds:DigestValue></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    )
}

/// The interop-convention template for a key binding: exclusive c14n, SHA-1 digest, and
/// `signature_method` (hmac-sha1 for `KeyBindingAuthentication`, rsa-sha1 for
/// `ProofOfPossession` in the REC examples).
pub fn default_signature_template_xml(signature_method: &str, key_binding_id: &str) -> String {
    signature_template_xml(
        signature_method,
        &format!("#{key_binding_id}"),
        alg::EXC_C14N,
        alg::SHA1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_attribute_values_are_escaped() {
        let t = signature_template_xml(alg::HMAC_SHA1, "#a\"b", alg::EXC_C14N, alg::SHA1);
        assert!(t.contains("URI=\"#a&quot;b\""));
    }

    #[test]
    fn debug_output_redacts_keys() {
        let k = SigningKey::Hmac {
            key: Zeroizing::new(b"topsecret".to_vec()),
            algorithm: HmacAlgorithm::Sha1,
        };
        assert!(!format!("{k:?}").contains("topsecret"));
        let v = VerifyKey::Hmac(b"topsecret");
        assert!(!format!("{v:?}").contains("topsecret"));
    }
}

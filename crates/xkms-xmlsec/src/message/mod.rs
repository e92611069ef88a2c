//! Message-level signatures (payload authentication, Part II "payload authentication binding").
//!
//! An XKMS request or result may carry an ENVELOPED `ds:Signature` as the first child of the
//! message element, with one `ds:Reference URI="#<message Id>"` (or `URI=""` when the message is
//! the document element, i.e. the bare binding), transforms enveloped-signature + one c14n, and a
//! `ds:KeyInfo` naming the signer (`X509Data` with the certificate chain, or `KeyValue`).
//!
//! # What a successful verification proves, and what it does not
//!
//! [`verify_message_signature`] proves that the message, as it appears in this document, was
//! signed with the key of the leaf certificate (or the `KeyValue`) in the signature's own
//! `KeyInfo`. It says nothing about whether that signer is TRUSTED: the caller validates
//! [`VerifiedMessageSignature::signer_chain`] (or matches the key) against its policy. Nothing
//! from `KeyInfo` is used as a verification key unless it is the key we hand the backend.
//!
//! # Threats and how they are closed
//!
//! * **Signature wrapping.** The signature must be the first element child of the message
//!   element with the given Id, the message must be an XKMS request or result, and the one
//!   Reference must say `#<that Id>` (or `""` with the message as document element). Every ID
//!   value of the whole document is unique, and after verification the backend's resolved
//!   reference target is compared with the message node once more.
//! * **Verifying a different signature.** bergshamra verifies the first `ds:Signature` in
//!   document order. Ours is the message's first child, so every signature before it lies
//!   OUTSIDE the message and its ancestors (a signature around the message is refused): e.g. a
//!   WS-Security header signature, the message signature of an enclosing `CompoundRequest`, or
//!   the signatures of earlier inner requests. Those are detached from our working copy of the
//!   DOM, which cannot change what we verify: canonical XML of the message (and of SignedInfo)
//!   depends only on that subtree and the namespace declarations / `xml:*` attributes of its
//!   ancestors, none of which are touched. Signatures INSIDE the message (`KeyBindingAuthentication`,
//!   `ProofOfPossession`, inner requests of a compound) come after ours in document order, stay
//!   in place and are part of the signed content; the enveloped-signature transform removes only
//!   this signature. The backend's reported signature node is checked to be ours.
//! * **Key substitution.** The backend runs with `trusted_keys_only` and a key manager holding
//!   exactly one key: the one we extracted from `KeyInfo` ourselves (leaf certificate's SPKI, or
//!   `RSAKeyValue` / `ECKeyValue`), with no certificate attached, so the backend neither picks
//!   another inline key nor runs its own chain policy. The key type must fit the signature
//!   method.
//! * **Transform and algorithm tricks.** Exactly [enveloped-signature, c14n]; no XPath, XSLT,
//!   base64 or external URIs; no `ds:Object`; no HMAC at message level (a MAC key is not a
//!   signer identity); RSA-SHA1/-SHA256 and ECDSA-P256-SHA256 only.
//! * **Parser attacks.** DTDs and entity declarations are refused, nesting depth is bounded.

mod placement;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bergshamra::DsigContext;
use bergshamra::keys::{Key, loader};
use xkms_proto::vocab::alg;
use zeroize::Zeroizing;

use crate::XmlSecError;
use crate::backend::{Target, Verdict, private_key_pem, single};
use crate::document::ReceivedDocument;
use crate::profile::{self, Profile};
use crate::splice::escape_attr;

pub use crate::profile::ECDSA_SHA256;

/// A message signer: a private key and the certificate chain `KeyInfo` carries.
///
/// Signatures use exclusive c14n, SHA-256 and rsa-sha256 or ecdsa-sha256.
#[derive(Clone)]
pub struct MessageSigner {
    pkcs8_der: Zeroizing<Vec<u8>>,
    kind: SignerKind,
    chain: Vec<Vec<u8>>,
    /// `KeyValue` for signers without a certificate; unused when `chain` is non-empty.
    key_value_xml: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignerKind {
    Rsa,
    EcdsaP256,
}

impl std::fmt::Debug for MessageSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MessageSigner({:?}, {} certificate(s), key <redacted>)",
            self.kind,
            self.chain.len()
        )
    }
}

impl MessageSigner {
    /// An RSA signer (rsa-sha256). `pkcs8_der` is a PKCS#8 `PrivateKeyInfo`; `chain` holds DER
    /// certificates, leaf first, and the leaf must certify this key. An empty chain makes
    /// `KeyInfo` carry an `RSAKeyValue` instead.
    pub fn rsa(pkcs8_der: &[u8], chain: Vec<Vec<u8>>) -> Result<Self, XmlSecError> {
        Self::new(pkcs8_der, chain, SignerKind::Rsa)
    }

    /// An ECDSA P-256 signer (ecdsa-sha256, `r || s` signature values as XML-DSig 1.1 requires).
    /// Same rules as [`MessageSigner::rsa`]; an empty chain gives a dsig11 `ECKeyValue`.
    pub fn ecdsa_p256(pkcs8_der: &[u8], chain: Vec<Vec<u8>>) -> Result<Self, XmlSecError> {
        Self::new(pkcs8_der, chain, SignerKind::EcdsaP256)
    }

    /// The `SignatureMethod` URI this signer uses.
    pub fn signature_method(&self) -> &'static str {
        match self.kind {
            SignerKind::Rsa => alg::RSA_SHA256,
            SignerKind::EcdsaP256 => ECDSA_SHA256,
        }
    }

    fn new(pkcs8_der: &[u8], chain: Vec<Vec<u8>>, kind: SignerKind) -> Result<Self, XmlSecError> {
        let pkcs8_der = Zeroizing::new(pkcs8_der.to_vec());
        let key = load_private(&pkcs8_der, kind)?;
        let spki = key.to_spki_der().ok_or(XmlSecError::InvalidKey)?;
        if let Some(leaf) = chain.first() {
            let certified = loader::load_x509_cert_der(leaf)
                .map_err(|_| XmlSecError::InvalidKey)?
                .to_spki_der();
            if certified.as_deref() != Some(spki.as_slice()) {
                return Err(XmlSecError::KeyMismatch);
            }
        }
        let key_value_xml = key.to_key_value_xml("ds").ok_or(XmlSecError::InvalidKey)?;
        Ok(MessageSigner {
            pkcs8_der,
            kind,
            chain,
            key_value_xml,
        })
    }

    fn key_info_xml(&self) -> String {
        if self.chain.is_empty() {
            return format!(
                "<ds:KeyInfo><ds:KeyValue>{}</ds:KeyValue></ds:KeyInfo>",
                self.key_value_xml
            );
        }
        let certs: String = self
            .chain
            .iter()
            .map(|c| format!("<ds:X509Certificate>{}</ds:X509Certificate>", B64.encode(c)))
            .collect();
        format!("<ds:KeyInfo><ds:X509Data>{certs}</ds:X509Data></ds:KeyInfo>")
    }

    fn template(&self, message_id: &str) -> String {
        format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"{c14n}\"/><ds:SignatureMethod Algorithm=\"{sm}\"/>\
             <ds:Reference URI=\"#{uri}\"><ds:Transforms><ds:Transform Algorithm=\"{env}\"/>\
             <ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{dm}\"/><ds:DigestValue></ds:DigestValue></ds:Reference>\
             </ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>{ki}</ds:Signature>",
            c14n = alg::EXC_C14N,
            sm = self.signature_method(),
            uri = escape_attr(message_id),
            env = alg::ENVELOPED_SIGNATURE,
            dm = alg::SHA256,
            ki = self.key_info_xml(),
        )
    }
}

/// Proof that the message with the verified Id carries a valid enveloped signature by the key
/// in its `KeyInfo`. Trust in that signer is the caller's decision. Only this crate constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedMessageSignature {
    /// Certificates from `KeyInfo/X509Data`, DER, leaf (the verifying key's certificate) first;
    /// empty when `KeyInfo` carried a `KeyValue`.
    pub signer_chain: Vec<Vec<u8>>,
    /// DER SubjectPublicKeyInfo of the key the signature verified with.
    pub signer_public_key_spki: Vec<u8>,
    /// Decoded `SignatureValue` (for `RequestSignatureValue`).
    pub signature_value: Vec<u8>,
    /// `SignatureMethod/@Algorithm`.
    pub signature_method: String,
}

/// Insert an enveloped signature as the first child of the message element with Id
/// `message_id` in `doc_xml` (SOAP envelope or bare message) and sign it. The Reference is
/// `#<message_id>`; `KeyInfo` carries the signer's chain as `X509Data`. Everything outside the
/// inserted `ds:Signature` is returned byte for byte.
///
/// Sign last: any later change inside the message (including adding a key-binding signature)
/// breaks the message signature.
pub fn sign_message(
    doc_xml: &str,
    message_id: &str,
    signer: &MessageSigner,
) -> Result<String, XmlSecError> {
    let text = {
        let doc = profile::parse(doc_xml)?;
        let message = placement::find_message(&doc, message_id)?;
        if placement::message_signature(&doc, message)?.is_some() {
            return Err(XmlSecError::UnexpectedSignature);
        }
        let (range, name) =
            crate::splice::element_span(&doc, message).ok_or(XmlSecError::Backend)?;
        crate::splice::insert_first_child(
            doc_xml,
            range.start,
            &name,
            &signer.template(message_id),
        )?
    };

    let mut doc = profile::parse(&text)?;
    let message = placement::find_message(&doc, message_id)?;
    let signature = placement::message_signature(&doc, message)?.ok_or(XmlSecError::Template)?;
    let checked = profile::check_signature(
        &doc,
        signature,
        Profile::Message {
            message_id,
            whole_document: doc.document_element() == Some(message),
        },
    )?;
    let keys = single(load_private(&signer.pkcs8_der, signer.kind)?);
    crate::backend::sign_template(&text, &mut doc, signature, &checked, keys)
}

/// Verify the enveloped signature of the message element with Id `message_id` in `doc_xml`
/// (the whole received document). `Ok(None)` if the message has no `ds:Signature` child at all;
/// a `ds:Signature` child in any other than the first position is an error.
///
/// Parses `doc_xml`; with the document already at hand use [`verify_message_signature_in`].
pub fn verify_message_signature(
    doc_xml: &str,
    message_id: &str,
) -> Result<Option<VerifiedMessageSignature>, XmlSecError> {
    verify_message_signature_in(&ReceivedDocument::parse(doc_xml), message_id)
}

/// [`verify_message_signature`] over a document parsed once. The signature is verified over
/// the message re-rooted with the namespaces in scope (as it sits in the document) and,
/// failing that, over the message taken as its own document (a message signed before it
/// was wrapped in SOAP, e.g. with `URI=""` or an inclusive-C14N SignedInfo); the profile
/// applies in full to each reading (see `document`).
pub fn verify_message_signature_in(
    doc: &ReceivedDocument<'_>,
    message_id: &str,
) -> Result<Option<VerifiedMessageSignature>, XmlSecError> {
    crate::document::verify_in_readings(doc, message_id, XmlSecError::MessageNotFound, |reading| {
        verify_in_reading(&reading.text, message_id, reading.element_is_document)
    })
}

fn verify_in_reading(
    doc_xml: &str,
    message_id: &str,
    element_is_document: bool,
) -> Result<Option<VerifiedMessageSignature>, XmlSecError> {
    let mut doc = profile::parse(doc_xml)?;
    let message = placement::find_message(&doc, message_id)?;
    let Some(signature) = placement::message_signature(&doc, message)? else {
        return Ok(None);
    };
    let profile = Profile::Message {
        message_id,
        whole_document: element_is_document && doc.document_element() == Some(message),
    };
    let checked = profile::check_signature(&doc, signature, profile)?;
    let key_info = checked
        .key_info
        .ok_or(XmlSecError::SignatureStructure("KeyInfo"))?;
    let signer = placement::signer_key(&doc, key_info, &checked.signature_method)?;
    let signature_value = checked.signature_value(&doc)?;
    let target = if checked.reference_uri.is_empty() {
        Target::WholeDocument(message)
    } else {
        Target::Element(message)
    };

    let mut ctx = DsigContext::new(single(signer.key));
    // Both defaults, set explicitly because the module-level argument relies on them: only our key,
    // and the reference target must be the document element or an ancestor of the signature.
    ctx.trusted_keys_only = true;
    ctx.strict_verification = true;

    placement::detach_preceding_signatures(&mut doc, signature);
    match crate::backend::verify(&ctx, &doc, signature, target)? {
        Verdict::Valid => Ok(Some(VerifiedMessageSignature {
            signer_chain: signer.chain,
            signer_public_key_spki: signer.spki,
            signature_value,
            signature_method: checked.signature_method,
        })),
        Verdict::WrongKey => Err(XmlSecError::BadSignature),
    }
}

fn load_private(pkcs8_der: &[u8], kind: SignerKind) -> Result<Key, XmlSecError> {
    let pem = private_key_pem(pkcs8_der)?;
    match kind {
        SignerKind::Rsa => loader::load_rsa_private_pem(pem.as_bytes()),
        SignerKind::EcdsaP256 => loader::load_ec_p256_private_pem(pem.as_bytes()),
    }
    .map_err(|_| XmlSecError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_debug_redacts_the_key() {
        use aws_lc_rs::encoding::AsDer;
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = kp.as_der().unwrap();
        let signer = MessageSigner::rsa(der.as_ref(), Vec::new()).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&B64.encode(&der.as_ref()[..24])));
    }
}

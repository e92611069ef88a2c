//! The message-signature profile: where the signature sits, what it references, which
//! transforms and algorithms it may use, and which key `KeyInfo` names. All of it runs before
//! any cryptography, on the whole received document.

use bergshamra::keys::{Key, keyinfo, loader};
use uppsala::{Document, NodeId};
use xkms_proto::vocab::{DS_NS, XKMS_NS, alg};

use super::ECDSA_SHA256;
use crate::error::{AlgorithmRole, XmlSecError};
use crate::signature::profile::{
    DIGEST_ALGS, algorithm, check_c14n, element_children, is_named, require_name, unique_ids,
    unqualified_id,
};
use crate::signature::strip_whitespace;

const DSIG11_NS: &str = "http://www.w3.org/2009/xmldsig11#";

/// `X509Data` children that only help to find a certificate; ignored, the certificates decide.
const X509_HINTS: &[&str] = &["X509IssuerSerial", "X509SubjectName", "X509SKI"];

/// Refuse duplicate ID values, then find the XKMS request or result with unqualified `Id`.
pub(super) fn find_message(doc: &Document<'_>, message_id: &str) -> Result<NodeId, XmlSecError> {
    let ids = unique_ids(doc)?;
    ids.get(message_id)
        .copied()
        .filter(|&n| is_message(doc, n) && unqualified_id(doc, n) == Some(message_id))
        .ok_or(XmlSecError::MessageNotFound)
}

/// The message's signature: `None` without a `ds:Signature` child, the first element child if
/// that is the only `ds:Signature` child, an error for any other placement or for a signature
/// around the message.
pub(super) fn message_signature(
    doc: &Document<'_>,
    message: NodeId,
) -> Result<Option<NodeId>, XmlSecError> {
    let is_sig = |n: NodeId| is_named(doc, n, DS_NS, Some(&["Signature"]));
    let children: Vec<NodeId> = element_children(doc, message).collect();
    let positions: Vec<usize> = (0..children.len())
        .filter(|&i| is_sig(children[i]))
        .collect();
    match positions.as_slice() {
        [] => Ok(None),
        [0] if !doc.ancestors(message).into_iter().any(is_sig) => Ok(children.first().copied()),
        _ => Err(XmlSecError::UnexpectedSignature),
    }
}

/// What the structural check learned about an acceptable message signature.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub signature_method: String,
    /// `""` (whole document, message is the document element) or `#<message Id>`.
    pub reference_uri: String,
    pub digest_value: NodeId,
    pub signature_value: NodeId,
    pub key_info: NodeId,
}

/// Check `sig` against the profile: SignedInfo / SignatureValue / KeyInfo and nothing else, one
/// Reference to the message, transforms exactly [enveloped-signature, c14n], allowed digest,
/// an asymmetric signature method without parameters.
/// `whole_document`: whether `URI=""` designates the message (it is the document element
/// of the reading the signature is checked in, and was so when received or in the
/// standalone reading).
pub(super) fn check_signature(
    doc: &Document<'_>,
    sig: NodeId,
    message: NodeId,
    message_id: &str,
    whole_document: bool,
) -> Result<Checked, XmlSecError> {
    let children: Vec<NodeId> = element_children(doc, sig).collect();
    let [signed_info, signature_value, key_info] = children.as_slice() else {
        return Err(XmlSecError::SignatureStructure("Signature child"));
    };
    require_name(doc, *signed_info, DS_NS, "SignedInfo")?;
    require_name(doc, *signature_value, DS_NS, "SignatureValue")?;
    require_name(doc, *key_info, DS_NS, "KeyInfo")?;
    if doc
        .descendants(sig)
        .into_iter()
        .any(|n| is_named(doc, n, DS_NS, Some(&["Signature"])))
    {
        return Err(XmlSecError::UnexpectedSignature);
    }

    let si: Vec<NodeId> = element_children(doc, *signed_info).collect();
    let c14n = *si
        .first()
        .ok_or(XmlSecError::SignatureStructure("CanonicalizationMethod"))?;
    require_name(doc, c14n, DS_NS, "CanonicalizationMethod")?;
    check_c14n(doc, c14n, AlgorithmRole::Canonicalization)?;
    let method = *si
        .get(1)
        .ok_or(XmlSecError::SignatureStructure("SignatureMethod"))?;
    require_name(doc, method, DS_NS, "SignatureMethod")?;
    let method_uri = algorithm(doc, method)?;
    if required_key_algorithm(method_uri).is_none() {
        return Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Signature,
        });
    }
    if element_children(doc, method).next().is_some() {
        return Err(XmlSecError::SignatureStructure(
            "SignatureMethod parameters",
        ));
    }
    let rest = si.get(2..).unwrap_or_default();
    if rest
        .iter()
        .any(|&n| !is_named(doc, n, DS_NS, Some(&["Reference"])))
    {
        return Err(XmlSecError::SignatureStructure("SignedInfo child"));
    }
    let [reference] = rest else {
        return Err(XmlSecError::ReferenceCount { found: rest.len() });
    };

    // URI="#<message Id>", or URI="" when the message is the whole document (bare binding).
    let uri = doc
        .element(*reference)
        .and_then(|e| e.get_attribute("URI"))
        .ok_or(XmlSecError::ReferenceTarget)?;
    let targets_message = match uri.strip_prefix('#') {
        Some(fragment) => fragment == message_id,
        None => uri.is_empty() && whole_document && doc.document_element() == Some(message),
    };
    if !targets_message {
        return Err(XmlSecError::ReferenceTarget);
    }

    let parts: Vec<NodeId> = element_children(doc, *reference).collect();
    let [transforms, digest_method, digest_value] = parts.as_slice() else {
        return Err(XmlSecError::SignatureStructure("Reference child"));
    };
    require_name(doc, *transforms, DS_NS, "Transforms")?;
    let list: Vec<NodeId> = element_children(doc, *transforms).collect();
    let [enveloped, c14n_transform] = list.as_slice() else {
        return Err(XmlSecError::SignatureStructure("Transforms"));
    };
    require_name(doc, *enveloped, DS_NS, "Transform")?;
    require_name(doc, *c14n_transform, DS_NS, "Transform")?;
    if algorithm(doc, *enveloped)? != alg::ENVELOPED_SIGNATURE
        || element_children(doc, *enveloped).next().is_some()
    {
        return Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Transform,
        });
    }
    check_c14n(doc, *c14n_transform, AlgorithmRole::Transform)?;

    require_name(doc, *digest_method, DS_NS, "DigestMethod")?;
    if !DIGEST_ALGS.contains(&algorithm(doc, *digest_method)?)
        || element_children(doc, *digest_method).next().is_some()
    {
        return Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Digest,
        });
    }
    require_name(doc, *digest_value, DS_NS, "DigestValue")?;

    Ok(Checked {
        signature_method: method_uri.to_owned(),
        reference_uri: uri.to_owned(),
        digest_value: *digest_value,
        signature_value: *signature_value,
        key_info: *key_info,
    })
}

/// The signer's key as `KeyInfo` states it.
pub(super) struct Signer {
    /// Public key only, no certificate attached (so the backend runs no chain policy of its own).
    pub key: Key,
    pub spki: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// Extract the signer key from `KeyInfo`: optional `KeyName`s plus exactly one `X509Data`
/// (certificates, leaf = the certificate no other one was issued by) or `KeyValue`
/// (`RSAKeyValue` / dsig11 `ECKeyValue`). The key type must fit `signature_method`.
pub(super) fn signer_key(
    doc: &Document<'_>,
    key_info: NodeId,
    signature_method: &str,
) -> Result<Signer, XmlSecError> {
    let mut source = None;
    for child in element_children(doc, key_info) {
        if is_named(doc, child, DS_NS, Some(&["KeyName"])) {
            continue;
        }
        if source.is_none() && is_named(doc, child, DS_NS, Some(&["X509Data", "KeyValue"])) {
            source = Some(child);
            continue;
        }
        return Err(XmlSecError::SignatureStructure("KeyInfo child"));
    }
    let source = source.ok_or(XmlSecError::SignatureStructure("KeyInfo"))?;

    let (key, chain) = if is_named(doc, source, DS_NS, Some(&["X509Data"])) {
        let certificates = x509_certificates(doc, source)?;
        // bergshamra's leaf selection (not a CA, issuer of no other certificate in the set);
        // it returns the chain with that leaf first and the leaf's public key.
        let key = keyinfo::extract_x509_key_value(key_info, doc).ok_or(XmlSecError::InvalidKey)?;
        if key.x509_chain.len() != certificates {
            return Err(XmlSecError::InvalidKey);
        }
        let chain = key.x509_chain.clone();
        (key, chain)
    } else {
        let inner: Vec<NodeId> = element_children(doc, source).collect();
        let key = match inner.as_slice() {
            [v] if is_named(doc, *v, DS_NS, Some(&["RSAKeyValue"])) => {
                keyinfo::parse_rsa_key_value(source, doc)
            }
            [v] if is_named(doc, *v, DSIG11_NS, Some(&["ECKeyValue"])) => {
                keyinfo::parse_ec_key_value(source, doc)
            }
            _ => return Err(XmlSecError::SignatureStructure("KeyValue")),
        }
        .map_err(|_| XmlSecError::InvalidKey)?;
        (key, Vec::new())
    };

    if required_key_algorithm(signature_method) != Some(key.algorithm_name()) {
        return Err(XmlSecError::KeyMismatch);
    }
    let spki = key.to_spki_der().ok_or(XmlSecError::InvalidKey)?;
    let key = loader::load_spki_der(&spki).map_err(|_| XmlSecError::InvalidKey)?;
    Ok(Signer { key, spki, chain })
}

/// Detach every `ds:Signature` that precedes `sig` in document order, so that the backend's
/// "first signature" is `sig`. See the module documentation of `message` for why this leaves
/// the verified content unchanged: all of them lie outside the message and its ancestors.
pub(super) fn detach_preceding_signatures(doc: &mut Document<'_>, sig: NodeId) {
    let before: Vec<NodeId> = doc
        .descendants(doc.root())
        .into_iter()
        .take_while(|&n| n != sig)
        .filter(|&n| is_named(doc, n, DS_NS, Some(&["Signature"])))
        .collect();
    for n in before {
        doc.detach(n);
    }
}

/// The bergshamra key algorithm a signature method needs; `None` for methods not allowed on
/// messages (HMAC among them: a shared MAC key is no signer identity).
fn required_key_algorithm(signature_method: &str) -> Option<&'static str> {
    match signature_method {
        alg::RSA_SHA1 | alg::RSA_SHA256 => Some("RSA"),
        ECDSA_SHA256 => Some("EC-P256"),
        _ => None,
    }
}

/// Count the `X509Certificate` children (at least one, all base64) and refuse anything but
/// certificates and lookup hints.
/// Certificates a signer's `X509Data` may carry: a chain is a handful; the backend's leaf
/// selection compares every pair, so an unbounded list would be quadratic work for anyone.
/// (The same bound as path building's per-request certificate cap.)
pub(crate) const MAX_SIGNER_CERTIFICATES: usize = 16;

fn x509_certificates(doc: &Document<'_>, x509_data: NodeId) -> Result<usize, XmlSecError> {
    use base64::Engine;
    let mut count = 0;
    for child in element_children(doc, x509_data) {
        if is_named(doc, child, DS_NS, Some(&["X509Certificate"])) {
            if count == MAX_SIGNER_CERTIFICATES {
                return Err(XmlSecError::SignatureStructure("X509Certificate count"));
            }
            base64::engine::general_purpose::STANDARD
                .decode(strip_whitespace(&doc.text_content_deep(child)))
                .map_err(|_| XmlSecError::SignatureStructure("X509Certificate"))?;
            count += 1;
        } else if !is_named(doc, child, DS_NS, Some(X509_HINTS)) {
            return Err(XmlSecError::SignatureStructure("X509Data child"));
        }
    }
    if count == 0 {
        return Err(XmlSecError::SignatureStructure("X509Certificate"));
    }
    Ok(count)
}

/// An XKMS request or result element (`LocateRequest`, `RegisterResult`, `CompoundRequest`, ...).
fn is_message(doc: &Document<'_>, n: NodeId) -> bool {
    is_named(doc, n, XKMS_NS, None)
        && doc.element(n).is_some_and(|e| {
            e.name.local_name.ends_with("Request") || e.name.local_name.ends_with("Result")
        })
}

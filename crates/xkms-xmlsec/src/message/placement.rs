//! Where a message signature sits (the first child of the message, nothing around the
//! message), which signatures the working copy drops so the engine verifies ours, and which
//! key `KeyInfo` names. All of it runs before any cryptography, on the whole received
//! document; the signature's own shape is the shared profile's (`crate::profile`).

use bergshamra::keys::{Key, keyinfo, loader};
use uppsala::{Document, NodeId};
use xkms_proto::vocab::DS_NS;

use crate::error::XmlSecError;
use crate::profile::{
    base64_content, element_children, find_xkms_element, is_named, is_signature,
    message_key_algorithm,
};

const DSIG11_NS: &str = "http://www.w3.org/2009/xmldsig11#";

/// `X509Data` children that only help to find a certificate; ignored, the certificates decide.
const X509_HINTS: &[&str] = &["X509IssuerSerial", "X509SubjectName", "X509SKI"];

/// Refuse duplicate ID values, then find the XKMS request or result with unqualified `Id`.
pub(super) fn find_message(doc: &Document<'_>, message_id: &str) -> Result<NodeId, XmlSecError> {
    find_xkms_element(
        doc,
        message_id,
        &["Request", "Result"],
        XmlSecError::MessageNotFound,
    )
}

/// The message's signature: `None` without a `ds:Signature` child, the first element child if
/// that is the only `ds:Signature` child, an error for any other placement or for a signature
/// around the message.
pub(super) fn message_signature(
    doc: &Document<'_>,
    message: NodeId,
) -> Result<Option<NodeId>, XmlSecError> {
    let is_sig = |n: NodeId| is_signature(doc, n);
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

    if message_key_algorithm(signature_method) != Some(key.algorithm_name()) {
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
        .filter(|&n| is_signature(doc, n))
        .collect();
    for n in before {
        doc.detach(n);
    }
}

/// Count the `X509Certificate` children (at least one, all base64) and refuse anything but
/// certificates and lookup hints.
/// Certificates a signer's `X509Data` may carry: a chain is a handful; the backend's leaf
/// selection compares every pair, so an unbounded list would be quadratic work for anyone.
/// (The same bound as path building's per-request certificate cap.)
pub(crate) const MAX_SIGNER_CERTIFICATES: usize = 16;

fn x509_certificates(doc: &Document<'_>, x509_data: NodeId) -> Result<usize, XmlSecError> {
    let mut count = 0;
    for child in element_children(doc, x509_data) {
        if is_named(doc, child, DS_NS, Some(&["X509Certificate"])) {
            if count == MAX_SIGNER_CERTIFICATES {
                return Err(XmlSecError::SignatureStructure("X509Certificate count"));
            }
            base64_content(doc, child).ok_or(XmlSecError::SignatureStructure("X509Certificate"))?;
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

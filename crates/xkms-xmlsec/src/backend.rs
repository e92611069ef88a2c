//! The XML-DSig engine (bergshamra), driven the same way for both kinds of signature:
//! a key manager holding exactly the one key we chose, the signature and the reference
//! target the engine reports checked against the ones the profile located, signing values
//! spliced into the original text, and the engine's errors mapped to ours.

use bergshamra::dsig::VerifyResult;
use bergshamra::{DsigContext, Key, KeysManager};
use uppsala::{Document, NodeId};
use zeroize::Zeroizing;

use crate::XmlSecError;
use crate::profile::Checked;

/// The element a verified signature must cover.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// The element its `#<Id>` reference resolves to.
    Element(NodeId),
    /// The document element, designated by `URI=""`.
    WholeDocument(NodeId),
}

/// A verification that did not fail for a reason independent of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Valid,
    /// The value does not verify with this key (another key might).
    WrongKey,
}

/// Verify `doc`, in which `signature` must be the first `ds:Signature` (the engine verifies
/// that one), and check that it is the one reported and that its one reference covers
/// `target`.
pub(crate) fn verify(
    ctx: &DsigContext,
    doc: &Document<'_>,
    signature: NodeId,
    target: Target,
) -> Result<Verdict, XmlSecError> {
    match bergshamra::dsig::verify::verify_document(ctx, doc).map_err(map_backend)? {
        VerifyResult::Valid {
            signature_node,
            references,
            ..
        } => {
            if signature_node != signature {
                return Err(XmlSecError::Backend);
            }
            let covered = match (references.as_slice(), target) {
                ([r], Target::Element(node)) => r.digest_verified && r.resolved_node == Some(node),
                ([r], Target::WholeDocument(node)) => {
                    r.digest_verified && r.uri.is_empty() && doc.document_element() == Some(node)
                }
                _ => false,
            };
            if covered {
                Ok(Verdict::Valid)
            } else {
                Err(XmlSecError::ReferenceTarget)
            }
        }
        // The digest does not depend on the key: no other key can help.
        VerifyResult::Invalid { reason } if reason.starts_with("Reference digest failed") => {
            Err(XmlSecError::DigestMismatch)
        }
        VerifyResult::Invalid { .. } => Ok(Verdict::WrongKey),
    }
}

/// Fill the template `signature` (checked, with empty `DigestValue` and `SignatureValue`)
/// of `doc`, parsed from `text`: the engine computes both values with `keys`, and they are
/// spliced into `text`. Everything outside the two values is returned byte for byte.
pub(crate) fn sign_template(
    text: &str,
    doc: &mut Document<'_>,
    signature: NodeId,
    checked: &Checked,
    keys: KeysManager,
) -> Result<String, XmlSecError> {
    let mut slots = Vec::with_capacity(2);
    for node in [checked.digest_value, checked.signature_value] {
        if !doc.text_content_deep(node).trim().is_empty() {
            return Err(XmlSecError::Template);
        }
        let (range, name) = crate::splice::element_span(doc, node).ok_or(XmlSecError::Template)?;
        slots.push((node, range, name));
    }

    let ctx = DsigContext::new(keys);
    bergshamra::dsig::sign::sign_document_node(&ctx, doc, signature).map_err(map_backend)?;

    // Last first, so earlier ranges stay valid.
    let mut out = text.to_owned();
    for (node, range, name) in slots.into_iter().rev() {
        let value: String = doc
            .text_content_deep(node)
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let filled = crate::splice::fill_empty_element(&text[range.clone()], &name, &value)?;
        out.replace_range(range, &filled);
    }
    Ok(out)
}

/// A keys manager holding exactly `key`.
pub(crate) fn single(key: Key) -> KeysManager {
    let mut manager = KeysManager::new();
    manager.add_key(key);
    manager
}

/// PKCS#8 DER as a `PRIVATE KEY` PEM block: the engine's loaders take (strict RFC 7468)
/// PEM only; wrapping DER is lossless.
pub(crate) fn private_key_pem(pkcs8_der: &[u8]) -> Result<Zeroizing<String>, XmlSecError> {
    pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, pkcs8_der)
        .map(Zeroizing::new)
        .map_err(|_| XmlSecError::InvalidKey)
}

pub(crate) fn map_backend(e: bergshamra::Error) -> XmlSecError {
    match e {
        bergshamra::Error::DigestMismatch(_) => XmlSecError::DigestMismatch,
        bergshamra::Error::SignatureInvalid(_) => XmlSecError::BadSignature,
        bergshamra::Error::Base64(_) => XmlSecError::SignatureStructure("base64 value"),
        bergshamra::Error::Key(_) | bergshamra::Error::KeyNotFound(_) => XmlSecError::InvalidKey,
        bergshamra::Error::XmlStructure(_) => XmlSecError::SignatureStructure("backend check"),
        bergshamra::Error::UnsupportedAlgorithm(_) => XmlSecError::AlgorithmUnavailable,
        _ => XmlSecError::Backend,
    }
}

//! The XML-DSig profile of this crate, for both kinds of signature it handles: what a
//! `ds:Signature` may contain, what its one Reference may point at, which transforms and
//! algorithms it may use. Detached key-binding signatures (`signature`) and enveloped
//! message signatures (`message`) differ only where [`Profile`] says so; everything else
//! is checked here, once, BEFORE any cryptography, on the whole received document, so the
//! backend only ever sees a signature of a shape we accept.
//!
//! Also here: the parser settings for untrusted documents and the Id rules both kinds
//! rely on (every ID value unique, so `#<id>` designates one element).

use std::collections::HashMap;

use uppsala::{Document, NodeId};
use xkms_proto::vocab::{DS_NS, EC_NS, XKMS_NS, alg};

use crate::error::{AlgorithmRole, XmlSecError};

/// Maximum element nesting accepted in a received document. A SOAP envelope around the deepest
/// XKMS request (key binding → KeyInfo → X509Data → …) stays far below this.
const MAX_DEPTH: u32 = 64;

/// Attribute local names the XML-DSig backend treats as IDs (bergshamra registers `Id`, `ID`,
/// `id`, `AssertionID`, matching local names in any namespace; `xml:id` has local name `id`).
/// Uniqueness is enforced over all of them, so no second element can answer `#<id>`.
const ID_ATTRS: &[&str] = &["Id", "ID", "id", "AssertionID"];

const C14N_ALGS: &[&str] = &[
    alg::EXC_C14N,
    alg::EXC_C14N_WITH_COMMENTS,
    alg::C14N,
    alg::C14N_WITH_COMMENTS,
];

const DIGEST_ALGS: &[&str] = &[
    alg::SHA1,
    alg::SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// `xmldsig-more#ecdsa-sha256` (RFC 6931).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// Kind of key a key-binding signature method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Hmac,
    Rsa,
}

/// What a signature signs, and so where it differs from the other kind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Profile<'a> {
    /// A detached key-binding signature (`KeyBindingAuthentication`, `ProofOfPossession`):
    /// `Reference URI="#<key_binding_id>"`, at most one c14n transform, `KeyInfo` optional
    /// (never used), an HMAC or RSA method fitting `key`.
    KeyBinding {
        key_binding_id: &'a str,
        key: KeyKind,
    },
    /// An enveloped message signature: `Reference URI="#<message_id>"` (or `""` when
    /// `whole_document`: the message is the document element of the reading), transforms
    /// exactly [enveloped-signature, c14n], `KeyInfo` required (it names the signer), an
    /// asymmetric method without parameters (a MAC key is no signer identity).
    Message {
        message_id: &'a str,
        whole_document: bool,
    },
}

/// What the structural check learned about an accepted signature.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub signature_method: String,
    /// The Reference's `URI` (`""` when absent).
    pub reference_uri: String,
    pub digest_value: NodeId,
    pub signature_value: NodeId,
    pub key_info: Option<NodeId>,
}

/// Check the signature at `sig` against `profile`: SignedInfo, SignatureValue, KeyInfo and
/// no Object (a classic hiding place for wrapped content, never used by XKMS); no nested
/// signature; one c14n; one Reference to the signed element; allowed transforms and digest;
/// a signature method the profile allows.
pub(crate) fn check_signature(
    doc: &Document<'_>,
    sig: NodeId,
    profile: Profile<'_>,
) -> Result<Checked, XmlSecError> {
    let children: Vec<NodeId> = element_children(doc, sig).collect();
    if matches!(profile, Profile::Message { .. }) && children.len() != 3 {
        return Err(XmlSecError::SignatureStructure("Signature child"));
    }
    let signed_info = *children
        .first()
        .ok_or(XmlSecError::SignatureStructure("SignedInfo"))?;
    require_name(doc, signed_info, DS_NS, "SignedInfo")?;
    let signature_value = *children
        .get(1)
        .ok_or(XmlSecError::SignatureStructure("SignatureValue"))?;
    require_name(doc, signature_value, DS_NS, "SignatureValue")?;
    let key_info = match children.get(2..).unwrap_or_default() {
        [] => None,
        [key_info] => {
            require_name(doc, *key_info, DS_NS, "KeyInfo")?;
            Some(*key_info)
        }
        _ => return Err(XmlSecError::SignatureStructure("Signature child")),
    };
    if doc
        .descendants(sig)
        .into_iter()
        .any(|n| is_named(doc, n, DS_NS, Some(&["Signature"])))
    {
        return Err(XmlSecError::UnexpectedSignature);
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, Reference (exactly one).
    let si: Vec<NodeId> = element_children(doc, signed_info).collect();
    let c14n = *si
        .first()
        .ok_or(XmlSecError::SignatureStructure("CanonicalizationMethod"))?;
    require_name(doc, c14n, DS_NS, "CanonicalizationMethod")?;
    check_c14n(doc, c14n, AlgorithmRole::Canonicalization)?;
    let method = *si
        .get(1)
        .ok_or(XmlSecError::SignatureStructure("SignatureMethod"))?;
    require_name(doc, method, DS_NS, "SignatureMethod")?;
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
    let reference = *reference;
    let method_uri = algorithm(doc, method)?;
    check_signature_method(doc, method, method_uri, profile)?;

    let uri = doc.element(reference).and_then(|e| e.get_attribute("URI"));
    let targets_signed_element = match (profile, uri) {
        (Profile::KeyBinding { key_binding_id, .. }, Some(uri)) => {
            uri.strip_prefix('#') == Some(key_binding_id)
        }
        (
            Profile::Message {
                message_id,
                whole_document,
            },
            Some(uri),
        ) => match uri.strip_prefix('#') {
            Some(fragment) => fragment == message_id,
            None => uri.is_empty() && whole_document,
        },
        (_, None) => false,
    };
    if !targets_signed_element {
        return Err(XmlSecError::ReferenceTarget);
    }

    // Reference: Transforms, DigestMethod, DigestValue.
    let parts: Vec<NodeId> = element_children(doc, reference).collect();
    if matches!(profile, Profile::Message { .. }) && parts.len() != 3 {
        return Err(XmlSecError::SignatureStructure("Reference child"));
    }
    let mut parts = parts.into_iter().peekable();
    match profile {
        Profile::KeyBinding { .. } => {
            if let Some(&transforms) = parts.peek()
                && is_named(doc, transforms, DS_NS, Some(&["Transforms"]))
            {
                parts.next();
                check_key_binding_transforms(doc, transforms)?;
            }
        }
        Profile::Message { .. } => {
            let transforms = parts
                .next()
                .ok_or(XmlSecError::SignatureStructure("Transforms"))?;
            check_message_transforms(doc, transforms)?;
        }
    }
    let digest_method = parts
        .next()
        .ok_or(XmlSecError::SignatureStructure("DigestMethod"))?;
    require_name(doc, digest_method, DS_NS, "DigestMethod")?;
    if !DIGEST_ALGS.contains(&algorithm(doc, digest_method)?)
        || element_children(doc, digest_method).next().is_some()
    {
        return Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Digest,
        });
    }
    let digest_value = parts
        .next()
        .ok_or(XmlSecError::SignatureStructure("DigestValue"))?;
    require_name(doc, digest_value, DS_NS, "DigestValue")?;
    if parts.next().is_some() {
        return Err(XmlSecError::SignatureStructure("Reference child"));
    }

    Ok(Checked {
        signature_method: method_uri.to_owned(),
        reference_uri: uri.unwrap_or_default().to_owned(),
        digest_value,
        signature_value,
        key_info,
    })
}

/// Key-binding signature methods, with the key kind and the full HMAC output in bits.
pub(crate) fn key_binding_method(uri: &str) -> Option<(KeyKind, usize)> {
    match uri {
        alg::HMAC_SHA1 => Some((KeyKind::Hmac, 160)),
        alg::HMAC_SHA256 => Some((KeyKind::Hmac, 256)),
        alg::RSA_SHA1 | alg::RSA_SHA256 => Some((KeyKind::Rsa, 0)),
        _ => None,
    }
}

/// The bergshamra key algorithm a message signature method needs; `None` for methods not
/// allowed on messages (HMAC among them).
pub(crate) fn message_key_algorithm(signature_method: &str) -> Option<&'static str> {
    match signature_method {
        alg::RSA_SHA1 | alg::RSA_SHA256 => Some("RSA"),
        ECDSA_SHA256 => Some("EC-P256"),
        _ => None,
    }
}

fn check_signature_method(
    doc: &Document<'_>,
    method: NodeId,
    uri: &str,
    profile: Profile<'_>,
) -> Result<(), XmlSecError> {
    let not_allowed = XmlSecError::AlgorithmNotAllowed {
        role: AlgorithmRole::Signature,
    };
    let parameters: Vec<NodeId> = element_children(doc, method).collect();
    match profile {
        Profile::KeyBinding { key, .. } => {
            let (kind, full_bits) = key_binding_method(uri).ok_or(not_allowed)?;
            if kind != key {
                return Err(XmlSecError::KeyMismatch);
            }
            match (kind, parameters.as_slice()) {
                (_, []) => Ok(()),
                (KeyKind::Hmac, [len])
                    if is_named(doc, *len, DS_NS, Some(&["HMACOutputLength"])) =>
                {
                    match doc.text_content_deep(*len).trim().parse::<usize>() {
                        Ok(bits) if bits == full_bits => Ok(()),
                        _ => Err(XmlSecError::HmacOutputLength),
                    }
                }
                _ => Err(XmlSecError::SignatureStructure(
                    "SignatureMethod parameters",
                )),
            }
        }
        Profile::Message { .. } => {
            message_key_algorithm(uri).ok_or(not_allowed)?;
            if parameters.is_empty() {
                Ok(())
            } else {
                Err(XmlSecError::SignatureStructure(
                    "SignatureMethod parameters",
                ))
            }
        }
    }
}

/// One canonicalization is all a detached key-binding reference needs.
fn check_key_binding_transforms(doc: &Document<'_>, transforms: NodeId) -> Result<(), XmlSecError> {
    let list: Vec<NodeId> = element_children(doc, transforms).collect();
    if list.len() > 1 {
        return Err(XmlSecError::SignatureStructure("Transforms"));
    }
    for t in list {
        require_name(doc, t, DS_NS, "Transform")?;
        check_c14n(doc, t, AlgorithmRole::Transform)?;
    }
    Ok(())
}

/// Exactly [enveloped-signature, c14n]: no XPath, XSLT, base64 or external URIs.
fn check_message_transforms(doc: &Document<'_>, transforms: NodeId) -> Result<(), XmlSecError> {
    require_name(doc, transforms, DS_NS, "Transforms")?;
    let list: Vec<NodeId> = element_children(doc, transforms).collect();
    let [enveloped, c14n] = list.as_slice() else {
        return Err(XmlSecError::SignatureStructure("Transforms"));
    };
    require_name(doc, *enveloped, DS_NS, "Transform")?;
    require_name(doc, *c14n, DS_NS, "Transform")?;
    if algorithm(doc, *enveloped)? != alg::ENVELOPED_SIGNATURE
        || element_children(doc, *enveloped).next().is_some()
    {
        return Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Transform,
        });
    }
    check_c14n(doc, *c14n, AlgorithmRole::Transform)
}

fn check_c14n(doc: &Document<'_>, node: NodeId, role: AlgorithmRole) -> Result<(), XmlSecError> {
    let uri = algorithm(doc, node)?;
    if !C14N_ALGS.contains(&uri) {
        return Err(XmlSecError::AlgorithmNotAllowed { role });
    }
    let exclusive = uri == alg::EXC_C14N || uri == alg::EXC_C14N_WITH_COMMENTS;
    let children: Vec<NodeId> = element_children(doc, node).collect();
    match children.as_slice() {
        [] => Ok(()),
        [ns] if exclusive
            && is_named(doc, *ns, EC_NS, Some(&["InclusiveNamespaces"]))
            && element_children(doc, *ns).next().is_none() =>
        {
            Ok(())
        }
        _ => Err(XmlSecError::SignatureStructure("c14n parameters")),
    }
}

/// Parse an untrusted document: no DTD, no entity declarations, bounded depth.
pub(crate) fn parse(xml: &str) -> Result<Document<'_>, XmlSecError> {
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_forbid_entities(true)
        .with_max_depth(MAX_DEPTH)
        .parse(xml)
        .map_err(|_| XmlSecError::MalformedXml)
}

/// Map of every ID value to its element; a second occurrence of a value is refused.
pub(crate) fn unique_ids<'d>(
    doc: &'d Document<'_>,
) -> Result<HashMap<&'d str, NodeId>, XmlSecError> {
    let mut ids = HashMap::new();
    for n in doc.descendants(doc.root()) {
        let Some(elem) = doc.element(n) else { continue };
        for attr in &elem.attributes {
            if ID_ATTRS.contains(&&*attr.name.local_name) && ids.insert(&*attr.value, n).is_some() {
                return Err(XmlSecError::DuplicateId);
            }
        }
    }
    Ok(ids)
}

/// The value of the unqualified `Id` attribute (the schema's xs:ID on XKMS elements).
pub(crate) fn unqualified_id<'d>(doc: &'d Document<'_>, n: NodeId) -> Option<&'d str> {
    doc.element(n)?
        .attributes
        .iter()
        .find(|a| a.name.namespace_uri.is_none() && &*a.name.local_name == "Id")
        .map(|a| &*a.value)
}

/// The XKMS element with unqualified `Id` `id` whose local name ends in one of
/// `suffixes` (`Request`, `Result`), after refusing duplicate ID values anywhere.
pub(crate) fn find_xkms_element(
    doc: &Document<'_>,
    id: &str,
    suffixes: &[&str],
    not_found: XmlSecError,
) -> Result<NodeId, XmlSecError> {
    let ids = unique_ids(doc)?;
    ids.get(id)
        .copied()
        .filter(|&n| {
            is_named(doc, n, XKMS_NS, None)
                && doc
                    .element(n)
                    .is_some_and(|e| suffixes.iter().any(|s| e.name.local_name.ends_with(s)))
                && unqualified_id(doc, n) == Some(id)
        })
        .ok_or(not_found)
}

pub(crate) fn algorithm<'d>(doc: &'d Document<'_>, n: NodeId) -> Result<&'d str, XmlSecError> {
    doc.element(n)
        .and_then(|e| e.get_attribute("Algorithm"))
        .ok_or(XmlSecError::SignatureStructure("Algorithm attribute"))
}

pub(crate) fn element_children<'d>(
    doc: &'d Document<'_>,
    n: NodeId,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children(n)
        .into_iter()
        .filter(|&c| doc.element(c).is_some())
}

pub(crate) fn named_children<'d>(
    doc: &'d Document<'_>,
    n: NodeId,
    ns: &'d str,
    local: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    element_children(doc, n).filter(move |&c| is_named(doc, c, ns, Some(&[local])))
}

/// Whether `n` is an element in namespace `ns` with one of the local names (any if `None`).
pub(crate) fn is_named(doc: &Document<'_>, n: NodeId, ns: &str, locals: Option<&[&str]>) -> bool {
    doc.element(n).is_some_and(|e| {
        e.name.namespace_uri.as_deref() == Some(ns)
            && locals.is_none_or(|l| l.contains(&&*e.name.local_name))
    })
}

/// Whether `n` is a `ds:Signature` element.
pub(crate) fn is_signature(doc: &Document<'_>, n: NodeId) -> bool {
    is_named(doc, n, DS_NS, Some(&["Signature"]))
}

fn require_name(
    doc: &Document<'_>,
    n: NodeId,
    ns: &str,
    local: &'static str,
) -> Result<(), XmlSecError> {
    if is_named(doc, n, ns, Some(&[local])) {
        Ok(())
    } else {
        Err(XmlSecError::SignatureStructure(local))
    }
}

pub(crate) fn single(mut it: impl Iterator<Item = NodeId>) -> Option<NodeId> {
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

/// The base64 content of `node` (whitespace inside allowed), decoded.
pub(crate) fn base64_content(doc: &Document<'_>, node: NodeId) -> Option<Vec<u8>> {
    use base64::Engine;
    let text: String = doc
        .text_content_deep(node)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

impl Checked {
    /// The decoded `SignatureValue`.
    pub(crate) fn signature_value(&self, doc: &Document<'_>) -> Result<Vec<u8>, XmlSecError> {
        base64_content(doc, self.signature_value)
            .ok_or(XmlSecError::SignatureStructure("SignatureValue"))
    }
}

//! The XKMS key-binding signature profile: where the signature sits, what it may reference
//! and which algorithms it may use. Everything here runs BEFORE any cryptography, on the
//! whole received document, so that the backend only ever sees a signature of the one shape
//! we accept.

use std::collections::HashMap;

use uppsala::{Document, NodeId};
use xkms_proto::vocab::{DS_NS, EC_NS, XKMS_NS, alg};

use super::Slot;
use crate::error::{AlgorithmRole, XmlSecError};

/// Maximum element nesting accepted in a received document. A SOAP envelope around the deepest
/// XKMS request (key binding → KeyInfo → X509Data → …) stays far below this.
const MAX_DEPTH: u32 = 64;

/// Attribute local names the XML-DSig backend treats as IDs (bergshamra registers `Id`, `ID`,
/// `id`, `AssertionID`, matching local names in any namespace; `xml:id` has local name `id`).
/// Uniqueness is enforced over all of them, so no second element can answer `#<id>`.
const ID_ATTRS: &[&str] = &["Id", "ID", "id", "AssertionID"];

const KEY_BINDINGS: &[&str] = &[
    "PrototypeKeyBinding",
    "ReissueKeyBinding",
    "RevokeKeyBinding",
    "RecoverKeyBinding",
];

pub(crate) const C14N_ALGS: &[&str] = &[
    alg::EXC_C14N,
    alg::EXC_C14N_WITH_COMMENTS,
    alg::C14N,
    alg::C14N_WITH_COMMENTS,
];

pub(crate) const DIGEST_ALGS: &[&str] = &[
    alg::SHA1,
    alg::SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// Kind of key a signature method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Hmac,
    Rsa,
}

/// Signature methods of the profile, with the key kind and the full HMAC output in bits.
pub(crate) fn signature_method(uri: &str) -> Option<(KeyKind, usize)> {
    match uri {
        alg::HMAC_SHA1 => Some((KeyKind::Hmac, 160)),
        alg::HMAC_SHA256 => Some((KeyKind::Hmac, 256)),
        alg::RSA_SHA1 | alg::RSA_SHA256 => Some((KeyKind::Rsa, 0)),
        _ => None,
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

/// The nodes a key-binding signature check is about.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub request: NodeId,
    pub key_binding: NodeId,
    pub key_binding_id: String,
    pub signature: NodeId,
}

/// Refuse duplicate ID values, then find request, key binding and the slot's signature.
pub(crate) fn locate(
    doc: &Document<'_>,
    request_id: &str,
    slot: Slot,
) -> Result<Located, XmlSecError> {
    let ids = unique_ids(doc)?;
    let request = ids
        .get(request_id)
        .copied()
        .filter(|&n| is_request(doc, n) && unqualified_id(doc, n) == Some(request_id))
        .ok_or(XmlSecError::RequestNotFound)?;

    let key_binding = single(
        element_children(doc, request).filter(|&c| is_named(doc, c, XKMS_NS, Some(KEY_BINDINGS))),
    )
    .ok_or(XmlSecError::KeyBindingMissing)?;
    let key_binding_id = unqualified_id(doc, key_binding)
        .filter(|id| !id.is_empty())
        .ok_or(XmlSecError::KeyBindingMissing)?
        .to_owned();

    let missing = XmlSecError::SignatureMissing(slot.element_path());
    let container = match slot {
        Slot::KeyBindingAuthentication => {
            let auth = single(named_children(doc, request, XKMS_NS, "Authentication"));
            auth.and_then(|a| single(named_children(doc, a, XKMS_NS, "KeyBindingAuthentication")))
        }
        Slot::ProofOfPossession => {
            single(named_children(doc, request, XKMS_NS, "ProofOfPossession"))
        }
    }
    .ok_or(missing)?;
    let signature = single(named_children(doc, container, DS_NS, "Signature"))
        .ok_or(XmlSecError::SignatureMissing(slot.element_path()))?;

    Ok(Located {
        request,
        key_binding,
        key_binding_id,
        signature,
    })
}

/// What the structural check learned about an accepted signature.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub signature_method: String,
    pub digest_value: NodeId,
    pub signature_value: NodeId,
}

/// Check the signature at `sig` against the profile: children, one Reference to
/// `#key_binding_id`, c14n-only transforms, allowed digest, a signature method for `key`.
pub(crate) fn check_signature(
    doc: &Document<'_>,
    sig: NodeId,
    key_binding_id: &str,
    key: KeyKind,
) -> Result<Checked, XmlSecError> {
    // Signature: SignedInfo, SignatureValue, KeyInfo? — no Object (a classic hiding place for
    // wrapped content, never used by XKMS).
    let children: Vec<NodeId> = element_children(doc, sig).collect();
    let signed_info = *children
        .first()
        .ok_or(XmlSecError::SignatureStructure("SignedInfo"))?;
    require_name(doc, signed_info, DS_NS, "SignedInfo")?;
    let signature_value = *children
        .get(1)
        .ok_or(XmlSecError::SignatureStructure("SignatureValue"))?;
    require_name(doc, signature_value, DS_NS, "SignatureValue")?;
    match children.get(2..).unwrap_or_default() {
        [] => {}
        [key_info] => require_name(doc, *key_info, DS_NS, "KeyInfo")?,
        _ => return Err(XmlSecError::SignatureStructure("Signature child")),
    }
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
    let (kind, full_bits) =
        signature_method(method_uri).ok_or(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Signature,
        })?;
    if kind != key {
        return Err(XmlSecError::KeyMismatch);
    }
    check_signature_method_children(doc, method, kind, full_bits)?;

    // Reference: URI="#<key binding Id>", Transforms?, DigestMethod, DigestValue.
    let uri = doc.element(reference).and_then(|e| e.get_attribute("URI"));
    match uri.and_then(|u| u.strip_prefix('#')) {
        Some(fragment) if fragment == key_binding_id => {}
        _ => return Err(XmlSecError::ReferenceTarget),
    }
    let mut parts = element_children(doc, reference).peekable();
    if let Some(&transforms) = parts.peek()
        && is_named(doc, transforms, DS_NS, Some(&["Transforms"]))
    {
        parts.next();
        let list: Vec<NodeId> = element_children(doc, transforms).collect();
        // One canonicalization is all a detached key-binding reference needs.
        if list.len() > 1 {
            return Err(XmlSecError::SignatureStructure("Transforms"));
        }
        for t in list {
            require_name(doc, t, DS_NS, "Transform")?;
            check_c14n(doc, t, AlgorithmRole::Transform)?;
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
        digest_value,
        signature_value,
    })
}

/// Refuse documents with a `ds:Signature` around the request or inside the key binding.
///
/// Verification runs on a copy of the document from which every OTHER `ds:Signature` has been
/// detached (see `isolate`). That is only digest-neutral when no detached subtree is the key
/// binding, one of its descendants or one of its ancestors; and only unambiguous when the
/// signed content carries no signature of its own. Both are refused here.
pub(crate) fn check_signature_placement(
    doc: &Document<'_>,
    located: &Located,
) -> Result<(), XmlSecError> {
    let is_sig = |n: NodeId| is_named(doc, n, DS_NS, Some(&["Signature"]));
    if doc.ancestors(located.request).into_iter().any(is_sig)
        || doc.descendants(located.key_binding).into_iter().any(is_sig)
    {
        return Err(XmlSecError::UnexpectedSignature);
    }
    Ok(())
}

/// Detach every `ds:Signature` other than `keep` so the backend's "first signature in document
/// order" is the one we checked.
///
/// Why this does not change what is verified: the detached elements are neither the key
/// binding, nor its ancestors, nor its descendants (`check_signature_placement`), nor ancestors
/// or descendants of `keep` (`check_signature` refuses nested signatures, and a signature
/// around the request is refused). Canonical XML of a subtree depends only on that subtree and
/// the namespace declarations / `xml:*` attributes of its ancestors, so both the key binding's
/// digest input and `keep`'s SignedInfo canonical form are unchanged. ID uniqueness was checked
/// on the full document before.
pub(crate) fn isolate(doc: &mut Document<'_>, keep: NodeId) {
    let others: Vec<NodeId> = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|&n| n != keep && is_named(doc, n, DS_NS, Some(&["Signature"])))
        .collect();
    for n in others {
        // A signature nested in an already detached one is simply detached with it.
        doc.detach(n);
    }
}

pub(crate) fn check_c14n(
    doc: &Document<'_>,
    node: NodeId,
    role: AlgorithmRole,
) -> Result<(), XmlSecError> {
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

fn check_signature_method_children(
    doc: &Document<'_>,
    method: NodeId,
    kind: KeyKind,
    full_bits: usize,
) -> Result<(), XmlSecError> {
    let children: Vec<NodeId> = element_children(doc, method).collect();
    match (kind, children.as_slice()) {
        (_, []) => Ok(()),
        (KeyKind::Hmac, [len]) if is_named(doc, *len, DS_NS, Some(&["HMACOutputLength"])) => {
            let bits = doc.text_content_deep(*len);
            match bits.trim().parse::<usize>() {
                Ok(b) if b == full_bits => Ok(()),
                _ => Err(XmlSecError::HmacOutputLength),
            }
        }
        _ => Err(XmlSecError::SignatureStructure(
            "SignatureMethod parameters",
        )),
    }
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

fn named_children<'d>(
    doc: &'d Document<'_>,
    n: NodeId,
    ns: &'d str,
    local: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    element_children(doc, n).filter(move |&c| is_named(doc, c, ns, Some(&[local])))
}

/// An XKMS request element (`RegisterRequest`, `PendingRequest`, `CompoundRequest`, ...).
fn is_request(doc: &Document<'_>, n: NodeId) -> bool {
    is_named(doc, n, XKMS_NS, None)
        && doc
            .element(n)
            .is_some_and(|e| e.name.local_name.ends_with("Request"))
}

/// Whether `n` is an element in namespace `ns` with one of the local names (any if `None`).
pub(crate) fn is_named(doc: &Document<'_>, n: NodeId, ns: &str, locals: Option<&[&str]>) -> bool {
    doc.element(n).is_some_and(|e| {
        e.name.namespace_uri.as_deref() == Some(ns)
            && locals.is_none_or(|l| l.contains(&&*e.name.local_name))
    })
}

pub(crate) fn require_name(
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

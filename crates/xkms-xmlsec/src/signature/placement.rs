//! Where a key-binding signature sits: at the slot's exact path under the request with the
//! given Id, beside that request's one key binding, with no signature around the request or
//! inside the key binding; and the working copy the engine verifies, where it is the only
//! signature.

use uppsala::{Document, NodeId};
use xkms_proto::vocab::{DS_NS, XKMS_NS};

use super::Slot;
use crate::error::XmlSecError;
use crate::profile::{
    Checked, KeyKind, Profile, check_signature, element_children, find_xkms_element, is_named,
    is_signature, named_children, single, unqualified_id,
};

const KEY_BINDINGS: &[&str] = &[
    "PrototypeKeyBinding",
    "ReissueKeyBinding",
    "RevokeKeyBinding",
    "RecoverKeyBinding",
];

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
    let request = find_xkms_element(doc, request_id, &["Request"], XmlSecError::RequestNotFound)?;
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

/// The slot's signature, placed and shaped as the profile demands for a `key` signature.
pub(crate) fn locate_checked(
    doc: &Document<'_>,
    request_id: &str,
    slot: Slot,
    key: KeyKind,
) -> Result<(Located, Checked), XmlSecError> {
    let located = locate(doc, request_id, slot)?;
    check_signature_placement(doc, &located)?;
    let checked = check_signature(
        doc,
        located.signature,
        Profile::KeyBinding {
            key_binding_id: &located.key_binding_id,
            key,
        },
    )?;
    Ok((located, checked))
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
    let is_sig = |n: NodeId| is_signature(doc, n);
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
/// or descendants of `keep` (the profile refuses nested signatures, and a signature around
/// the request is refused). Canonical XML of a subtree depends only on that subtree and
/// the namespace declarations / `xml:*` attributes of its ancestors, so both the key binding's
/// digest input and `keep`'s SignedInfo canonical form are unchanged. ID uniqueness was checked
/// on the full document before.
pub(crate) fn isolate(doc: &mut Document<'_>, keep: NodeId) {
    let others: Vec<NodeId> = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|&n| n != keep && is_signature(doc, n))
        .collect();
    for n in others {
        // A signature nested in an already detached one is simply detached with it.
        doc.detach(n);
    }
}

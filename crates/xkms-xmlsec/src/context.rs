//! The documents a signature inside a received message may have been computed in.
//!
//! Deployed XKMS clients sign a request as a standalone document and only then wrap it in a
//! SOAP envelope: SOAP stacks of the REC era handed the Body's child on as its own document,
//! and the clients assumed so. A signature whose `SignedInfo` uses *inclusive* C14N then does
//! not verify inside the envelope, because inclusive canonicalization takes in the namespace
//! declarations in scope from the ancestors (`xmlns:env`, and whatever Envelope and Body
//! declare).
//!
//! So a signature is verified in the received document first and, only if that fails for a
//! reason that depends on the surrounding document (the signature value, the digest, a
//! same-document reference `URI=""`), once more over the outermost XKMS element and over the
//! element itself, each **taken as its own document**: the very bytes the client wrapped,
//! without the envelope's namespace context. Every profile check (slot, exactly one
//! Reference to the covered element, unique Ids, algorithms, key fit) runs again on that
//! document, and nothing is accepted that verifies in none of them.
//!
//! Why this cannot accept more than the client signed: a fragment is a substring of the
//! received text, parsed with the same hostile-input limits; a prefix declared only outside
//! it makes the fragment fail to parse (namespace well-formedness), so no element changes
//! its meaning between the two readings. The model the service acts on is decoded from the
//! same bytes. Errors that hold in any context (duplicate Ids, wrong slot, several
//! references, refused algorithms) fail at once and are never retried.

use uppsala::{Document, NodeId};
use xkms_proto::vocab::XKMS_NS;

use crate::XmlSecError;
use crate::signature::profile::{self, is_named};

/// Runs `verify` over the received document and, if it fails for a context-dependent
/// reason, over the standalone readings of the XKMS element with Id `element_id`. Returns
/// the first success, else the error of the received document.
pub(crate) fn verify_in_contexts<T>(
    doc_xml: &str,
    element_id: &str,
    verify: impl Fn(&str) -> Result<T, XmlSecError>,
) -> Result<T, XmlSecError> {
    let first = match verify(doc_xml) {
        Ok(verified) => return Ok(verified),
        Err(e) => e,
    };
    if !first.is_context_dependent() {
        return Err(first);
    }
    let Ok(fragments) = standalone_fragments(doc_xml, element_id) else {
        return Err(first);
    };
    for fragment in fragments {
        if let Ok(verified) = verify(fragment) {
            return Ok(verified);
        }
    }
    Err(first)
}

/// The source text of the outermost XKMS element around the element with Id `element_id`
/// (a `CompoundRequest` around an inner request, else the element itself), then of the
/// element itself if that differs; neither when it is the document element already.
fn standalone_fragments<'a>(
    doc_xml: &'a str,
    element_id: &str,
) -> Result<Vec<&'a str>, XmlSecError> {
    let doc = profile::parse(doc_xml)?;
    let ids = profile::unique_ids(&doc)?;
    let element = *ids.get(element_id).ok_or(XmlSecError::MessageNotFound)?;
    if !is_named(&doc, element, XKMS_NS, None) {
        return Err(XmlSecError::MessageNotFound);
    }
    let outermost = doc
        .ancestors(element)
        .into_iter()
        .take_while(|&a| is_named(&doc, a, XKMS_NS, None))
        .last()
        .unwrap_or(element);
    let mut fragments = Vec::with_capacity(2);
    for node in [outermost, element] {
        if let Some(text) = source_of(&doc, doc_xml, node)
            && !fragments.contains(&text)
        {
            fragments.push(text);
        }
    }
    Ok(fragments)
}

/// The element's source text, unless it is the document element.
fn source_of<'a>(doc: &Document<'_>, doc_xml: &'a str, node: NodeId) -> Option<&'a str> {
    if doc.document_element() == Some(node) {
        return None;
    }
    doc.node_range(node).and_then(|range| doc_xml.get(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\">\
        <env:Body><CompoundRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"c\" Service=\"s\">\
        <RegisterRequest Id=\"r\" Service=\"s\"/></CompoundRequest></env:Body></env:Envelope>";

    #[test]
    fn fragments_are_the_outermost_xkms_element_then_the_element() {
        let fragments = standalone_fragments(ENVELOPE, "r").unwrap();
        assert_eq!(fragments.len(), 2);
        assert!(
            fragments[0].starts_with("<CompoundRequest")
                && fragments[0].ends_with("</CompoundRequest>")
        );
        assert_eq!(fragments[1], "<RegisterRequest Id=\"r\" Service=\"s\"/>");
        assert_eq!(standalone_fragments(ENVELOPE, "c").unwrap().len(), 1);
    }

    #[test]
    fn the_document_element_has_no_other_reading() {
        let bare =
            "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"l\" Service=\"s\"/>";
        assert!(standalone_fragments(bare, "l").unwrap().is_empty());
    }

    #[test]
    fn only_context_dependent_failures_are_retried() {
        let calls = std::cell::Cell::new(0);
        let result: Result<(), _> = verify_in_contexts(ENVELOPE, "r", |_| {
            calls.set(calls.get() + 1);
            Err(XmlSecError::DuplicateId)
        });
        assert!(matches!(result, Err(XmlSecError::DuplicateId)));
        assert_eq!(calls.get(), 1);

        calls.set(0);
        let result: Result<(), _> = verify_in_contexts(ENVELOPE, "r", |_| {
            calls.set(calls.get() + 1);
            Err(XmlSecError::BadSignature)
        });
        assert!(matches!(result, Err(XmlSecError::BadSignature)));
        assert_eq!(calls.get(), 3, "document, compound, request");
    }

    #[test]
    fn a_fragment_using_a_prefix_declared_outside_does_not_parse() {
        let doc = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
            xmlns:x=\"http://www.w3.org/2002/03/xkms#\"><env:Body>\
            <x:LocateRequest Id=\"l\" Service=\"s\"/></env:Body></env:Envelope>";
        let fragments = standalone_fragments(doc, "l").unwrap();
        assert_eq!(fragments.len(), 1);
        assert!(profile::parse(fragments[0]).is_err());
    }
}

//! A received document, parsed and indexed once, and the readings a signature inside it
//! is verified in.
//!
//! # One parse, work proportional to size
//!
//! A `CompoundRequest` may carry many inner requests, each with its own signatures. The
//! XML-DSig backend builds an Id map of the whole document on every verification, so
//! verifying each inner signature over the whole document would cost O(requests × size).
//! Instead the document is parsed and indexed once ([`ReceivedDocument::parse`]: Id
//! uniqueness over the whole document, and for every XKMS message element its byte range
//! and the namespace declarations in scope around it). Each signature is then verified
//! over its own message element **re-rooted**: the element's bytes with the namespace
//! declarations in scope from its ancestors copied onto its start tag. Canonical XML of the
//! element (or of anything inside it) depends only on its subtree and the namespaces in
//! scope, so this reading verifies exactly what the signer signed in the document
//! (inherited `xml:*` attributes are not carried over: see below), at a cost of the
//! element's size.
//!
//! # The client's context
//!
//! Deployed XKMS clients sign a request as a standalone document and only then wrap it in
//! a SOAP envelope: SOAP stacks of the REC era handed the Body's child on as its own
//! document, and the clients assumed so. A signature whose `SignedInfo` uses *inclusive*
//! C14N then does not verify in the envelope, because inclusive canonicalization takes in
//! the namespace declarations in scope from the ancestors (`xmlns:env`, and whatever
//! Envelope and Body declare). So when a signature fails in the document's reading for a
//! context-dependent reason (signature value, digest, a `URI=""` reference), it is verified
//! once more in the **standalone** readings: inside the outermost XKMS element taken as its
//! own document (a `CompoundRequest` the client signed as a whole), then the element
//! itself taken as its own document — the bytes the client wrapped, without the envelope's
//! namespaces. Every profile check runs again in each reading, and nothing is accepted that
//! verifies in none of them.
//!
//! Why no reading can accept more than a signer signed: each is the element's own bytes
//! plus namespace declarations that were in scope for them anyway; a prefix declared only
//! outside the reading makes it fail to parse (namespace well-formedness), so no element
//! changes its meaning; Id uniqueness is checked over the whole document; a signature
//! around the message is refused. The model the service acts on is decoded from the same
//! bytes.
//!
//! Not carried over: `xml:lang`/`xml:space`/`xml:base` on the envelope. Inclusive C14N 1.0
//! would import them into the canonical form, exclusive C14N would not; adding them to the
//! re-rooted element would break the latter. A signature whose canonical form depends on
//! an `xml:*` attribute of the SOAP envelope does not verify.

use std::collections::HashMap;
use std::ops::Range;

use uppsala::{Document, NodeId};
use xkms_proto::vocab::XKMS_NS;

use crate::XmlSecError;
use crate::profile::{self, is_named, is_signature};
use crate::splice::{escape_attr, with_declarations};

/// A received document: its text and an index of its XKMS message elements.
#[derive(Debug)]
pub struct ReceivedDocument<'a> {
    text: &'a str,
    /// Why the document cannot carry a verifiable signature at all (does not parse under
    /// our limits, duplicate Ids); every verification fails with it.
    broken: Option<XmlSecError>,
    elements: HashMap<String, Indexed>,
}

/// What the index keeps of one XKMS element with an `Id`.
#[derive(Debug, Clone)]
struct Indexed {
    range: Range<usize>,
    /// ` xmlns:p="…"` declarations in scope from all ancestors, not redeclared on it.
    document_scope: String,
    /// The same, from the ancestors inside the outermost XKMS element only (empty when
    /// the element is the outermost one).
    outermost_scope: String,
    /// The element is the outermost XKMS element (the Body's child, or the root).
    outermost: bool,
    is_document_element: bool,
    /// A `ds:Signature` encloses the element.
    inside_signature: bool,
}

/// One reading of a message element: the text to verify in, and whether, in that
/// reading, the element is what `URI=""` designates.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub text: String,
    pub element_is_document: bool,
}

impl<'a> ReceivedDocument<'a> {
    /// Parses (no DTD, no entities, bounded depth) and indexes `text`. Never fails: a
    /// document that cannot carry a verifiable signature makes every verification fail
    /// with the reason, while unsigned messages in it may still be processed.
    pub fn parse(text: &'a str) -> ReceivedDocument<'a> {
        match index(text) {
            Ok(elements) => ReceivedDocument {
                text,
                broken: None,
                elements,
            },
            Err(e) => ReceivedDocument {
                text,
                broken: Some(e),
                elements: HashMap::new(),
            },
        }
    }

    /// The document as received.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The readings of the XKMS element with Id `id`: the document's reading first, then
    /// the standalone ones (see the module documentation).
    pub(crate) fn readings(
        &self,
        id: &str,
        not_found: XmlSecError,
    ) -> Result<Vec<Reading>, XmlSecError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let element = self.elements.get(id).ok_or(not_found)?;
        if element.inside_signature {
            return Err(XmlSecError::UnexpectedSignature);
        }
        let source = self
            .text
            .get(element.range.clone())
            .ok_or(XmlSecError::Backend)?;
        let mut readings = vec![Reading {
            text: with_declarations(source, &element.document_scope)?,
            element_is_document: element.is_document_element,
        }];
        let mut standalone = Vec::new();
        if !element.outermost {
            standalone.push(with_declarations(source, &element.outermost_scope)?);
        }
        standalone.push(source.to_owned());
        for text in standalone {
            if readings.iter().all(|r| r.text != text) {
                readings.push(Reading {
                    element_is_document: element.outermost,
                    text,
                });
            }
        }
        Ok(readings)
    }
}

/// Runs `verify` over each reading of element `id`, the document's first; a later reading
/// is tried only after a context-dependent failure. Returns the first success, else the
/// error of the document's reading.
pub(crate) fn verify_in_readings<T>(
    doc: &ReceivedDocument<'_>,
    id: &str,
    not_found: XmlSecError,
    verify: impl Fn(&Reading) -> Result<T, XmlSecError>,
) -> Result<T, XmlSecError> {
    let readings = doc.readings(id, not_found)?;
    let mut readings = readings.iter();
    let first = match readings.next().map(&verify) {
        Some(Ok(verified)) => return Ok(verified),
        Some(Err(e)) => e,
        None => return Err(XmlSecError::Backend),
    };
    if !first.is_context_dependent() {
        return Err(first);
    }
    for reading in readings {
        if let Ok(verified) = verify(reading) {
            return Ok(verified);
        }
    }
    Err(first)
}

fn index(text: &str) -> Result<HashMap<String, Indexed>, XmlSecError> {
    let doc = profile::parse(text)?;
    let ids = profile::unique_ids(&doc)?;
    let root = doc.document_element();
    let mut elements = HashMap::new();
    for (&id, &node) in &ids {
        if !is_named(&doc, node, XKMS_NS, None) || profile::unqualified_id(&doc, node) != Some(id) {
            continue;
        }
        let Some(range) = doc.node_range(node) else {
            continue;
        };
        let ancestors: Vec<NodeId> = doc
            .ancestors(node)
            .into_iter()
            .filter(|&a| doc.element(a).is_some())
            .collect();
        let xkms_ancestors = ancestors
            .iter()
            .take_while(|&&a| is_named(&doc, a, XKMS_NS, None))
            .count();
        elements.insert(
            id.to_owned(),
            Indexed {
                range,
                document_scope: declarations(&doc, node, &ancestors),
                outermost_scope: declarations(&doc, node, &ancestors[..xkms_ancestors]),
                outermost: xkms_ancestors == 0,
                is_document_element: root == Some(node),
                inside_signature: ancestors.iter().any(|&a| is_signature(&doc, a)),
            },
        );
    }
    Ok(elements)
}

/// The namespace declarations `ancestors` (nearest first) put in scope for `node` that
/// `node` does not make itself, as attribute text.
fn declarations(doc: &Document<'_>, node: NodeId, ancestors: &[NodeId]) -> String {
    let mut seen: Vec<&str> = doc
        .element(node)
        .map(|e| e.namespace_declarations.iter().map(|(p, _)| &**p).collect())
        .unwrap_or_default();
    let mut out = String::new();
    for &ancestor in ancestors {
        let Some(element) = doc.element(ancestor) else {
            continue;
        };
        for (prefix, uri) in &element.namespace_declarations {
            if seen.contains(&&**prefix) || &**prefix == "xml" {
                continue;
            }
            seen.push(prefix);
            if prefix.is_empty() {
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
            }
            out.push_str(&escape_attr(uri));
            out.push('"');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
        xmlns:a=\"urn:a&amp;b\"><env:Body xmlns:b=\"urn:b\"><CompoundRequest \
        xmlns=\"http://www.w3.org/2002/03/xkms#\" xmlns:c=\"urn:c\" Id=\"c\" Service=\"s\">\
        <RegisterRequest Id=\"r\" Service=\"s\" x='a>b'/></CompoundRequest></env:Body></env:Envelope>";

    fn texts(doc: &ReceivedDocument<'_>, id: &str) -> Vec<String> {
        doc.readings(id, XmlSecError::MessageNotFound)
            .unwrap()
            .into_iter()
            .map(|r| r.text)
            .collect()
    }

    #[test]
    fn an_inner_request_is_read_in_the_document_the_compound_and_alone() {
        let doc = ReceivedDocument::parse(ENVELOPE);
        let readings = texts(&doc, "r");
        assert_eq!(readings.len(), 3);
        // In the document: every namespace in scope, nearest declaration first.
        assert_eq!(
            readings[0],
            "<RegisterRequest Id=\"r\" Service=\"s\" x='a>b' xmlns=\"http://www.w3.org/2002/03/xkms#\" \
             xmlns:c=\"urn:c\" xmlns:b=\"urn:b\" xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:a=\"urn:a&amp;b\"/>"
        );
        // In the compound taken as its own document: the compound's namespaces only.
        assert_eq!(
            readings[1],
            "<RegisterRequest Id=\"r\" Service=\"s\" x='a>b' xmlns=\"http://www.w3.org/2002/03/xkms#\" \
             xmlns:c=\"urn:c\"/>"
        );
        // Alone: the bytes as they are. The default namespace is declared outside, so here
        // the element is in no namespace: no XKMS request, nothing can verify in it.
        assert_eq!(
            readings[2],
            "<RegisterRequest Id=\"r\" Service=\"s\" x='a>b'/>"
        );
        for (text, in_xkms) in readings.iter().zip([true, true, false]) {
            let parsed = profile::parse(text).unwrap();
            let root = parsed.document_element().unwrap();
            assert_eq!(is_named(&parsed, root, XKMS_NS, None), in_xkms, "{text}");
        }
    }

    #[test]
    fn the_outermost_element_and_the_document_element() {
        let doc = ReceivedDocument::parse(ENVELOPE);
        let readings = doc.readings("c", XmlSecError::MessageNotFound).unwrap();
        assert_eq!(readings.len(), 2);
        assert!(!readings[0].element_is_document && readings[1].element_is_document);
        let bare =
            "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"l\" Service=\"s\"/>";
        let doc = ReceivedDocument::parse(bare);
        let readings = doc.readings("l", XmlSecError::MessageNotFound).unwrap();
        assert_eq!(readings.len(), 1);
        assert!(readings[0].element_is_document);
        assert_eq!(readings[0].text, bare);
    }

    #[test]
    fn broken_documents_fail_every_verification() {
        let dup = "<a xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"x\"><b Id=\"x\"/></a>";
        assert!(matches!(
            ReceivedDocument::parse(dup).readings("x", XmlSecError::MessageNotFound),
            Err(XmlSecError::DuplicateId)
        ));
        assert!(matches!(
            ReceivedDocument::parse("<a><b></a>").readings("x", XmlSecError::MessageNotFound),
            Err(XmlSecError::MalformedXml)
        ));
    }

    #[test]
    fn only_context_dependent_failures_are_retried() {
        let doc = ReceivedDocument::parse(ENVELOPE);
        let calls = std::cell::Cell::new(0);
        let result: Result<(), _> =
            verify_in_readings(&doc, "r", XmlSecError::MessageNotFound, |_| {
                calls.set(calls.get() + 1);
                Err(XmlSecError::ReferenceCount { found: 2 })
            });
        assert!(matches!(
            result,
            Err(XmlSecError::ReferenceCount { found: 2 })
        ));
        assert_eq!(calls.get(), 1);
        calls.set(0);
        let result: Result<(), _> =
            verify_in_readings(&doc, "r", XmlSecError::MessageNotFound, |_| {
                calls.set(calls.get() + 1);
                Err(XmlSecError::BadSignature)
            });
        assert!(matches!(result, Err(XmlSecError::BadSignature)));
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_message_inside_a_signature_is_refused() {
        let doc = "<x xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Signature><ds:Object>\
            <LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"l\" Service=\"s\"/>\
            </ds:Object></ds:Signature></x>";
        assert!(matches!(
            ReceivedDocument::parse(doc).readings("l", XmlSecError::MessageNotFound),
            Err(XmlSecError::UnexpectedSignature)
        ));
    }
}

//! DOM access shared by the XKMS decoder and the SOAP layer: a bounded parse, and small
//! helpers that match elements by (namespace, local name), never by prefix.

use super::{DecodeErrorKind, Limits};
use uppsala::{Document, NodeId, NodeKind, XmlError};

type R<T> = Result<T, DecodeErrorKind>;

/// Longest element/attribute name quoted in an error.
const MAX_NAME_IN_ERROR: usize = 64;

/// Parses untrusted XML within `limits`: size checked first, depth by the parser, DTDs
/// and entity declarations refused, element and attribute counts checked on the DOM.
pub(crate) fn parse_document<'a>(xml: &'a str, limits: &Limits) -> R<Document<'a>> {
    if xml.len() > limits.max_bytes {
        return Err(DecodeErrorKind::TooLarge);
    }
    let doc = uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_forbid_entities(true)
        .with_max_depth(limits.max_depth)
        .parse(xml)
        .map_err(classify)?;
    let mut elements = 0usize;
    for id in doc.descendants(doc.root()) {
        if let Some(el) = doc.element(id) {
            elements += 1;
            if elements > limits.max_elements {
                return Err(DecodeErrorKind::TooManyElements);
            }
            if el.attributes.len() + el.namespace_declarations.len() > limits.max_attributes {
                return Err(DecodeErrorKind::TooManyAttributes);
            }
        }
    }
    Ok(doc)
}

/// The document element.
pub(crate) fn root_element(doc: &Document<'_>) -> R<NodeId> {
    doc.document_element()
        .ok_or(DecodeErrorKind::NotWellFormed { line: 0, column: 0 })
}

/// Maps a parser error to a kind. The parser's message may quote input, so only its
/// category and position are kept.
fn classify(err: XmlError) -> DecodeErrorKind {
    let (message, line, column) = match &err {
        XmlError::WellFormedness(e) => (e.message.as_str(), e.line, e.column),
        XmlError::Namespace(e) => (e.message.as_str(), e.line, e.column),
        XmlError::Parse(e) => (e.message.as_str(), e.line, e.column),
        XmlError::UnexpectedEof => ("", 0, 0),
        XmlError::XPath(_) | XmlError::Validation(_) => ("", 0, 0),
    };
    if message.contains("maximum depth") {
        DecodeErrorKind::TooDeep
    } else if message.contains("forbid_dtd") || message.contains("forbid_entities") {
        DecodeErrorKind::DtdForbidden
    } else {
        DecodeErrorKind::NotWellFormed { line, column }
    }
}

/// A name safe to quote in an error: XML names carry no markup, but may be long.
pub(crate) fn quote_name(name: &str) -> String {
    name.chars().take(MAX_NAME_IN_ERROR).collect()
}

pub(crate) fn local_name<'d>(doc: &'d Document<'_>, node: NodeId) -> &'d str {
    doc.element(node).map_or("", |e| e.name.local_name.as_ref())
}

pub(crate) fn namespace<'d>(doc: &'d Document<'_>, node: NodeId) -> Option<&'d str> {
    doc.element(node)
        .and_then(|e| e.name.namespace_uri.as_deref())
}

pub(crate) fn is(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> bool {
    doc.element(node)
        .is_some_and(|e| e.matches_name_ns(ns, local))
}

/// An unqualified attribute (XKMS, ds and xenc attributes are all unqualified).
pub(crate) fn attr<'d>(doc: &'d Document<'_>, node: NodeId, name: &str) -> Option<&'d str> {
    doc.element(node)?
        .attributes
        .iter()
        .find(|a| a.name.namespace_uri.is_none() && a.name.local_name == name)
        .map(|a| a.value.as_ref())
}

pub(crate) fn req_attr<'d>(
    doc: &'d Document<'_>,
    node: NodeId,
    element: &str,
    name: &str,
) -> R<&'d str> {
    attr(doc, node, name).ok_or_else(|| DecodeErrorKind::MissingAttribute {
        element: element.to_owned(),
        attribute: name.to_owned(),
    })
}

/// Refuses unqualified attributes the schema does not define for `element`; attributes
/// in a namespace (xsi:*, foreign extensions) are ignored.
pub(crate) fn check_attrs(
    doc: &Document<'_>,
    node: NodeId,
    element: &str,
    allowed: &[&str],
) -> R<()> {
    let Some(el) = doc.element(node) else {
        return Ok(());
    };
    for a in &el.attributes {
        if a.name.namespace_uri.is_none() && !allowed.contains(&a.name.local_name.as_ref()) {
            return Err(DecodeErrorKind::UnexpectedAttribute {
                element: element.to_owned(),
                attribute: quote_name(&a.name.local_name),
            });
        }
    }
    Ok(())
}

/// Text content of a simple-content element; child elements are an error.
pub(crate) fn text(doc: &Document<'_>, node: NodeId, element: &str) -> R<String> {
    let mut out = String::new();
    for child in doc.children_iter(node) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(t),
            Some(NodeKind::Element(e)) => {
                return Err(DecodeErrorKind::UnexpectedElement {
                    parent: element.to_owned(),
                    element: quote_name(&e.name.local_name),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The base64 content of a simple-content element, decoded.
pub(crate) fn base64_text(doc: &Document<'_>, node: NodeId, element: &str) -> R<Vec<u8>> {
    super::values::decode_base64(&text(doc, node, element)?)
        .ok_or_else(|| invalid(element, "not base64"))
}

pub(crate) fn invalid(element: &str, what: &'static str) -> DecodeErrorKind {
    DecodeErrorKind::InvalidValue {
        element: element.to_owned(),
        what,
    }
}

/// The element children of an element-only content model, consumed in schema order.
/// Whitespace text, comments and PIs between them are skipped; other text is an error.
pub(crate) struct Seq<'d, 'a> {
    doc: &'d Document<'a>,
    parent: &'static str,
    kids: Vec<NodeId>,
    pos: usize,
}

impl<'d, 'a> Seq<'d, 'a> {
    pub(crate) fn new(doc: &'d Document<'a>, node: NodeId, parent: &'static str) -> R<Self> {
        let mut kids = Vec::new();
        for child in doc.children_iter(node) {
            match doc.node_kind(child) {
                Some(NodeKind::Element(_)) => kids.push(child),
                Some(NodeKind::Text(t)) | Some(NodeKind::CData(t))
                    if !t.chars().all(|c| c.is_ascii_whitespace()) =>
                {
                    return Err(invalid(parent, "unexpected text content"));
                }
                _ => {}
            }
        }
        Ok(Seq {
            doc,
            parent,
            kids,
            pos: 0,
        })
    }

    /// Like [`Seq::new`] for mixed/open content models (ds:KeyInfo, ds:Transform…):
    /// text is ignored.
    pub(crate) fn lenient(doc: &'d Document<'a>, node: NodeId, parent: &'static str) -> Self {
        let kids = doc
            .children_iter(node)
            .filter(|c| doc.element(*c).is_some())
            .collect();
        Seq {
            doc,
            parent,
            kids,
            pos: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<NodeId> {
        self.kids.get(self.pos).copied()
    }

    pub(crate) fn next_is(&self, ns: &str, local: &str) -> bool {
        self.peek().is_some_and(|n| is(self.doc, n, ns, local))
    }

    /// Consumes and returns the next child, whatever it is.
    pub(crate) fn take(&mut self) -> Option<NodeId> {
        let n = self.peek()?;
        self.pos += 1;
        Some(n)
    }

    pub(crate) fn opt(&mut self, ns: &str, local: &str) -> Option<NodeId> {
        if self.next_is(ns, local) {
            self.take()
        } else {
            None
        }
    }

    /// The next child must be `{ns}local`. If another element stands in its place, that
    /// element is reported (usually a child out of schema order).
    pub(crate) fn req(&mut self, ns: &str, local: &str) -> R<NodeId> {
        if let Some(n) = self.opt(ns, local) {
            return Ok(n);
        }
        match self.peek() {
            Some(other) => Err(self.unexpected(other)),
            None => Err(DecodeErrorKind::MissingElement {
                parent: self.parent.to_owned(),
                child: local.to_owned(),
            }),
        }
    }

    pub(crate) fn many(&mut self, ns: &str, local: &str) -> Vec<NodeId> {
        let mut out = Vec::new();
        while let Some(n) = self.opt(ns, local) {
            out.push(n);
        }
        out
    }

    /// Consumes every remaining child (open content models).
    pub(crate) fn many_any(mut self) -> Vec<NodeId> {
        self.kids.split_off(self.pos)
    }

    /// Error for an element found where the schema allows none.
    pub(crate) fn unexpected(&self, node: NodeId) -> DecodeErrorKind {
        DecodeErrorKind::UnexpectedElement {
            parent: self.parent.to_owned(),
            element: quote_name(local_name(self.doc, node)),
        }
    }

    /// All children must have been consumed.
    pub(crate) fn finish(self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(n) => Err(self.unexpected(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_classified() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert_eq!(
            parse_document("<a><b><c><d/></c></b></a>", &limits).err(),
            Some(DecodeErrorKind::TooDeep)
        );
        assert!(parse_document("<a><b><c/></b></a>", &limits).is_ok());
        assert_eq!(
            parse_document("<!DOCTYPE a><a/>", &limits).err(),
            Some(DecodeErrorKind::DtdForbidden)
        );
        assert!(matches!(
            parse_document("<a>", &limits),
            Err(DecodeErrorKind::NotWellFormed { .. })
        ));
    }

    #[test]
    fn seq_follows_schema_order() {
        let doc = parse_document(
            "<r xmlns='urn:n'> <a/><!-- c --><b/><b/>\n<c/></r>",
            &Limits::default(),
        )
        .unwrap();
        let root = root_element(&doc).unwrap();
        let mut seq = Seq::new(&doc, root, "r").unwrap();
        assert!(seq.req("urn:n", "a").is_ok());
        assert_eq!(seq.many("urn:n", "b").len(), 2);
        assert!(seq.opt("urn:n", "x").is_none());
        assert_eq!(
            seq.finish(),
            Err(DecodeErrorKind::UnexpectedElement {
                parent: "r".into(),
                element: "c".into()
            })
        );
        let text = parse_document("<r>x<a/></r>", &Limits::default()).unwrap();
        let root = root_element(&text).unwrap();
        assert!(Seq::new(&text, root, "r").is_err());
    }

    #[test]
    fn long_names_are_truncated_in_errors() {
        assert_eq!(quote_name(&"n".repeat(500)).len(), MAX_NAME_IN_ERROR);
    }
}

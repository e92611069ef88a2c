//! SOAP 1.2 / SOAP 1.1 / bare bindings (digest §8.1–8.3).
//!
//! [`parse_document`] parses the request once and tells the caller how to answer:
//! envelope-level problems ([`DocumentError::Envelope`]) get a SOAP fault, problems
//! inside a well-formed XKMS message ([`DocumentError::Message`]) get an XKMS result.

use crate::codec::xml::{self, Seq};
use crate::codec::{DecodeError, DecodeErrorKind, Limits, MessageHeader, XML_WS};
use crate::model::Message;
use crate::vocab::{SOAP11_NS, SOAP12_NS, XKMS_NS};
use uppsala::{Document, NodeId, NodeKind};

/// SOAP envelope version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    Soap12,
    Soap11,
}

impl SoapVersion {
    /// HTTP `Content-Type` of a message in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::Soap12 => "application/soap+xml; charset=utf-8",
            SoapVersion::Soap11 => "text/xml; charset=utf-8",
        }
    }

    /// Envelope namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::Soap12 => SOAP12_NS,
            SoapVersion::Soap11 => SOAP11_NS,
        }
    }

    /// HTTP status for a fault (digest §8.2): SOAP 1.1 always 500; SOAP 1.2 400 for
    /// `Sender`, 500 otherwise.
    pub fn fault_http_status(self, code: FaultCode) -> u16 {
        match (self, code) {
            (SoapVersion::Soap12, FaultCode::Sender) => 400,
            _ => 500,
        }
    }
}

/// How a message travels: inside a SOAP envelope, or as the bare XKMS element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    Soap(SoapVersion),
    Bare,
}

/// SOAP fault codes, SOAP 1.2 names (1.1: VersionMismatch, MustUnderstand, Client, Server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    VersionMismatch,
    MustUnderstand,
    Sender,
    Receiver,
}

impl FaultCode {
    fn local_name(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (FaultCode::VersionMismatch, _) => "VersionMismatch",
            (FaultCode::MustUnderstand, _) => "MustUnderstand",
            (FaultCode::Sender, SoapVersion::Soap12) => "Sender",
            (FaultCode::Sender, SoapVersion::Soap11) => "Client",
            (FaultCode::Receiver, SoapVersion::Soap12) => "Receiver",
            (FaultCode::Receiver, SoapVersion::Soap11) => "Server",
        }
    }

    fn from_local_name(name: &str) -> Option<FaultCode> {
        // SOAP 1.1 allows dotted refinements ("Client.Authentication").
        match name.split('.').next().unwrap_or(name) {
            "VersionMismatch" => Some(FaultCode::VersionMismatch),
            "MustUnderstand" => Some(FaultCode::MustUnderstand),
            "Sender" | "Client" => Some(FaultCode::Sender),
            "Receiver" | "Server" => Some(FaultCode::Receiver),
            _ => None,
        }
    }
}

/// Why a document could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Envelope-level failure: answer with a SOAP fault in [`DocumentError::fault_version`].
    #[error("SOAP envelope rejected: {reason}")]
    Envelope {
        /// The binding the request appeared to use; `None` if the document was unreadable.
        binding_hint: Option<Binding>,
        fault: FaultCode,
        reason: &'static str,
    },
    /// The envelope was fine but the XKMS message is not: answer with an XKMS result
    /// (`Sender`/`MessageNotSupported` if [`DecodeError::is_unsupported_message`],
    /// else `Sender`/`Failure`), using [`DecodeError::header`] for `RequestId`.
    #[error("XKMS message rejected: {error}")]
    Message {
        binding: Binding,
        error: DecodeError,
    },
}

impl DocumentError {
    /// SOAP version to send a fault in: the request's, SOAP 1.2 for bare or unreadable.
    pub fn fault_version(&self) -> SoapVersion {
        match self {
            DocumentError::Envelope {
                binding_hint: Some(Binding::Soap(v)),
                ..
            }
            | DocumentError::Message {
                binding: Binding::Soap(v),
                ..
            } => *v,
            _ => SoapVersion::Soap12,
        }
    }
}

/// A SOAP fault read by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    pub version: SoapVersion,
    /// `None` for a code outside the four this binding uses (e.g. DataEncodingUnknown).
    pub code: Option<FaultCode>,
    /// Reason text as sent by the peer (untrusted).
    pub reason: String,
}

/// Parses a request or response document once: a SOAP 1.2/1.1 envelope with one XKMS
/// element in the Body, or a bare XKMS element.
pub fn parse_document(xml: &str, limits: &Limits) -> Result<(Binding, Message), DocumentError> {
    let doc = xml::parse_document(xml, limits).map_err(document_failure)?;
    let root = xml::root_element(&doc).map_err(document_failure)?;
    let Some(version) = envelope_version(&doc, root) else {
        if xml::local_name(&doc, root) == "Envelope" && xml::namespace(&doc, root) != Some(XKMS_NS)
        {
            return Err(envelope_error(
                None,
                FaultCode::VersionMismatch,
                "unsupported SOAP envelope namespace",
            ));
        }
        return crate::codec::decode_message_node(&doc, root)
            .map(|m| (Binding::Bare, m))
            .map_err(|error| DocumentError::Message {
                binding: Binding::Bare,
                error,
            });
    };
    let binding = Binding::Soap(version);
    let child = envelope_body_child(&doc, root, version)
        .map_err(|(fault, reason)| envelope_error(Some(binding), fault, reason))?;
    crate::codec::decode_message_node(&doc, child)
        .map(|m| (binding, m))
        .map_err(|error| DocumentError::Message { binding, error })
}

/// Reads the message element's name, `Id` and `Service` without decoding the body (the
/// Body's child in a SOAP envelope, else the root). `None` if the document is not
/// well-formed or has no element.
pub fn peek_message_header(xml: &str, limits: &Limits) -> Option<MessageHeader> {
    let doc = xml::parse_document(xml, limits).ok()?;
    let mut node = xml::root_element(&doc).ok()?;
    if envelope_version(&doc, node).is_some() {
        node = body_child(&doc, node)?;
    }
    Some(crate::codec::message_header(&doc, node))
}

/// Wraps an already-written XKMS element for `binding` (`Bare`: unchanged).
pub fn wrap(binding: Binding, body: &str) -> String {
    let Binding::Soap(version) = binding else {
        return body.to_owned();
    };
    let mut out = String::with_capacity(body.len() + 160);
    out.push_str("<soap:Envelope xmlns:soap=\"");
    out.push_str(version.namespace());
    out.push_str("\"><soap:Body>");
    out.push_str(body);
    out.push_str("</soap:Body></soap:Envelope>");
    out
}

/// A complete SOAP fault envelope. `reason` is escaped; keep it free of request data.
pub fn fault(version: SoapVersion, code: FaultCode, reason: &str) -> String {
    let mut reason_xml = String::new();
    crate::codec::escape_text(&mut reason_xml, reason);
    let code_name = code.local_name(version);
    match version {
        SoapVersion::Soap12 => {
            // A VersionMismatch fault tells the sender which envelope we speak (SOAP 1.2 §5.4.7).
            let header = if code == FaultCode::VersionMismatch {
                format!(
                    "<soap:Header><soap:Upgrade><soap:SupportedEnvelope qname=\"s12:Envelope\" \
                     xmlns:s12=\"{SOAP12_NS}\"/><soap:SupportedEnvelope qname=\"s11:Envelope\" \
                     xmlns:s11=\"{SOAP11_NS}\"/></soap:Upgrade></soap:Header>"
                )
            } else {
                String::new()
            };
            format!(
                "<soap:Envelope xmlns:soap=\"{SOAP12_NS}\">{header}<soap:Body><soap:Fault>\
                 <soap:Code><soap:Value>soap:{code_name}</soap:Value></soap:Code>\
                 <soap:Reason><soap:Text xml:lang=\"en\">{reason_xml}</soap:Text></soap:Reason>\
                 </soap:Fault></soap:Body></soap:Envelope>"
            )
        }
        SoapVersion::Soap11 => format!(
            "<soap:Envelope xmlns:soap=\"{SOAP11_NS}\"><soap:Body><soap:Fault>\
             <faultcode>soap:{code_name}</faultcode><faultstring>{reason_xml}</faultstring>\
             </soap:Fault></soap:Body></soap:Envelope>"
        ),
    }
}

/// Reads a SOAP fault; `None` if `xml` is not a SOAP envelope whose body is a Fault.
pub fn parse_fault(xml: &str, limits: &Limits) -> Option<SoapFault> {
    let doc = xml::parse_document(xml, limits).ok()?;
    let root = xml::root_element(&doc).ok()?;
    let version = envelope_version(&doc, root)?;
    let ns = version.namespace();
    let fault = body_child(&doc, root).filter(|f| xml::is(&doc, *f, ns, "Fault"))?;
    let kids = Seq::lenient(&doc, fault, "Fault").many_any();
    let (code_text, reason) = match version {
        SoapVersion::Soap12 => {
            let code = kids.iter().find(|k| xml::is(&doc, **k, ns, "Code"))?;
            let value = child_elements(&doc, *code).find(|k| xml::is(&doc, *k, ns, "Value"))?;
            let reason = kids
                .iter()
                .find(|k| xml::is(&doc, **k, ns, "Reason"))
                .and_then(|r| child_elements(&doc, *r).find(|t| xml::is(&doc, *t, ns, "Text")))
                .map(|t| doc.text_content_deep(t))
                .unwrap_or_default();
            (doc.text_content_deep(value), reason)
        }
        SoapVersion::Soap11 => {
            // faultcode/faultstring are unqualified in SOAP 1.1.
            let by_name = |name: &str| {
                kids.iter()
                    .find(|k| {
                        xml::local_name(&doc, **k) == name && xml::namespace(&doc, **k).is_none()
                    })
                    .map(|k| doc.text_content_deep(*k))
            };
            (
                by_name("faultcode")?,
                by_name("faultstring").unwrap_or_default(),
            )
        }
    };
    let code_text = code_text.trim_matches(XML_WS);
    let local = code_text.rsplit_once(':').map_or(code_text, |(_, l)| l);
    Some(SoapFault {
        version,
        code: FaultCode::from_local_name(local),
        reason: reason.trim_matches(XML_WS).to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The SOAP version if `node` is an Envelope in a SOAP namespace we support.
fn envelope_version(doc: &Document<'_>, node: NodeId) -> Option<SoapVersion> {
    if xml::is(doc, node, SOAP12_NS, "Envelope") {
        Some(SoapVersion::Soap12)
    } else if xml::is(doc, node, SOAP11_NS, "Envelope") {
        Some(SoapVersion::Soap11)
    } else {
        None
    }
}

/// The first element child of the envelope's Body, without validation.
fn body_child(doc: &Document<'_>, envelope: NodeId) -> Option<NodeId> {
    let ns = xml::namespace(doc, envelope)?;
    let body = child_elements(doc, envelope).find(|n| xml::is(doc, *n, ns, "Body"))?;
    child_elements(doc, body).next()
}

fn child_elements<'d>(doc: &'d Document<'_>, node: NodeId) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(node)
        .filter(move |c| doc.element(*c).is_some())
}

/// Validates Envelope = Header? Body, Body = exactly one element; returns that element.
fn envelope_body_child(
    doc: &Document<'_>,
    envelope: NodeId,
    version: SoapVersion,
) -> Result<NodeId, (FaultCode, &'static str)> {
    let ns = version.namespace();
    const BAD_ENVELOPE: &str = "Envelope must contain an optional Header and one Body";
    let mut seq =
        Seq::new(doc, envelope, "Envelope").map_err(|_| (FaultCode::Sender, BAD_ENVELOPE))?;
    if let Some(header) = seq.opt(ns, "Header") {
        for block in child_elements(doc, header) {
            if must_understand(doc, block, version) {
                return Err((
                    FaultCode::MustUnderstand,
                    "mandatory SOAP header block not understood",
                ));
            }
        }
    }
    let body = seq
        .opt(ns, "Body")
        .ok_or((FaultCode::Sender, BAD_ENVELOPE))?;
    seq.finish()
        .map_err(|_| (FaultCode::Sender, BAD_ENVELOPE))?;
    const ONE_CHILD: &str = "Body must contain exactly one XKMS element";
    let mut child = None;
    for c in doc.children_iter(body) {
        match doc.node_kind(c) {
            Some(NodeKind::Element(_)) if child.is_none() => child = Some(c),
            Some(NodeKind::Element(_)) => return Err((FaultCode::Sender, ONE_CHILD)),
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t))
                if !t.trim_matches(XML_WS).is_empty() =>
            {
                return Err((FaultCode::Sender, ONE_CHILD));
            }
            _ => {}
        }
    }
    child.ok_or((FaultCode::Sender, ONE_CHILD))
}

/// A header block we must process: mustUnderstand true and targeted at us (no role /
/// actor, or the "next" / "ultimateReceiver" role). XKMS defines no header blocks.
fn must_understand(doc: &Document<'_>, block: NodeId, version: SoapVersion) -> bool {
    let ns = version.namespace();
    let mu = doc
        .get_attribute_ns(block, ns, "mustUnderstand")
        .map(|s| s.trim_matches(XML_WS));
    if !matches!(mu, Some("1" | "true")) {
        return false;
    }
    match version {
        SoapVersion::Soap12 => match doc
            .get_attribute_ns(block, ns, "role")
            .map(|s| s.trim_matches(XML_WS))
        {
            None => true,
            Some(role) => {
                role == "http://www.w3.org/2003/05/soap-envelope/role/next"
                    || role == "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
            }
        },
        SoapVersion::Soap11 => match doc
            .get_attribute_ns(block, ns, "actor")
            .map(|s| s.trim_matches(XML_WS))
        {
            None => true,
            Some(actor) => actor == "http://schemas.xmlsoap.org/soap/actor/next",
        },
    }
}

fn envelope_error(
    binding_hint: Option<Binding>,
    fault: FaultCode,
    reason: &'static str,
) -> DocumentError {
    DocumentError::Envelope {
        binding_hint,
        fault,
        reason,
    }
}

fn document_failure(kind: DecodeErrorKind) -> DocumentError {
    let reason = match kind {
        DecodeErrorKind::TooLarge => "message too large",
        DecodeErrorKind::TooDeep => "message nested too deeply",
        DecodeErrorKind::TooManyAttributes | DecodeErrorKind::TooManyElements => {
            "message too complex"
        }
        DecodeErrorKind::DtdForbidden => "DTDs are not allowed",
        _ => "message is not well-formed XML",
    };
    envelope_error(None, FaultCode::Sender, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_declares_the_envelope_namespace() {
        let doc = wrap(Binding::Soap(SoapVersion::Soap12), "<X/>");
        assert_eq!(
            doc,
            "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\">\
             <soap:Body><X/></soap:Body></soap:Envelope>"
        );
        assert!(wrap(Binding::Soap(SoapVersion::Soap11), "<X/>").contains(SOAP11_NS));
    }

    #[test]
    fn fault_codes_use_version_names() {
        let f = fault(SoapVersion::Soap11, FaultCode::Receiver, "busy");
        assert!(f.contains("<faultcode>soap:Server</faultcode>"));
        let f = fault(SoapVersion::Soap12, FaultCode::Sender, "a<b");
        assert!(f.contains("<soap:Value>soap:Sender</soap:Value>"));
        assert!(f.contains("a&lt;b"));
        let f = fault(SoapVersion::Soap12, FaultCode::VersionMismatch, "v");
        assert!(f.contains("<soap:Upgrade>"));
    }

    #[test]
    fn fault_version_defaults_to_soap12() {
        let e = DocumentError::Envelope {
            binding_hint: None,
            fault: FaultCode::Sender,
            reason: "x",
        };
        assert_eq!(e.fault_version(), SoapVersion::Soap12);
        let e = DocumentError::Envelope {
            binding_hint: Some(Binding::Soap(SoapVersion::Soap11)),
            fault: FaultCode::Sender,
            reason: "x",
        };
        assert_eq!(e.fault_version(), SoapVersion::Soap11);
    }
}

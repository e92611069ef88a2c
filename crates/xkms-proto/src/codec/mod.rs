//! XML codec for XKMS messages: [`parse_message`] turns a document into the model,
//! [`write_message`] turns the model into a self-contained XML element.
//!
//! Decoding is strict where the schema is (required attributes and elements, child
//! order, closed vocabularies) and lenient where peers are known to differ (prefix
//! choice, whitespace inside base64, leading zeros in CryptoBinary, dateTime without a
//! timezone). Untrusted input is bounded by [`Limits`] before and after parsing, DTDs
//! are refused, and errors name schema elements only — they never quote attribute
//! values or text of the input, so they are safe to log and to send back.

mod decode;
mod decode_dsig;
mod encode;
mod values;
pub use values::is_ncname;
pub(crate) mod xml;

use crate::model::{Message, Reference, RsaKeyPair, Signature, SignedInfo, Transform};

/// XML's white space (XML 1.0 production `S`: #x20 #x9 #xD #xA) — the only characters
/// attribute-value and xs:token-style collapsing may strip. `str::trim` would also strip
/// U+00A0 and other Unicode spaces, which are content to XML: the decoder trims with
/// `trim_matches(XML_WS)` everywhere.
pub(crate) const XML_WS: &[char] = &[' ', '\t', '\r', '\n'];

/// Resource limits applied to every untrusted document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum input size in bytes (checked before parsing).
    pub max_bytes: usize,
    /// Maximum element nesting depth (the root element is level 1).
    pub max_depth: u32,
    /// Maximum attributes per element, namespace declarations included.
    pub max_attributes: usize,
    /// Maximum number of elements in the document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_elements: 100_000,
        }
    }
}

/// What could be read of a message's root element even when its body is invalid: a
/// result must still carry `RequestId` (= the request's `Id`) and echo `Service`.
///
/// `id` and `service` are attacker-supplied; they are for echoing in a result (the
/// writer escapes them), not for log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    /// Local name of the root element (e.g. `RegisterRequest`).
    pub element: String,
    pub id: Option<String>,
    pub service: Option<String>,
}

/// A document could not be decoded into an XKMS message.
///
/// The kind says what went wrong; [`DecodeError::header`] gives the root element's
/// `Id`/`Service` when the document was well-formed enough to read them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    kind: DecodeErrorKind,
    // Boxed to keep `Result<_, DecodeError>` small on the happy path.
    header: Option<Box<MessageHeader>>,
}

/// Why decoding failed. Display strings contain schema names and at most the local
/// name of an offending element or attribute (truncated), never input values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("document exceeds the size limit")]
    TooLarge,
    #[error("element nesting exceeds the depth limit")]
    TooDeep,
    #[error("an element has more attributes than allowed")]
    TooManyAttributes,
    #[error("document has more elements than allowed")]
    TooManyElements,
    #[error("DTDs and entity declarations are not allowed")]
    DtdForbidden,
    #[error("document is not well-formed XML (line {line}, column {column})")]
    NotWellFormed { line: usize, column: usize },
    /// The root (or SOAP body child) is not an XKMS message element.
    #[error("`{element}` is not an XKMS message element{}", if *.xkms_namespace { "" } else { " (not in the XKMS namespace)" })]
    UnknownMessage {
        element: String,
        xkms_namespace: bool,
    },
    #[error("`{parent}` lacks required element `{child}`")]
    MissingElement { parent: String, child: String },
    #[error("unexpected element `{element}` in `{parent}`")]
    UnexpectedElement { parent: String, element: String },
    #[error("`{element}` lacks required attribute `{attribute}`")]
    MissingAttribute { element: String, attribute: String },
    #[error("unexpected attribute `{attribute}` on `{element}`")]
    UnexpectedAttribute { element: String, attribute: String },
    #[error("invalid `{element}`: {what}")]
    InvalidValue { element: String, what: &'static str },
}

impl DecodeError {
    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The root element's name, `Id` and `Service`, if the document got that far.
    pub fn header(&self) -> Option<&MessageHeader> {
        self.header.as_deref()
    }

    /// True when the document is XML but not an XKMS message the codec knows: answer
    /// `Sender`/`MessageNotSupported` rather than `Sender`/`Failure`.
    pub fn is_unsupported_message(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::UnknownMessage { .. })
    }

    /// True for failures before a DOM existed (size, depth, DTD, well-formedness).
    pub fn is_document_level(&self) -> bool {
        matches!(
            self.kind,
            DecodeErrorKind::TooLarge
                | DecodeErrorKind::TooDeep
                | DecodeErrorKind::TooManyAttributes
                | DecodeErrorKind::TooManyElements
                | DecodeErrorKind::DtdForbidden
                | DecodeErrorKind::NotWellFormed { .. }
        )
    }

    pub(crate) fn new(kind: DecodeErrorKind, header: Option<MessageHeader>) -> Self {
        DecodeError {
            kind,
            header: header.map(Box::new),
        }
    }
}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError { kind, header: None }
    }
}

/// Parses a document whose root element is a bare XKMS message.
pub fn parse_message(xml: &str, limits: &Limits) -> Result<Message, DecodeError> {
    let doc = xml::parse_document(xml, limits)?;
    let root = xml::root_element(&doc)?;
    decode::decode_message(&doc, root)
}

/// Decodes a message element of an already parsed (and limit-checked) document.
pub(crate) fn decode_message_node(
    doc: &uppsala::Document<'_>,
    node: uppsala::NodeId,
) -> Result<Message, DecodeError> {
    decode::decode_message(doc, node)
}

/// Escapes character data for element content.
pub(crate) fn escape_text(out: &mut String, text: &str) {
    encode::escape_into(out, text, false);
}

/// Writes `msg` as one element in the default XKMS namespace, with `ds:`/`xenc:`
/// declared on it; no XML declaration.
pub fn write_message(msg: &Message) -> String {
    encode::write_message(msg)
}

/// The name, `Id` and `Service` of the message element `node`, without decoding it.
pub(crate) fn message_header(doc: &uppsala::Document<'_>, node: uppsala::NodeId) -> MessageHeader {
    decode::header_of(doc, node)
}

/// Writes the standalone `<RSAKeyPair xmlns="…xkms#">` element: the plaintext of a
/// `PrivateKey`. The returned string is secret; zeroize it after encryption.
pub fn write_rsa_key_pair(pair: &RsaKeyPair) -> String {
    encode::write_rsa_key_pair(pair)
}

/// Parses decrypted `PrivateKey` content: one `RSAKeyPair` element, surrounding
/// whitespace allowed, possibly relying on an inherited default or `xkms:` prefix
/// declaration for the XKMS namespace (digest §7.6).
pub fn parse_rsa_key_pair(xml: &str, limits: &Limits) -> Result<RsaKeyPair, DecodeError> {
    decode::parse_rsa_key_pair(xml, limits)
}

impl Signature {
    /// A signature template: one `Reference` to `reference_uri` with a single transform
    /// (the canonicalization algorithm), empty `DigestValue` and `SignatureValue`, no
    /// KeyInfo. Serialized inside a message, it is completed by the XML-DSig signer.
    pub fn template(
        signature_method: &str,
        reference_uri: &str,
        c14n_algorithm: &str,
        digest_method: &str,
    ) -> Signature {
        let c14n = Transform {
            algorithm: c14n_algorithm.to_owned(),
            inclusive_namespaces: None,
        };
        Signature {
            id: None,
            signed_info: SignedInfo {
                canonicalization_method: c14n.clone(),
                signature_method: signature_method.to_owned(),
                hmac_output_length: None,
                references: vec![Reference {
                    uri: Some(reference_uri.to_owned()),
                    transforms: vec![c14n],
                    digest_method: digest_method.to_owned(),
                    digest_value: Vec::new(),
                }],
            },
            signature_value: Vec::new(),
            key_info: None,
        }
    }
}

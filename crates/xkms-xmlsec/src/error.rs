//! The crate's error type.
//!
//! Every variant names what was wrong, never the offending content: these errors are built
//! from attacker-supplied XML and end up in logs and (mapped) in XKMS results.

use std::fmt;

/// Which algorithm slot of a signature carried a refused algorithm URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmRole {
    /// `ds:SignedInfo/ds:CanonicalizationMethod`.
    Canonicalization,
    /// `ds:Reference/ds:Transforms/ds:Transform`.
    Transform,
    /// `ds:Reference/ds:DigestMethod`.
    Digest,
    /// `ds:SignedInfo/ds:SignatureMethod`.
    Signature,
    /// `xenc:EncryptionMethod`.
    Encryption,
}

impl fmt::Display for AlgorithmRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlgorithmRole::Canonicalization => "CanonicalizationMethod",
            AlgorithmRole::Transform => "Transform",
            AlgorithmRole::Digest => "DigestMethod",
            AlgorithmRole::Signature => "SignatureMethod",
            AlgorithmRole::Encryption => "EncryptionMethod",
        })
    }
}

/// Errors of canonicalization, signature, encryption and shared-secret handling.
#[derive(Debug, Clone, thiserror::Error)]
pub enum XmlSecError {
    /// Not well-formed, or uses a refused construct (DTD, entity declaration, excessive depth).
    #[error("document is not well-formed XML or uses a refused construct (DTD, entities, depth)")]
    MalformedXml,
    /// Two elements carry the same ID value (`Id`, `ID`, `id`, `AssertionID`, `xml:id`).
    #[error("an ID value occurs on more than one element")]
    DuplicateId,
    /// No XKMS element carries the request Id.
    #[error("no XKMS request element carries the requested Id")]
    RequestNotFound,
    /// No XKMS request or result element carries the message Id.
    #[error("no XKMS message element carries the requested Id")]
    MessageNotFound,
    /// The request has no single key-binding child with an `Id`.
    #[error("request has no single key binding element with an Id")]
    KeyBindingMissing,
    /// The slot holds no `ds:Signature`, or more than one.
    #[error("no single ds:Signature at the {0} position")]
    SignatureMissing(&'static str),
    /// A `ds:Signature` sits where none may be (around the request or message, inside the key
    /// binding, inside the verified signature, or as a child of a message other than its first).
    #[error("ds:Signature element in a position where none is allowed")]
    UnexpectedSignature,
    /// The signature element does not have the shape XML-DSig and this profile require.
    #[error("malformed signature: unexpected or missing {0}")]
    SignatureStructure(&'static str),
    /// `ds:SignedInfo` must hold exactly one `ds:Reference`.
    #[error("SignedInfo must contain exactly one Reference, found {found}")]
    ReferenceCount {
        /// How many references were present.
        found: usize,
    },
    /// The reference does not point at what the signature must cover: the request's key
    /// binding (key-binding signatures) or the message itself (message signatures).
    #[error("Reference URI does not designate the element this signature must cover")]
    ReferenceTarget,
    /// An algorithm URI outside the allowed set.
    #[error("{role} algorithm is not allowed here")]
    AlgorithmNotAllowed {
        /// Where the algorithm appeared.
        role: AlgorithmRole,
    },
    /// `HMACOutputLength` other than the full output length (truncation attack, CVE-2009-0217).
    #[error("HMACOutputLength other than the full HMAC length is refused")]
    HmacOutputLength,
    /// The supplied key does not fit the signature method (HMAC key for RSA or the reverse).
    #[error("key type does not fit the SignatureMethod")]
    KeyMismatch,
    /// The reference digest does not match the key binding.
    #[error("reference digest does not match the key binding")]
    DigestMismatch,
    /// The signature value does not verify with the supplied key.
    #[error("signature value does not verify")]
    BadSignature,
    /// The shared secret is empty or fails SASLprep.
    #[error("shared secret is empty or contains prohibited characters")]
    InvalidSecret,
    /// Key material could not be imported.
    #[error("key material is invalid or of an unsupported size")]
    InvalidKey,
    /// The signing template is not an empty, well-formed signature skeleton.
    #[error("signature template is malformed or already filled")]
    Template,
    /// The crypto provider cannot perform this algorithm (RSA-SHA1 *signing* on aws-lc).
    #[error("the configured crypto provider cannot perform this algorithm")]
    AlgorithmUnavailable,
    /// The XML security backend failed in a way not covered above.
    #[error("XML security backend failure")]
    Backend,
    /// `xenc:EncryptedData` is malformed or does not decrypt with the key.
    #[error("EncryptedData is malformed or does not decrypt with this key")]
    Decryption,
}

impl XmlSecError {
    /// Whether the signature is well-formed and acceptable but does not verify with the
    /// key tried: a caller holding several candidate keys may try the next one. Every
    /// other error is a property of the document and fails it whatever the key.
    pub fn is_wrong_key(&self) -> bool {
        matches!(self, XmlSecError::BadSignature | XmlSecError::KeyMismatch)
    }

    /// Whether the failure may depend on the document around the signed element (the
    /// namespace context inclusive C14N takes in, a `URI=""` reference), so that the
    /// element taken as its own document may still verify (see `context`).
    pub(crate) fn is_context_dependent(&self) -> bool {
        matches!(
            self,
            XmlSecError::BadSignature | XmlSecError::DigestMismatch | XmlSecError::ReferenceTarget
        )
    }
}

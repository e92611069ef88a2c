//! URI vocabularies of XKMS 2.0 (digest §3). Every value is a full REC URI.
//!
//! Open vocabularies (the schema's `union` with `anyURI`) keep unknown values in an
//! `Other(String)` variant so a parser never loses them; the service decides what an
//! unknown value means. Closed vocabularies (`KeyUsage`, `StatusValue`) refuse unknown
//! values at parse time.

/// Namespace of XKMS elements and base of every XKMS-defined URI value.
pub const XKMS_NS: &str = "http://www.w3.org/2002/03/xkms#";
/// XML Signature namespace.
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML Encryption namespace.
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// Exclusive canonicalization namespace (InclusiveNamespaces).
pub const EC_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

macro_rules! open_vocab {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $uri:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value outside the REC vocabulary, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every value the REC defines, in REC order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// Maps a URI to its value; unknown URIs become `Other`.
            pub fn from_uri(uri: &str) -> Self {
                match uri {
                    $($uri => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            /// The full URI of this value.
            pub fn as_uri(&self) -> &str {
                match self {
                    $($name::$variant => $uri,)*
                    $name::Other(uri) => uri,
                }
            }
        }
    };
}

macro_rules! closed_vocab {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $uri:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every value of the vocabulary.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Maps a URI to its value; `None` for a URI outside the closed vocabulary.
            pub fn from_uri(uri: &str) -> Option<Self> {
                match uri {
                    $($uri => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The full URI of this value.
            pub fn as_uri(&self) -> &'static str {
                match self {
                    $($name::$variant => $uri,)*
                }
            }
        }
    };
}

open_vocab! {
    /// `ResultMajor` attribute of every result (digest §3.1).
    ResultMajor {
        Success => "http://www.w3.org/2002/03/xkms#Success",
        VersionMismatch => "http://www.w3.org/2002/03/xkms#VersionMismatch",
        Sender => "http://www.w3.org/2002/03/xkms#Sender",
        Receiver => "http://www.w3.org/2002/03/xkms#Receiver",
        Represent => "http://www.w3.org/2002/03/xkms#Represent",
        Pending => "http://www.w3.org/2002/03/xkms#Pending",
    }
}

open_vocab! {
    /// `ResultMinor` attribute (digest §3.4).
    ResultMinor {
        NoMatch => "http://www.w3.org/2002/03/xkms#NoMatch",
        TooManyResponses => "http://www.w3.org/2002/03/xkms#TooManyResponses",
        Incomplete => "http://www.w3.org/2002/03/xkms#Incomplete",
        Failure => "http://www.w3.org/2002/03/xkms#Failure",
        Refused => "http://www.w3.org/2002/03/xkms#Refused",
        NoAuthentication => "http://www.w3.org/2002/03/xkms#NoAuthentication",
        MessageNotSupported => "http://www.w3.org/2002/03/xkms#MessageNotSupported",
        UnknownResponseId => "http://www.w3.org/2002/03/xkms#UnknownResponseId",
        RepresentRequired => "http://www.w3.org/2002/03/xkms#RepresentRequired",
        NotSynchronous => "http://www.w3.org/2002/03/xkms#NotSynchronous",
        OptionalElementNotSupported => "http://www.w3.org/2002/03/xkms#OptionalElementNotSupported",
        ProofOfPossessionRequired => "http://www.w3.org/2002/03/xkms#ProofOfPossessionRequired",
        TimeInstantNotSupported => "http://www.w3.org/2002/03/xkms#TimeInstantNotSupported",
        TimeInstantOutOfRange => "http://www.w3.org/2002/03/xkms#TimeInstantOutOfRange",
    }
}

open_vocab! {
    /// `ResponseMechanism` of a request (digest §3.2).
    ResponseMechanism {
        Pending => "http://www.w3.org/2002/03/xkms#Pending",
        Represent => "http://www.w3.org/2002/03/xkms#Represent",
        RequestSignatureValue => "http://www.w3.org/2002/03/xkms#RequestSignatureValue",
    }
}

open_vocab! {
    /// `RespondWith`: what the client wants in returned key bindings (digest §3.3).
    RespondWith {
        KeyName => "http://www.w3.org/2002/03/xkms#KeyName",
        KeyValue => "http://www.w3.org/2002/03/xkms#KeyValue",
        X509Cert => "http://www.w3.org/2002/03/xkms#X509Cert",
        X509Chain => "http://www.w3.org/2002/03/xkms#X509Chain",
        X509Crl => "http://www.w3.org/2002/03/xkms#X509CRL",
        RetrievalMethod => "http://www.w3.org/2002/03/xkms#RetrievalMethod",
        Pgp => "http://www.w3.org/2002/03/xkms#PGP",
        PgpWeb => "http://www.w3.org/2002/03/xkms#PGPWeb",
        Spki => "http://www.w3.org/2002/03/xkms#SPKI",
        PrivateKey => "http://www.w3.org/2002/03/xkms#PrivateKey",
    }
}

open_vocab! {
    /// Valid/Invalid/IndeterminateReason values (digest §3.6).
    Reason {
        IssuerTrust => "http://www.w3.org/2002/03/xkms#IssuerTrust",
        RevocationStatus => "http://www.w3.org/2002/03/xkms#RevocationStatus",
        ValidityInterval => "http://www.w3.org/2002/03/xkms#ValidityInterval",
        Signature => "http://www.w3.org/2002/03/xkms#Signature",
    }
}

open_vocab! {
    /// UseKeyWith `Application` URIs (digest §3.5). The two non-REC spellings of the
    /// profile URI seen in implementations are folded into `XkmsProfile` on input.
    Application {
        Xkms => "http://www.w3.org/2002/03/xkms#",
        XkmsProfile => "http://www.w3.org/2002/03/xkms#profile",
        Smime => "urn:ietf:rfc:2633",
        Pgp => "urn:ietf:rfc:2440",
        Tls => "urn:ietf:rfc:2246",
        TlsHttps => "urn:ietf:rfc:2818",
        TlsSmtp => "urn:ietf:rfc:2487",
        Ipsec => "urn:ietf:rfc:2401",
        Pkix => "urn:ietf:rfc:2459",
    }
}

impl Application {
    /// Like [`Application::from_uri`] but also accepts the profile spellings used by
    /// EJBCA (`#/profile`) and Oracle (`##profile`).
    pub fn from_uri_lenient(uri: &str) -> Self {
        match uri {
            "http://www.w3.org/2002/03/xkms#/profile"
            | "http://www.w3.org/2002/03/xkms##profile" => Application::XkmsProfile,
            other => Application::from_uri(other),
        }
    }
}

closed_vocab! {
    /// `KeyUsage` (closed, digest §3.6).
    KeyUsage {
        Encryption => "http://www.w3.org/2002/03/xkms#Encryption",
        Signature => "http://www.w3.org/2002/03/xkms#Signature",
        Exchange => "http://www.w3.org/2002/03/xkms#Exchange",
    }
}

closed_vocab! {
    /// `Status/@StatusValue` (closed).
    StatusValue {
        Valid => "http://www.w3.org/2002/03/xkms#Valid",
        Invalid => "http://www.w3.org/2002/03/xkms#Invalid",
        Indeterminate => "http://www.w3.org/2002/03/xkms#Indeterminate",
    }
}

/// Algorithm URIs used with XKMS (digest §7.5).
pub mod alg {
    pub const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
    pub const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
    pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
    pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    pub const C14N_WITH_COMMENTS: &str =
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
    pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub const TRIPLEDES_CBC: &str = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc";
    pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    pub const AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
    pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
    pub const XENC_CONTENT: &str = "http://www.w3.org/2001/04/xmlenc#Content";
    pub const XENC_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
}

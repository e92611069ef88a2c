//! Errors of the CA. Messages never contain key material or the raw input
//! that failed to parse (it may come from an untrusted request).

use std::path::PathBuf;

/// Everything that can go wrong in the CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// An RSA public key is smaller than [`crate::MIN_RSA_BITS`].
    #[error("RSA key of {bits} bits is below the minimum of {min} bits", min = crate::MIN_RSA_BITS)]
    KeyTooSmall { bits: usize },
    /// A public key is malformed or unacceptable (even modulus, bad exponent, ...).
    #[error("invalid public key: {reason}")]
    InvalidPublicKey { reason: &'static str },
    /// A distinguished name could not be parsed or is not supported.
    #[error("invalid distinguished name: {reason}")]
    InvalidName { reason: &'static str },
    /// A subjectAltName value (e-mail, DNS name, URI) is not acceptable.
    #[error("invalid subjectAltName {kind}: {reason}")]
    InvalidSubjectAltName {
        kind: &'static str,
        reason: &'static str,
    },
    /// The resulting validity period is empty (after clipping to the CA's).
    #[error("empty validity period: notAfter is not after notBefore")]
    InvalidValidity,
    /// A serial number string is malformed.
    #[error("invalid serial number: {reason}")]
    InvalidSerial { reason: &'static str },
    /// An unknown CA key type name.
    #[error("unknown CA key type (expected rsa2048, rsa3072, rsa4096, ecdsa-p256 or ecdsa-p384)")]
    UnknownKeyType,
    /// The private key could not be read (wrong format or unsupported algorithm).
    #[error("invalid CA private key: {reason}")]
    InvalidPrivateKey { reason: &'static str },
    /// A certificate could not be parsed.
    #[error("invalid certificate: {reason}")]
    InvalidCertificate { reason: &'static str },
    /// The CA certificate does not belong to the CA private key.
    #[error("the CA certificate does not match the CA private key")]
    KeyMismatch,
    /// The CA private key file is readable by other users.
    #[error(
        "CA private key file {path} is accessible by group or others (mode {mode:o}); expected 0600"
    )]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The PKCS#11 module or token failed or refused (details from the module; never
    /// the PIN).
    #[error("PKCS#11: {what}: {detail}")]
    Token { what: &'static str, detail: String },
    /// The passphrase of an encrypted key file does not open it.
    #[error("the passphrase does not decrypt the CA key file")]
    WrongPassphrase,
    /// The cryptographic backend or signer failed.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    /// Certificate/CRL encoding failed (rcgen).
    #[error("certificate encoding failed: {0}")]
    Encoding(String),
}

impl CaError {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        CaError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<rcgen::Error> for CaError {
    fn from(e: rcgen::Error) -> Self {
        // rcgen errors describe parameters we built ourselves (never secrets);
        // signer failures arrive as RingUnspecified.
        match e {
            rcgen::Error::RingUnspecified => CaError::Crypto("signing failed"),
            other => CaError::Encoding(other.to_string()),
        }
    }
}

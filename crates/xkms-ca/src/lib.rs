//! xkms-ca — the built-in X.509 certificate authority of the XKMS service.
//!
//! The CA signs end-entity certificates for keys that clients register over
//! XKMS (we never hold the subject's private key) and, later, CRLs. All
//! signing goes through the [`CaSigner`] trait: a file key ([`FileKeySigner`],
//! optionally encrypted at rest under a passphrase) or a key that never leaves a
//! PKCS#11 token ([`Pkcs11Signer`]), with the same certificate profiles.
//!
//! Layering: this crate performs no network or database I/O and reads no
//! clock; the caller passes `now` and persists serial numbers *before*
//! calling [`Ca::issue`].

mod ca;
mod certinfo;
mod der;
mod encrypted_key;
mod error;
mod issue;
mod name;
pub mod path;
pub mod pem;
mod pkcs11;
mod public_key;
mod serial;
mod signer;
mod storage;

pub use ca::{Ca, CaParams, RevocationReason, RevokedEntry};
pub use certinfo::{CertificateInfo, KeyUsageBits, parse_certificate};
pub use encrypted_key::{PBKDF2_ITERATIONS, Passphrase};
pub use error::CaError;
pub use issue::{CertificateProfile, IssueRequest, IssuedCertificate, XkmsKeyUsage};
pub use name::{DistinguishedName, DnAttribute};
pub use pkcs11::{Pkcs11Config, Pkcs11Signer, TokenKeyProtection};
pub use public_key::{MAX_RSA_BITS, MIN_RSA_BITS, RsaPublicKey};
pub use serial::Serial;
pub use signer::{CaKeyType, CaSignatureAlgorithm, CaSigner, FileKeySigner};
pub use storage::{check_private_mode, publish_exclusive};

/// File name of the CA private key (PKCS#8 PEM) inside the CA directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// File name of the CA certificate (PEM) inside the CA directory.
pub const CA_CERT_FILE: &str = "ca-cert.pem";

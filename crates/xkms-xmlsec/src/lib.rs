//! XML security for the XKMS 2.0 service: the §8.1 shared-secret key derivation, detached
//! key-binding signatures (`KeyBindingAuthentication`, `ProofOfPossession`), enveloped
//! message-level signatures (payload authentication) and `PrivateKey` encryption.
//!
//! Everything works on raw XML text and is cross-checked against `xmlsec1` in the tests. The
//! XML-DSig engine is bergshamra on the aws-lc provider; this crate adds the XKMS profile
//! around it (which signature, which reference, which algorithms) because the engine's generic
//! "strict" mode does not fit detached key-binding signatures.

mod backend;
pub mod document;
pub mod encryption;
mod error;
pub mod kdf;
pub mod key_pair;
pub mod message;
mod profile;
pub mod signature;
mod splice;

#[cfg(test)]
#[path = "../../../tests/tools.rs"]
mod test_tools;

pub use document::ReceivedDocument;
pub use encryption::{decrypt_private_key, encrypt_private_key};
pub use error::{AlgorithmRole, XmlSecError};
pub use kdf::{KeyId, SecretPreparation, SharedSecret};
pub use message::{
    MessageSigner, VerifiedMessageSignature, sign_message, verify_message_signature,
    verify_message_signature_in,
};
pub use signature::{
    HmacAlgorithm, RsaAlgorithm, SigningKey, Slot, VerifiedSignature, VerifyKey, sign_key_binding,
    signature_template_xml, verify_authentication_with_secret, verify_key_binding_signature,
    verify_key_binding_signature_any,
};

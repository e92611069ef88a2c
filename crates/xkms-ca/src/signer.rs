//! The CA signing key behind a trait: a PKCS#8 file key ([`FileKeySigner`], optionally
//! encrypted at rest) or a key in a PKCS#11 token (`crate::pkcs11`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{self, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

use crate::encrypted_key::Passphrase;
use crate::error::CaError;

/// Type of key the CA creates for itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CaKeyType {
    Rsa2048,
    #[default]
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
}

impl CaKeyType {
    /// All key types, in configuration-name order.
    pub const ALL: [CaKeyType; 5] = [
        CaKeyType::Rsa2048,
        CaKeyType::Rsa3072,
        CaKeyType::Rsa4096,
        CaKeyType::EcdsaP256,
        CaKeyType::EcdsaP384,
    ];

    /// Configuration name: `rsa2048`, `rsa3072`, `rsa4096`, `ecdsa-p256`, `ecdsa-p384`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaKeyType::Rsa2048 => "rsa2048",
            CaKeyType::Rsa3072 => "rsa3072",
            CaKeyType::Rsa4096 => "rsa4096",
            CaKeyType::EcdsaP256 => "ecdsa-p256",
            CaKeyType::EcdsaP384 => "ecdsa-p384",
        }
    }

    /// The signature algorithm a key of this type signs with.
    pub fn signature_algorithm(self) -> CaSignatureAlgorithm {
        match self {
            CaKeyType::Rsa2048 | CaKeyType::Rsa3072 | CaKeyType::Rsa4096 => {
                CaSignatureAlgorithm::RsaPkcs1Sha256
            }
            CaKeyType::EcdsaP256 => CaSignatureAlgorithm::EcdsaP256Sha256,
            CaKeyType::EcdsaP384 => CaSignatureAlgorithm::EcdsaP384Sha384,
        }
    }
}

impl fmt::Display for CaKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaKeyType {
    type Err = CaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaKeyType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(CaError::UnknownKeyType)
    }
}

/// Signature algorithms the CA signs certificates and CRLs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaSignatureAlgorithm {
    /// sha256WithRSAEncryption (PKCS#1 v1.5), any RSA modulus size.
    RsaPkcs1Sha256,
    /// ecdsa-with-SHA256 on P-256.
    EcdsaP256Sha256,
    /// ecdsa-with-SHA384 on P-384.
    EcdsaP384Sha384,
}

impl CaSignatureAlgorithm {
    pub(crate) fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            CaSignatureAlgorithm::RsaPkcs1Sha256 => &rcgen::PKCS_RSA_SHA256,
            CaSignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaSignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

/// A CA signing key. Implement this for an HSM-held key; [`FileKeySigner`]
/// is the PKCS#8 file implementation.
pub trait CaSigner: Send + Sync {
    /// The algorithm [`CaSigner::sign`] produces.
    fn algorithm(&self) -> CaSignatureAlgorithm;

    /// The public key as carried in the SubjectPublicKeyInfo BIT STRING:
    /// the PKCS#1 `RSAPublicKey` DER for RSA, the uncompressed SEC1 point
    /// for ECDSA.
    fn public_key_bits(&self) -> &[u8];

    /// Hashes and signs `message`. RSA: PKCS#1 v1.5 signature bytes;
    /// ECDSA: DER `Ecdsa-Sig-Value`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError>;
}

/// A CA key held in memory, loaded from or saved as a PKCS#8 file.
pub struct FileKeySigner {
    key: FileKey,
    public: Vec<u8>,
    algorithm: CaSignatureAlgorithm,
    rng: SystemRandom,
}

enum FileKey {
    Rsa(rsa::KeyPair),
    Ecdsa(EcdsaKeyPair),
}

impl FileKeySigner {
    /// Generates a new key of the given type.
    pub fn generate(key_type: CaKeyType) -> Result<Self, CaError> {
        let failed = |_| CaError::Crypto("key generation failed");
        let key = match key_type {
            CaKeyType::Rsa2048 => {
                FileKey::Rsa(rsa::KeyPair::generate(KeySize::Rsa2048).map_err(failed)?)
            }
            CaKeyType::Rsa3072 => {
                FileKey::Rsa(rsa::KeyPair::generate(KeySize::Rsa3072).map_err(failed)?)
            }
            CaKeyType::Rsa4096 => {
                FileKey::Rsa(rsa::KeyPair::generate(KeySize::Rsa4096).map_err(failed)?)
            }
            CaKeyType::EcdsaP256 => FileKey::Ecdsa(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(failed)?,
            ),
            CaKeyType::EcdsaP384 => FileKey::Ecdsa(
                EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).map_err(failed)?,
            ),
        };
        Ok(Self::new(key, key_type.signature_algorithm()))
    }

    /// Reads an unencrypted PKCS#8 key (RSA ≥ 2048 bits, ECDSA P-256 or P-384).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CaError> {
        if let Ok(key) = rsa::KeyPair::from_pkcs8(der) {
            if key.public_modulus_len() * 8 < crate::MIN_RSA_BITS {
                return Err(CaError::InvalidPrivateKey {
                    reason: "RSA key too small",
                });
            }
            return Ok(Self::new(
                FileKey::Rsa(key),
                CaSignatureAlgorithm::RsaPkcs1Sha256,
            ));
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            return Ok(Self::new(
                FileKey::Ecdsa(key),
                CaSignatureAlgorithm::EcdsaP256Sha256,
            ));
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der) {
            return Ok(Self::new(
                FileKey::Ecdsa(key),
                CaSignatureAlgorithm::EcdsaP384Sha384,
            ));
        }
        Err(CaError::InvalidPrivateKey {
            reason: "not an RSA, P-256 or P-384 PKCS#8 private key",
        })
    }

    /// Reads a `-----BEGIN PRIVATE KEY-----` PEM.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CaError> {
        let der = crate::pem::decode_first(pem.as_bytes(), &[crate::pem::Label::PrivateKey])
            .ok()
            .flatten()
            .ok_or(CaError::InvalidPrivateKey {
                reason: "no PKCS#8 \"PRIVATE KEY\" PEM block that decodes",
            })?;
        Self::from_pkcs8_der(&der)
    }

    /// Reads a key file: `PRIVATE KEY` (unencrypted) or, with a passphrase, `ENCRYPTED
    /// PRIVATE KEY` (PBES2). A passphrase given for an unencrypted file is refused: the
    /// operator expects the key encrypted at rest.
    pub fn from_pem(pem: &str, passphrase: Option<&Passphrase>) -> Result<Self, CaError> {
        use crate::pem::{Label, decode_first};
        let encrypted = decode_first(pem.as_bytes(), &[Label::EncryptedPrivateKey])
            .ok()
            .flatten();
        match (encrypted, passphrase) {
            (Some(der), Some(passphrase)) => {
                Self::from_pkcs8_der(&crate::encrypted_key::decrypt_pkcs8(&der, passphrase)?)
            }
            (Some(_), None) => Err(CaError::InvalidPrivateKey {
                reason: "the key file is encrypted and no passphrase file is configured",
            }),
            (None, Some(_))
                if decode_first(pem.as_bytes(), &[Label::PrivateKey])
                    .ok()
                    .flatten()
                    .is_some() =>
            {
                Err(CaError::InvalidPrivateKey {
                    reason: "the key file is not encrypted, but a passphrase file is \
                             configured (encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc)",
                })
            }
            (None, _) => Self::from_pkcs8_pem(pem),
        }
    }

    /// The key as an `ENCRYPTED PRIVATE KEY` PEM under `passphrase` (PBES2,
    /// PBKDF2-HMAC-SHA256, AES-256-CBC).
    pub fn to_encrypted_pkcs8_pem(&self, passphrase: &Passphrase) -> Result<String, CaError> {
        let der = crate::encrypted_key::encrypt_pkcs8(&self.to_pkcs8_der()?, passphrase)?;
        Ok(crate::pem::encode(
            crate::pem::Label::EncryptedPrivateKey,
            &der,
        ))
    }

    /// The key as unencrypted PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CaError> {
        let failed = |_| CaError::Crypto("private key serialization failed");
        let der = match &self.key {
            FileKey::Rsa(k) => {
                let der: Pkcs8V1Der<'static> = k.as_der().map_err(failed)?;
                der.as_ref().to_vec()
            }
            FileKey::Ecdsa(k) => k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
        };
        Ok(Zeroizing::new(der))
    }

    /// The key as a `-----BEGIN PRIVATE KEY-----` PEM.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CaError> {
        Ok(Zeroizing::new(crate::pem::encode(
            crate::pem::Label::PrivateKey,
            &self.to_pkcs8_der()?,
        )))
    }

    fn new(key: FileKey, algorithm: CaSignatureAlgorithm) -> Self {
        let public = match &key {
            FileKey::Rsa(k) => k.public_key().as_ref().to_vec(),
            FileKey::Ecdsa(k) => k.public_key().as_ref().to_vec(),
        };
        FileKeySigner {
            key,
            public,
            algorithm,
            rng: SystemRandom::new(),
        }
    }
}

impl CaSigner for FileKeySigner {
    fn algorithm(&self) -> CaSignatureAlgorithm {
        self.algorithm
    }

    fn public_key_bits(&self) -> &[u8] {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        let failed = |_| CaError::Crypto("signing failed");
        match &self.key {
            FileKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
            FileKey::Ecdsa(k) => Ok(k
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
        }
    }
}

impl fmt::Debug for FileKeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKeySigner")
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Adapts a [`CaSigner`] to rcgen's `SigningKey`, so rcgen builds the
/// TBSCertificate / TBSCertList and our signer produces the signature.
#[derive(Clone)]
pub(crate) struct RcgenSigner(pub(crate) Arc<dyn CaSigner>);

impl rcgen::PublicKeyData for RcgenSigner {
    fn der_bytes(&self) -> &[u8] {
        self.0.public_key_bits()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.0.algorithm().rcgen()
    }
}

impl rcgen::SigningKey for RcgenSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // rcgen's error type has no room for ours; the caller maps this
        // back to CaError::Crypto("signing failed").
        self.0.sign(msg).map_err(|_| rcgen::Error::RingUnspecified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_names() {
        for t in CaKeyType::ALL {
            assert_eq!(t.to_string().parse::<CaKeyType>().unwrap(), t);
        }
        assert_eq!(CaKeyType::default(), CaKeyType::Rsa3072);
        assert_eq!(
            "ECDSA-P384".parse::<CaKeyType>().unwrap(),
            CaKeyType::EcdsaP384
        );
        assert!("rsa1024".parse::<CaKeyType>().is_err());
    }

    #[test]
    fn pkcs8_round_trip_keeps_algorithm_and_public_key() {
        for t in [
            CaKeyType::Rsa2048,
            CaKeyType::EcdsaP256,
            CaKeyType::EcdsaP384,
        ] {
            let k = FileKeySigner::generate(t).unwrap();
            let pem = k.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let back = FileKeySigner::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(back.algorithm(), t.signature_algorithm());
            assert_eq!(back.public_key_bits(), k.public_key_bits());
            assert!(!back.sign(b"tbs").unwrap().is_empty());
            assert!(!format!("{back:?}").contains(&pem[30..60]));
        }
        assert!(FileKeySigner::from_pkcs8_der(b"garbage").is_err());
    }
}

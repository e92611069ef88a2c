//! The client's own RSA key: generated, loaded from and saved to PEM files.

use crate::ClientError;
use crate::pem::Label;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use zeroize::Zeroizing;

/// An RSA key pair held by the client (for proof of possession).
pub struct ClientKey {
    pkcs8: Zeroizing<Vec<u8>>,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// Generates a fresh key of 2048, 3072 or 4096 bits.
    pub fn generate(bits: usize) -> Result<ClientKey, ClientError> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => return Err(ClientError::Key("key size must be 2048, 3072 or 4096 bits")),
        };
        let pair =
            KeyPair::generate(size).map_err(|_| ClientError::Key("key generation failed"))?;
        let der = pair
            .as_der()
            .map_err(|_| ClientError::Key("key encoding failed"))?;
        ClientKey::from_der(der.as_ref())
    }

    /// Loads a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) DER key.
    pub fn from_der(der: &[u8]) -> Result<ClientKey, ClientError> {
        if let Some(problem) = not_rsa(der) {
            return Err(ClientError::Key(problem));
        }
        let pair = KeyPair::from_pkcs8(der)
            .or_else(|_| KeyPair::from_der(der))
            .map_err(|_| {
                ClientError::Key(match rsa_bits(der) {
                    Some(bits) if bits < 2048 => {
                        "an RSA key under 2048 bits: too small to register (and to load)"
                    }
                    _ => "not an RSA private key (PKCS#8 or PKCS#1) that can be read",
                })
            })?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| ClientError::Key("key encoding failed"))?;
        let public = pair.public_key();
        Ok(ClientKey {
            pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
            modulus: public.modulus().big_endian_without_leading_zero().to_vec(),
            exponent: public.exponent().big_endian_without_leading_zero().to_vec(),
        })
    }

    /// Loads a PEM file's contents (`PRIVATE KEY` or `RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<ClientKey, ClientError> {
        if pem.contains("Proc-Type: 4,ENCRYPTED")
            || pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        {
            return Err(ClientError::Key(ENCRYPTED));
        }
        match crate::pem::decode_first(pem.as_bytes(), &[Label::PrivateKey, Label::RsaPrivateKey]) {
            Ok(Some(der)) => return ClientKey::from_der(&der),
            Ok(None) => {}
            Err(_) => return Err(ClientError::Key("the PEM block is not valid base64")),
        }
        let first = crate::pem::blocks(pem.as_bytes()).next();
        Err(ClientError::Key(match first.as_ref().map(|b| b.label) {
            Some("EC PRIVATE KEY") => EC,
            Some("DSA PRIVATE KEY") => "a DSA key: only RSA keys can be registered",
            Some("OPENSSH PRIVATE KEY") => {
                "an OpenSSH key: convert it first (ssh-keygen -p -m PKCS8 -f FILE)"
            }
            Some("CERTIFICATE") => "a certificate, not a private key",
            Some("PUBLIC KEY" | "RSA PUBLIC KEY") => "a public key, not a private key",
            Some(_) => "no PRIVATE KEY or RSA PRIVATE KEY block in the PEM file",
            None => "not a PEM file (expected -----BEGIN PRIVATE KEY-----)",
        }))
    }

    /// Loads a key file's bytes: PEM, or else DER (PKCS#8 or PKCS#1).
    pub fn from_file_bytes(bytes: &[u8]) -> Result<ClientKey, ClientError> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => ClientKey::from_pem(text),
            _ => ClientKey::from_der(bytes),
        }
    }

    /// PKCS#8 PEM (`PRIVATE KEY`), as `openssl` writes it.
    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::pem::encode(Label::PrivateKey, &self.pkcs8))
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    pub fn bits(&self) -> usize {
        let lead = self
            .modulus
            .first()
            .map(|b| 8 - b.leading_zeros() as usize)
            .unwrap_or(0);
        self.modulus.len().saturating_sub(1) * 8 + lead
    }
}

const ENCRYPTED: &str = "the key is encrypted with a pass phrase: write an unencrypted copy first \
     (openssl pkey -in FILE -out plain.pem)";
const EC: &str = "an EC key: only RSA keys can be registered (openssl genpkey -algorithm RSA)";

/// Why a PKCS#8 key is not one this client can use (`None`: RSA, or not PKCS#8 at all).
fn not_rsa(der: &[u8]) -> Option<&'static str> {
    use pkcs8::ObjectIdentifier;
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
    const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
    const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
    if is_encrypted_pkcs8(der) {
        return Some(ENCRYPTED);
    }
    let info = pkcs8::PrivateKeyInfo::try_from(der).ok()?;
    match info.algorithm.oid {
        RSA => None,
        EC_KEY => Some(EC),
        ED25519 | ED448 => Some("an EdDSA key: only RSA keys can be registered"),
        DSA => Some("a DSA key: only RSA keys can be registered"),
        RSA_PSS => Some("an RSA-PSS-only key: use a plain RSA (rsaEncryption) key"),
        _ => Some("not an RSA key: only RSA keys can be registered"),
    }
}

/// Whether `der` is an EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTET
/// STRING } under a PKCS#5 or PKCS#12 password-based scheme.
fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    use pkcs8::der::asn1::OctetStringRef;
    use pkcs8::der::{Decode, Reader, SliceReader};
    let Ok(mut reader) = SliceReader::new(der) else {
        return false;
    };
    let algorithm = reader.sequence(|r| {
        let algorithm = pkcs8::AlgorithmIdentifierRef::decode(r)?;
        OctetStringRef::decode(r)?;
        Ok(algorithm)
    });
    algorithm.is_ok_and(|a| {
        let oid = a.oid.to_string();
        oid.starts_with("1.2.840.113549.1.5.") || oid.starts_with("1.2.840.113549.1.12.")
    })
}

/// The modulus size of a PKCS#1 or PKCS#8 RSA private key, parsed without checking it.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    use pkcs1::der::Decode;
    let pkcs1_der = match pkcs8::PrivateKeyInfo::try_from(der) {
        Ok(info) => info.private_key,
        Err(_) => der,
    };
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der).ok()?;
    let modulus = key.modulus.as_bytes();
    let lead = modulus
        .first()
        .map_or(0, |b| 8 - b.leading_zeros() as usize);
    Some(modulus.len().saturating_sub(1) * 8 + lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_save_load_round_trip() {
        let key = ClientKey::generate(2048).unwrap();
        assert_eq!(key.bits(), 2048);
        let again = ClientKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(again.modulus(), key.modulus());
        assert_eq!(again.exponent(), &[1, 0, 1]);
        assert!(ClientKey::generate(1024).is_err());
        assert!(
            ClientKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }

    fn key_error(result: Result<ClientKey, ClientError>) -> &'static str {
        match result {
            Err(ClientError::Key(reason)) => reason,
            other => panic!("expected a key error, got {other:?}"),
        }
    }

    #[test]
    fn unusable_keys_say_why() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let ec_der = ec.to_pkcs8v1().unwrap();
        let reason = key_error(ClientKey::from_pem(&crate::pem::encode(
            Label::PrivateKey,
            ec_der.as_ref(),
        )));
        assert!(reason.starts_with("an EC key"), "{reason}");
        assert!(
            key_error(ClientKey::from_pem("-----BEGIN EC PRIVATE KEY-----\n"))
                .starts_with("an EC key")
        );
        let reason = key_error(ClientKey::from_pem(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ));
        assert!(reason.contains("encrypted"), "{reason}");
        let cert = crate::pem::encode(Label::Certificate, &[0x30, 0x00]);
        assert_eq!(
            key_error(ClientKey::from_pem(&cert)),
            "a certificate, not a private key"
        );
        assert!(key_error(ClientKey::from_file_bytes(b"junk")).starts_with("not an RSA"));
    }
}

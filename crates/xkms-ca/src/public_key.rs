//! The subject's RSA public key, as XKMS carries it (ds:RSAKeyValue).

use crate::der;
use crate::error::CaError;

/// Smallest RSA modulus we certify.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus we certify (bounds the work of anyone verifying it).
pub const MAX_RSA_BITS: usize = 16384;

/// DER of the rsaEncryption AlgorithmIdentifier (OID 1.2.840.113549.1.1.1, NULL).
const RSA_ENCRYPTION_ALG_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// An RSA public key: big-endian unsigned modulus and exponent (leading
/// zero bytes are tolerated and ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsaPublicKey {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl RsaPublicKey {
    /// Size of the modulus in bits.
    pub fn bits(&self) -> usize {
        let m = der::strip_leading_zeros(&self.modulus);
        match m.first() {
            None => 0,
            Some(first) => m.len() * 8 - first.leading_zeros() as usize,
        }
    }

    /// Checks the key is one we are willing to certify: at least
    /// [`MIN_RSA_BITS`], an odd modulus, an odd exponent greater than 1 and
    /// smaller than the modulus.
    pub fn validate(&self) -> Result<(), CaError> {
        let bits = self.bits();
        if bits < MIN_RSA_BITS {
            return Err(CaError::KeyTooSmall { bits });
        }
        if bits > MAX_RSA_BITS {
            return Err(CaError::InvalidPublicKey {
                reason: "modulus too large",
            });
        }
        let m = der::strip_leading_zeros(&self.modulus);
        if m.last().is_some_and(|b| b & 1 == 0) {
            return Err(CaError::InvalidPublicKey {
                reason: "even modulus",
            });
        }
        let e = der::strip_leading_zeros(&self.exponent);
        match e {
            [] | [1] => {
                return Err(CaError::InvalidPublicKey {
                    reason: "exponent must be greater than 1",
                });
            }
            _ if e.last().is_some_and(|b| b & 1 == 0) => {
                return Err(CaError::InvalidPublicKey {
                    reason: "even exponent",
                });
            }
            // A sane exponent is small; 8 bytes is generous and far below the modulus.
            _ if e.len() > 8 => {
                return Err(CaError::InvalidPublicKey {
                    reason: "exponent too large",
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// DER of the PKCS#1 RSAPublicKey (the BIT STRING content of the SPKI).
    pub fn to_pkcs1_der(&self) -> Vec<u8> {
        der::sequence(&[
            &der::unsigned_integer(der::strip_leading_zeros(&self.modulus)),
            &der::unsigned_integer(der::strip_leading_zeros(&self.exponent)),
        ])
    }

    /// DER SubjectPublicKeyInfo with algorithm rsaEncryption.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let mut bits = Vec::with_capacity(self.modulus.len() + 32);
        bits.push(0); // no unused bits
        bits.extend_from_slice(&self.to_pkcs1_der());
        der::sequence(&[RSA_ENCRYPTION_ALG_ID, &der::tlv(0x03, &bits)])
    }

    /// Reads an rsaEncryption SubjectPublicKeyInfo. The result has leading
    /// zero bytes stripped. Does not apply the size policy; see [`Self::validate`].
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, CaError> {
        use x509_parser::prelude::FromDer;
        use x509_parser::x509::SubjectPublicKeyInfo;

        let (rest, spki) =
            SubjectPublicKeyInfo::from_der(spki).map_err(|_| CaError::InvalidPublicKey {
                reason: "malformed SubjectPublicKeyInfo",
            })?;
        if !rest.is_empty() {
            return Err(CaError::InvalidPublicKey {
                reason: "trailing data after SubjectPublicKeyInfo",
            });
        }
        Self::from_parsed_spki(&spki)
    }

    pub(crate) fn from_parsed_spki(
        spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
    ) -> Result<Self, CaError> {
        use x509_parser::public_key::PublicKey;
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok(RsaPublicKey {
                modulus: der::strip_leading_zeros(rsa.modulus).to_vec(),
                exponent: der::strip_leading_zeros(rsa.exponent).to_vec(),
            }),
            Ok(_) => Err(CaError::InvalidPublicKey {
                reason: "not an RSA key",
            }),
            Err(_) => Err(CaError::InvalidPublicKey {
                reason: "malformed RSA public key",
            }),
        }
    }
}

/// The subject key handed to rcgen: a public key we do not hold the private
/// half of. rcgen only needs the SubjectPublicKeyInfo pieces.
pub(crate) struct ForeignRsaKey {
    pkcs1: Vec<u8>,
}

impl ForeignRsaKey {
    pub(crate) fn new(key: &RsaPublicKey) -> Result<Self, CaError> {
        key.validate()?;
        Ok(ForeignRsaKey {
            pkcs1: key.to_pkcs1_der(),
        })
    }
}

impl rcgen::PublicKeyData for ForeignRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        // Only its SPKI algorithm (rsaEncryption, NULL) is used for a subject key.
        &rcgen::PKCS_RSA_SHA256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;

    fn key_of(bits_bytes: usize) -> RsaPublicKey {
        let mut modulus = vec![0xff; bits_bytes];
        modulus[bits_bytes - 1] = 0xfb;
        RsaPublicKey {
            modulus,
            exponent: vec![1, 0, 1],
        }
    }

    #[test]
    fn spki_round_trip_matches_aws_lc() {
        let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pk = kp.public_key();
        let from_lc = RsaPublicKey::from_spki_der(
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pk)
                .unwrap()
                .as_ref(),
        )
        .unwrap();
        assert_eq!(from_lc.bits(), 2048);
        assert_eq!(from_lc.to_pkcs1_der(), pk.as_ref());
        let again = RsaPublicKey::from_spki_der(&from_lc.to_spki_der()).unwrap();
        assert_eq!(again, from_lc);
        from_lc.validate().unwrap();
    }

    #[test]
    fn size_and_exponent_policy() {
        assert!(matches!(
            key_of(128).validate(),
            Err(CaError::KeyTooSmall { bits: 1024 })
        ));
        key_of(256).validate().unwrap();
        let mut leading = key_of(256);
        leading.modulus.insert(0, 0);
        assert_eq!(leading.bits(), 2048);
        leading.validate().unwrap();

        for bad_e in [vec![1u8], vec![0, 1], vec![2], vec![1, 0, 0], vec![]] {
            let mut k = key_of(256);
            k.exponent = bad_e;
            assert!(matches!(
                k.validate(),
                Err(CaError::InvalidPublicKey { .. })
            ));
        }
        let mut even = key_of(256);
        even.modulus[255] = 0xfe;
        assert!(matches!(
            even.validate(),
            Err(CaError::InvalidPublicKey { .. })
        ));
    }
}

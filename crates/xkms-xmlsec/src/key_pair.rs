//! `RSAKeyPair` (the plaintext of `PrivateKey`, digest §7.6) to and from PKCS#8, the
//! form keys are generated, escrowed and handed to users in.

use crate::error::XmlSecError;
use pkcs1::der::{Decode, Encode};
use pkcs1::{RsaPrivateKey, UintRef};
use xkms_proto::RsaKeyPair;
use zeroize::Zeroizing;

/// rsaEncryption (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The components of an RSA private key in PKCS#8 (or bare PKCS#1) DER.
pub fn rsa_key_pair_from_pkcs8(der: &[u8]) -> Result<RsaKeyPair, XmlSecError> {
    let pkcs1 = match pkcs8::PrivateKeyInfo::from_der(der) {
        Ok(info) => {
            if info.algorithm.oid != RSA_ENCRYPTION {
                return Err(XmlSecError::InvalidKey);
            }
            info.private_key
        }
        Err(_) => der,
    };
    let key = RsaPrivateKey::from_der(pkcs1).map_err(|_| XmlSecError::InvalidKey)?;
    let bytes = |u: UintRef<'_>| strip(u.as_bytes());
    Ok(RsaKeyPair {
        modulus: bytes(key.modulus),
        exponent: bytes(key.public_exponent),
        p: bytes(key.prime1),
        q: bytes(key.prime2),
        dp: bytes(key.exponent1),
        dq: bytes(key.exponent2),
        inverse_q: bytes(key.coefficient),
        d: bytes(key.private_exponent),
    })
}

/// PKCS#8 DER of `pair`; the key's consistency is checked by aws-lc (a pair whose
/// components do not belong together is refused).
pub fn rsa_key_pair_to_pkcs8(pair: &RsaKeyPair) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
    let key = RsaPrivateKey {
        modulus: uint(&pair.modulus)?,
        public_exponent: uint(&pair.exponent)?,
        private_exponent: uint(&pair.d)?,
        prime1: uint(&pair.p)?,
        prime2: uint(&pair.q)?,
        exponent1: uint(&pair.dp)?,
        exponent2: uint(&pair.dq)?,
        coefficient: uint(&pair.inverse_q)?,
        other_prime_infos: None,
    };
    let pkcs1 = Zeroizing::new(key.to_der().map_err(|_| XmlSecError::InvalidKey)?);
    let info = pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        },
        &pkcs1,
    );
    let der = Zeroizing::new(info.to_der().map_err(|_| XmlSecError::InvalidKey)?);
    aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|_| XmlSecError::InvalidKey)?;
    Ok(der)
}

fn uint(b: &[u8]) -> Result<UintRef<'_>, XmlSecError> {
    UintRef::new(b).map_err(|_| XmlSecError::InvalidKey)
}

fn strip(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    #[test]
    fn generated_key_round_trips_and_matches_openssl() {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let components = rsa_key_pair_from_pkcs8(der.as_ref()).unwrap();
        assert_eq!(components.modulus.len(), 256);
        assert_eq!(components.exponent, vec![1, 0, 1]);
        let back = rsa_key_pair_to_pkcs8(&components).unwrap();
        assert_eq!(rsa_key_pair_from_pkcs8(&back).unwrap(), components);

        // openssl reads what we wrote and agrees on the modulus.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.der");
        std::fs::write(&path, &*back).unwrap();
        let out = crate::test_tools::tool("openssl")
            .args(["pkey", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).replace([' ', '\n', ':'], "");
        let hex: String = components
            .modulus
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(text.contains(&hex[..64]), "openssl shows the same modulus");
    }

    #[test]
    fn inconsistent_components_are_refused() {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let mut components = rsa_key_pair_from_pkcs8(pair.as_der().unwrap().as_ref()).unwrap();
        components.d[10] ^= 0x55;
        assert!(rsa_key_pair_to_pkcs8(&components).is_err());
        assert!(rsa_key_pair_from_pkcs8(b"not a key").is_err());
    }
}

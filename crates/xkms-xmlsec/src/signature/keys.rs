//! Turning our key types into bergshamra keys.

use bergshamra::keys::loader;
use bergshamra::{Key, KeysManager};

use super::{SigningKey, VerifyKey};
use crate::XmlSecError;
use crate::backend::{private_key_pem, single};

/// A keys manager holding exactly the one key the caller supplied.
pub(crate) fn verify_manager(key: &VerifyKey<'_>) -> Result<KeysManager, XmlSecError> {
    let key = match key {
        VerifyKey::Hmac(bytes) => hmac_key(bytes)?,
        VerifyKey::RsaPublic { modulus, exponent } => {
            let spki = rsa_spki_der(modulus, exponent).ok_or(XmlSecError::InvalidKey)?;
            loader::load_spki_der(&spki).map_err(|_| XmlSecError::InvalidKey)?
        }
    };
    Ok(single(key))
}

pub(crate) fn signing_manager(key: &SigningKey) -> Result<KeysManager, XmlSecError> {
    let key = match key {
        SigningKey::Hmac { key, .. } => hmac_key(key)?,
        SigningKey::Rsa { pkcs8_der, .. } => {
            loader::load_rsa_private_pem(private_key_pem(pkcs8_der)?.as_bytes())
                .map_err(|_| XmlSecError::InvalidKey)?
        }
    };
    Ok(single(key))
}

fn hmac_key(bytes: &[u8]) -> Result<Key, XmlSecError> {
    if bytes.is_empty() {
        return Err(XmlSecError::InvalidKey);
    }
    loader::load_hmac_key(bytes).map_err(|_| XmlSecError::InvalidKey)
}

/// DER SubjectPublicKeyInfo for an RSA key given as big-endian unsigned modulus and exponent
/// (the `ds:RSAKeyValue` form; leading zero octets allowed). `None` if aws-lc does not accept
/// the components as an RSA public key.
fn rsa_spki_der(modulus: &[u8], exponent: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::encoding::AsDer;
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|&x| x == 0).collect() };
    let components = aws_lc_rs::rsa::PublicKeyComponents {
        n: strip(modulus),
        e: strip(exponent),
    };
    let der = components.as_der().ok()?;
    Some(der.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trips_aws_lc_key() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::KeyPair as _;
        let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = kp.public_key();
        let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
        let mut padded = vec![0u8];
        padded.extend_from_slice(&c.n);
        let ours = rsa_spki_der(&padded, &c.e).unwrap();
        assert_eq!(ours, public.as_der().unwrap().as_ref());
    }

    #[test]
    fn garbage_components_refused() {
        assert!(rsa_spki_der(&[0, 0], &[1, 0, 1]).is_none());
        assert!(rsa_spki_der(&[5], &[]).is_none());
    }
}

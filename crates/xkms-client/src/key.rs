//! The client's own RSA key: generated, loaded from and saved to PEM files.

use crate::ClientError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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
        let pair = KeyPair::from_pkcs8(der)
            .or_else(|_| KeyPair::from_der(der))
            .map_err(|_| ClientError::Key("not an RSA private key"))?;
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
        let der = pem_decode(pem, &["PRIVATE KEY", "RSA PRIVATE KEY"])
            .ok_or(ClientError::Key("no PRIVATE KEY block in the PEM file"))?;
        ClientKey::from_der(&der)
    }

    /// PKCS#8 PEM (`PRIVATE KEY`), as `openssl` writes it.
    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem_encode("PRIVATE KEY", &self.pkcs8))
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

/// PEM armour around DER, 64 columns.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER of the first PEM block with one of `labels`.
pub fn pem_decode(pem: &str, labels: &[&str]) -> Option<Vec<u8>> {
    for label in labels {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        if let Some(start) = pem.find(&begin) {
            let rest = &pem[start + begin.len()..];
            let stop = rest.find(&end)?;
            let body: String = rest[..stop]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            return STANDARD.decode(body).ok();
        }
    }
    None
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
}

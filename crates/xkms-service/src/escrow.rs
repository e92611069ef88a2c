//! Key escrow: service-generated private keys are kept for Recover, encrypted at rest
//! under the service master key (AES-256-GCM; the key lives in a 0600 file in the data
//! directory, shared by every node, never logged, never in a response).

use crate::error::ServiceError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Format tag of an escrow blob: version 1 = nonce ‖ AES-256-GCM(ciphertext ‖ tag).
const VERSION: u8 = 1;
/// Bound into every blob so a blob cannot be replayed as another kind of secret.
const AAD: &[u8] = b"xkms escrow v1: pkcs8 private key";

/// The service master key.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Length of the key material.
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, ServiceError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| ServiceError::Internal("master key has the wrong length".into()))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Fresh random key material (the caller persists it).
    pub fn generate_bytes() -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::LEN]);
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ServiceError::Internal("no randomness for the master key".into()))?;
        Ok(bytes)
    }

    /// Encrypts a private key for storage.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ServiceError::Internal("no randomness for escrow".into()))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buf,
            )
            .map_err(|_| ServiceError::Internal("escrow encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts an escrow blob.
    pub fn open(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let corrupt = || ServiceError::Internal("escrow blob does not decrypt".into());
        let (&version, rest) = blob.split_first().ok_or_else(corrupt)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut buf)
            .map_err(|_| corrupt())?;
        Ok(Zeroizing::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        let blob = key.seal(b"private key").unwrap();
        assert_eq!(&*key.open(&blob).unwrap(), b"private key");
        let mut bad = blob.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(key.open(&bad).is_err());
        let other = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        assert!(other.open(&blob).is_err());
        assert!(MasterKey::from_bytes(&[0u8; 16]).is_err());
    }
}

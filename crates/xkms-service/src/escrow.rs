//! The service master key (AES-256-GCM; a 0600 file in the data directory, shared by
//! every node, never logged, never in a response) and key escrow: service-generated
//! private keys are kept for Recover, sealed under it with their binding's id as
//! associated data, so a blob copied to another binding's row does not decrypt there.
//! The master key also seals the other secrets at rest (`crate::secrets`).

use crate::error::ServiceError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Format tag of a sealed blob: nonce ‖ AES-256-GCM(ciphertext ‖ tag) with the caller's
/// associated data (which names the kind of secret and the row it belongs to).
const VERSION: u8 = 2;
/// The first escrow format: a constant associated data, so a blob decrypted in any
/// binding's row. Read only to reseal (`crate::secrets::seal_legacy_records`).
const LEGACY_VERSION: u8 = 1;
const LEGACY_AAD: &[u8] = b"xkms escrow v1: pkcs8 private key";

/// The associated data of binding `binding_id`'s escrowed key.
pub fn escrow_aad(binding_id: &str) -> Vec<u8> {
    let mut aad = b"xkms escrow v2: pkcs8 private key of binding \0".to_vec();
    aad.extend_from_slice(binding_id.as_bytes());
    aad
}

/// What service-generated keys need besides the master key: the key pool.
#[derive(Debug)]
pub struct Escrow {
    pub key_pool: crate::keypool::KeyPool,
}

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
            .map_err(|_| ServiceError::Internal("master key has the wrong length"))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Fresh random key material (the caller persists it).
    pub fn generate_bytes() -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::LEN]);
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ServiceError::Internal("no randomness for the master key"))?;
        Ok(bytes)
    }

    /// Encrypts a secret for storage, bound to `aad` (what it is and whose).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ServiceError::Internal("no randomness for escrow"))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| ServiceError::Internal("escrow encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a blob sealed with the same `aad`.
    pub fn open(&self, blob: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        self.open_version(blob, VERSION, aad)
    }

    /// Decrypts an escrow blob of the first format (for resealing only).
    pub(crate) fn open_legacy_escrow(
        &self,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        self.open_version(blob, LEGACY_VERSION, LEGACY_AAD)
    }

    fn open_version(
        &self,
        blob: &[u8],
        expected: u8,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let corrupt = || ServiceError::Internal("sealed blob does not decrypt");
        let (&version, rest) = blob.split_first().ok_or_else(corrupt)?;
        if version != expected || rest.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
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
        let aad = escrow_aad("Ione");
        let blob = key.seal(b"private key", &aad).unwrap();
        assert_eq!(&*key.open(&blob, &aad).unwrap(), b"private key");
        let mut bad = blob.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(key.open(&bad, &aad).is_err());
        let other = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        assert!(other.open(&blob, &aad).is_err());
        assert!(MasterKey::from_bytes(&[0u8; 16]).is_err());
    }

    /// A blob moved to another binding's row does not decrypt there.
    #[test]
    fn escrow_is_bound_to_its_binding() {
        let key = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        let blob = key.seal(b"private key", &escrow_aad("Ione")).unwrap();
        assert!(key.open(&blob, &escrow_aad("Itwo")).is_err());
        assert!(key.open_legacy_escrow(&blob).is_err(), "not the old format");
    }
}

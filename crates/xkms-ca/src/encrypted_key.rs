//! CA key files encrypted at rest: PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958) with
//! PBES2 (RFC 8018), the format `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes and
//! `openssl pkey -passin file:F` reads.
//!
//! We write PBKDF2-HMAC-SHA256 with a random 16-byte salt and [`PBKDF2_ITERATIONS`],
//! and AES-256-CBC with a random IV; we read PBKDF2 with HMAC-SHA1/SHA-256/SHA-384/
//! SHA-512 and AES-128/192/256-CBC (what OpenSSL writes). The ASN.1 structures come
//! from the `pkcs8`/`pkcs5` crates; the key derivation and the cipher are aws-lc-rs,
//! the crypto provider of the whole service.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use pkcs8::EncryptedPrivateKeyInfo;
use pkcs8::der::{Decode, Encode};
use pkcs8::pkcs5::pbes2::{self, Kdf, Pbkdf2Prf};
use zeroize::Zeroizing;

use crate::error::CaError;

/// PBKDF2-HMAC-SHA256 iterations of a key file we write (OWASP's 2023 figure).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// More iterations than this in a file we read is refused (minutes of work).
const MAX_ITERATIONS: u32 = 10_000_000;

/// The passphrase of an encrypted key file: the first line of the passphrase file (as
/// `openssl … -passin file:F` reads it), never empty.
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// From a passphrase file's contents: its first line, without the line end.
    pub fn from_file_contents(contents: &[u8]) -> Result<Passphrase, CaError> {
        let line = contents.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err(CaError::InvalidPrivateKey {
                reason: "the passphrase file's first line is empty",
            });
        }
        Ok(Passphrase(Zeroizing::new(line.to_vec())))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// `pkcs8` (an unencrypted PrivateKeyInfo, DER) encrypted under `passphrase`, as the DER
/// of an EncryptedPrivateKeyInfo.
pub fn encrypt_pkcs8(pkcs8: &[u8], passphrase: &Passphrase) -> Result<Vec<u8>, CaError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut iv))
        .map_err(|_| CaError::Crypto("random number generator failed"))?;
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
        .map_err(|_| CaError::Crypto("PBES2 parameters"))?;
    let key = derive_key(&params, passphrase)?;
    let cipher = UnboundCipherKey::new(&AES_256, &key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| CaError::Crypto("AES key setup failed"))?;
    let mut data = pkcs8.to_vec();
    cipher
        .less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
        .map_err(|_| CaError::Crypto("encrypting the key failed"))?;
    EncryptedPrivateKeyInfo {
        encryption_algorithm: pkcs8::pkcs5::EncryptionScheme::Pbes2(params),
        encrypted_data: &data,
    }
    .to_der()
    .map_err(|_| CaError::Crypto("encoding the encrypted key failed"))
}

/// The PrivateKeyInfo (DER) inside an EncryptedPrivateKeyInfo (DER).
/// [`CaError::WrongPassphrase`] when the passphrase does not open it.
pub fn decrypt_pkcs8(der: &[u8], passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, CaError> {
    let unsupported = |reason| CaError::InvalidPrivateKey { reason };
    let info = EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|_| unsupported("not a PKCS#8 EncryptedPrivateKeyInfo"))?;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
        return Err(unsupported(
            "PBES1 encryption (use PBES2: openssl pkcs8 -topk8 -v2 aes-256-cbc)",
        ));
    };
    let (algorithm, iv) = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => (&AES_128, iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => (&AES_192, iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => (&AES_256, iv),
        _ => return Err(unsupported("a cipher other than AES-CBC")),
    };
    let key = derive_key(params, passphrase)?;
    let cipher = UnboundCipherKey::new(algorithm, &key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| CaError::Crypto("AES key setup failed"))?;
    let mut data = Zeroizing::new(info.encrypted_data.to_vec());
    // A wrong passphrase shows as bad padding or, rarely, as a plaintext that is no
    // PrivateKeyInfo: both are reported the same way.
    let plain = cipher
        .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| CaError::WrongPassphrase)?;
    if pkcs8::PrivateKeyInfo::from_der(plain).is_err() {
        return Err(CaError::WrongPassphrase);
    }
    Ok(Zeroizing::new(plain.to_vec()))
}

/// The PBES2 key: PBKDF2 with the file's PRF, salt and iterations, as long as the
/// cipher's key.
fn derive_key(
    params: &pbes2::Parameters<'_>,
    passphrase: &Passphrase,
) -> Result<Zeroizing<Vec<u8>>, CaError> {
    let unsupported = |reason| CaError::InvalidPrivateKey { reason };
    let Kdf::Pbkdf2(kdf) = &params.kdf else {
        return Err(unsupported("a key derivation other than PBKDF2"));
    };
    let prf = match kdf.prf {
        Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
        Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(unsupported("a PBKDF2 hash other than SHA-1/256/384/512")),
    };
    let iterations = NonZeroU32::new(kdf.iteration_count)
        .filter(|n| n.get() <= MAX_ITERATIONS)
        .ok_or(unsupported("PBKDF2 iteration count out of range"))?;
    let key_len = params.encryption.key_size();
    if kdf.key_length.is_some_and(|n| usize::from(n) != key_len) {
        return Err(unsupported("PBKDF2 key length does not fit the cipher"));
    }
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    pbkdf2::derive(prf, iterations, kdf.salt, passphrase.bytes(), &mut key);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let pkcs8 = crate::FileKeySigner::generate(crate::CaKeyType::EcdsaP256)
            .unwrap()
            .to_pkcs8_der()
            .unwrap();
        let pass = Passphrase::from_file_contents(b"correct horse\nsecond line").unwrap();
        let encrypted = encrypt_pkcs8(&pkcs8, &pass).unwrap();
        assert!(
            !encrypted
                .windows(pkcs8.len().min(32))
                .any(|w| w == &pkcs8[..w.len()]),
            "the key does not appear in the clear"
        );
        assert_eq!(*decrypt_pkcs8(&encrypted, &pass).unwrap(), *pkcs8);
        let wrong = Passphrase::from_file_contents(b"correct horsE").unwrap();
        assert!(matches!(
            decrypt_pkcs8(&encrypted, &wrong),
            Err(CaError::WrongPassphrase)
        ));
    }

    #[test]
    fn passphrase_is_the_first_line() {
        let a = Passphrase::from_file_contents(b"pw\r\n").unwrap();
        assert_eq!(a.bytes(), b"pw");
        assert!(Passphrase::from_file_contents(b"\nrest").is_err());
        assert!(Passphrase::from_file_contents(b"").is_err());
        assert!(!format!("{a:?}").contains("pw"));
    }
}

//! `PrivateKey/xenc:EncryptedData` (XKMS 2.0 §7.6 of the digest): the service returns a
//! generated private key encrypted under `KEK = derive(s, 0x04, keylen)`.
//!
//! `CipherValue = base64(IV ‖ CBC ciphertext)`, XML Encryption 1.0 padding (last octet = pad
//! length, other pad octets arbitrary). 3DES-CBC is the interop default; AES-128/192/256-CBC
//! are accepted. AES runs on bergshamra's aws-lc provider; 3DES on the RustCrypto `des` block
//! cipher (CBC chaining here) because the aws-lc provider has no 3DES at all.
//!
//! CBC is unauthenticated: a decryption failure must not be reported to a peer in a way that
//! distinguishes padding from other errors (all failures are [`XmlSecError::Decryption`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use des::TdesEde3;
use des::cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use xkms_proto::vocab::{XENC_NS, alg};
use zeroize::Zeroizing;

use crate::error::{AlgorithmRole, XmlSecError};

/// The interop default (every W3C interop test used 3DES).
pub const DEFAULT_ALGORITHM: &str = alg::TRIPLEDES_CBC;

/// Key length in octets for an encryption algorithm URI, `None` if not allowed.
pub fn key_length(algorithm_uri: &str) -> Option<usize> {
    match algorithm_uri {
        alg::TRIPLEDES_CBC => Some(24),
        alg::AES128_CBC => Some(16),
        alg::AES192_CBC => Some(24),
        alg::AES256_CBC => Some(32),
        _ => None,
    }
}

/// Encrypt the serialized `RSAKeyPair` (the *content* of `PrivateKey`) and return an
/// `xenc:EncryptedData` element (with its own `xmlns:xenc`, `Type=…#Content`).
pub fn encrypt_private_key(
    plaintext_xml: &[u8],
    kek: &[u8],
    algorithm_uri: &str,
) -> Result<String, XmlSecError> {
    let expected = key_length(algorithm_uri).ok_or(XmlSecError::AlgorithmNotAllowed {
        role: AlgorithmRole::Encryption,
    })?;
    if kek.len() != expected {
        return Err(XmlSecError::InvalidKey);
    }
    let cipher = encrypt_bytes(algorithm_uri, kek, plaintext_xml)?;
    Ok(format!(
        "<xenc:EncryptedData xmlns:xenc=\"{XENC_NS}\" Type=\"{content}\">\
         <xenc:EncryptionMethod Algorithm=\"{algorithm_uri}\"/>\
         <xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData>",
        content = alg::XENC_CONTENT,
        value = B64.encode(cipher),
    ))
}

/// Decrypt an `xenc:EncryptedData` (the element itself, or a document holding exactly one) and
/// return the plaintext octets (an XML fragment to parse in the context of `PrivateKey`).
pub fn decrypt_private_key(
    encrypted_data_xml: &str,
    kek: &[u8],
) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
    let doc = uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_forbid_entities(true)
        .with_max_depth(64)
        .parse(encrypted_data_xml)
        .map_err(|_| XmlSecError::MalformedXml)?;
    let is = |n: uppsala::NodeId, local: &str| {
        doc.element(n)
            .is_some_and(|e| e.matches_name_ns(XENC_NS, local))
    };
    let mut found = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|&n| is(n, "EncryptedData"));
    let (Some(data), None) = (found.next(), found.next()) else {
        return Err(XmlSecError::Decryption);
    };
    match doc.element(data).and_then(|e| e.get_attribute("Type")) {
        None | Some(alg::XENC_CONTENT) | Some(alg::XENC_ELEMENT) => {}
        Some(_) => return Err(XmlSecError::Decryption),
    }
    let child = |parent, local: &str| doc.children(parent).into_iter().find(|&c| is(c, local));
    let method = child(data, "EncryptionMethod").ok_or(XmlSecError::Decryption)?;
    let algorithm = doc
        .element(method)
        .and_then(|e| e.get_attribute("Algorithm"))
        .ok_or(XmlSecError::Decryption)?;
    let expected = key_length(algorithm).ok_or(XmlSecError::AlgorithmNotAllowed {
        role: AlgorithmRole::Encryption,
    })?;
    if kek.len() != expected {
        return Err(XmlSecError::InvalidKey);
    }
    let value = child(data, "CipherData")
        .and_then(|cd| child(cd, "CipherValue"))
        .ok_or(XmlSecError::Decryption)?;
    let text: String = doc
        .text_content_deep(value)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let cipher = B64.decode(text).map_err(|_| XmlSecError::Decryption)?;
    let plain = decrypt_bytes(algorithm, kek, &cipher)?;
    Ok(plain)
}

/// Encrypts to the model form of `PrivateKey/xenc:EncryptedData` (`Type` Content).
pub fn encrypt_private_key_data(
    plaintext_xml: &[u8],
    kek: &[u8],
    algorithm_uri: &str,
) -> Result<xkms_proto::EncryptedData, XmlSecError> {
    let expected = key_length(algorithm_uri).ok_or(XmlSecError::AlgorithmNotAllowed {
        role: AlgorithmRole::Encryption,
    })?;
    if kek.len() != expected {
        return Err(XmlSecError::InvalidKey);
    }
    Ok(xkms_proto::EncryptedData {
        type_: Some(alg::XENC_CONTENT.to_owned()),
        encryption_method: Some(algorithm_uri.to_owned()),
        cipher_value: encrypt_bytes(algorithm_uri, kek, plaintext_xml)?,
        ..Default::default()
    })
}

/// Decrypts the model form of `xenc:EncryptedData`.
pub fn decrypt_private_key_data(
    data: &xkms_proto::EncryptedData,
    kek: &[u8],
) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
    match data.type_.as_deref() {
        None | Some(alg::XENC_CONTENT) | Some(alg::XENC_ELEMENT) => {}
        Some(_) => return Err(XmlSecError::Decryption),
    }
    let algorithm = data
        .encryption_method
        .as_deref()
        .ok_or(XmlSecError::Decryption)?;
    let expected = key_length(algorithm).ok_or(XmlSecError::AlgorithmNotAllowed {
        role: AlgorithmRole::Encryption,
    })?;
    if kek.len() != expected {
        return Err(XmlSecError::InvalidKey);
    }
    decrypt_bytes(algorithm, kek, &data.cipher_value)
}

/// IV ‖ CBC ciphertext of `plaintext` (the key length was checked by the caller).
fn encrypt_bytes(
    algorithm_uri: &str,
    kek: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, XmlSecError> {
    if algorithm_uri == alg::TRIPLEDES_CBC {
        tdes_cbc_encrypt(kek, plaintext)
    } else {
        bergshamra::crypto::cipher::from_uri(algorithm_uri)
            .and_then(|c| c.encrypt(kek, plaintext))
            .map_err(|_| XmlSecError::Backend)
    }
}

/// Inverse of [`encrypt_bytes`]; every failure is the same [`XmlSecError::Decryption`].
fn decrypt_bytes(
    algorithm: &str,
    kek: &[u8],
    cipher: &[u8],
) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
    if algorithm == alg::TRIPLEDES_CBC {
        tdes_cbc_decrypt(kek, cipher)
    } else {
        bergshamra::crypto::cipher::from_uri(algorithm)
            .and_then(|c| c.decrypt(kek, cipher))
            .map(Zeroizing::new)
            .map_err(|_| XmlSecError::Decryption)
    }
}

const DES_BLOCK: usize = 8;

fn tdes_cbc_encrypt(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, XmlSecError> {
    let cipher = TdesEde3::new_from_slice(key).map_err(|_| XmlSecError::InvalidKey)?;
    let mut iv = [0u8; DES_BLOCK];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| XmlSecError::Backend)?;
    // PKCS#7-style padding is a valid XML Encryption padding.
    let pad = DES_BLOCK - plaintext.len() % DES_BLOCK;
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    data.extend_from_slice(plaintext);
    data.resize(plaintext.len() + pad, pad as u8);

    let mut out = Vec::with_capacity(DES_BLOCK + data.len());
    out.extend_from_slice(&iv);
    let mut prev = iv;
    for chunk in data.chunks(DES_BLOCK) {
        let mut block = Block::<TdesEde3>::default();
        for (b, (p, c)) in block.iter_mut().zip(chunk.iter().zip(prev.iter())) {
            *b = p ^ c;
        }
        cipher.encrypt_block(&mut block);
        prev.copy_from_slice(&block);
        out.extend_from_slice(&block);
    }
    Ok(out)
}

fn tdes_cbc_decrypt(key: &[u8], input: &[u8]) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
    let cipher = TdesEde3::new_from_slice(key).map_err(|_| XmlSecError::InvalidKey)?;
    if input.len() < 2 * DES_BLOCK || !input.len().is_multiple_of(DES_BLOCK) {
        return Err(XmlSecError::Decryption);
    }
    let (iv, body) = input.split_at(DES_BLOCK);
    let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
    let mut prev = iv;
    for chunk in body.chunks(DES_BLOCK) {
        let mut block = Block::<TdesEde3>::default();
        block.copy_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        out.extend(block.iter().zip(prev).map(|(b, p)| b ^ p));
        prev = chunk;
    }
    // XML Encryption padding: only the last octet (1..=block size) is meaningful.
    let pad = usize::from(out.last().copied().unwrap_or(0));
    if pad == 0 || pad > DES_BLOCK {
        return Err(XmlSecError::Decryption);
    }
    let len = out.len() - pad;
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &[u8] = b"<RSAKeyPair xmlns=\"http://www.w3.org/2002/03/xkms#\"><Modulus>AQAB</Modulus></RSAKeyPair>";

    #[test]
    fn round_trip_every_algorithm() {
        for uri in [
            alg::TRIPLEDES_CBC,
            alg::AES128_CBC,
            alg::AES192_CBC,
            alg::AES256_CBC,
        ] {
            let kek = vec![7u8; key_length(uri).unwrap()];
            let xml = encrypt_private_key(PLAIN, &kek, uri).unwrap();
            assert_eq!(
                &decrypt_private_key(&xml, &kek).unwrap()[..],
                PLAIN,
                "{uri}"
            );
            let mut wrong = kek.clone();
            wrong[0] ^= 0x80; // not bit 0: DES ignores the parity bits
            // A wrong key fails or yields different bytes; never the plaintext.
            if let Ok(p) = decrypt_private_key(&xml, &wrong) {
                assert_ne!(&p[..], PLAIN);
            }
        }
    }

    #[test]
    fn three_des_block_aligned_input_gets_a_full_pad_block() {
        // Known answers come from the openssl/xmlsec1 cross-checks in tests/interop.
        let kek = [0x11u8; 24];
        let ct = tdes_cbc_encrypt(&kek, &[0u8; 16]).unwrap();
        assert_eq!(ct.len(), 8 + 16 + 8);
        assert_eq!(&tdes_cbc_decrypt(&kek, &ct).unwrap()[..], &[0u8; 16]);
    }

    #[test]
    fn refuses_wrong_sizes_and_algorithms() {
        assert!(matches!(
            encrypt_private_key(PLAIN, &[0u8; 16], alg::TRIPLEDES_CBC),
            Err(XmlSecError::InvalidKey)
        ));
        assert!(matches!(
            encrypt_private_key(PLAIN, &[0u8; 16], "urn:rot13"),
            Err(XmlSecError::AlgorithmNotAllowed { .. })
        ));
        assert!(matches!(
            tdes_cbc_decrypt(&[0u8; 24], &[0u8; 12]),
            Err(XmlSecError::Decryption)
        ));
    }
}

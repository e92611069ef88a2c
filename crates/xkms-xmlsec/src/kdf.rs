//! Keys derived from a limited-use shared secret (XKMS 2.0 §8.1; digest §7.1–7.4).
//!
//! A pass phrase / registration code agreed out of band is prepared (SASLprep, or the
//! pre-REC "legacy" folding still used by old peers) and fed as HMAC *data* to HMAC-SHA1 under
//! a one-octet key that names its use. Longer keys chain blocks: the key for block `i+1` is
//! block `i` with its first octet XORed with the identifier.
//!
//! Threats: the derived authentication key is an HMAC key the service stores, so it must be
//! treated like the secret; comparisons of revocation codes run in constant time.

use aws_lc_rs::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::XmlSecError;

/// A limited-use shared secret (pass phrase, PIN, registration code).
///
/// `Debug` prints no content; the string is wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret(String);

impl SharedSecret {
    /// Wrap a secret as entered by the user.
    pub fn new(secret: String) -> Self {
        SharedSecret(secret)
    }

    /// The prepared octets `s` that are the HMAC data of every derivation.
    pub fn prepare(&self, prep: SecretPreparation) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
        let prepared = match prep {
            SecretPreparation::SaslPrep => {
                // saslprep rejects prohibited output (ASCII controls such as TAB/CR/LF,
                // private use, ...) and unassigned code points (the "stored strings" flavour).
                let prepared =
                    stringprep::saslprep(&self.0).map_err(|_| XmlSecError::InvalidSecret)?;
                Zeroizing::new(prepared.as_bytes().to_vec())
            }
            SecretPreparation::Legacy => Zeroizing::new(
                self.0
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .map(|c| c.to_ascii_lowercase())
                    .collect::<String>()
                    .into_bytes(),
            ),
        };
        if prepared.is_empty() {
            return Err(XmlSecError::InvalidSecret);
        }
        Ok(prepared)
    }

    /// `K_auth`: the 20-byte HMAC-SHA1 key of `KeyBindingAuthentication`.
    pub fn authentication_key(
        &self,
        prep: SecretPreparation,
    ) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
        Ok(derive(&self.prepare(prep)?, KeyId::Authentication, 20))
    }

    /// The revocation code `HMAC-SHA1(0x02, s)` a client sends to revoke.
    pub fn revocation_code(&self, prep: SecretPreparation) -> Result<[u8; 20], XmlSecError> {
        let block = derive(&self.prepare(prep)?, KeyId::RevocationCode, 20);
        let mut code = [0u8; 20];
        code.copy_from_slice(&block);
        Ok(code)
    }

    /// The key that encrypts `PrivateKey` (24 bytes for 3DES, 16/24/32 for AES).
    pub fn private_key_encryption_key(
        &self,
        prep: SecretPreparation,
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, XmlSecError> {
        Ok(derive(
            &self.prepare(prep)?,
            KeyId::PrivateKeyEncryption,
            len,
        ))
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// How the secret string becomes octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPreparation {
    /// The REC rule: RFC 4013 SASLprep, UTF-8. Case and spaces are kept; control characters,
    /// prohibited and unassigned code points are refused.
    SaslPrep,
    /// Pre-REC drafts (and the REC body examples): drop space, TAB, CR, LF; fold ASCII A–Z.
    Legacy,
}

/// The one-octet HMAC key that names the use of a derived value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyId {
    /// `KeyBindingAuthentication` HMAC key.
    Authentication = 1,
    /// Revocation code (first pass).
    RevocationCode = 2,
    /// Revocation code identifier (second pass over the binary code).
    RevocationCodeIdentifier = 3,
    /// Key encrypting `PrivateKey`.
    PrivateKeyEncryption = 4,
}

/// `len` octets derived from the prepared secret under `id`.
///
/// Block 1 is `HMAC-SHA1(key=[id], prepared)`; block `i+1` uses block `i` with its first octet
/// XORed with `id` as key (the rule confirmed by the REC Appendix-C Bob vector).
pub fn derive(prepared: &[u8], id: KeyId, len: usize) -> Zeroizing<Vec<u8>> {
    let id = id as u8;
    let mut out = Zeroizing::new(Vec::with_capacity(len.div_ceil(20) * 20));
    let mut key = Zeroizing::new(vec![id]);
    while out.len() < len {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key),
            prepared,
        );
        let block = tag.as_ref();
        out.extend_from_slice(block);
        key.clear();
        key.extend_from_slice(block);
        if let Some(first) = key.first_mut() {
            *first ^= id;
        }
    }
    out.truncate(len);
    out
}

/// `RevocationCodeIdentifier = HMAC-SHA1(key=[0x03], code)`, over the binary code.
pub fn revocation_code_identifier(code: &[u8]) -> [u8; 20] {
    let tag = hmac::sign(
        &hmac::Key::new(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            &[KeyId::RevocationCodeIdentifier as u8],
        ),
        code,
    );
    let mut out = [0u8; 20];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Equality whose running time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn secret(s: &str) -> SharedSecret {
        SharedSecret::new(s.to_owned())
    }

    const SASL: SecretPreparation = SecretPreparation::SaslPrep;
    const LEGACY: SecretPreparation = SecretPreparation::Legacy;

    // Digest §7.7: specification vectors.

    #[test]
    fn alice_authentication_key() {
        let k = secret("024837").authentication_key(SASL).unwrap();
        assert_eq!(hex(&k), "d6cc34cb83fae2993a393aa8e7de9a06c7fa2c92");
        assert_eq!(B64.encode(&k), "1sw0y4P64pk6OTqo596aBsf6LJI=");
    }

    #[test]
    fn bob_private_key_encryption_key_two_blocks() {
        let s = secret("3N9CJ-K4JKS-04JWF-0934J-SR09JW-IK4");
        assert_eq!(
            &*s.prepare(SASL).unwrap(),
            b"3N9CJ-K4JKS-04JWF-0934J-SR09JW-IK4"
        );
        let k = s.private_key_encryption_key(SASL, 24).unwrap();
        assert_eq!(hex(&k), "78e8bbf532d01dece38aa9d2a4a409dbff1a265cdbae1b95");
        // block 1 alone, and block 2 from key = block 1 with first byte 0x78 ^ 0x04 = 0x7c.
        let block1 = derive(&s.prepare(SASL).unwrap(), KeyId::PrivateKeyEncryption, 20);
        assert_eq!(hex(&block1), "78e8bbf532d01dece38aa9d2a4a409dbff1a265c");
        let mut key2 = block1.to_vec();
        key2[0] = 0x7c;
        let block2 = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key2),
            &s.prepare(SASL).unwrap(),
        );
        assert_eq!(hex(&block2.as_ref()[..4]), "dbae1b95");
    }

    #[test]
    fn bob_authentication_key() {
        let k = secret("3N9CJ-K4JKS-04JWF-0934J-SR09JW-IK4")
            .authentication_key(SASL)
            .unwrap();
        assert_eq!(hex(&k), "019a69ff639556dbc81fc86f650702d852d62952");
        assert_eq!(B64.encode(&k), "AZpp/2OVVtvIH8hvZQcC2FLWKVI=");
    }

    #[test]
    fn revocation_sasl_prep() {
        let s = secret("Help I Have Revealed My Key");
        assert_eq!(
            hex(&s.prepare(SASL).unwrap()),
            "48656c70204920486176652052657665616c6564204d79204b6579"
        );
        let code = s.revocation_code(SASL).unwrap();
        assert_eq!(hex(&code), "1c0857c95458c26f44327efd0ef055b08cad5c78");
        assert_eq!(B64.encode(code), "HAhXyVRYwm9EMn79DvBVsIytXHg=");
        let rci = revocation_code_identifier(&code);
        assert_eq!(hex(&rci), "e6b44dd9c39988c95c889c41a9a7a5ad90c2cd21");
        assert_eq!(B64.encode(rci), "5rRN2cOZiMlciJxBqaelrZDCzSE=");
    }

    #[test]
    fn revocation_legacy_matches_rec_body_examples() {
        let s = secret("Help I Have Revealed My Key");
        assert_eq!(&*s.prepare(LEGACY).unwrap(), b"helpihaverevealedmykey");
        let code = s.revocation_code(LEGACY).unwrap();
        assert_eq!(hex(&code), "3c7c7c962d92521ac9bf67b50f27966c66c3eabb");
        assert_eq!(B64.encode(code), "PHx8li2SUhrJv2e1DyeWbGbD6rs=");
        let rci = revocation_code_identifier(&code);
        assert_eq!(hex(&rci), "e401006a2d3a84524492eab20f2a8d87c93fbb73");
        assert_eq!(B64.encode(rci), "5AEAai06hFJEkuqyDyqNh8k/u3M=");
    }

    #[test]
    fn interop_sample_authentication_key_keeps_case_and_spaces() {
        let s = secret("A8YUT VUHHU C9H29 8Y43U H9J3I 23");
        assert_eq!(
            &s.prepare(SASL).unwrap()[..6],
            &[0x41, 0x38, 0x59, 0x55, 0x54, 0x20]
        );
        let k = s.authentication_key(SASL).unwrap();
        assert_eq!(hex(&k), "fd823f87979e3e42d4e1d4d020c4b98bf231e248");
    }

    #[test]
    fn bob_legacy_values() {
        let s = secret("3N9CJ-K4JKS-04JWF-0934J-SR09JW-IK4");
        assert_eq!(
            &*s.prepare(LEGACY).unwrap(),
            b"3n9cj-k4jks-04jwf-0934j-sr09jw-ik4"
        );
        assert_eq!(
            hex(&s.authentication_key(LEGACY).unwrap()),
            "b58e9b105b25731c50f1524f8108cdcdfa938b3c"
        );
        assert_eq!(
            hex(&s.private_key_encryption_key(LEGACY, 24).unwrap()),
            "495da42f32f702189a6efa2a39192072c52d0026b7aa29e3"
        );
    }

    // Digest §7.8: the W3C sample-set secrets, every column.

    struct Row {
        secret: &'static str,
        auth: &'static str,
        code_b64: &'static str,
        rci_b64: &'static str,
        kek24: Option<&'static str>,
    }

    const ROWS: &[Row] = &[
        Row {
            secret: "Kymi Joki",
            auth: "ee3528882d0aad4108ab27bd5d879e1674494938",
            code_b64: "aVZNyLFoQET8FqpDQlzRPboT7ic=",
            rci_b64: "wutqGs3K4CzAtWK0C1ifKZ+yct8=",
            kek24: Some("29eb71e6b8466ea4a2cbac65a5c30e909ce38eefafe04deb"),
        },
        Row {
            secret: "Revoke My Key",
            auth: "d69d1a39ede697b8f84924c30068cd9662072393",
            code_b64: "pdIcyMGh9VPIx6W80Www1mlsRA4=",
            rci_b64: "tfmE05IHHuxTv3OT3WgHA5gnyLI=",
            kek24: Some("fb2da2826f24efed0edf4b354d4c0db63c495ce307b641a7"),
        },
        Row {
            secret: "Shared Secret",
            auth: "df0cca82b5b9da2bb233ebfae00dcc7e649a48c1",
            code_b64: "7MkBlInI0jsyXgIJLm+j/CgcoNI=",
            rci_b64: "WVrAUhpxenAJbUSXVC4nhjZRXnc=",
            kek24: Some("ea20a25427d2776ddeea1de57ed410c7a9f9c1d041f3509a"),
        },
        Row {
            secret: "Hicketty Picketty this is my balloon",
            auth: "61b5bf9dfd9bc6f5cb79b78b3c70ddc44072b4fd",
            code_b64: "UVGt85opYzoSocq/4qUyEev8obA=",
            rci_b64: "WUJXQi9PtuKmugg+XNL9U+kDr5Y=",
            kek24: Some("29f83f15a1ad2fdb8c49be399ecaec88bebd16cabca85137"),
        },
        Row {
            secret: "Hicketty Picketty my balloon is thin",
            auth: "0b98128a0d844fd7e44dc45d7a8874212ecdeaa4",
            code_b64: "ToInofLwr87XhanVdyscGFrxEkg=",
            rci_b64: "Eh5/gge7D8gMEOHruoezEUPprso=",
            kek24: Some("15e876c7d825fc7acef97923e3fd85e9059104c661c0874f"),
        },
        Row {
            secret: "12345 67890 abcde FGHIJ",
            auth: "51acc6271b07b7ed9218ac936b73eb1df22fd9eb",
            code_b64: "LwdDiEg9F9zRHPSONOXFt+Y3YnA=",
            rci_b64: "Nj2TKQgYFDGmMEx+iYLMEoBOpYg=",
            kek24: Some("2321955b5c4c63efb6c77046107b6fb4d0772d708ec67ba3"),
        },
        Row {
            secret: "secret",
            auth: "24c7df21cd3b4df2a28be1e2676de225e9485c71",
            code_b64: "TStx2+Gy9QjyOpezlk3UbVM15dY=",
            rci_b64: "jdr25LPvyJM4rZn+pL3AYOscP3g=",
            kek24: Some("a7a3f840d978ae6bfa046f1a7f57a7fbd812ca22578f215a"),
        },
        Row {
            secret: "Revoke me",
            auth: "7527f9aa8217a5dd154e65654f260616d0392b56",
            code_b64: "1WR+w5MIF4x+3lfeGHTCaAu6OyE=",
            rci_b64: "FV+NM5BHI4Revyf3bwhylcCuyWw=",
            kek24: None,
        },
    ];

    #[test]
    fn w3c_sample_set_every_column() {
        for row in ROWS {
            let s = secret(row.secret);
            assert_eq!(
                &*s.prepare(SASL).unwrap(),
                row.secret.as_bytes(),
                "{}",
                row.secret
            );
            assert_eq!(
                hex(&s.authentication_key(SASL).unwrap()),
                row.auth,
                "{}",
                row.secret
            );
            let code = s.revocation_code(SASL).unwrap();
            assert_eq!(B64.encode(code), row.code_b64, "{}", row.secret);
            assert_eq!(
                B64.encode(revocation_code_identifier(&code)),
                row.rci_b64,
                "{}",
                row.secret
            );
            if let Some(kek) = row.kek24 {
                let k24 = s.private_key_encryption_key(SASL, 24).unwrap();
                assert_eq!(hex(&k24), kek, "{}", row.secret);
                // AES-128/192/256 keys are prefixes of the same block chain.
                let k16 = s.private_key_encryption_key(SASL, 16).unwrap();
                let k32 = s.private_key_encryption_key(SASL, 32).unwrap();
                assert_eq!(&k16[..], &k24[..16]);
                assert_eq!(&k32[..24], &k24[..]);
                assert_eq!(k32.len(), 32);
            }
        }
    }

    #[test]
    fn shared_secret_aes128_kek() {
        let k = secret("Shared Secret")
            .private_key_encryption_key(SASL, 16)
            .unwrap();
        assert_eq!(hex(&k), "ea20a25427d2776ddeea1de57ed410c7");
    }

    #[test]
    fn legacy_rows() {
        let kymi = secret("Kymi Joki");
        assert_eq!(&*kymi.prepare(LEGACY).unwrap(), b"kymijoki");
        assert_eq!(
            hex(&kymi.authentication_key(LEGACY).unwrap()),
            "8776d8fc8962836e441715bb1a8c43d23e80fa09"
        );
        let code = secret("Revoke My Key").revocation_code(LEGACY).unwrap();
        assert_eq!(
            B64.encode(revocation_code_identifier(&code)),
            "QgY/lbcFPO6iEjSC1HUWNq3NoHI="
        );
    }

    #[test]
    fn sasl_prep_refuses_tab_and_control_characters() {
        for bad in ["pass\tphrase", "line\nbreak", "cr\rhere", "nul\u{0}"] {
            assert!(matches!(
                secret(bad).prepare(SASL),
                Err(XmlSecError::InvalidSecret)
            ));
        }
        // The legacy preparation strips TAB instead.
        assert_eq!(
            &*secret("pass\tPhrase").prepare(LEGACY).unwrap(),
            b"passphrase"
        );
    }

    #[test]
    fn sasl_prep_maps_non_ascii_space_and_mapped_to_nothing() {
        // U+00A0 NO-BREAK SPACE and U+3000 IDEOGRAPHIC SPACE map to U+0020; U+00AD SOFT HYPHEN
        // maps to nothing.
        let s = secret("Kymi\u{00a0}Jo\u{00ad}ki");
        assert_eq!(&*s.prepare(SASL).unwrap(), b"Kymi Joki");
        assert_eq!(
            hex(&s.authentication_key(SASL).unwrap()),
            "ee3528882d0aad4108ab27bd5d879e1674494938"
        );
        assert_eq!(&*secret("a\u{3000}b").prepare(SASL).unwrap(), b"a b");
        // NFKC: U+FB01 LATIN SMALL LIGATURE FI becomes "fi".
        assert_eq!(&*secret("\u{fb01}x").prepare(SASL).unwrap(), b"fix");
    }

    #[test]
    fn sasl_prep_refuses_unassigned_and_private_use() {
        assert!(secret("a\u{0378}").prepare(SASL).is_err()); // unassigned in Unicode 3.2
        assert!(secret("a\u{e000}").prepare(SASL).is_err()); // private use
    }

    #[test]
    fn empty_secret_refused() {
        assert!(secret("").prepare(SASL).is_err());
        assert!(secret(" \t").prepare(LEGACY).is_err());
    }

    #[test]
    fn debug_redacts() {
        let s = secret("Kymi Joki");
        let shown = format!("{s:?}");
        assert!(!shown.contains("Kymi"));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn third_block_is_deterministic() {
        // Never needed by standard ciphers; check the chain continues with the same rule.
        let s = secret("secret").prepare(SASL).unwrap();
        let k60 = derive(&s, KeyId::PrivateKeyEncryption, 60);
        let k24 = derive(&s, KeyId::PrivateKeyEncryption, 24);
        assert_eq!(&k60[..24], &k24[..]);
        let mut key3 = k60[20..40].to_vec();
        key3[0] ^= 4;
        let block3 = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key3),
            &s,
        );
        assert_eq!(&k60[40..], block3.as_ref());
    }
}

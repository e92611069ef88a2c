//! `PrivateKey` encryption, both directions against `xmlsec1`.

use xkms_proto::vocab::alg;
use xkms_xmlsec::encryption::key_length;
use xkms_xmlsec::{SecretPreparation, SharedSecret, decrypt_private_key, encrypt_private_key};

const PLAIN: &str = "<RSAKeyPair xmlns=\"http://www.w3.org/2002/03/xkms#\"><Modulus>AQAB</Modulus><Exponent>AQAB</Exponent></RSAKeyPair>";
const ALGS: &[&str] = &[
    alg::TRIPLEDES_CBC,
    alg::AES128_CBC,
    alg::AES192_CBC,
    alg::AES256_CBC,
];

fn kek(uri: &str) -> Vec<u8> {
    // The W3C sample-set "Shared Secret" (digest §7.8 lists its 3DES and AES-128 KEKs).
    SharedSecret::new("Shared Secret".to_owned())
        .private_key_encryption_key(SecretPreparation::SaslPrep, key_length(uri).unwrap())
        .unwrap()
        .to_vec()
}

fn key_flag(uri: &str) -> &'static str {
    if uri == alg::TRIPLEDES_CBC {
        "--deskey"
    } else {
        "--aeskey"
    }
}

fn private_key(inner: &str) -> String {
    format!("<PrivateKey xmlns=\"http://www.w3.org/2002/03/xkms#\">{inner}</PrivateKey>")
}

#[test]
fn ours_decrypt_in_xmlsec1() {
    let dir = tempfile::tempdir().unwrap();
    for uri in ALGS {
        let key = kek(uri);
        let enc = encrypt_private_key(PLAIN.as_bytes(), &key, uri).unwrap();
        assert!(enc.contains("Type=\"http://www.w3.org/2001/04/xmlenc#Content\""));
        let key_path = dir.path().join("kek.bin");
        let doc_path = dir.path().join("enc.xml");
        std::fs::write(&key_path, &key).unwrap();
        std::fs::write(&doc_path, private_key(&enc)).unwrap();
        let out = crate::tools::tool("xmlsec1")
            .args(["--decrypt", key_flag(uri)])
            .arg(&key_path)
            .arg(&doc_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{uri}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!(
                "<PrivateKey xmlns=\"http://www.w3.org/2002/03/xkms#\">{PLAIN}</PrivateKey>"
            )),
            "{uri}: {text}"
        );
    }
}

#[test]
fn xmlsec1_encryptions_decrypt_with_ours() {
    let dir = tempfile::tempdir().unwrap();
    for uri in ALGS {
        let key = kek(uri);
        let tmpl = private_key(&format!(
            "<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Type=\"http://www.w3.org/2001/04/xmlenc#Content\"><xenc:EncryptionMethod Algorithm=\"{uri}\"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
        ));
        let paths = ["kek.bin", "plain.xml", "tmpl.xml", "out.xml"].map(|n| dir.path().join(n));
        std::fs::write(&paths[0], &key).unwrap();
        std::fs::write(&paths[1], PLAIN).unwrap();
        std::fs::write(&paths[2], tmpl).unwrap();
        let out = crate::tools::tool("xmlsec1")
            .args(["--encrypt", key_flag(uri)])
            .arg(&paths[0])
            .arg("--binary-data")
            .arg(&paths[1])
            .arg("--output")
            .arg(&paths[3])
            .arg(&paths[2])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{uri}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = std::fs::read_to_string(&paths[3]).unwrap();
        // xmlsec1 wraps the base64 over several lines and pads with random octets.
        let plain = decrypt_private_key(&doc, &key).unwrap();
        assert_eq!(&plain[..], PLAIN.as_bytes(), "{uri}");
        let mut wrong = key.clone();
        wrong[3] ^= 0x80;
        assert!(decrypt_private_key(&doc, &wrong).map_or(true, |p| &p[..] != PLAIN.as_bytes()));
    }
}

#[test]
fn spec_keks_are_used() {
    assert_eq!(
        kek(alg::TRIPLEDES_CBC),
        [
            0xea, 0x20, 0xa2, 0x54, 0x27, 0xd2, 0x77, 0x6d, 0xde, 0xea, 0x1d, 0xe5, 0x7e, 0xd4,
            0x10, 0xc7, 0xa9, 0xf9, 0xc1, 0xd0, 0x41, 0xf3, 0x50, 0x9a
        ]
    );
    assert_eq!(kek(alg::AES128_CBC), kek(alg::TRIPLEDES_CBC)[..16]);
}

#[test]
fn malformed_encrypted_data_is_refused() {
    let key = kek(alg::TRIPLEDES_CBC);
    let enc = encrypt_private_key(PLAIN.as_bytes(), &key, alg::TRIPLEDES_CBC).unwrap();
    let two = private_key(&format!("{enc}{enc}"));
    assert!(matches!(
        decrypt_private_key(&two, &key),
        Err(xkms_xmlsec::XmlSecError::Decryption)
    ));
    let dtd = format!("<!DOCTYPE x>{enc}");
    assert!(matches!(
        decrypt_private_key(&dtd, &key),
        Err(xkms_xmlsec::XmlSecError::MalformedXml)
    ));
    let other = enc.replace(
        alg::TRIPLEDES_CBC,
        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    );
    assert!(matches!(
        decrypt_private_key(&other, &key[..16]),
        Err(xkms_xmlsec::XmlSecError::AlgorithmNotAllowed { .. })
    ));
    assert!(matches!(
        decrypt_private_key(&enc, &key[..16]),
        Err(xkms_xmlsec::XmlSecError::InvalidKey)
    ));
}

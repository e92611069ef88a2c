//! Every certificate and CRL the CA produces, checked by the OpenSSL CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/tools.rs"]
mod tools;

use std::path::Path;
use std::sync::{Arc, Barrier};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use time::{Duration, OffsetDateTime};
use xkms_ca::{
    Ca, CaError, CaKeyType, CaParams, DistinguishedName, IssueRequest, RevocationReason,
    RevokedEntry, RsaPublicKey, Serial, XkmsKeyUsage, parse_certificate,
};

const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";

/// Runs openssl, asserts success, returns stdout + stderr.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = tools::tool("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

fn x509(dir: &Path, file: &str, args: &[&str]) -> String {
    let mut all = vec!["x509", "-in", file, "-noout"];
    all.extend_from_slice(args);
    openssl(dir, &all).trim().to_owned()
}

fn client_key() -> RsaPublicKey {
    let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let spki: PublicKeyX509Der<'static> = kp.public_key().as_der().unwrap();
    RsaPublicKey::from_spki_der(spki.as_ref()).unwrap()
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn joe_request(key: RsaPublicKey) -> IssueRequest {
    IssueRequest {
        subject: DistinguishedName::parse(SEED_DN).unwrap(),
        public_key: key,
        email_addresses: vec!["joe@example.com".into()],
        key_usage: vec![XkmsKeyUsage::Signature],
        ..Default::default()
    }
}

#[test]
fn every_ca_key_type_issues_certificates_openssl_accepts() {
    let now = OffsetDateTime::now_utc();
    for (key_type, sig_alg) in [
        (CaKeyType::Rsa2048, "sha256WithRSAEncryption"),
        (CaKeyType::Rsa3072, "sha256WithRSAEncryption"),
        (CaKeyType::Rsa4096, "sha256WithRSAEncryption"),
        (CaKeyType::EcdsaP256, "ecdsa-with-SHA256"),
        (CaKeyType::EcdsaP384, "ecdsa-with-SHA384"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let params = CaParams {
            key_type,
            organization: Some("XKMS Test".into()),
            // Shorter than the 365-day end-entity policy: issued certificates get clipped.
            validity: Duration::days(30),
            ..Default::default()
        };
        let (ca, created) = Ca::load_or_create(d, &params, now).unwrap();
        assert!(created);
        std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();

        // The CA certificate itself.
        let ca_text = x509(d, "ca.pem", &["-text"]);
        assert!(
            ca_text.contains(&format!("Signature Algorithm: {sig_alg}")),
            "{ca_text}"
        );
        let bc = x509(d, "ca.pem", &["-ext", "basicConstraints"]);
        assert!(bc.contains("critical") && bc.contains("CA:TRUE"), "{bc}");
        let ku = x509(d, "ca.pem", &["-ext", "keyUsage"]);
        assert!(
            ku.contains("critical") && ku.contains("Certificate Sign, CRL Sign"),
            "{ku}"
        );
        assert_eq!(
            x509(d, "ca.pem", &["-subject", "-nameopt", "RFC2253"]),
            "subject=CN=XKMS Demo CA,O=XKMS Test"
        );
        assert_eq!(ca.subject(), "CN=XKMS Demo CA,O=XKMS Test");

        // An end-entity certificate for a foreign RSA key.
        let key = client_key();
        let serial = Serial::random().unwrap();
        let issued = ca.issue(&joe_request(key.clone()), &serial, now).unwrap();
        std::fs::write(d.join("cert.pem"), issued.pem()).unwrap();

        let verify = openssl(
            d,
            &["verify", "-x509_strict", "-CAfile", "ca.pem", "cert.pem"],
        );
        assert_eq!(verify.trim(), "cert.pem: OK", "{key_type}");
        assert_eq!(
            x509(d, "cert.pem", &["-subject", "-nameopt", "RFC2253"]),
            "subject=CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US"
        );
        assert_eq!(issued.subject, "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US");
        assert_eq!(
            x509(d, "cert.pem", &["-issuer", "-nameopt", "RFC2253"]),
            "issuer=CN=XKMS Demo CA,O=XKMS Test"
        );
        let san = x509(d, "cert.pem", &["-ext", "subjectAltName"]);
        assert!(san.contains("email:joe@example.com"), "{san}");
        assert_eq!(
            x509(d, "cert.pem", &["-modulus"]),
            format!("Modulus={}", hex_upper(&key.modulus))
        );
        assert_eq!(
            x509(d, "cert.pem", &["-serial"]),
            format!("serial={}", serial.to_hex())
        );
        let ku = x509(d, "cert.pem", &["-ext", "keyUsage"]);
        assert!(ku.contains("critical"), "{ku}");
        assert!(ku.ends_with("Digital Signature, Non Repudiation"), "{ku}");
        let bc = x509(d, "cert.pem", &["-ext", "basicConstraints"]);
        assert!(bc.contains("CA:FALSE"), "{bc}");
        let eku = x509(d, "cert.pem", &["-ext", "extendedKeyUsage"]);
        assert!(eku.contains("E-mail Protection"), "{eku}");
        let aki = x509(d, "cert.pem", &["-ext", "authorityKeyIdentifier"]);
        let ski = x509(d, "ca.pem", &["-ext", "subjectKeyIdentifier"]);
        let ski_value = ski.lines().last().unwrap().trim();
        assert!(aki.contains(ski_value), "{aki} vs {ski}");
        assert!(!x509(d, "cert.pem", &["-ext", "subjectKeyIdentifier"]).is_empty());
        assert!(x509(d, "cert.pem", &["-text"]).contains("Version: 3 (0x2)"));

        // Validity: starts a minute early, clipped to the CA's end.
        assert_eq!(issued.not_after, ca.not_after());
        assert_eq!(
            x509(d, "cert.pem", &["-enddate"]),
            x509(d, "ca.pem", &["-enddate"])
        );
        assert!(issued.not_before <= now && now - issued.not_before <= Duration::seconds(61));

        // Our own parser and signature check agree.
        let info = ca.verify_issued(&issued.der).unwrap();
        assert_eq!(info.subject, issued.subject);
        assert_eq!(info.issuer, ca.subject());
        assert_eq!(info.serial_hex, serial.to_hex());
        assert_eq!(info.serial, Some(serial));
        assert_eq!(info.rsa_public_key.as_ref(), Some(&key));
        assert_eq!(info.email_addresses, vec!["joe@example.com".to_owned()]);
        assert_eq!(
            (info.not_before, info.not_after),
            (issued.not_before, issued.not_after)
        );
        assert!(!info.is_ca);
    }
}

#[test]
fn load_or_create_reuses_files_and_protects_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let params = CaParams {
        key_type: CaKeyType::EcdsaP256,
        ..Default::default()
    };
    let now = OffsetDateTime::now_utc();
    let (first, created) = Ca::load_or_create(dir.path(), &params, now).unwrap();
    assert!(created);
    let (second, created) = Ca::load_or_create(dir.path(), &params, now).unwrap();
    assert!(!created);
    assert_eq!(first.certificate_der(), second.certificate_der());

    let key_path = dir.path().join(xkms_ca::CA_KEY_FILE);
    let key_pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    // OpenSSL reads the key and it matches the certificate.
    let pub_from_key = openssl(
        dir.path(),
        &["pkey", "-in", xkms_ca::CA_KEY_FILE, "-pubout"],
    );
    let pub_from_cert = openssl(
        dir.path(),
        &["x509", "-in", xkms_ca::CA_CERT_FILE, "-noout", "-pubkey"],
    );
    assert_eq!(pub_from_key, pub_from_cert);
    let from_pem = Ca::from_pem(&key_pem, &first.certificate_pem()).unwrap();
    assert_eq!(from_pem.certificate_der(), first.certificate_der());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Ca::load_or_create(dir.path(), &params, now),
            Err(CaError::InsecureKeyFile { .. })
        ));
    }
}

#[test]
fn concurrent_creation_yields_one_ca() {
    let dir = tempfile::tempdir().unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let now = OffsetDateTime::now_utc();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = dir.path().to_path_buf();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let params = CaParams {
                    key_type: CaKeyType::EcdsaP256,
                    ..Default::default()
                };
                barrier.wait();
                let (ca, created) = Ca::load_or_create(&path, &params, now).unwrap();
                (ca.certificate_der().to_vec(), created)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(der, _)| *der == results[0].0));
    // Only the two files remain; no temporary files.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["ca-cert.pem", "ca-key.pem"]);
}

#[test]
fn profile_variants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = OffsetDateTime::now_utc();
    let params = CaParams {
        key_type: CaKeyType::EcdsaP256,
        ..Default::default()
    };
    let (ca, _) = Ca::load_or_create(d, &params, now).unwrap();
    std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();

    // REC-form name, all SAN kinds, Encryption + Exchange, requested window.
    let req = IssueRequest {
        subject: DistinguishedName::parse("C=\"US\" O=\"Alice Corp\" CN=\"Alice Aardvark\"")
            .unwrap(),
        public_key: client_key(),
        dns_names: vec!["alice.example.com".into()],
        uris: vec!["https://alice.example.com/".into()],
        ip_addresses: vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
        key_usage: vec![XkmsKeyUsage::Encryption, XkmsKeyUsage::Exchange],
        not_before: Some(now - Duration::days(10)),
        not_after: Some(now + Duration::days(7)),
        ..Default::default()
    };
    let issued = ca.issue(&req, &Serial::random().unwrap(), now).unwrap();
    std::fs::write(d.join("alice.pem"), issued.pem()).unwrap();
    assert_eq!(
        openssl(
            d,
            &["verify", "-x509_strict", "-CAfile", "ca.pem", "alice.pem"]
        )
        .trim(),
        "alice.pem: OK"
    );
    assert_eq!(
        x509(d, "alice.pem", &["-subject", "-nameopt", "RFC2253"]),
        "subject=CN=Alice Aardvark,O=Alice Corp,C=US"
    );
    let san = x509(d, "alice.pem", &["-ext", "subjectAltName"]);
    for part in [
        "DNS:alice.example.com",
        "URI:https://alice.example.com/",
        "IP Address:192.0.2.7",
        "IP Address:2001:DB8:0:0:0:0:0:7",
    ] {
        assert!(san.contains(part), "{san}");
    }
    let ku = x509(d, "alice.pem", &["-ext", "keyUsage"]);
    assert!(
        ku.ends_with("Key Encipherment, Data Encipherment, Key Agreement"),
        "{ku}"
    );
    // No e-mail, no emailProtection; a DNS name, serverAuth.
    let eku = x509(d, "alice.pem", &["-ext", "extendedKeyUsage"]);
    assert!(!eku.contains("E-mail Protection"), "{eku}");
    assert!(eku.contains("TLS Web Server Authentication"), "{eku}");
    assert!(eku.contains("ipsec Internet Key Exchange"), "{eku}");
    // notBefore is never earlier than one minute before now; notAfter as asked.
    assert!(issued.not_before >= now - Duration::seconds(61));
    assert_eq!(
        issued.not_after.unix_timestamp(),
        (now + Duration::days(7)).unix_timestamp()
    );
    let info = parse_certificate(&issued.der).unwrap();
    assert_eq!(info.dns_names, vec!["alice.example.com".to_owned()]);
    assert_eq!(info.ip_addresses.len(), 2);

    // No KeyUsage at all → digitalSignature + keyEncipherment.
    let plain = IssueRequest {
        subject: DistinguishedName::parse("CN=Plain").unwrap(),
        public_key: client_key(),
        ..Default::default()
    };
    let issued = ca.issue(&plain, &Serial::random().unwrap(), now).unwrap();
    std::fs::write(d.join("plain.pem"), issued.pem()).unwrap();
    let ku = x509(d, "plain.pem", &["-ext", "keyUsage"]);
    assert!(ku.ends_with("Digital Signature, Key Encipherment"), "{ku}");
}

/// What `openssl verify -purpose P` says of `file` (OK or the error).
fn verify_purpose(dir: &Path, file: &str, purpose: &str) -> bool {
    let out = tools::tool("openssl")
        .args(["verify", "-CAfile", "ca.pem", "-purpose", purpose, file])
        .current_dir(dir)
        .output()
        .expect("openssl CLI must be installed");
    out.status.success()
}

/// Each certificate is good for the purposes its names fit and for no other: an e-mail
/// certificate is no TLS server certificate, and a certificate without DNS names is none
/// either (it used to carry no extendedKeyUsage at all, which OpenSSL reads as "any").
#[test]
fn purposes_fit_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now = OffsetDateTime::now_utc();
    let params = CaParams {
        key_type: CaKeyType::EcdsaP256,
        ..Default::default()
    };
    let (ca, _) = Ca::load_or_create(d, &params, now).unwrap();
    std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();
    let issue = |file: &str, req: IssueRequest| {
        let issued = ca.issue(&req, &Serial::random().unwrap(), now).unwrap();
        std::fs::write(d.join(file), issued.pem()).unwrap();
    };
    issue("mail.pem", joe_request(client_key()));
    issue(
        "plain.pem",
        IssueRequest {
            subject: DistinguishedName::parse("CN=www.bank.example").unwrap(),
            public_key: client_key(),
            ..Default::default()
        },
    );
    issue(
        "server.pem",
        IssueRequest {
            subject: DistinguishedName::parse("CN=www.joe.example").unwrap(),
            public_key: client_key(),
            dns_names: vec!["www.joe.example".into()],
            ..Default::default()
        },
    );
    for (file, purpose, ok) in [
        ("mail.pem", "smimesign", true),
        // KeyUsage Signature only: not for encryption.
        ("mail.pem", "smimeencrypt", false),
        ("mail.pem", "sslclient", true),
        ("mail.pem", "sslserver", false),
        ("plain.pem", "sslserver", false),
        ("plain.pem", "smimesign", false),
        ("plain.pem", "sslclient", true),
        ("server.pem", "sslserver", true),
        ("server.pem", "smimesign", false),
    ] {
        assert_eq!(verify_purpose(d, file, purpose), ok, "{file} for {purpose}");
    }
}

#[test]
fn refusals() {
    let now = OffsetDateTime::now_utc();
    let signer = Arc::new(xkms_ca::FileKeySigner::generate(CaKeyType::EcdsaP256).unwrap());
    let ca = Ca::create_self_signed(signer, &CaParams::default(), now).unwrap();
    let serial = Serial::random().unwrap();

    // A 1024-bit modulus.
    let mut modulus = vec![0xc3; 128];
    modulus[127] = 0x01;
    let small = IssueRequest {
        subject: DistinguishedName::parse("CN=Small").unwrap(),
        public_key: RsaPublicKey {
            modulus,
            exponent: vec![1, 0, 1],
        },
        ..Default::default()
    };
    assert!(matches!(
        ca.issue(&small, &serial, now),
        Err(CaError::KeyTooSmall { bits: 1024 })
    ));

    // Exponent 1.
    let mut bad_e = joe_request(client_key());
    bad_e.public_key.exponent = vec![1];
    assert!(matches!(
        ca.issue(&bad_e, &serial, now),
        Err(CaError::InvalidPublicKey { .. })
    ));

    // Empty window: asked to end before it can start.
    let mut past = joe_request(client_key());
    past.not_after = Some(now - Duration::hours(1));
    assert!(matches!(
        ca.issue(&past, &serial, now),
        Err(CaError::InvalidValidity)
    ));

    // After the CA expired.
    let late = now + Duration::days(4000);
    assert!(matches!(
        ca.issue(&joe_request(client_key()), &serial, late),
        Err(CaError::InvalidValidity)
    ));

    // A certificate from another CA is not ours.
    let other = Ca::create_self_signed(
        Arc::new(xkms_ca::FileKeySigner::generate(CaKeyType::EcdsaP256).unwrap()),
        &CaParams::default(),
        now,
    )
    .unwrap();
    let foreign = other
        .issue(&joe_request(client_key()), &serial, now)
        .unwrap();
    assert!(ca.verify_issued(&foreign.der).is_err());
    assert!(ca.verify_issued(b"junk").is_err());
}

#[test]
fn crl_verifies_with_openssl() {
    let now = OffsetDateTime::now_utc();
    for key_type in [CaKeyType::Rsa2048, CaKeyType::EcdsaP384] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (ca, _) = Ca::load_or_create(
            d,
            &CaParams {
                key_type,
                ..Default::default()
            },
            now,
        )
        .unwrap();
        std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();
        let compromised = Serial::random().unwrap();
        let superseded = Serial::random().unwrap();
        let crl = ca
            .crl(
                &[
                    RevokedEntry {
                        serial: compromised,
                        revocation_time: now - Duration::hours(1),
                        reason: Some(RevocationReason::KeyCompromise),
                    },
                    RevokedEntry {
                        serial: superseded,
                        revocation_time: now,
                        reason: Some(RevocationReason::Superseded),
                    },
                ],
                now,
                now + Duration::days(1),
                7,
            )
            .unwrap();
        std::fs::write(d.join("crl.der"), &crl).unwrap();
        let out = openssl(
            d,
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout",
            ],
        );
        assert!(out.contains("verify OK"), "{out}");
        let text = openssl(
            d,
            &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"],
        );
        assert!(text.contains(&compromised.to_hex()), "{text}");
        assert!(text.contains(&superseded.to_hex()), "{text}");
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("Superseded"), "{text}");
        let mut lines = text
            .lines()
            .skip_while(|l| !l.contains("X509v3 CRL Number"));
        assert_eq!(lines.nth(1).map(str::trim), Some("7"), "{text}");

        // A revoked certificate fails `openssl verify -crl_check`.
        let issued = ca
            .issue(&joe_request(client_key()), &compromised, now)
            .unwrap();
        std::fs::write(d.join("cert.pem"), issued.pem()).unwrap();
        openssl(
            d,
            &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"],
        );
        let status = tools::tool("openssl")
            .args([
                "verify",
                "-crl_check",
                "-CAfile",
                "ca.pem",
                "-CRLfile",
                "crl.pem",
                "cert.pem",
            ])
            .current_dir(d)
            .output()
            .unwrap();
        let msg = String::from_utf8_lossy(&status.stdout).to_string()
            + &String::from_utf8_lossy(&status.stderr);
        assert!(!status.status.success() && msg.contains("revoked"), "{msg}");
    }
}

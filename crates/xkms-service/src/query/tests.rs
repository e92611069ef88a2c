use super::*;
use crate::store::BindingStatus;
use time::macros::datetime;
use xkms_proto::{
    KeyBindingAbstract, KeyInfo, RsaKeyValue, UseKeyWith, X509Data, X509IssuerSerial,
};

const CA: &str = "CN=XKMS Demo CA";

fn binding(usage: &[KeyUsage]) -> KeyBindingRecord {
    KeyBindingRecord {
        id: "b1".into(),
        key_name: Some("bob@example.com".into()),
        modulus: vec![0xc1; 256],
        exponent: vec![1, 0, 1],
        key_fingerprint: key_fingerprint(&RsaPublicKey {
            modulus: vec![0xc1; 256],
            exponent: vec![1, 0, 1],
        }),
        key_usage: usage.to_vec(),
        use_key_with: vec![
            StoredUseKeyWith {
                application: Application::Smime,
                identifier: "bob@example.com".into(),
            },
            StoredUseKeyWith {
                application: Application::Pkix,
                identifier: "CN=Bob,O=Example,C=US".into(),
            },
            StoredUseKeyWith {
                application: Application::TlsHttps,
                identifier: "www.example.com".into(),
            },
        ],
        status: BindingStatus::Revoked,
        revocation_code_identifier: None,
        authorization_id: None,
        created_at: datetime!(2030-01-01 0:00 UTC),
        revoked_at: Some(datetime!(2030-02-01 0:00 UTC)),
    }
}

fn certificate(serial: &str, from: OffsetDateTime, to: OffsetDateTime) -> CertificateRecord {
    CertificateRecord {
        serial: Serial::from_hex(serial).unwrap(),
        binding_id: "b1".into(),
        der: vec![1],
        ski: vec![0xAA, 0xBB],
        not_before: from,
        not_after: to,
        issued_at: from,
        revoked_at: None,
        revocation_reason: None,
    }
}

fn ukw(app: Application, id: &str) -> UseKeyWith {
    UseKeyWith {
        application: app,
        identifier: id.into(),
    }
}

fn query(
    key_info: Option<KeyInfo>,
    ukws: Vec<UseKeyWith>,
    usage: Vec<KeyUsage>,
) -> QueryKeyBinding {
    QueryKeyBinding {
        core: KeyBindingAbstract {
            id: None,
            key_info,
            key_usage: usage,
            use_key_with: ukws,
        },
        time_instant: None,
    }
}

fn reduce(qkb: &QueryKeyBinding) -> KeyQuery {
    KeyQuery::from_query(qkb, CA).unwrap()
}

#[test]
fn xkiss_t1_matches_by_smime_address_and_usage() {
    let q = reduce(&query(
        None,
        vec![ukw(Application::Smime, "Bob@Example.com")],
        vec![KeyUsage::Encryption],
    ));
    assert_eq!(
        q.selector(),
        Some(BindingSelector::UseKeyWith(vec![StoredUseKeyWith {
            application: Application::Smime,
            identifier: "bob@example.com".into(),
        }]))
    );
    assert!(q.matches_binding(&binding(&[KeyUsage::Encryption])));
    assert!(
        q.matches_binding(&binding(&[])),
        "no stored usage permits all"
    );
    assert!(!q.matches_binding(&binding(&[KeyUsage::Signature])));
}

#[test]
fn use_key_with_is_any_and_other_elements_are_all() {
    let b = binding(&[KeyUsage::Signature, KeyUsage::Encryption]);
    // ANY of several UseKeyWith.
    let q = reduce(&query(
        None,
        vec![
            ukw(Application::Pgp, "nobody@example.com"),
            ukw(Application::TlsHttps, "WWW.Example.COM."),
        ],
        vec![],
    ));
    assert!(q.matches_binding(&b));
    // PKIX in another spelling matches after normalisation.
    let q = reduce(&query(
        None,
        vec![ukw(Application::Pkix, "C=US;O=Example;CN=Bob")],
        vec![],
    ));
    assert!(q.matches_binding(&b));
    // AND: a right name with a wrong usage set fails.
    let ki = KeyInfo {
        key_names: vec!["bob@example.com".into()],
        ..Default::default()
    };
    let q = reduce(&query(
        Some(ki.clone()),
        vec![],
        vec![KeyUsage::Signature, KeyUsage::Exchange],
    ));
    assert_eq!(
        q.selector(),
        Some(BindingSelector::KeyName("bob@example.com".into()))
    );
    assert!(!q.matches_binding(&b));
    // AND: KeyName + KeyValue of another key fails; the key wins the lookup.
    let mut ki2 = ki.clone();
    ki2.key_values.push(KeyValue::Rsa(RsaKeyValue {
        modulus: vec![0xc3; 256],
        exponent: vec![1, 0, 1],
    }));
    let q = reduce(&query(Some(ki2), vec![], vec![]));
    assert!(matches!(
        q.selector(),
        Some(BindingSelector::KeyFingerprint(_))
    ));
    assert!(!q.matches_binding(&b));
    // KeyValue of the right key matches.
    let ki3 = KeyInfo {
        key_values: vec![KeyValue::Rsa(RsaKeyValue {
            modulus: vec![0xc1; 256],
            exponent: vec![1, 0, 1],
        })],
        ..Default::default()
    };
    assert!(reduce(&query(Some(ki3), vec![], vec![])).matches_binding(&b));
}

#[test]
fn x509_elements_map_to_lookups() {
    let serial = Serial::from_hex("0102").unwrap();
    let ki = KeyInfo {
        x509_data: vec![X509Data {
            issuer_serials: vec![X509IssuerSerial {
                issuer_name: "cn=XKMS Demo CA".into(),
                serial_number: "258".into(),
            }],
            subject_names: vec!["CN=Bob, O=Example, C=US".into()],
            skis: vec![vec![0xAA, 0xBB]],
            ..Default::default()
        }],
        ..Default::default()
    };
    let q = reduce(&query(Some(ki), vec![], vec![]));
    assert_eq!(
        q.selector(),
        Some(BindingSelector::CertificateSerial(serial))
    );
    let b = binding(&[]);
    assert!(q.matches_binding(&b));
    let now = datetime!(2030-01-01 0:00 UTC);
    let good = certificate(&serial.to_hex(), now, now + time::Duration::days(1));
    assert!(q.matches_certificates(std::slice::from_ref(&good)));
    let mut other = good.clone();
    other.ski = vec![1];
    assert!(!q.matches_certificates(&[other]));

    // Another issuer's serial can never be ours.
    let ki = KeyInfo {
        x509_data: vec![X509Data {
            issuer_serials: vec![X509IssuerSerial {
                issuer_name: "CN=Someone Else".into(),
                serial_number: "258".into(),
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let q = reduce(&query(Some(ki), vec![], vec![]));
    assert!(q.impossible);
    assert_eq!(q.selector(), None);
}

#[test]
fn empty_and_unselective_queries_are_refused() {
    let err = KeyQuery::from_query(&query(None, vec![], vec![]), CA).unwrap_err();
    assert!(matches!(err, ServiceError::InvalidRequest(_)));
    let err =
        KeyQuery::from_query(&query(None, vec![], vec![KeyUsage::Signature]), CA).unwrap_err();
    assert!(matches!(err, ServiceError::Refused(_)));
    let ki = KeyInfo {
        retrieval_methods: vec![xkms_proto::RetrievalMethod::default()],
        ..Default::default()
    };
    let err = KeyQuery::from_query(&query(Some(ki), vec![], vec![]), CA).unwrap_err();
    assert!(matches!(err, ServiceError::OptionalElementNotSupported(_)));
    // A DSA key can never be one of ours: NoMatch, not an error.
    let ki = KeyInfo {
        key_values: vec![KeyValue::Unsupported],
        ..Default::default()
    };
    assert!(reduce(&query(Some(ki), vec![], vec![])).impossible);
}

#[test]
fn limits_and_certificate_choice() {
    assert_eq!(effective_limit(None), MAX_RESULTS);
    assert_eq!(effective_limit(Some(2)), 2);
    assert_eq!(effective_limit(Some(0)), 0);
    assert_eq!(effective_limit(Some(100_000)), MAX_RESULTS);

    let jan = datetime!(2030-01-01 0:00 UTC);
    let jul = datetime!(2030-07-01 0:00 UTC);
    let newest = certificate("02", jul, jul + time::Duration::days(180));
    let older = certificate("01", jan, jul);
    let certs = vec![newest.clone(), older.clone()];
    assert_eq!(certificate_at(&certs, None), Some(&newest));
    assert_eq!(
        certificate_at(&certs, Some(jan + time::Duration::days(3))),
        Some(&older)
    );
    assert_eq!(
        certificate_at(&certs, Some(jan - time::Duration::days(3))),
        Some(&newest)
    );
    assert_eq!(certificate_at(&[], None), None);
}

#[test]
fn decimal_serials_become_our_hex() {
    assert_eq!(
        serial_from_decimal("258").map(|s| s.to_hex()).as_deref(),
        Some("00000000000000000000000000000102")
    );
    assert_eq!(serial_from_decimal("-1"), None);
    assert_eq!(serial_from_decimal("0"), None);
    assert_eq!(serial_from_decimal("x"), None);
}

#[test]
fn usage_and_names_must_fit_the_certificate() {
    let (_, inter, _) = crate::trust::tests::external();
    let cert = crate::trust::tests::current_leaf(5, &inter);
    let info = &cert.info;
    assert!(fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![KeyUsage::Signature], vec![], None)
    ));
    assert!(!fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![KeyUsage::Encryption], vec![], None)
    ));
    assert!(!fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![KeyUsage::Exchange], vec![], None)
    ));
    let names = [
        (ukw(Application::Smime, "Alice@Example.com"), true),
        (ukw(Application::Pgp, "bob@example.com"), false),
        (ukw(Application::TlsHttps, "www.example.com"), true),
        (ukw(Application::TlsHttps, "a.b.example.com"), false),
        (ukw(Application::Pkix, "C=;O=Example;CN=Alice"), false),
        // The name is CN=Alice then O=Example in DER order: order matters.
        (ukw(Application::Pkix, "CN=Alice;O=Example"), true),
        (ukw(Application::Pkix, "O=Example, CN=Alice"), true),
        (ukw(Application::Pkix, "CN=Alice,O=Example"), false),
        (ukw(Application::Ipsec, "192.0.2.1"), false),
    ];
    for (u, expected) in names {
        assert_eq!(
            fits_query(
                info,
                None,
                &crate::trust::tests::qkb(vec![], vec![u.clone()], None)
            ),
            expected,
            "{u:?}"
        );
    }
    // Several UseKeyWith: all must fit.
    let both = vec![
        ukw(Application::Smime, "alice@example.com"),
        ukw(Application::Smime, "bob@example.com"),
    ];
    assert!(!fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![], both, None)
    ));
    // KeyName matches an address or the CN; a foreign KeyValue does not fit.
    let ki = KeyInfo {
        key_names: vec!["alice@example.com".into(), "Alice".into()],
        ..Default::default()
    };
    assert!(fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![], vec![], Some(ki))
    ));
    let ki = KeyInfo {
        key_values: vec![KeyValue::Rsa(xkms_proto::RsaKeyValue {
            modulus: vec![0xc1; 256],
            exponent: vec![1, 0, 1],
        })],
        x509_data: vec![X509Data::default()],
        ..Default::default()
    };
    assert!(!fits_query(
        info,
        None,
        &crate::trust::tests::qkb(vec![], vec![], Some(ki))
    ));
}

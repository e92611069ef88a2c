use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
};
use time::Duration;
use time::macros::datetime;
use xkms_ca::{DistinguishedName, RsaPublicKey};
use xkms_proto::{
    Application, KeyBindingAbstract, KeyInfo, KeyUsage, QueryKeyBinding, Reason, StatusValue,
    UseKeyWith,
};

const T0: OffsetDateTime = datetime!(2030-06-01 0:00 UTC);

pub(crate) struct Authority {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Authority {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    fn crl(&self, revoked: &[(u8, OffsetDateTime)], this: OffsetDateTime) -> Vec<u8> {
        CertificateRevocationListParams {
            this_update: this,
            next_update: this + Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&[*serial]),
                    revocation_time: *at,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer())
        .unwrap()
        .der()
        .to_vec()
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime!(2029-01-01 0:00 UTC);
    p.not_after = datetime!(2040-01-01 0:00 UTC);
    p
}

fn root(cn: &str) -> Authority {
    let params = ca_params(cn);
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Authority { params, key, der }
}

fn intermediate(cn: &str, parent: &Authority) -> Authority {
    let params = ca_params(cn);
    let key = KeyPair::generate().unwrap();
    let der = params
        .signed_by(&key, &parent.issuer())
        .unwrap()
        .der()
        .to_vec();
    Authority { params, key, der }
}

fn leaf_params(serial: u8, from: OffsetDateTime, to: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "Alice");
    p.distinguished_name
        .push(DnType::OrganizationName, "Example");
    p.subject_alt_names = vec![
        SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
        SanType::DnsName("*.example.com".try_into().unwrap()),
    ];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from_slice(&[serial]));
    p.not_before = from;
    p.not_after = to;
    p
}

fn leaf(serial: u8, parent: &Authority, from: OffsetDateTime, to: OffsetDateTime) -> Cert {
    let key = KeyPair::generate().unwrap();
    let der = leaf_params(serial, from, to)
        .signed_by(&key, &parent.issuer())
        .unwrap();
    Cert::parse(der.der()).unwrap()
}

pub(crate) fn current_leaf(serial: u8, parent: &Authority) -> Cert {
    leaf(
        serial,
        parent,
        datetime!(2030-01-01 0:00 UTC),
        datetime!(2031-01-01 0:00 UTC),
    )
}

/// An external root (configured anchor) and intermediate, plus an unrelated CA
/// standing in for our built-in one.
pub(crate) fn external() -> (Authority, Authority, Authority) {
    let root = root("External Root");
    let inter = intermediate("External Issuing CA", &root);
    (root, inter, self::root("Own CA"))
}

fn context(own: &Authority, trust: TrustConfig, extra: &[Vec<u8>]) -> TrustContext {
    TrustContext::new(&own.der, &trust, extra)
}

fn reasons(status: &Status) -> (Vec<Reason>, Vec<Reason>, Vec<Reason>) {
    (
        status.valid_reasons.clone(),
        status.indeterminate_reasons.clone(),
        status.invalid_reasons.clone(),
    )
}

use Reason::{IssuerTrust, RevocationStatus, Signature, ValidityInterval};

#[test]
fn chain_through_configured_intermediate() {
    let (root, inter, own) = external();
    let trust = TrustConfig {
        anchors: vec![root.der.clone()],
        intermediates: vec![inter.der.clone()],
        crls: vec![],
    };
    let ctx = context(&own, trust, &[]);
    let ev = ctx.evaluate(&current_leaf(5, &inter), T0, T0);
    assert_eq!(ev.path.as_ref().unwrap().len(), 3);
    assert_eq!(ev.path.as_ref().unwrap()[2], root.der);
    let status = ev.verdicts.status(true);
    // No CRL for an external CA: revocation cannot be decided.
    assert_eq!(status.status_value, StatusValue::Indeterminate);
    assert_eq!(
        reasons(&status),
        (
            vec![IssuerTrust, ValidityInterval, Signature],
            vec![RevocationStatus],
            vec![]
        )
    );
}

#[test]
fn crls_decide_revocation_at_the_instant() {
    let (root, inter, own) = external();
    let revoked_at = datetime!(2030-05-01 0:00 UTC);
    let trust = |leaf_crl: Vec<u8>| TrustConfig {
        anchors: vec![root.der.clone()],
        intermediates: vec![inter.der.clone()],
        crls: vec![root.crl(&[], T0), leaf_crl],
    };
    let target = current_leaf(5, &inter);

    // Not listed on current CRLs: all four ValidReasons.
    let ctx = context(&own, trust(inter.crl(&[(9, revoked_at)], T0)), &[]);
    let status = ctx.evaluate(&target, T0, T0).verdicts.status(true);
    assert_eq!(status.status_value, StatusValue::Valid);
    assert_eq!(
        status.valid_reasons,
        vec![IssuerTrust, RevocationStatus, ValidityInterval, Signature]
    );

    // Listed: Invalid after the revocation date, Valid before it.
    let ctx = context(&own, trust(inter.crl(&[(5, revoked_at)], T0)), &[]);
    let after = ctx.evaluate(&target, T0, T0).verdicts.status(true);
    assert_eq!(after.status_value, StatusValue::Invalid);
    assert_eq!(after.invalid_reasons, vec![RevocationStatus]);
    let before = ctx
        .evaluate(&target, revoked_at - Duration::days(1), T0)
        .verdicts
        .status(true);
    assert_eq!(before.status_value, StatusValue::Valid);

    // A stale CRL does not prove a recent instant; a CRL signed by someone else is
    // ignored.
    let stale = context(&own, trust(inter.crl(&[], T0 - Duration::days(30))), &[]);
    assert_eq!(
        stale.evaluate(&target, T0, T0).verdicts.revocation_status,
        Verdict::Indeterminate
    );
    let forged = context(&own, trust(root.crl(&[], T0)), &[]);
    assert_eq!(
        forged.evaluate(&target, T0, T0).verdicts.revocation_status,
        Verdict::Indeterminate
    );
}

#[test]
fn unknown_issuer_until_the_request_supplies_the_intermediate() {
    let (anchor, inter, own) = external();
    let trust = TrustConfig {
        anchors: vec![anchor.der.clone()],
        ..Default::default()
    };
    let target = current_leaf(5, &inter);
    let ev = context(&own, trust.clone(), &[]).evaluate(&target, T0, T0);
    assert!(ev.path.is_none());
    let status = ev.verdicts.status(true);
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert_eq!(
        reasons(&status),
        (
            vec![ValidityInterval],
            vec![RevocationStatus, Signature],
            vec![IssuerTrust]
        )
    );
    let ev = context(&own, trust, std::slice::from_ref(&inter.der)).evaluate(&target, T0, T0);
    assert_eq!(ev.path.unwrap().len(), 3);

    // A self-signed certificate nobody configured.
    let stranger = root("Stranger");
    let cert = Cert::parse(&stranger.der).unwrap();
    let ev = context(&own, TrustConfig::default(), &[]).evaluate(&cert, T0, T0);
    assert_eq!(ev.verdicts.issuer_trust, Verdict::Invalid);
}

#[test]
fn expired_and_not_yet_valid_are_invalid_validity_interval() {
    let (root, inter, own) = external();
    let trust = TrustConfig {
        anchors: vec![root.der.clone()],
        intermediates: vec![inter.der.clone()],
        crls: vec![root.crl(&[], T0), inter.crl(&[], T0)],
    };
    let ctx = context(&own, trust, &[]);
    let expired = leaf(
        6,
        &inter,
        datetime!(2029-06-01 0:00 UTC),
        datetime!(2030-01-01 0:00 UTC),
    );
    let future = leaf(
        7,
        &inter,
        datetime!(2031-01-01 0:00 UTC),
        datetime!(2032-01-01 0:00 UTC),
    );
    for cert in [&expired, &future] {
        let status = ctx.evaluate(cert, T0, T0).verdicts.status(true);
        assert_eq!(status.status_value, StatusValue::Invalid);
        assert_eq!(
            reasons(&status),
            (
                vec![IssuerTrust, RevocationStatus, Signature],
                vec![],
                vec![ValidityInterval]
            )
        );
    }
    // The expired one was valid in 2029 (TimeInstant).
    let then = datetime!(2029-09-01 0:00 UTC);
    assert_eq!(
        ctx.evaluate(&expired, then, T0).verdicts.validity_interval,
        Verdict::Valid
    );
}

#[test]
fn a_forged_signature_is_invalid_signature() {
    let (root, inter, own) = external();
    // Same issuer name, different key.
    let impostor = Authority {
        params: inter.params.clone(),
        key: KeyPair::generate().unwrap(),
        der: Vec::new(),
    };
    let forged = current_leaf(8, &impostor);
    let trust = TrustConfig {
        anchors: vec![root.der.clone()],
        intermediates: vec![inter.der.clone()],
        crls: vec![],
    };
    let status = context(&own, trust, &[])
        .evaluate(&forged, T0, T0)
        .verdicts
        .status(true);
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert_eq!(status.invalid_reasons, vec![Signature]);
    assert_eq!(
        status.indeterminate_reasons,
        vec![IssuerTrust, RevocationStatus]
    );
}

#[test]
fn reasons_are_in_schema_order_and_mismatch_is_invalid() {
    let v = Verdicts {
        issuer_trust: Verdict::Invalid,
        revocation_status: Verdict::Valid,
        validity_interval: Verdict::Indeterminate,
        signature: Verdict::Valid,
    };
    let s = v.status(true);
    assert_eq!(s.status_value, StatusValue::Invalid);
    assert_eq!(s.valid_reasons, vec![RevocationStatus, Signature]);
    assert_eq!(s.indeterminate_reasons, vec![ValidityInterval]);
    assert_eq!(s.invalid_reasons, vec![IssuerTrust]);
    let ok = Verdicts::all(Verdict::Valid);
    assert_eq!(ok.status(true).status_value, StatusValue::Valid);
    let mismatch = ok.status(false);
    assert_eq!(mismatch.status_value, StatusValue::Invalid);
    assert_eq!(mismatch.valid_reasons.len(), 4);
    assert!(mismatch.invalid_reasons.is_empty());
}

pub(crate) fn qkb(
    usage: Vec<KeyUsage>,
    ukw: Vec<UseKeyWith>,
    ki: Option<KeyInfo>,
) -> QueryKeyBinding {
    QueryKeyBinding {
        core: KeyBindingAbstract {
            id: None,
            key_info: ki,
            key_usage: usage,
            use_key_with: ukw,
        },
        time_instant: None,
    }
}

fn ukw(application: Application, id: &str) -> UseKeyWith {
    UseKeyWith {
        application,
        identifier: id.into(),
    }
}

#[test]
fn certificates_of_the_built_in_ca_go_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = xkms_ca::Ca::load_or_create(
        dir.path(),
        &xkms_ca::CaParams::default(),
        datetime!(2030-01-01 0:00 UTC),
    )
    .unwrap();
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let public_key =
        RsaPublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(&key)).unwrap();
    let serial = xkms_ca::Serial::random().unwrap();
    let issued = ca
        .issue(
            &xkms_ca::IssueRequest {
                subject: DistinguishedName::parse("C=US;O=Joe Corp;CN=Joe Doe").unwrap(),
                public_key,
                email_addresses: vec!["joe@example.com".into()],
                key_usage: vec![xkms_ca::XkmsKeyUsage::Encryption],
                ..Default::default()
            },
            &serial,
            datetime!(2030-01-01 0:00 UTC),
        )
        .unwrap();
    let ctx = TrustContext::new(ca.certificate_der(), &TrustConfig::default(), &[]);
    let cert = Cert::parse(&issued.der).unwrap();
    let ev = ctx.evaluate(&cert, T0, T0);
    assert_eq!(
        ev.revocation,
        RevocationSource::OwnCa {
            serial: Some(serial)
        }
    );
    assert_eq!(ev.verdicts.issuer_trust, Verdict::Valid);
    assert_eq!(ev.verdicts.signature, Verdict::Valid);
    assert_eq!(ev.verdicts.validity_interval, Verdict::Valid);
    assert_eq!(
        ctx.evaluate(&cert, datetime!(2032-01-01 0:00 UTC), T0)
            .verdicts
            .validity_interval,
        Verdict::Invalid
    );
    let q = qkb(
        vec![KeyUsage::Encryption],
        vec![
            ukw(Application::Smime, "JOE@example.com"),
            ukw(Application::Pkix, "CN=Joe Doe,O=Joe Corp,C=US"),
        ],
        None,
    );
    assert!(crate::query::fits_query(&cert.info, None, &q));
    assert!(!crate::query::fits_query(
        &cert.info,
        None,
        &qkb(vec![KeyUsage::Signature], vec![], None)
    ));
}

/// Sixteen look-alike CA certificates in a request (one name, one key, each naming
/// itself as issuer): the request's path-building budget ends the search with
/// Indeterminate, quickly, where an unbounded search would run ~16^6 verifications.
#[test]
fn look_alike_certificates_in_a_request_exhaust_the_budget_not_the_cpu() {
    let (_, _, own) = external();
    let twin_key = KeyPair::generate().unwrap();
    let twin_params = ca_params("Twin");
    let twin = Authority {
        params: twin_params.clone(),
        key: twin_key,
        der: Vec::new(),
    };
    let mut extra: Vec<Vec<u8>> = (0..15u8)
        .map(|i| {
            let mut params = twin_params.clone();
            params.serial_number = Some(SerialNumber::from_slice(&[i + 1]));
            params
                .signed_by(&twin.key, &twin.issuer())
                .unwrap()
                .der()
                .to_vec()
        })
        .collect();
    let target = current_leaf(99, &twin);
    extra.push(target.der.clone());
    let ctx = context(&own, TrustConfig::default(), &extra);
    let started = std::time::Instant::now();
    let ev = ctx.evaluate(&target, datetime!(2030-06-01 0:00 UTC), T0);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(ev.path.is_none());
    assert_eq!(ev.verdicts.issuer_trust, Verdict::Indeterminate);
    assert_eq!(ev.verdicts.signature, Verdict::Indeterminate);
    assert_eq!(
        ev.verdicts.status(true).status_value,
        StatusValue::Indeterminate
    );
}

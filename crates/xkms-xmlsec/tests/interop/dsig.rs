//! Key-binding signatures, both directions against `xmlsec1`.

use xkms_proto::vocab::alg;
use xkms_xmlsec::{
    HmacAlgorithm, RsaAlgorithm, SecretPreparation, SharedSecret, SigningKey, Slot, VerifyKey,
    sign_key_binding, signature_template_xml, verify_authentication_with_secret,
    verify_key_binding_signature,
};
use zeroize::Zeroizing;

use crate::common::*;

const C14NS: &[&str] = &[
    alg::EXC_C14N,
    alg::EXC_C14N_WITH_COMMENTS,
    alg::C14N,
    alg::C14N_WITH_COMMENTS,
];

fn kba_ok(doc: &str) {
    let v = verify_key_binding_signature(
        doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
    .unwrap();
    assert_eq!(v.key_binding_id, "kb1");
    assert_eq!(v.slot, Slot::KeyBindingAuthentication);
}

#[test]
fn our_hmac_sha1_and_rsa_sha256_verify_in_xmlsec1_and_ours() {
    let doc = signed_request();
    kba_ok(&doc);
    let pop =
        verify_key_binding_signature(&doc, "req1", Slot::ProofOfPossession, &rsa().verify_key())
            .unwrap();
    assert_eq!(pop.signature_method, alg::RSA_SHA256);
    assert_eq!(pop.signature_value.len(), 256);

    let cli = Xmlsec1::new();
    let (ok, err) = cli.verify(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()));
    assert!(ok, "xmlsec1 refused our KBA: {err}");
    let (ok, err) = cli.verify(&doc, POP_XPATH, &CliKey::RsaPublic(rsa()));
    assert!(ok, "xmlsec1 refused our POP: {err}");
    // Sanity: xmlsec1 does notice a wrong key.
    let (ok, _) = cli.verify(&doc, POP_XPATH, &CliKey::RsaPublic(other_rsa()));
    assert!(!ok);
}

#[test]
fn secret_based_verification_reports_the_preparation() {
    let doc = signed_request();
    let secret = SharedSecret::new(SECRET.to_owned());
    let (v, prep) = verify_authentication_with_secret(&doc, "req1", &secret).unwrap();
    assert_eq!(prep, SecretPreparation::SaslPrep);
    assert_eq!(v.signature_method, alg::HMAC_SHA1);

    // A legacy client (lower-case, no spaces) authenticates with the same pass phrase.
    let legacy_key = secret
        .authentication_key(SecretPreparation::Legacy)
        .unwrap();
    let doc = register_request(&template(alg::HMAC_SHA1, "kb1"), "");
    let doc = sign_key_binding(
        &doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&legacy_key),
    )
    .unwrap();
    let (_, prep) = verify_authentication_with_secret(&doc, "req1", &secret).unwrap();
    assert_eq!(prep, SecretPreparation::Legacy);
}

#[test]
fn rsa_sha256_pop_and_hmac_sha256_kba_round_trip_with_xmlsec1() {
    let doc = register_request(
        &signature_template_xml(alg::HMAC_SHA256, "#kb1", alg::EXC_C14N, alg::SHA256),
        &signature_template_xml(alg::RSA_SHA256, "#kb1", alg::EXC_C14N, alg::SHA256),
    );
    let hmac = SigningKey::Hmac {
        key: auth_key(),
        algorithm: HmacAlgorithm::Sha256,
    };
    let doc = sign_key_binding(&doc, "req1", Slot::KeyBindingAuthentication, &hmac).unwrap();
    let doc = sign_key_binding(
        &doc,
        "req1",
        Slot::ProofOfPossession,
        &rsa().signing_key(RsaAlgorithm::Sha256),
    )
    .unwrap();
    kba_ok(&doc);
    verify_key_binding_signature(&doc, "req1", Slot::ProofOfPossession, &rsa().verify_key())
        .unwrap();
    let cli = Xmlsec1::new();
    assert!(cli.verify(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key())).0);
    assert!(cli.verify(&doc, POP_XPATH, &CliKey::RsaPublic(rsa())).0);
}

#[test]
fn every_c14n_variant_both_directions() {
    let cli = Xmlsec1::new();
    for c14n in C14NS {
        let tmpl = signature_template_xml(alg::HMAC_SHA1, "#kb1", c14n, alg::SHA1);
        let doc = register_request(&tmpl, "");

        // ours → xmlsec1
        let ours = sign_key_binding(
            &doc,
            "req1",
            Slot::KeyBindingAuthentication,
            &hmac_sha1(&auth_key()),
        )
        .unwrap();
        kba_ok(&ours);
        let (ok, err) = cli.verify(&ours, KBA_XPATH, &CliKey::Hmac(&auth_key()));
        assert!(ok, "{c14n}: xmlsec1 refused ours: {err}");

        // xmlsec1 → ours
        let theirs = cli.sign(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()));
        kba_ok(&theirs);
        // Same canonical form, same key, deterministic HMAC: identical values.
        assert_eq!(
            signature_value_of(&ours),
            signature_value_of(&theirs),
            "{c14n}"
        );
    }
}

#[test]
fn comments_in_the_key_binding_are_never_signed_through_bare_name_references() {
    // XML-DSig §4.3.3.3: URI="#id" selects the element WITHOUT comments, so even the
    // #WithComments c14n variants do not sign them. xmlsec1 agrees (identical values above).
    let cli = Xmlsec1::new();
    for c14n in C14NS {
        let tmpl = signature_template_xml(alg::HMAC_SHA1, "#kb1", c14n, alg::SHA1);
        let doc = sign_key_binding(
            &register_request(&tmpl, ""),
            "req1",
            Slot::KeyBindingAuthentication,
            &hmac_sha1(&auth_key()),
        )
        .unwrap();
        let edited = doc.replace("<!-- requested usage -->", "<!-- edited -->");
        kba_ok(&edited);
        assert!(
            cli.verify(&edited, KBA_XPATH, &CliKey::Hmac(&auth_key())).0,
            "{c14n}"
        );
        // ...while any other change of the key binding is caught.
        let tampered = doc.replace("#Signature</KeyUsage>", "#Encryption</KeyUsage>");
        assert!(matches!(
            verify_key_binding_signature(
                &tampered,
                "req1",
                Slot::KeyBindingAuthentication,
                &VerifyKey::Hmac(&auth_key())
            ),
            Err(xkms_xmlsec::XmlSecError::DigestMismatch)
        ));
    }
}

#[test]
fn inclusive_namespaces_prefix_list_both_directions() {
    let cli = Xmlsec1::new();
    let tmpl = template_with_prefix_list(alg::HMAC_SHA1, "kb1", "ds xenc #default");
    let doc = register_request(&tmpl, "");
    let ours = sign_key_binding(
        &doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap();
    kba_ok(&ours);
    let (ok, err) = cli.verify(&ours, KBA_XPATH, &CliKey::Hmac(&auth_key()));
    assert!(ok, "xmlsec1 refused ours: {err}");
    let theirs = cli.sign(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()));
    kba_ok(&theirs);
    assert_eq!(signature_value_of(&ours), signature_value_of(&theirs));

    // The PrefixList is signed: xenc is rendered on the key binding, so a change of the
    // (otherwise unused) xenc namespace URI breaks the digest.
    let moved = ours.replace(
        "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"",
        "xmlns:xenc=\"urn:other\"",
    );
    assert!(matches!(
        verify_key_binding_signature(
            &moved,
            "req1",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&auth_key())
        ),
        Err(xkms_xmlsec::XmlSecError::DigestMismatch)
    ));
}

#[test]
fn xmlsec1_rsa_signatures_verify_with_ours() {
    let cli = Xmlsec1::new();
    for (method, digest) in [(alg::RSA_SHA1, alg::SHA1), (alg::RSA_SHA256, alg::SHA256)] {
        let doc = register_request(
            &template(alg::HMAC_SHA1, "kb1"),
            &signature_template_xml(method, "#kb1", alg::EXC_C14N, digest),
        );
        let doc = cli.sign(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()));
        let doc = cli.sign(&doc, POP_XPATH, &CliKey::RsaPrivate(rsa()));
        kba_ok(&doc);
        let v = verify_key_binding_signature(
            &doc,
            "req1",
            Slot::ProofOfPossession,
            &rsa().verify_key(),
        )
        .unwrap();
        assert_eq!(v.signature_method, method);
        assert!(matches!(
            verify_key_binding_signature(
                &doc,
                "req1",
                Slot::ProofOfPossession,
                &other_rsa().verify_key()
            ),
            Err(xkms_xmlsec::XmlSecError::BadSignature)
        ));
    }
}

#[test]
fn rsa_sha1_signing_is_unavailable_on_aws_lc() {
    // aws-lc-rs has RSA PKCS#1 v1.5 SHA-1 for verification only (xmlsec1_rsa_signatures_verify_with_ours
    // covers verification). Signing reports a specific error instead of a generic failure.
    let doc = register_request("", &template(alg::RSA_SHA1, "kb1"));
    assert!(matches!(
        sign_key_binding(
            &doc,
            "req1",
            Slot::ProofOfPossession,
            &rsa().signing_key(RsaAlgorithm::Sha1)
        ),
        Err(xkms_xmlsec::XmlSecError::AlgorithmUnavailable)
    ));
}

#[test]
fn signing_changes_nothing_but_the_two_values() {
    let tmpl = signature_template_xml(alg::HMAC_SHA1, "#kb1", alg::EXC_C14N, alg::SHA1)
        .replace("<ds:DigestValue></ds:DigestValue>", "<ds:DigestValue/>")
        .replace(
            "<ds:SignatureValue></ds:SignatureValue>",
            "<ds:SignatureValue>\n</ds:SignatureValue>",
        );
    let doc = register_request(&tmpl, "");
    let signed = sign_key_binding(
        &doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap();
    kba_ok(&signed);
    let digest = between(&signed, "<ds:DigestValue>", "</ds:DigestValue>");
    let sig = signature_value_of(&signed);
    let rebuilt = signed
        .replace(
            &format!("<ds:DigestValue>{digest}</ds:DigestValue>"),
            "<ds:DigestValue/>",
        )
        .replace(
            &format!("<ds:SignatureValue>{sig}</ds:SignatureValue>"),
            "<ds:SignatureValue>\n</ds:SignatureValue>",
        );
    assert_eq!(rebuilt, doc);
    // A filled template is not signed again.
    assert!(matches!(
        sign_key_binding(
            &signed,
            "req1",
            Slot::KeyBindingAuthentication,
            &hmac_sha1(&auth_key())
        ),
        Err(xkms_xmlsec::XmlSecError::Template)
    ));
}

#[test]
fn signing_refuses_key_that_does_not_fit_the_template() {
    let doc = register_request(
        &template(alg::HMAC_SHA1, "kb1"),
        &template(alg::RSA_SHA1, "kb1"),
    );
    let sha256 = SigningKey::Hmac {
        key: Zeroizing::new(auth_key().to_vec()),
        algorithm: HmacAlgorithm::Sha256,
    };
    assert!(matches!(
        sign_key_binding(&doc, "req1", Slot::KeyBindingAuthentication, &sha256),
        Err(xkms_xmlsec::XmlSecError::KeyMismatch)
    ));
    assert!(matches!(
        sign_key_binding(
            &doc,
            "req1",
            Slot::ProofOfPossession,
            &hmac_sha1(&auth_key())
        ),
        Err(xkms_xmlsec::XmlSecError::KeyMismatch)
    ));
}

#[test]
fn larger_digests_are_accepted() {
    let sha512 = "http://www.w3.org/2001/04/xmlenc#sha512";
    let tmpl = signature_template_xml(alg::HMAC_SHA1, "#kb1", alg::EXC_C14N, sha512);
    let doc = sign_key_binding(
        &register_request(&tmpl, ""),
        "req1",
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap();
    kba_ok(&doc);
    assert!(
        Xmlsec1::new()
            .verify(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()))
            .0
    );
}

#[test]
fn bare_request_without_envelope_and_prefixed_xkms() {
    // No SOAP envelope, xkms: prefix instead of a default namespace, ReissueKeyBinding.
    let tmpl = template(alg::HMAC_SHA1, "rkb");
    let doc = format!(
        r#"<xkms:ReissueRequest xmlns:xkms="http://www.w3.org/2002/03/xkms#" Id="r2" Service="urn:s"><xkms:ReissueKeyBinding Id="rkb"><xkms:Status StatusValue="http://www.w3.org/2002/03/xkms#Valid"/></xkms:ReissueKeyBinding><xkms:Authentication><xkms:KeyBindingAuthentication>{tmpl}</xkms:KeyBindingAuthentication></xkms:Authentication></xkms:ReissueRequest>"#
    );
    let signed = sign_key_binding(
        &doc,
        "r2",
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap();
    let v = verify_key_binding_signature(
        &signed,
        "r2",
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
    .unwrap();
    assert_eq!(v.key_binding_id, "rkb");
}

pub fn signature_value_of(doc: &str) -> String {
    between(doc, "<ds:SignatureValue>", "</ds:SignatureValue>")
}

fn between(doc: &str, start: &str, end: &str) -> String {
    let from = doc.find(start).unwrap() + start.len();
    let to = from + doc[from..].find(end).unwrap();
    doc[from..to].trim().to_owned()
}

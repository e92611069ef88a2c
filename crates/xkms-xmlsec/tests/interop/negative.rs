//! Attacks and malformed input: every one must be refused with a specific error.

use xkms_proto::vocab::alg;
use xkms_xmlsec::{
    AlgorithmRole, SharedSecret, Slot, VerifyKey, XmlSecError, verify_authentication_with_secret,
    verify_key_binding_signature,
};

use crate::common::*;

fn kba(doc: &str) -> Result<xkms_xmlsec::VerifiedSignature, XmlSecError> {
    verify_key_binding_signature(
        doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
}

fn pop(doc: &str) -> Result<xkms_xmlsec::VerifiedSignature, XmlSecError> {
    verify_key_binding_signature(doc, "req1", Slot::ProofOfPossession, &rsa().verify_key())
}

/// The KBA `ds:Signature` element of a signed request, as text.
fn kba_signature(doc: &str) -> String {
    let start = doc.find("<ds:Signature").unwrap();
    let end = doc[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    doc[start..end].to_owned()
}

const KB: &str = "<PrototypeKeyBinding Id=\"kb1\">";

#[test]
fn baseline_is_valid() {
    let doc = signed_request();
    kba(&doc).unwrap();
    pop(&doc).unwrap();
}

#[test]
fn wrapping_with_a_second_element_of_the_same_id_is_refused() {
    let doc = signed_request();
    // Copy of the original key binding parked in the SOAP header, forged one in the request.
    let original = {
        let s = doc.find(KB).unwrap();
        let e = doc[s..].find("</PrototypeKeyBinding>").unwrap() + s + 22;
        doc[s..e].to_owned()
    };
    let wrapped = doc
        .replace("<env:Header></env:Header>", &format!(
            "<env:Header><Wrapper xmlns=\"http://www.w3.org/2002/03/xkms#\">{original}</Wrapper></env:Header>"
        ))
        .replacen("alice@example.com\"/>\n      </PrototypeKeyBinding>\n      <Authentication>", "mallory@example.com\"/>\n      </PrototypeKeyBinding>\n      <Authentication>", 1);
    assert!(matches!(kba(&wrapped), Err(XmlSecError::DuplicateId)));
    assert!(matches!(pop(&wrapped), Err(XmlSecError::DuplicateId)));

    // Other ID attribute spellings count as well.
    for attr in ["ID", "id", "AssertionID", "xml:id"] {
        let other = doc.replace(
            "<env:Header></env:Header>",
            &format!("<env:Header><x {attr}=\"kb1\"/></env:Header>"),
        );
        assert!(
            matches!(kba(&other), Err(XmlSecError::DuplicateId)),
            "{attr}"
        );
    }
}

#[test]
fn wrapping_by_renaming_the_key_binding_is_refused() {
    // The signed key binding moves to the header; the request gets a new binding kb2 while the
    // signature still says #kb1.
    let doc = signed_request();
    let s = doc.find(KB).unwrap();
    let e = doc[s..].find("</PrototypeKeyBinding>").unwrap() + s + 22;
    let original = doc[s..e].to_owned();
    let forged = original
        .replace("Id=\"kb1\"", "Id=\"kb2\"")
        .replace("alice@", "mallory@");
    let mut wrapped = doc.clone();
    wrapped.replace_range(s..e, &forged);
    let wrapped = wrapped.replace(
        "<env:Header></env:Header>",
        &format!(
            "<env:Header><W xmlns=\"http://www.w3.org/2002/03/xkms#\">{original}</W></env:Header>"
        ),
    );
    assert!(matches!(kba(&wrapped), Err(XmlSecError::ReferenceTarget)));
    assert!(matches!(pop(&wrapped), Err(XmlSecError::ReferenceTarget)));
}

#[test]
fn reference_to_another_element_is_refused() {
    let doc = signed_request();
    for target in ["#req1", "", "#", "kb1", "#kb1 ", "#xpointer(id('kb1'))"] {
        let other = doc.replacen("URI=\"#kb1\"", &format!("URI=\"{target}\""), 1);
        assert!(
            matches!(kba(&other), Err(XmlSecError::ReferenceTarget)),
            "{target}"
        );
    }
    let no_uri = doc.replacen(" URI=\"#kb1\"", "", 1);
    assert!(matches!(kba(&no_uri), Err(XmlSecError::ReferenceTarget)));
}

#[test]
fn reference_count_must_be_one() {
    let doc = signed_request();
    let sig = kba_signature(&doc);
    let s = sig.find("<ds:Reference").unwrap();
    let e = sig.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let reference = &sig[s..e];
    let two = doc.replacen(reference, &format!("{reference}{reference}"), 1);
    assert!(matches!(
        kba(&two),
        Err(XmlSecError::ReferenceCount { found: 2 })
    ));
    let none = doc.replacen(reference, "", 1);
    assert!(matches!(
        kba(&none),
        Err(XmlSecError::ReferenceCount { found: 0 })
    ));
}

#[test]
fn kba_signature_copied_into_pop_slot_fails() {
    let doc = signed_request();
    let kba_sig = kba_signature(&doc);
    let s = doc.find("<ProofOfPossession>").unwrap() + "<ProofOfPossession>".len();
    let e = doc.find("</ProofOfPossession>").unwrap();
    let mut copied = doc.clone();
    copied.replace_range(s..e, &kba_sig);
    // The service checks possession with the key binding's RSA key: HMAC method refused.
    assert!(matches!(pop(&copied), Err(XmlSecError::KeyMismatch)));
    // And a wrong RSA key does not verify the genuine POP.
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "req1",
            Slot::ProofOfPossession,
            &other_rsa().verify_key()
        ),
        Err(XmlSecError::BadSignature)
    ));
    // An RSA key for the HMAC slot is refused the same way.
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "req1",
            Slot::KeyBindingAuthentication,
            &rsa().verify_key()
        ),
        Err(XmlSecError::KeyMismatch)
    ));
}

#[test]
fn the_slot_signature_is_verified_not_the_first_one() {
    // POP slot holds a copy of the (valid, HMAC) KBA with a broken value. Verifying the POP slot
    // with the HMAC key must look at the POP copy, not at the valid KBA that comes first.
    let doc = signed_request();
    let kba_sig = kba_signature(&doc);
    let value = crate::dsig::signature_value_of(&kba_sig);
    let broken = kba_sig.replace(&value, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let s = doc.find("<ProofOfPossession>").unwrap() + "<ProofOfPossession>".len();
    let e = doc.find("</ProofOfPossession>").unwrap();
    let mut copied = doc.clone();
    copied.replace_range(s..e, &broken);
    let r = verify_key_binding_signature(
        &copied,
        "req1",
        Slot::ProofOfPossession,
        &VerifyKey::Hmac(&auth_key()),
    );
    assert!(matches!(r, Err(XmlSecError::BadSignature)), "{r:?}");
    kba(&copied).unwrap();

    // A message-level signature in front of everything does not disturb the slot checks.
    let msg_sig = kba_sig.replace("URI=\"#kb1\"", "URI=\"#req1\"");
    let with_msg = doc.replacen("<RespondWith>", &format!("{msg_sig}<RespondWith>"), 1);
    kba(&with_msg).unwrap();
    pop(&with_msg).unwrap();
}

#[test]
fn tampered_key_binding_is_a_digest_mismatch() {
    let doc = signed_request();
    let tampered = doc.replace("alice@example.com", "mallory@example.com");
    assert!(matches!(kba(&tampered), Err(XmlSecError::DigestMismatch)));
    assert!(matches!(pop(&tampered), Err(XmlSecError::DigestMismatch)));
    let (ok, _) = Xmlsec1::new().verify(&tampered, KBA_XPATH, &CliKey::Hmac(&auth_key()));
    assert!(!ok);
}

#[test]
fn tampered_signed_info_is_a_bad_signature() {
    let doc = signed_request();
    // Inclusive c14n of SignedInfo would differ: change the CanonicalizationMethod only.
    let other = doc.replacen(
        &format!(
            "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
            alg::EXC_C14N
        ),
        &format!(
            "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
            alg::EXC_C14N_WITH_COMMENTS
        ),
        1,
    );
    assert!(matches!(kba(&other), Err(XmlSecError::BadSignature)));
}

#[test]
fn wrong_secret_fails() {
    let doc = signed_request();
    let wrong = SharedSecret::new("Kymi Joku".to_owned());
    let key = wrong
        .authentication_key(xkms_xmlsec::SecretPreparation::SaslPrep)
        .unwrap();
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "req1",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&key)
        ),
        Err(XmlSecError::BadSignature)
    ));
    assert!(matches!(
        verify_authentication_with_secret(&doc, "req1", &wrong),
        Err(XmlSecError::BadSignature)
    ));
    assert!(matches!(
        verify_authentication_with_secret(&doc, "req1", &SharedSecret::new("tab\there".into())),
        Err(XmlSecError::BadSignature)
    ));
    assert!(matches!(
        verify_authentication_with_secret(&doc, "req1", &SharedSecret::new(String::new())),
        Err(XmlSecError::InvalidSecret)
    ));
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "req1",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&[])
        ),
        Err(XmlSecError::InvalidKey)
    ));
}

#[test]
fn truncated_hmac_output_length_is_refused() {
    let doc = signed_request();
    for bits in ["80", "128", "0", "x", "320"] {
        let truncated = doc.replacen(
            &format!("<ds:SignatureMethod Algorithm=\"{}\"/>", alg::HMAC_SHA1),
            &format!(
                "<ds:SignatureMethod Algorithm=\"{}\"><ds:HMACOutputLength>{bits}</ds:HMACOutputLength></ds:SignatureMethod>",
                alg::HMAC_SHA1
            ),
            1,
        );
        assert!(
            matches!(kba(&truncated), Err(XmlSecError::HmacOutputLength)),
            "{bits}"
        );
    }
    // The full length is fine (but changes SignedInfo, hence the signature).
    let full = doc.replacen(
        &format!("<ds:SignatureMethod Algorithm=\"{}\"/>", alg::HMAC_SHA1),
        &format!(
            "<ds:SignatureMethod Algorithm=\"{}\"><ds:HMACOutputLength>160</ds:HMACOutputLength></ds:SignatureMethod>",
            alg::HMAC_SHA1
        ),
        1,
    );
    assert!(matches!(kba(&full), Err(XmlSecError::BadSignature)));
}

#[test]
fn non_c14n_transforms_are_refused() {
    let doc = signed_request();
    let plain = format!("<ds:Transform Algorithm=\"{}\"/>", alg::EXC_C14N);
    let xpath = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>self::node()</ds:XPath></ds:Transform>";
    let enveloped = format!("<ds:Transform Algorithm=\"{}\"/>", alg::ENVELOPED_SIGNATURE);
    let xslt = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>";
    let b64 = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64\"/>";
    for t in [xpath, enveloped.as_str(), xslt, b64] {
        let other = doc.replacen(&plain, t, 1);
        assert!(
            matches!(
                kba(&other),
                Err(XmlSecError::AlgorithmNotAllowed {
                    role: AlgorithmRole::Transform
                })
            ),
            "{t}"
        );
    }
    // Two transforms (even two c14n ones) are more than the profile allows.
    let two = doc.replacen(&plain, &format!("{enveloped}{plain}"), 1);
    assert!(matches!(kba(&two), Err(XmlSecError::SignatureStructure(_))));
    // Non-c14n canonicalization and unknown digest are refused too.
    let c14n11 = doc.replacen(
        &format!(
            "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
            alg::EXC_C14N
        ),
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>",
        1,
    );
    assert!(matches!(
        kba(&c14n11),
        Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Canonicalization
        })
    ));
    let md5 = doc.replacen(
        &format!("<ds:DigestMethod Algorithm=\"{}\"/>", alg::SHA1),
        "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#md5\"/>",
        1,
    );
    assert!(matches!(
        kba(&md5),
        Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Digest
        })
    ));
    let dsa = doc.replacen(
        &format!("<ds:SignatureMethod Algorithm=\"{}\"/>", alg::RSA_SHA256),
        "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#dsa-sha1\"/>",
        1,
    );
    assert!(matches!(
        pop(&dsa),
        Err(XmlSecError::AlgorithmNotAllowed {
            role: AlgorithmRole::Signature
        })
    ));
}

#[test]
fn dtd_and_entities_are_refused() {
    let doc = signed_request();
    let with_dtd = doc.replacen(
        "<env:Envelope",
        "<!DOCTYPE env:Envelope [<!ENTITY a \"alice\">]>\n<env:Envelope",
        1,
    );
    assert!(matches!(kba(&with_dtd), Err(XmlSecError::MalformedXml)));
    let plain_dtd = doc.replacen("<env:Envelope", "<!DOCTYPE env:Envelope>\n<env:Envelope", 1);
    assert!(matches!(kba(&plain_dtd), Err(XmlSecError::MalformedXml)));
    assert!(matches!(kba("<a>"), Err(XmlSecError::MalformedXml)));
    let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    assert!(matches!(kba(&deep), Err(XmlSecError::MalformedXml)));
}

#[test]
fn request_key_binding_and_slot_must_be_where_the_schema_puts_them() {
    let doc = signed_request();
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "nope",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&auth_key())
        ),
        Err(XmlSecError::RequestNotFound)
    ));
    // The Id of a non-request element (the key binding) is not a request.
    assert!(matches!(
        verify_key_binding_signature(
            &doc,
            "kb1",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&auth_key())
        ),
        Err(XmlSecError::RequestNotFound)
    ));
    // Request in a foreign namespace.
    let foreign = doc.replace(
        "xmlns=\"http://www.w3.org/2002/03/xkms#\"",
        "xmlns=\"urn:x\"",
    );
    assert!(matches!(kba(&foreign), Err(XmlSecError::RequestNotFound)));

    let no_id = doc.replace(KB, "<PrototypeKeyBinding>");
    assert!(matches!(kba(&no_id), Err(XmlSecError::KeyBindingMissing)));
    let two = doc.replacen(
        "<RespondWith>",
        "<RevokeKeyBinding Id=\"kb9\"/><RespondWith>",
        1,
    );
    assert!(matches!(kba(&two), Err(XmlSecError::KeyBindingMissing)));

    // Signature one level too deep, or two of them.
    let sig = kba_signature(&doc);
    let deeper = doc.replacen(&sig, &format!("<Extra>{sig}</Extra>"), 1);
    assert!(matches!(
        kba(&deeper),
        Err(XmlSecError::SignatureMissing(_))
    ));
    let doubled = doc.replacen(&sig, &format!("{sig}{sig}"), 1);
    assert!(matches!(
        kba(&doubled),
        Err(XmlSecError::SignatureMissing(_))
    ));
    let no_pop = doc
        .replace("<ProofOfPossession>", "<ProofOfPossessionX>")
        .replace("</ProofOfPossession>", "</ProofOfPossessionX>");
    assert!(matches!(
        pop(&no_pop),
        Err(XmlSecError::SignatureMissing(_))
    ));
}

#[test]
fn signatures_in_forbidden_places_are_refused() {
    let doc = signed_request();
    let sig = kba_signature(&doc);
    // A signature inside the signed key binding.
    let inside = doc.replacen("<!-- requested usage -->", &sig, 1);
    assert!(matches!(
        kba(&inside),
        Err(XmlSecError::UnexpectedSignature)
    ));
    // ds:Object in the verified signature.
    let with_object = doc.replacen(
        "</ds:SignatureValue></ds:Signature>",
        "</ds:SignatureValue><ds:Object><x Id=\"o\"/></ds:Object></ds:Signature>",
        1,
    );
    assert!(matches!(
        kba(&with_object),
        Err(XmlSecError::SignatureStructure(_))
    ));
}

#[test]
fn errors_do_not_echo_input() {
    let doc = signed_request();
    let tampered = doc.replace("alice@example.com", "mallory@example.com");
    let errors = [
        kba(&tampered).unwrap_err(),
        kba(&doc.replacen("URI=\"#kb1\"", "URI=\"#evil-id\"", 1)).unwrap_err(),
        verify_key_binding_signature(
            &doc,
            "evil-req",
            Slot::KeyBindingAuthentication,
            &VerifyKey::Hmac(&auth_key()),
        )
        .unwrap_err(),
        kba(&doc.replacen(&format!("\"{}\"", alg::SHA1), "\"urn:evil-digest\"", 1)).unwrap_err(),
    ];
    for e in errors {
        let text = e.to_string();
        for needle in ["evil", "mallory", "kb1", "req1"] {
            assert!(!text.contains(needle), "{text}");
        }
    }
}

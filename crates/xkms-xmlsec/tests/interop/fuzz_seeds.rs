//! Signed seed inputs for the fuzz targets (fuzz/seeds/, docs/FUZZING.md).
//!
//! A fuzzer that starts from unsigned XML never gets past "no signature" or "wrong key";
//! seeds signed with the spec's test secret ("Kymi Joki", the fuzz targets' key) let the
//! mutations reach the digest and signature-value checks. They are regenerated with
//! `XKMS_WRITE_FUZZ_SEEDS=1 cargo test -p xkms-xmlsec --test interop fuzz_seeds`; without
//! the variable the test checks that the committed seeds are still what they claim to be.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use xkms_proto::soap;
use xkms_proto::vocab::alg;
use xkms_proto::{Limits, Message, Request};
use xkms_xmlsec::{
    MessageSigner, SecretPreparation, SharedSecret, Slot, VerifyKey, sign_key_binding,
    sign_message, verify_key_binding_signature, verify_message_signature,
};

use crate::common::*;

const XKMS: &str = "http://www.w3.org/2002/03/xkms#";

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

fn kba(doc: &str, id: &str) -> String {
    sign_key_binding(
        doc,
        id,
        Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap()
}

fn message_signer() -> MessageSigner {
    let c = &crate::message::pki().rsa;
    MessageSigner::rsa(&c.pkcs8_der, vec![c.cert_der.clone()]).unwrap()
}

fn key_binding(element: &str, status: &str) -> String {
    format!(
        "<{element} Id=\"kb1\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
         <ds:KeyName>alice@example.com</ds:KeyName></ds:KeyInfo>\
         <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"alice@example.com\"/>\
         <Status StatusValue=\"http://www.w3.org/2002/03/xkms#{status}\"/></{element}>"
    )
}

/// (file name, document, Id of the request, whether it carries a KBA).
fn seeds() -> Vec<(&'static str, String, &'static str, bool)> {
    let kba_template = template(alg::HMAC_SHA1, "kb1");
    let register = signed_request();
    let register_signed = sign_message(&register, "req1", &message_signer()).unwrap();
    let register_bare = register
        .split_once("<env:Body>")
        .unwrap()
        .1
        .split_once("</env:Body>")
        .unwrap()
        .0
        .trim()
        .to_owned();
    let recover = kba(
        &format!(
            "<RecoverRequest xmlns=\"{XKMS}\" Id=\"rec1\" Service=\"http://xkms.example.org/xkms\">\
             {}<Authentication><KeyBindingAuthentication>{kba_template}</KeyBindingAuthentication>\
             </Authentication></RecoverRequest>",
            key_binding("RecoverKeyBinding", "Indeterminate")
        ),
        "rec1",
    );
    let revoke = kba(
        &format!(
            "<RevokeRequest xmlns=\"{XKMS}\" Id=\"rev1\" Service=\"http://xkms.example.org/xkms\">\
             {}<Authentication><KeyBindingAuthentication>{kba_template}</KeyBindingAuthentication>\
             </Authentication></RevokeRequest>",
            key_binding("RevokeKeyBinding", "Indeterminate")
        ),
        "rev1",
    );
    let revoke_code = {
        let code = SharedSecret::new(SECRET.to_owned())
            .revocation_code(SecretPreparation::SaslPrep)
            .unwrap();
        format!(
            "<RevokeRequest xmlns=\"{XKMS}\" Id=\"rev2\" Service=\"http://xkms.example.org/xkms\">\
             {}<RevocationCode>{}</RevocationCode></RevokeRequest>",
            key_binding("RevokeKeyBinding", "Indeterminate"),
            B64.encode(code)
        )
    };
    let compound = {
        let inner = recover.clone();
        let doc = format!(
            "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>\
             <CompoundRequest xmlns=\"{XKMS}\" Id=\"C1\" Service=\"http://xkms.example.org/xkms\">\
             {inner}</CompoundRequest></env:Body></env:Envelope>"
        );
        sign_message(&doc, "C1", &message_signer()).unwrap()
    };
    vec![
        ("register-kba-pop-soap12.xml", register, "req1", true),
        (
            "register-kba-pop-signed-soap12.xml",
            register_signed,
            "req1",
            true,
        ),
        ("register-kba-pop-bare.xml", register_bare, "req1", true),
        ("recover-kba-bare.xml", recover, "rec1", true),
        ("revoke-kba-bare.xml", revoke, "rev1", true),
        ("revoke-code-bare.xml", revoke_code, "rev2", false),
        ("compound-signed-recover-soap12.xml", compound, "C1", false),
    ]
}

fn kba_verifies(doc: &str, id: &str) -> bool {
    verify_key_binding_signature(
        doc,
        id,
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
    .is_ok()
}

#[test]
fn fuzz_seeds() {
    if std::env::var_os("XKMS_WRITE_FUZZ_SEEDS").is_some_and(|v| v == "1") {
        let dir = seeds_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (name, doc, _, _) in seeds() {
            std::fs::write(dir.join(name), doc).unwrap();
        }
    }
    // The committed seeds (freshly written or not) decode as requests, and every KBA and
    // message signature in them verifies: a seed that stops short of the checks is useless.
    let mut checked = 0;
    for (name, _, id, has_kba) in seeds() {
        let path = seeds_dir().join(name);
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (XKMS_WRITE_FUZZ_SEEDS=1 writes it)",
                path.display()
            )
        });
        let (_, message) = soap::parse_document(&doc, &Limits::default()).unwrap();
        let Message::Request(request) = message else {
            panic!("{name} is not a request");
        };
        if has_kba {
            assert!(kba_verifies(&doc, id), "{name}: KBA does not verify");
        }
        if request.header().message.signature.is_some() {
            assert!(
                verify_message_signature(&doc, id).unwrap().is_some(),
                "{name}"
            );
        }
        if let Request::Compound(c) = &request {
            for inner in &c.requests {
                assert!(
                    kba_verifies(&doc, &inner.header().message.id),
                    "{name}: inner KBA"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 7);
}

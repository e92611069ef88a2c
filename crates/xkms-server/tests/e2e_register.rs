//! End-to-end: seed scenario T100 (Register Client Generated Key) against the real
//! `xkmsd` over HTTP on loopback, checked with the openssl CLI; and the negative cases
//! of the foundation issue, each leaving the store unchanged and the server serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, certificate_pem, openssl};
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::soap::{self, Binding, SoapVersion};
use xkms_proto::{
    Application, Message, Request, RespondWith, ResultMajor, ResultMessage, ResultMinor,
    StatusValue, UseKeyWith, write_message,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};
use xkms_xmlsec::signature::{HmacAlgorithm, RsaAlgorithm, SigningKey, Slot, sign_key_binding};

const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";

fn seed_use_key_with() -> Vec<UseKeyWith> {
    vec![
        UseKeyWith {
            application: Application::Smime,
            identifier: "joe@example.com".into(),
        },
        UseKeyWith {
            application: Application::Pkix,
            identifier: SEED_DN.into(),
        },
    ]
}

fn seed_params<'a>(
    key: &'a ClientKey,
    secret: &'a SharedSecret,
    phrase: &'a SharedSecret,
) -> RegisterParams<'a> {
    RegisterParams {
        key: Some(key),
        key_name: Some("joe@example.com".into()),
        use_key_with: seed_use_key_with(),
        key_usage: vec![],
        respond_with: vec![
            RespondWith::KeyValue,
            RespondWith::KeyName,
            RespondWith::X509Cert,
        ],
        response_mechanism: vec![],
        secret,
        preparation: SecretPreparation::SaslPrep,
        revocation_phrase: Some(phrase),
    }
}

#[tokio::test]
async fn t100_register_client_generated_key() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("Help I Have Revealed My Key".into());

    let registered = client
        .register(&seed_params(&key, &secret, &phrase))
        .await
        .unwrap();
    let header = &registered.result.result;
    assert_eq!(header.result_major, ResultMajor::Success);
    assert_eq!(
        header.result_minor, None,
        "all of KeyValue, KeyName, X509Cert can be provided"
    );
    assert_eq!(
        header.request_id.as_deref(),
        Some(registered.request_id.as_str())
    );
    let binding = &registered.result.key_bindings[0];
    assert_eq!(binding.status.status_value, StatusValue::Valid);
    assert_eq!(binding.status.valid_reasons.len(), 4);
    let key_info = binding.core.key_info.as_ref().unwrap();
    assert_eq!(key_info.key_names, vec!["joe@example.com".to_string()]);
    assert_eq!(key_info.key_values.len(), 1);

    // The certificate, checked by openssl.
    let cert_der = registered
        .certificate()
        .expect("an X.509 certificate in the key binding");
    let cert_path = server.dir().join("joe.pem");
    std::fs::write(&cert_path, certificate_pem(cert_der)).unwrap();
    let ca_path = server.ca_pem_file();
    let cert = cert_path.to_str().unwrap();
    let verify = openssl(&["verify", "-CAfile", ca_path.to_str().unwrap(), cert]);
    assert_eq!(verify.trim(), format!("{cert}: OK"));
    let subject = openssl(&[
        "x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253",
    ]);
    assert_eq!(
        subject.trim(),
        "subject=CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US"
    );
    let san = openssl(&["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]);
    assert!(san.contains("email:joe@example.com"), "{san}");
    let modulus = openssl(&["x509", "-in", cert, "-noout", "-modulus"]);
    let ours: String = key.modulus().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        modulus.trim(),
        format!("Modulus={ours}"),
        "the certificate certifies Joe's key"
    );

    // The CA served over HTTP is the one the admin command prints.
    let served = reqwest::get(server.url.replace("/xkms", "/ca.pem"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, std::fs::read_to_string(&ca_path).unwrap());
    assert_eq!(server.binding_count().await, 1);
}

#[tokio::test]
async fn register_over_soap11_and_bare_xml() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("phrase".into());
    for binding in [Binding::Soap(SoapVersion::Soap11), Binding::Bare] {
        let client = XkmsClient::new(&server.url).with_binding(binding);
        let key = ClientKey::generate(2048).unwrap();
        let registered = client
            .register(&seed_params(&key, &secret, &phrase))
            .await
            .unwrap();
        assert_eq!(
            registered.result.result.result_major,
            ResultMajor::Success,
            "{binding:?}"
        );
    }
    assert_eq!(server.binding_count().await, 2);
}

#[tokio::test]
async fn register_with_legacy_secret_preparation() {
    let server = Server::start();
    server.authorize_joe("Kymi Joki", "register");
    let client = XkmsClient::new(&server.url);
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("Kymi Joki".into());
    let phrase = SharedSecret::new("x".into());
    let mut params = seed_params(&key, &secret, &phrase);
    params.preparation = SecretPreparation::Legacy;
    let registered = client.register(&params).await.unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
}

/// Builds a signed T100 request document by hand so tests can damage it.
fn signed_document(
    client: &XkmsClient,
    key: &ClientKey,
    pop_key: Option<&ClientKey>,
    secret: &str,
) -> (String, String) {
    let secret = SharedSecret::new(secret.into());
    let phrase = SharedSecret::new("p".into());
    let mut request = client
        .register_request(&seed_params(key, &secret, &phrase))
        .unwrap();
    if pop_key.is_none() {
        request.proof_of_possession = None;
    }
    let id = request.request.message.id.clone();
    let doc = soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(Request::Register(request))),
    );
    let hmac = SigningKey::Hmac {
        key: secret
            .authentication_key(SecretPreparation::SaslPrep)
            .unwrap(),
        algorithm: HmacAlgorithm::Sha1,
    };
    let mut doc = sign_key_binding(&doc, &id, Slot::KeyBindingAuthentication, &hmac).unwrap();
    if let Some(pop) = pop_key {
        let rsa = SigningKey::Rsa {
            pkcs8_der: zeroize::Zeroizing::new(pop.pkcs8_der().to_vec()),
            algorithm: RsaAlgorithm::Sha256,
        };
        doc = sign_key_binding(&doc, &id, Slot::ProofOfPossession, &rsa).unwrap();
    }
    (doc, id)
}

fn codes(result: &ResultMessage) -> (ResultMajor, Option<ResultMinor>) {
    let h = xkms_client::result_header(result);
    (h.result_major.clone(), h.result_minor.clone())
}

#[tokio::test]
async fn bad_requests_get_clear_answers_and_change_nothing() {
    let mut server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let key = ClientKey::generate(2048).unwrap();
    let other_key = ClientKey::generate(2048).unwrap();

    // Wrong secret.
    let (doc, _) = signed_document(&client, &key, Some(&key), "not the secret");
    let result = client.post(doc).await.unwrap();
    assert_eq!(
        codes(&result),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    // Missing proof of possession.
    let (doc, _) = signed_document(&client, &key, None, "secret");
    let result = client.post(doc).await.unwrap();
    assert_eq!(
        codes(&result),
        (
            ResultMajor::Sender,
            Some(ResultMinor::ProofOfPossessionRequired)
        )
    );

    // Forged proof of possession: signed with another key than the one registered.
    let (doc, _) = signed_document(&client, &key, Some(&other_key), "secret");
    let result = client.post(doc).await.unwrap();
    assert_eq!(
        codes(&result),
        (
            ResultMajor::Sender,
            Some(ResultMinor::ProofOfPossessionRequired)
        )
    );

    // Wrong Service URI.
    let elsewhere = XkmsClient::new(&server.url).with_service_uri("http://elsewhere.example/xkms");
    let (doc, id) = signed_document(&elsewhere, &key, Some(&key), "secret");
    let result = client.post(doc).await.unwrap();
    assert_eq!(
        codes(&result),
        (ResultMajor::Sender, Some(ResultMinor::Failure))
    );
    assert_eq!(
        xkms_client::result_header(&result).request_id.as_deref(),
        Some(id.as_str())
    );

    // A 1024-bit key (refused before anything is signed by the CA).
    let small = small_key_document(&client, &key);
    let result = client.post(small).await.unwrap();
    assert_eq!(
        codes(&result),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );

    // (Unreadable bodies, DTDs, unknown elements and oversized bodies: tests/http_router.rs.)
    // Nothing was stored, and the server still serves a good request.
    assert_eq!(server.binding_count().await, 0);
    assert!(server.is_alive());
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("p".into());
    let ok = client
        .register(&seed_params(&key, &secret, &phrase))
        .await
        .unwrap();
    assert_eq!(ok.result.result.result_major, ResultMajor::Success);
    assert_eq!(server.binding_count().await, 1);
}

/// A register request for a 1024-bit RSA modulus (POP signed with a real key: the size
/// check must come first, so what it signs does not matter).
fn small_key_document(client: &XkmsClient, signer: &ClientKey) -> String {
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("p".into());
    let mut request = client
        .register_request(&seed_params(signer, &secret, &phrase))
        .unwrap();
    let ki = request
        .prototype_key_binding
        .core
        .key_info
        .as_mut()
        .unwrap();
    let xkms_proto::KeyValue::Rsa(rsa) = &mut ki.key_values[0] else {
        panic!()
    };
    rsa.modulus.truncate(128);
    rsa.modulus[0] |= 0x80;
    rsa.modulus[127] |= 1;
    let id = request.request.message.id.clone();
    let doc = soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(Request::Register(request))),
    );
    let hmac = SigningKey::Hmac {
        key: secret
            .authentication_key(SecretPreparation::SaslPrep)
            .unwrap(),
        algorithm: HmacAlgorithm::Sha1,
    };
    let doc = sign_key_binding(&doc, &id, Slot::KeyBindingAuthentication, &hmac).unwrap();
    let rsa = SigningKey::Rsa {
        pkcs8_der: zeroize::Zeroizing::new(signer.pkcs8_der().to_vec()),
        algorithm: RsaAlgorithm::Sha256,
    };
    sign_key_binding(&doc, &id, Slot::ProofOfPossession, &rsa).unwrap()
}

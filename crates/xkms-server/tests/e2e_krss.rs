//! End-to-end: seed scenarios T101 (service-generated key), T102 (reissue), T103
//! (asynchronous recover, also across a server restart) and T104 (revoke), against the
//! real `xkmsd` over HTTP, every returned object checked with an independent tool:
//! openssl for certificates and the CRL, xmlsec1 for the encrypted private key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, certificate_pem, openssl};
use xkms_client::reissue::reissued_certificate;
use xkms_client::{
    BindingRef, ClientKey, Progress, RecoverParams, RegisterParams, Registered, ReissueParams,
    RevokeParams, RevokeWith, XkmsClient,
};
use xkms_proto::soap::{self, Binding, SoapVersion};
use xkms_proto::{
    Application, Message, Reason, Request, RespondWith, ResultMajor, ResultMessage, ResultMinor,
    StatusValue, UseKeyWith, write_message,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";
const PHRASE: &str = "Help I Have Revealed My Key";
const SASL: SecretPreparation = SecretPreparation::SaslPrep;

fn seed_params<'a>(
    key: Option<&'a ClientKey>,
    secret: &'a SharedSecret,
    phrase: &'a SharedSecret,
) -> RegisterParams<'a> {
    RegisterParams {
        key,
        key_name: Some("joe@example.com".into()),
        use_key_with: vec![
            UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            },
            UseKeyWith {
                application: Application::Pkix,
                identifier: SEED_DN.into(),
            },
        ],
        key_usage: vec![],
        respond_with: vec![
            RespondWith::KeyValue,
            RespondWith::KeyName,
            RespondWith::X509Cert,
        ],
        response_mechanism: vec![],
        secret,
        preparation: SASL,
        revocation_phrase: Some(phrase),
    }
}

fn write(dir: &std::path::Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn openssl_modulus(args: &[&str]) -> String {
    openssl(args)
        .trim()
        .trim_start_matches("Modulus=")
        .to_owned()
}

/// T101 through the client library, plus the raw response for xmlsec1.
async fn register_generated(server: &Server, client: &XkmsClient) -> (Registered, String) {
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new(PHRASE.into());
    let params = seed_params(None, &secret, &phrase);
    let request = client.register_request(&params).unwrap();
    let id = request.request.message.id.clone();
    let doc = soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(Request::Register(request))),
    );
    let doc = xkms_client::krss::sign_request(&doc, &id, Some((&secret, SASL)), None).unwrap();
    let body = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", SoapVersion::Soap12.content_type())
        .body(doc)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, message) = soap::parse_document(&body, &Default::default()).unwrap();
    let Message::Result(ResultMessage::Register(result)) = message else {
        panic!("not a RegisterResult: {body}")
    };
    (
        Registered {
            request_id: id,
            result,
        },
        body,
    )
}

#[tokio::test]
async fn t101_register_service_generated_key() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let (registered, body) = register_generated(&server, &client).await;
    let header = &registered.result.result;
    assert_eq!(header.result_major, ResultMajor::Success, "{body}");
    assert_eq!(
        registered.result.key_bindings[0].status.status_value,
        StatusValue::Valid
    );
    let private_key = registered
        .result
        .private_key
        .as_ref()
        .expect("a PrivateKey");
    assert_eq!(
        private_key.encrypted_data.encryption_method.as_deref(),
        Some("http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
        "3DES is the interop default"
    );

    // xmlsec1 decrypts the PrivateKey with the 0x04 key derived from "secret".
    let dir = server.dir();
    let kek = SharedSecret::new("secret".into())
        .private_key_encryption_key(SASL, 24)
        .unwrap();
    let kek_path = write(dir, "kek.bin", &*kek);
    let resp_path = write(dir, "t101-response.xml", &body);
    let out = common::tools::tool("xmlsec1")
        .args(["--decrypt", "--deskey", &kek_path, &resp_path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decrypted = String::from_utf8(out.stdout).unwrap();
    let modulus_b64 =
        between(&decrypted, "Modulus>", "</").expect("RSAKeyPair/Modulus in the plaintext");
    use base64::Engine;
    let modulus = base64::engine::general_purpose::STANDARD
        .decode(modulus_b64.split_whitespace().collect::<String>())
        .unwrap();

    // The certificate verifies and certifies exactly that key; our own decryption of the
    // same PrivateKey yields a private key openssl accepts, with the same modulus.
    let cert = registered.certificate().unwrap();
    let cert_path = write(dir, "t101.pem", certificate_pem(cert));
    let ca = server.ca_pem_file();
    assert!(openssl(&["verify", "-CAfile", ca.to_str().unwrap(), &cert_path]).contains("OK"));
    let cert_modulus = openssl_modulus(&["x509", "-in", &cert_path, "-noout", "-modulus"]);
    let hex: String = modulus.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        cert_modulus, hex,
        "xmlsec1's plaintext is the certified key"
    );
    let key = registered
        .private_key(&SharedSecret::new("secret".into()), SASL)
        .unwrap();
    let key_path = write(dir, "t101-key.pem", key.to_pem().as_bytes());
    openssl(&["rsa", "-in", &key_path, "-check", "-noout"]);
    assert_eq!(
        openssl_modulus(&["rsa", "-in", &key_path, "-noout", "-modulus"]),
        cert_modulus
    );
    assert_eq!(key.bits(), 2048);

    // The wrong secret does not decrypt it.
    assert!(
        registered
            .private_key(&SharedSecret::new("secreT".into()), SASL)
            .is_err()
    );
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

#[tokio::test]
async fn t102_reissue_client_and_generated_keys() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new(PHRASE.into());
    let key = ClientKey::generate(2048).unwrap();
    let t100 = client
        .register(&seed_params(Some(&key), &secret, &phrase))
        .await
        .unwrap();
    let old = t100.certificate().unwrap().to_vec();

    let params = ReissueParams {
        binding: BindingRef {
            certificate: Some(old.clone()),
            ..Default::default()
        },
        key: Some(&key),
        secret: &secret,
        preparation: SASL,
        respond_with: vec![RespondWith::X509Cert],
    };
    let result = client.reissue(&params).await.unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    assert_eq!(
        result.key_bindings[0].status.status_value,
        StatusValue::Valid
    );
    let new = reissued_certificate(&result).unwrap().to_vec();
    let dir = server.dir();
    let old_path = write(dir, "old.pem", certificate_pem(&old));
    let new_path = write(dir, "new.pem", certificate_pem(&new));
    let ca = server.ca_pem_file();
    assert!(openssl(&["verify", "-CAfile", ca.to_str().unwrap(), &new_path]).contains("OK"));
    let serial = |p: &str| openssl(&["x509", "-in", p, "-noout", "-serial"]);
    assert_ne!(serial(&old_path), serial(&new_path), "a new serial");
    let subject = |p: &str| {
        openssl(&[
            "x509", "-in", p, "-noout", "-subject", "-nameopt", "RFC2253",
        ])
    };
    assert_eq!(subject(&old_path), subject(&new_path));
    assert!(
        openssl(&["x509", "-in", &new_path, "-noout", "-ext", "subjectAltName"])
            .contains("email:joe@example.com")
    );
    assert_eq!(
        openssl_modulus(&["x509", "-in", &new_path, "-noout", "-modulus"]),
        openssl_modulus(&["x509", "-in", &old_path, "-noout", "-modulus"]),
        "same key"
    );
    // A new validity interval: openssl's notBefore of the new certificate is not before the old one's.
    let vi = result.key_bindings[0].validity_interval.as_ref().unwrap();
    assert!(vi.not_before.is_some() && vi.not_on_or_after.is_some());

    // Without proof of possession of a client key: refused.
    let no_pop = ReissueParams {
        key: None,
        ..params
    };
    let refused = client.reissue(&no_pop).await.unwrap();
    assert_eq!(
        refused.result.result_minor,
        Some(ResultMinor::ProofOfPossessionRequired)
    );

    // A service-generated key is reissued without proof of possession.
    let (t101, _) = register_generated(&server, &client).await;
    let generated = ReissueParams {
        binding: BindingRef {
            certificate: Some(t101.certificate().unwrap().to_vec()),
            ..Default::default()
        },
        key: None,
        secret: &secret,
        preparation: SASL,
        respond_with: vec![RespondWith::X509Cert],
    };
    assert_eq!(
        client
            .reissue(&generated)
            .await
            .unwrap()
            .result
            .result_major,
        ResultMajor::Success
    );

    // Wrong secret.
    let wrong = SharedSecret::new("nope".into());
    let bad = ReissueParams {
        secret: &wrong,
        ..generated
    };
    assert_eq!(
        client.reissue(&bad).await.unwrap().result.result_minor,
        Some(ResultMinor::NoAuthentication)
    );
}

#[tokio::test]
async fn t103_recover_asynchronously() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let (t101, _) = register_generated(&server, &client).await;
    let original = t101
        .private_key(&SharedSecret::new("secret".into()), SASL)
        .unwrap();
    let cert = t101.certificate().unwrap().to_vec();

    // The administrator issues the recovery code "secret1".
    server.authorize_joe("secret1", "recover");
    let secret1 = SharedSecret::new("secret1".into());
    let params = RecoverParams {
        binding: BindingRef {
            certificate: Some(cert.clone()),
            ..Default::default()
        },
        secret: &secret1,
        preparation: SASL,
        respond_with: vec![
            RespondWith::KeyValue,
            RespondWith::KeyName,
            RespondWith::X509Cert,
        ],
        poll_interval: std::time::Duration::from_millis(100),
        max_polls: 100,
    };
    let mut seen = Vec::new();
    let recovered = client.recover(&params, |p| seen.push(p)).await.unwrap();
    assert!(
        matches!(seen.first(), Some(Progress::Accepted { .. })),
        "answered Pending first: {seen:?}"
    );
    assert!(matches!(seen.last(), Some(Progress::Ready)));
    assert_eq!(recovered.result.result.result_major, ResultMajor::Success);
    let key = recovered.private_key(&secret1, SASL).unwrap();
    assert_eq!(
        key.modulus(),
        original.modulus(),
        "the escrowed key comes back"
    );
    assert_eq!(key.pkcs8_der(), original.pkcs8_der());

    // The recovery code is single-use: a second recovery fails authentication.
    let again = client.recover(&params, |_| {}).await.unwrap();
    assert_eq!(again.result.result.result_major, ResultMajor::Sender);
    assert_eq!(
        again.result.result.result_minor,
        Some(ResultMinor::NoAuthentication)
    );

    // Unknown ResponseId.
    let unknown = client
        .fetch_pending("Inot-a-request", "Inot-a-response")
        .await
        .unwrap();
    let h = xkms_client::result_header(&unknown);
    assert_eq!(
        (h.result_major.clone(), h.result_minor.clone()),
        (ResultMajor::Sender, Some(ResultMinor::UnknownResponseId))
    );

    // Without #Pending the service does not answer Pending: Receiver/NotSynchronous.
    server.authorize_joe("secret2", "recover");
    let secret2 = SharedSecret::new("secret2".into());
    let request = client.recover_request(
        &BindingRef {
            certificate: Some(cert),
            ..Default::default()
        },
        &[RespondWith::PrivateKey],
        false,
    );
    let result = client
        .send_signed(&Request::Recover(request), |doc, request_id| {
            xkms_client::krss::sign_request(&doc, request_id, Some((&secret2, SASL)), None)
        })
        .await
        .unwrap();
    let h = xkms_client::result_header(&result);
    assert_eq!(
        (h.result_major.clone(), h.result_minor.clone()),
        (ResultMajor::Receiver, Some(ResultMinor::NotSynchronous))
    );
}

#[tokio::test]
async fn t103_recovery_survives_a_restart() {
    // Recovery needs operator approval here, so the request is certainly still pending
    // when the server stops. A deployment names a stable Service URI (the port changes
    // across the restart).
    const SERVICE: &str = "http://xkms.example/xkms";
    let data = tempfile::tempdir().unwrap();
    let config = write(
        data.path(),
        "xkmsd.toml",
        format!(
            "[server]\nservice_uri = \"{SERVICE}\"\n[policy]\nrecover = \"approval\"\nkey_pool_size = 1\n"
        ),
    );
    let server = Server::start_in(data, &["--config", &config]);
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url).with_service_uri(SERVICE);
    let (t101, _) = register_generated(&server, &client).await;
    let original = t101
        .private_key(&SharedSecret::new("secret".into()), SASL)
        .unwrap();
    server.authorize_joe("secret1", "recover");
    let secret1 = SharedSecret::new("secret1".into());

    // Send the RecoverRequest and stop at Pending.
    let request = client.recover_request(
        &BindingRef {
            certificate: Some(t101.certificate().unwrap().to_vec()),
            ..Default::default()
        },
        &[RespondWith::PrivateKey, RespondWith::KeyValue],
        true,
    );
    let original_id = request.request.message.id.clone();
    let pending = client
        .send_signed(&Request::Recover(request), |doc, request_id| {
            xkms_client::krss::sign_request(&doc, request_id, Some((&secret1, SASL)), None)
        })
        .await
        .unwrap();
    let h = xkms_client::result_header(&pending);
    assert_eq!(h.result_major, ResultMajor::Pending);
    let response_id = h.message.id.clone();
    // Before approval: Status says Pending, PendingRequest says Pending.
    let early = client
        .fetch_pending(&original_id, &response_id)
        .await
        .unwrap();
    assert_eq!(
        xkms_client::result_header(&early).result_major,
        ResultMajor::Pending
    );

    // Restart: same data directory, new process.
    let data = server.stop();
    let server = Server::start_in(data, &["--config", &config]);
    let client = XkmsClient::new(&server.url).with_service_uri(SERVICE);
    let list = String::from_utf8(server.admin(&["pending", "list"]).stdout).unwrap();
    assert!(
        list.contains(&response_id) && list.contains("Recover"),
        "{list}"
    );
    server.admin(&["pending", "approve", &response_id]);

    // The worker may be running the job right now (Status then says Pending): poll as a
    // client does until the service reports it finished.
    client
        .wait_until_ready(
            &original_id,
            &response_id,
            std::time::Duration::from_millis(50),
            200,
            &mut |_| {},
        )
        .await
        .unwrap();
    let status = client.status(&original_id, &response_id).await.unwrap();
    assert_eq!(status.result.result_major, ResultMajor::Success);
    assert_eq!(
        (status.success, status.failure, status.pending),
        (Some(1), Some(0), Some(0))
    );

    let ResultMessage::Recover(result) = client
        .fetch_pending(&original_id, &response_id)
        .await
        .unwrap()
    else {
        panic!("expected a RecoverResult")
    };
    assert_eq!(result.result.result_major, ResultMajor::Success);
    let recovered = xkms_client::Recovered {
        result,
        response_id: Some(response_id),
    };
    let key = recovered.private_key(&secret1, SASL).unwrap();
    assert_eq!(
        key.pkcs8_der(),
        original.pkcs8_der(),
        "the escrowed key survives the restart"
    );
}

#[tokio::test]
async fn operator_rejects_a_pending_registration() {
    const SERVICE: &str = "http://xkms.example/xkms";
    let data = tempfile::tempdir().unwrap();
    let config = write(
        data.path(),
        "xkmsd.toml",
        format!(
            "[server]\nservice_uri = \"{SERVICE}\"\n[policy]\nregister = \"approval\"\nkey_pool_size = 0\n"
        ),
    );
    let server = Server::start_in(data, &["--config", &config]);
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url).with_service_uri(SERVICE);
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new(PHRASE.into());
    let key = ClientKey::generate(2048).unwrap();

    // Without #Pending: NotSynchronous.
    let sync = client
        .register(&seed_params(Some(&key), &secret, &phrase))
        .await
        .unwrap();
    assert_eq!(
        sync.result.result.result_minor,
        Some(ResultMinor::NotSynchronous)
    );

    // With #Pending: Pending; the operator rejects; the final result is Sender/Refused.
    let mut params = seed_params(Some(&key), &secret, &phrase);
    params.response_mechanism = vec![xkms_proto::ResponseMechanism::Pending];
    let pending = client.register(&params).await.unwrap();
    assert_eq!(pending.result.result.result_major, ResultMajor::Pending);
    let response_id = pending.result.result.message.id.clone();
    server.admin(&["pending", "reject", &response_id]);
    let ResultMessage::Register(result) = client
        .fetch_pending(&pending.request_id, &response_id)
        .await
        .unwrap()
    else {
        panic!("expected a RegisterResult")
    };
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );
    assert_eq!(server.binding_count().await, 0);

    // Approved, the registration completes.
    let pending = client.register(&params).await.unwrap();
    let response_id = pending.result.result.message.id.clone();
    server.admin(&["pending", "approve", &response_id]);
    // The worker may be running the job right now (Status then says Pending): poll as a
    // client does until the service reports it finished.
    client
        .wait_until_ready(
            &pending.request_id,
            &response_id,
            std::time::Duration::from_millis(50),
            200,
            &mut |_| {},
        )
        .await
        .unwrap();
    let status = client
        .status(&pending.request_id, &response_id)
        .await
        .unwrap();
    assert_eq!(status.result.result_major, ResultMajor::Success);
    let ResultMessage::Register(done) = client
        .fetch_pending(&pending.request_id, &response_id)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(done.result.result_major, ResultMajor::Success);
    assert_eq!(server.binding_count().await, 1);
}

#[tokio::test]
async fn t104_revoke_with_the_revocation_phrase() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new(PHRASE.into());
    let key = ClientKey::generate(2048).unwrap();
    let t100 = client
        .register(&seed_params(Some(&key), &secret, &phrase))
        .await
        .unwrap();
    let cert = t100.certificate().unwrap().to_vec();
    let binding = BindingRef {
        certificate: Some(cert.clone()),
        ..Default::default()
    };

    // A wrong phrase: Sender/NoAuthentication, nothing changes.
    let wrong = SharedSecret::new("Help I Have Revealed My Kex".into());
    let refused = client
        .revoke(&RevokeParams {
            binding: binding.clone(),
            with: RevokeWith::Phrase(&wrong),
            preparation: SASL,
            respond_with: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        (refused.result.result_major, refused.result.result_minor),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let dir = server.dir();
    let crl_der = reqwest::get(server.url.replace("/xkms", "/crl"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let crl_before = write(dir, "crl-before.der", &crl_der);
    let crl_text = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        &crl_before,
        "-noout",
        "-text",
    ]);
    assert!(crl_text.contains("No Revoked Certificates"), "{crl_text}");

    // The right phrase: Success, binding Invalid (RevocationStatus).
    let params = RevokeParams {
        binding: binding.clone(),
        with: RevokeWith::Phrase(&phrase),
        preparation: SASL,
        respond_with: vec![RespondWith::KeyName],
    };
    let result = client.revoke(&params).await.unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    let status = &result.key_bindings[0].status;
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert_eq!(status.invalid_reasons, vec![Reason::RevocationStatus]);

    // The CRL lists the certificate (keyCompromise); openssl verifies the CRL with the CA
    // and refuses the certificate with it.
    let ca = server.ca_pem_file();
    let ca = ca.to_str().unwrap();
    let crl_der = reqwest::get(server.url.replace("/xkms", "/crl"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let crl_path = write(dir, "crl.der", &crl_der);
    let out = common::tools::tool("openssl")
        .args([
            "crl", "-inform", "DER", "-in", &crl_path, "-CAfile", ca, "-noout",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verify OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = openssl(&["crl", "-inform", "DER", "-in", &crl_path, "-noout", "-text"]);
    let cert_path = write(dir, "joe.pem", certificate_pem(&cert));
    let serial = openssl(&["x509", "-in", &cert_path, "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=");
    assert!(
        text.contains(serial),
        "serial {serial} on the CRL:
{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    let crl_pem = String::from_utf8(server.admin(&["crl", "--pem"]).stdout).unwrap();
    let crl_pem_path = write(dir, "crl.pem", &crl_pem);
    let out = common::tools::tool("openssl")
        .args([
            "verify",
            "-crl_check",
            "-CRLfile",
            &crl_pem_path,
            "-CAfile",
            ca,
            &cert_path,
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a revoked certificate must not verify"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revoked")
            || String::from_utf8_lossy(&out.stderr).contains("revoked")
    );

    // Validate now says Invalid (RevocationStatus); Locate still finds the key (Locate
    // asserts nothing about trust).
    let validated = client
        .validate(&xkms_client::validate::ValidateParams {
            certificates: vec![cert.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let status = &validated.key_bindings[0].status;
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert!(
        status.invalid_reasons.contains(&Reason::RevocationStatus),
        "{status:?}"
    );
    let located = client
        .locate(&xkms_client::locate::LocateParams {
            key_names: vec!["joe@example.com".into()],
            respond_with: vec![RespondWith::X509Cert],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(located.result.result_major, ResultMajor::Success);
    assert_eq!(located.unverified_key_bindings.len(), 1);

    // Already revoked: Sender/Refused.
    let again = client.revoke(&params).await.unwrap();
    assert_eq!(
        (again.result.result_major, again.result.result_minor),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );

    // Reissue of a revoked binding is refused.
    let reissue = client
        .reissue(&ReissueParams {
            binding,
            key: Some(&key),
            secret: &secret,
            preparation: SASL,
            respond_with: vec![],
        })
        .await
        .unwrap();
    assert_eq!(reissue.result.result_minor, Some(ResultMinor::Refused));
}

#[tokio::test]
async fn revoke_with_an_authorization_code() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new(PHRASE.into());
    let key = ClientKey::generate(2048).unwrap();
    let t100 = client
        .register(&seed_params(Some(&key), &secret, &phrase))
        .await
        .unwrap();
    let binding = BindingRef {
        certificate: Some(t100.certificate().unwrap().to_vec()),
        ..Default::default()
    };
    let result = client
        .revoke(&RevokeParams {
            binding,
            with: RevokeWith::Secret(&secret),
            preparation: SASL,
            respond_with: vec![],
        })
        .await
        .unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    assert_eq!(
        result.key_bindings[0].status.status_value,
        StatusValue::Invalid
    );
}

//! End-to-end: the protocol options of XKMS 2.0 Part I — Compound (synchronous and
//! asynchronous with Status counters), the two-phase protocol (Represent/Nonce, replayed
//! and expired nonces), request-Id replay, OpaqueClientData, signed requests (verified,
//! forged, untrusted, required) and signed results (checked by xmlsec1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use xkms_client::locate::LocateParams;
use xkms_client::{ClientKey, ProtocolOptions, RegisterParams, XkmsClient};
use xkms_proto::soap::{self, Binding, SoapVersion};
use xkms_proto::{
    Application, InnerRequest, InnerResult, Message, Request, RespondWith, ResponseMechanism,
    ResultMajor, ResultMessage, ResultMinor, UseKeyWith, write_message,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

const SASL: SecretPreparation = SecretPreparation::SaslPrep;
const SERVICE: &str = "http://xkms.example/xkms";

fn joe<'a>(key: Option<&'a ClientKey>, secret: &'a SharedSecret) -> RegisterParams<'a> {
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
                identifier: "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe".into(),
            },
        ],
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert],
        response_mechanism: vec![],
        secret,
        preparation: SASL,
        revocation_phrase: None,
    }
}

fn secret() -> &'static SharedSecret {
    Box::leak(Box::new(SharedSecret::new("secret".into())))
}

/// A server with a config file and a stable Service URI.
fn server_with(config: &str) -> (Server, XkmsClient) {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("xkmsd.toml");
    std::fs::write(
        &path,
        format!("[server]\nservice_uri = \"{SERVICE}\"\n{config}"),
    )
    .unwrap();
    let server = Server::start_in(data, &["--config", path.to_str().unwrap()]);
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url).with_service_uri(SERVICE);
    (server, client)
}

fn codes(result: &ResultMessage) -> (ResultMajor, Option<ResultMinor>) {
    let h = xkms_client::result_header(result);
    (h.result_major.clone(), h.result_minor.clone())
}

fn doc_of(request: &Request) -> String {
    soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(request.clone())),
    )
}

fn locate_joe(client: &XkmsClient) -> Request {
    Request::Locate(client.locate_request(&LocateParams {
        key_names: vec!["joe@example.com".into()],
        respond_with: vec![RespondWith::KeyName],
        ..Default::default()
    }))
}

#[tokio::test]
async fn compound_of_two_locates_and_a_validate() {
    let (server, client) = server_with("");
    let key = ClientKey::generate(2048).unwrap();
    let t100 = client.register(&joe(Some(&key), secret())).await.unwrap();
    let cert = t100.certificate().unwrap().to_vec();
    let _ = &server;
    let requests = vec![
        InnerRequest::Locate(client.locate_request(&LocateParams {
            use_key_with: vec![UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            }],
            respond_with: vec![RespondWith::X509Cert],
            ..Default::default()
        })),
        InnerRequest::Locate(client.locate_request(&LocateParams {
            key_names: vec!["nobody@example.com".into()],
            ..Default::default()
        })),
        InnerRequest::Validate(
            client.validate_request(&xkms_client::validate::ValidateParams {
                certificates: vec![cert],
                ..Default::default()
            }),
        ),
    ];
    let ids: Vec<String> = requests
        .iter()
        .map(xkms_client::compound::inner_id)
        .collect();
    let result = client
        .compound(requests, false, |doc, _| Ok(doc), |_| {})
        .await
        .unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    assert_eq!(result.results.len(), 3);
    let InnerResult::Locate(first) = &result.results[0] else {
        panic!()
    };
    assert_eq!(first.result.result_major, ResultMajor::Success);
    assert_eq!(
        first.result.request_id.as_deref(),
        Some(ids[0].as_str()),
        "each inner result answers its request"
    );
    assert_eq!(first.unverified_key_bindings.len(), 1);
    let InnerResult::Locate(second) = &result.results[1] else {
        panic!()
    };
    assert_eq!(second.result.result_minor, Some(ResultMinor::NoMatch));
    let InnerResult::Validate(third) = &result.results[2] else {
        panic!()
    };
    assert_eq!(
        third.key_bindings[0].status.status_value,
        xkms_proto::StatusValue::Valid
    );
    assert_eq!(third.result.request_id.as_deref(), Some(ids[2].as_str()));
}

#[tokio::test]
async fn asynchronous_compound_reports_counters() {
    let (server, client) = server_with("[policy]\nregister = \"approval\"\nkey_pool_size = 0\n");
    let good = ClientKey::generate(2048).unwrap();
    let other = ClientKey::generate(2048).unwrap();
    let wrong = Box::leak(Box::new(SharedSecret::new("wrong".into())));
    let r1 = client
        .register_request(&joe(Some(&good), secret()))
        .unwrap();
    let r2 = client.register_request(&joe(Some(&other), wrong)).unwrap();
    let (id1, id2) = (r1.request.message.id.clone(), r2.request.message.id.clone());
    let compound = xkms_proto::CompoundRequest {
        request: xkms_proto::RequestAbstract {
            message: xkms_proto::MessageAbstract {
                id: client.new_id(),
                service: SERVICE.into(),
                ..Default::default()
            },
            response_mechanism: vec![ResponseMechanism::Pending],
            ..Default::default()
        },
        requests: vec![InnerRequest::Register(r1), InnerRequest::Register(r2)],
    };
    let compound_id = compound.request.message.id.clone();
    let sign = |doc: String, _: &str| {
        let doc = xkms_client::krss::sign_request(&doc, &id1, Some((secret(), SASL)), Some(&good))?;
        xkms_client::krss::sign_request(&doc, &id2, Some((wrong, SASL)), Some(&other))
    };
    let pending = client
        .send_signed(&Request::Compound(compound), sign)
        .await
        .unwrap();
    assert_eq!(codes(&pending).0, ResultMajor::Pending);
    let response_id = xkms_client::result_header(&pending).message.id.clone();

    let before = client.status(&compound_id, &response_id).await.unwrap();
    assert_eq!(before.result.result_major, ResultMajor::Pending);
    assert_eq!(
        (before.success, before.failure, before.pending),
        (Some(0), Some(0), Some(2))
    );

    server.admin(&["pending", "approve", &response_id]);
    // The worker may be running the job right now (Status then says Pending): poll as a
    // client does until the service reports it finished.
    client
        .wait_until_ready(
            &compound_id,
            &response_id,
            std::time::Duration::from_millis(50),
            200,
            &mut |_| {},
        )
        .await
        .unwrap();
    let after = client.status(&compound_id, &response_id).await.unwrap();
    assert_eq!(after.result.result_major, ResultMajor::Success);
    assert_eq!(
        (after.success, after.failure, after.pending),
        (Some(1), Some(1), Some(0))
    );
    let ResultMessage::Compound(done) = client
        .fetch_pending(&compound_id, &response_id)
        .await
        .unwrap()
    else {
        panic!()
    };
    let majors: Vec<_> = done
        .results
        .iter()
        .map(|r| match r {
            InnerResult::Register(r) => {
                (r.result.result_major.clone(), r.result.result_minor.clone())
            }
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        majors,
        vec![
            (ResultMajor::Success, None),
            (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
        ]
    );
    assert_eq!(server.binding_count().await, 1);
}

#[tokio::test]
async fn two_phase_register_and_locate() {
    let (server, client) = server_with("");
    // Our client completes the two-phase protocol by itself.
    let two_phase = client.clone().with_options(ProtocolOptions {
        two_phase: true,
        ..Default::default()
    });
    let key = ClientKey::generate(2048).unwrap();
    let registered = two_phase
        .register(&joe(Some(&key), secret()))
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);

    // By hand: phase one answers Represent with a nonce and does nothing.
    let mut phase1 = locate_joe(&client);
    xkms_client::request_header_mut(&mut phase1)
        .response_mechanism
        .push(ResponseMechanism::Represent);
    let represent = client.post(doc_of(&phase1)).await.unwrap();
    assert_eq!(codes(&represent).0, ResultMajor::Represent);
    let nonce = xkms_client::result_header(&represent)
        .message
        .nonce
        .clone()
        .expect("a Nonce");
    // Phase two: new Id, OriginalRequestId, Nonce.
    let mut phase2 = phase1.clone();
    let first_id = xkms_client::result_header(&represent)
        .request_id
        .clone()
        .unwrap();
    {
        let h = xkms_client::request_header_mut(&mut phase2);
        h.message.id = client.new_id();
        h.message.nonce = Some(nonce.clone());
        h.original_request_id = Some(first_id);
        h.response_mechanism.clear();
    }
    let located = client.post(doc_of(&phase2)).await.unwrap();
    assert_eq!(codes(&located), (ResultMajor::Success, None));
    // The nonce is single-use: the same second phase again (even with a new Id) is refused.
    xkms_client::request_header_mut(&mut phase2).message.id = client.new_id();
    let replayed = client.post(doc_of(&phase2)).await.unwrap();
    assert_eq!(
        codes(&replayed),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );
    // A nonce for another request is refused.
    let mut forged = locate_joe(&client);
    {
        let h = xkms_client::request_header_mut(&mut forged);
        h.message.nonce = Some(nonce);
        h.original_request_id = Some("Isomething-else".into());
    }
    assert_eq!(
        codes(&client.post(doc_of(&forged)).await.unwrap()),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let _ = server;
}

#[tokio::test]
async fn replayed_request_id_is_refused_and_opaque_data_echoed() {
    let (server, client) = server_with("");
    let key = ClientKey::generate(2048).unwrap();
    let mut request = client.register_request(&joe(Some(&key), secret())).unwrap();
    request.request.message.opaque_client_data =
        Some(vec![b"\x00opaque\xff".to_vec(), b"second".to_vec()]);
    let id = request.request.message.id.clone();
    let doc = xkms_client::krss::sign_request(
        &doc_of(&Request::Register(request)),
        &id,
        Some((secret(), SASL)),
        Some(&key),
    )
    .unwrap();
    let first = client.post(doc.clone()).await.unwrap();
    assert_eq!(codes(&first), (ResultMajor::Success, None));
    assert_eq!(
        xkms_client::result_header(&first)
            .message
            .opaque_client_data,
        Some(vec![b"\x00opaque\xff".to_vec(), b"second".to_vec()]),
        "OpaqueClientData comes back unchanged"
    );
    let again = client.post(doc).await.unwrap();
    assert_eq!(
        codes(&again),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );
    assert_eq!(server.binding_count().await, 1);
}

fn openssl(args: &[&str]) -> std::process::Output {
    common::tools::tool("openssl").args(args).output().unwrap()
}

/// A self-signed certificate and key made by `openssl req` in `dir`: (key.pem, cert.pem).
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let key_path = dir.join(format!("{name}-key.pem"));
    let cert_path = dir.join(format!("{name}.pem"));
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={name}"),
        "-days",
        "2",
        "-keyout",
        key_path.to_str().unwrap(),
        "-out",
        cert_path.to_str().unwrap(),
    ]);
    assert!(made.status.success());
    (key_path, cert_path)
}

fn signer_from(key: &std::path::Path, cert: &std::path::Path) -> xkms_xmlsec::MessageSigner {
    let key = ClientKey::from_pem(&std::fs::read_to_string(key).unwrap()).unwrap();
    let cert = pem_der(cert);
    xkms_xmlsec::MessageSigner::rsa(key.pkcs8_der(), vec![cert]).unwrap()
}

fn pem_der(path: &std::path::Path) -> Vec<u8> {
    xkms_client::pem::decode_all(
        &std::fs::read(path).unwrap(),
        xkms_client::pem::Label::Certificate,
    )
    .unwrap()
    .remove(0)
}

fn locate_id(request: &Request) -> String {
    match request {
        Request::Locate(l) => l.request.message.id.clone(),
        _ => unreachable!(),
    }
}

/// Signed requests where policy requires them come from a configured (pinned) signer
/// only — not from any holder of a certificate our CA issued — and clients accept signed
/// results from the service's signing certificate only.
#[tokio::test]
async fn signed_requests_and_signed_results() {
    let keys = tempfile::tempdir().unwrap();
    let (operator_key, operator_cert) = self_signed(keys.path(), "Operator");
    let (server, client) = server_with(&format!(
        "[protocol]\nrequire_signed = [\"Locate\"]\ntrusted_signers = [\"{}\"]\n",
        operator_cert.display()
    ));
    let dir = server.dir();
    // Joe's key, certified by the service's CA.
    let key = ClientKey::generate(2048).unwrap();
    let t100 = client.register(&joe(Some(&key), secret())).await.unwrap();
    let cert = t100.certificate().unwrap().to_vec();
    let ca_path = server.ca_pem_file();
    let ca_der = pem_der(&ca_path);
    let joe_signer = xkms_xmlsec::MessageSigner::rsa(key.pkcs8_der(), vec![cert.clone()]).unwrap();
    let operator = signer_from(&operator_key, &operator_cert);
    let signing_path = dir.join("signing-from-admin.pem");
    std::fs::write(&signing_path, server.admin(&["signing-certificate"]).stdout).unwrap();
    let signing_der = pem_der(&signing_path);

    // Unsigned where policy requires a signature.
    let unsigned = client.post(doc_of(&locate_joe(&client))).await.unwrap();
    assert_eq!(
        codes(&unsigned),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    // Signed by Joe, whose certificate the service's own CA issued: not a configured
    // signer (any registered user has such a certificate).
    let request = locate_joe(&client);
    let by_joe =
        xkms_xmlsec::sign_message(&doc_of(&request), &locate_id(&request), &joe_signer).unwrap();
    assert_eq!(
        codes(&client.post(by_joe).await.unwrap()),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    // Signed by the configured signer, asking for RequestSignatureValue; the result is
    // checked against the pinned signing certificate, and against the CA plus its name.
    for trust in [
        xkms_client::ResultTrust::Pinned(vec![signing_der.clone()]),
        xkms_client::ResultTrust::IssuedTo {
            issuers: vec![ca_der.clone()],
            subject: "CN=XKMS Service".into(),
        },
    ] {
        let signing = client.clone().with_options(ProtocolOptions {
            signer: Some(operator.clone()),
            request_signature_value: true,
            result_trust: trust,
            ..Default::default()
        });
        let result = signing.send(&locate_joe(&signing)).await.unwrap();
        assert_eq!(codes(&result), (ResultMajor::Success, None));
        assert!(
            xkms_client::result_header(&result)
                .request_signature_value
                .is_some()
        );
    }

    // The signed result verifies in xmlsec1 against the CA.
    let mut request = locate_joe(&client);
    xkms_client::request_header_mut(&mut request)
        .response_mechanism
        .push(ResponseMechanism::RequestSignatureValue);
    let id = locate_id(&request);
    let signed_doc = xkms_xmlsec::sign_message(&doc_of(&request), &id, &operator).unwrap();
    let (body, _) = client.post_raw(signed_doc.clone()).await.unwrap();
    let (_, message) = soap::parse_document(&body, &Default::default()).unwrap();
    let Message::Result(result) = message else {
        panic!()
    };
    let result_id = xkms_client::result_header(&result).message.id.clone();
    // The signed result verifies however a client unwraps it: inside the envelope, and
    // as its own document (the Body's child taken out, as SOAP stacks hand it on). The
    // signature uses exclusive C14N, so the envelope's namespaces do not enter it.
    let extracted = common::legacy::xkms_element(&body);
    assert!(extracted.starts_with("<LocateResult") && body.contains("Envelope"));
    assert!(extracted.contains("xml-exc-c14n#\""));
    for (label, document) in [("in the envelope", &body), ("extracted", &extracted)] {
        let resp = dir.join("signed-result.xml");
        std::fs::write(&resp, document).unwrap();
        let xpath = format!("//*[@Id='{result_id}']/*[1][local-name()='Signature']");
        let out = common::tools::tool("xmlsec1")
            .args([
                "--verify",
                "--id-attr:Id",
                "http://www.w3.org/2002/03/xkms#:LocateResult",
                "--enabled-reference-uris",
                "same-doc",
            ])
            .args([
                "--node-xpath",
                &xpath,
                "--trusted-pem",
                ca_path.to_str().unwrap(),
            ])
            .arg(&resp)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmlsec1 --verify ({label}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Forged: content changed after signing.
    let forged = signed_doc.replace("joe@example.com", "eve@example.com");
    assert_eq!(
        codes(&client.post(forged).await.unwrap()),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    // Untrusted signer: a self-signed certificate nobody configured.
    let (eve_key, eve_cert) = self_signed(keys.path(), "Eve");
    let eve = signer_from(&eve_key, &eve_cert);
    let request = locate_joe(&client);
    let untrusted =
        xkms_xmlsec::sign_message(&doc_of(&request), &locate_id(&request), &eve).unwrap();
    assert_eq!(
        codes(&client.post(untrusted).await.unwrap()),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    // Eve asks for RequestSignatureValue: the refusal comes without one (her signature was
    // never accepted), and the client reports the XKMS result, not a mismatch.
    let eve_client = client.clone().with_options(ProtocolOptions {
        signer: Some(eve.clone()),
        request_signature_value: true,
        ..Default::default()
    });
    let refused = eve_client.send(&locate_joe(&eve_client)).await.unwrap();
    assert_eq!(
        codes(&refused),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    assert!(
        xkms_client::result_header(&refused)
            .request_signature_value
            .is_none()
    );

    // A "result" signed by Joe (a certificate of the same CA): its signature is sound,
    // but a client pinning the service's certificate, or naming its signer, refuses it.
    let request = locate_joe(&client);
    let plain =
        xkms_xmlsec::sign_message(&doc_of(&request), &locate_id(&request), &operator).unwrap();
    let (unsigned_body, _) = client.post_raw(plain).await.unwrap();
    let (_, message) = soap::parse_document(&unsigned_body, &Default::default()).unwrap();
    let Message::Result(result) = message else {
        panic!()
    };
    let result_id = xkms_client::result_header(&result).message.id.clone();
    let by_user = xkms_xmlsec::sign_message(&unsigned_body, &result_id, &joe_signer).unwrap();
    let joe_subject = "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US";
    xkms_client::verify_result_signature(
        &by_user,
        &result_id,
        &xkms_client::ResultTrust::IssuedTo {
            issuers: vec![ca_der.clone()],
            subject: joe_subject.into(),
        },
    )
    .unwrap();
    for trust in [
        xkms_client::ResultTrust::Pinned(vec![signing_der.clone()]),
        xkms_client::ResultTrust::IssuedTo {
            issuers: vec![ca_der.clone()],
            subject: "CN=XKMS Service".into(),
        },
    ] {
        assert!(matches!(
            xkms_client::verify_result_signature(&by_user, &result_id, &trust),
            Err(xkms_client::ClientError::Untrusted(_))
        ));
    }

    // A client that pins another certificate refuses the service's signed results.
    let wary = client.clone().with_options(ProtocolOptions {
        signer: Some(operator),
        request_signature_value: true,
        result_trust: xkms_client::ResultTrust::Pinned(vec![pem_der(&eve_cert)]),
        ..Default::default()
    });
    assert!(matches!(
        wary.send(&locate_joe(&wary)).await,
        Err(xkms_client::ClientError::Untrusted(_))
    ));
}

/// A compound none of whose members authenticates is not stored, even offered #Pending.
#[tokio::test]
async fn an_unauthenticated_asynchronous_compound_is_not_stored() {
    let (server, client) = server_with("[policy]\nregister = \"approval\"\nkey_pool_size = 0\n");
    let (a, b) = (
        ClientKey::generate(2048).unwrap(),
        ClientKey::generate(2048).unwrap(),
    );
    let wrong = Box::leak(Box::new(SharedSecret::new("wrong".into())));
    let r1 = client.register_request(&joe(Some(&a), wrong)).unwrap();
    let r2 = client.register_request(&joe(Some(&b), wrong)).unwrap();
    let (id1, id2) = (r1.request.message.id.clone(), r2.request.message.id.clone());
    let compound = xkms_proto::CompoundRequest {
        request: xkms_proto::RequestAbstract {
            message: xkms_proto::MessageAbstract {
                id: client.new_id(),
                service: SERVICE.into(),
                ..Default::default()
            },
            response_mechanism: vec![ResponseMechanism::Pending],
            ..Default::default()
        },
        requests: vec![InnerRequest::Register(r1), InnerRequest::Register(r2)],
    };
    let sign = |doc: String, _: &str| {
        let doc = xkms_client::krss::sign_request(&doc, &id1, Some((wrong, SASL)), Some(&a))?;
        xkms_client::krss::sign_request(&doc, &id2, Some((wrong, SASL)), Some(&b))
    };
    let answer = client
        .send_signed(&Request::Compound(compound), sign)
        .await
        .unwrap();
    assert_eq!(
        codes(&answer),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let listed = String::from_utf8(server.admin(&["pending", "list", "--all"]).stdout).unwrap();
    assert!(!listed.contains("Compound"), "{listed}");
}

//! Every operation at the service level: Register (client and service-generated keys),
//! Reissue, Revoke (pass phrase and authorization code), Recover (asynchronous, run by
//! the worker), Locate and Validate — results and what the store holds afterwards.

use crate::harness::*;
use xkms_client::krss::{BindingRef, authentication_template, returned_private_key, sign_request};
use xkms_client::locate::LocateParams;
use xkms_proto::{
    KeyUsage, Request, RespondWith, ResponseMechanism, ResultMajor, ResultMessage, ResultMinor,
    RevokeAuthorization, RevokeRequest, StatusValue,
};
use xkms_service::store::{BindingSelector, Purpose};
use xkms_xmlsec::kdf::SharedSecret;

fn binding_status(result: &ResultMessage) -> Vec<StatusValue> {
    let bindings = match result {
        ResultMessage::Register(r) => &r.key_bindings,
        ResultMessage::Reissue(r) => &r.key_bindings,
        ResultMessage::Revoke(r) => &r.key_bindings,
        ResultMessage::Recover(r) => &r.key_bindings,
        ResultMessage::Validate(r) => &r.key_bindings,
        other => panic!("no key bindings in {other:?}"),
    };
    bindings.iter().map(|b| b.status.status_value).collect()
}

#[tokio::test]
async fn register_reissue_and_revoke_a_client_key() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("Help I Have Revealed My Key".into());
    let key = fresh_key();
    let mut t100 = t100(Some(&key), &secret);
    t100.revocation_phrase = Some(&phrase);
    let registered = h.register(&t100).await;
    assert_eq!(codes(&registered), success());
    assert_eq!(binding_status(&registered), [StatusValue::Valid]);
    assert_eq!(h.bindings().await, 1);
    let first = certificate_of(&registered);

    let reissued = h
        .process(&h.reissue_document(first.clone(), &secret, &key))
        .await;
    assert_eq!(codes(&reissued), success());
    assert_eq!(binding_status(&reissued), [StatusValue::Valid]);
    assert_eq!(h.bindings().await, 1, "the same binding");
    let binding = h
        .store
        .find_bindings(&BindingSelector::KeyName("joe@example.com".into()), 1)
        .await
        .unwrap()
        .remove(0);
    let certificates = h.store.certificates_of(&binding.id).await.unwrap();
    assert_eq!(certificates.len(), 2, "a new certificate");
    let second = certificates
        .iter()
        .map(|c| c.der.clone())
        .find(|der| *der != first)
        .unwrap();

    let wrong = SharedSecret::new("not the phrase".into());
    let wrong_code = h
        .process(&revoke_by_phrase(&h, second.clone(), &wrong))
        .await;
    assert_eq!(
        codes(&wrong_code),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let revoked = h
        .process(&revoke_by_phrase(&h, second.clone(), &phrase))
        .await;
    assert_eq!(codes(&revoked), success());
    assert_eq!(binding_status(&revoked), [StatusValue::Invalid]);
    let again = h.process(&revoke_by_phrase(&h, second, &phrase)).await;
    assert_eq!(
        codes(&again),
        refused(),
        "already revoked (and the code is spent)"
    );
    assert_eq!(h.store.revoked_certificates().await.unwrap().len(), 2);
}

#[tokio::test]
async fn revoke_with_an_authorization_code() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let registered = h.register(&t100(Some(key()), &secret)).await;
    let kb = h.client.new_id();
    let request = RevokeRequest {
        request: h.header(),
        revoke_key_binding: BindingRef {
            certificate: Some(certificate_of(&registered)),
            ..Default::default()
        }
        .key_binding(kb.clone(), StatusValue::Indeterminate),
        authorization: RevokeAuthorization::Authentication(authentication_template(&kb)),
    };
    let id = request.request.message.id.clone();
    let doc = sign_request(
        &document(&Request::Revoke(request)),
        &id,
        Some((&secret, SASL)),
        None,
    )
    .unwrap();
    let revoked = h.process(&doc).await;
    assert_eq!(codes(&revoked), success());
    assert_eq!(binding_status(&revoked), [StatusValue::Invalid]);
}

#[tokio::test]
async fn a_service_generated_key_is_returned_escrowed_and_recovered_asynchronously() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    h.authorize("joe@example.com", "secret1", Purpose::Recover, &[])
        .await;
    let secret = SharedSecret::new("secret".into());
    let mut generate = t100(None, &secret);
    generate.respond_with.push(RespondWith::PrivateKey);
    let registered = h.register(&generate).await;
    assert_eq!(codes(&registered), success());
    let ResultMessage::Register(r) = &registered else {
        panic!()
    };
    let issued =
        returned_private_key(r.private_key.as_ref(), &r.key_bindings, &secret, SASL).unwrap();

    // Recover offers #Pending and is deferred (policy default: asynchronous).
    let recovery = SharedSecret::new("secret1".into());
    let binding = BindingRef {
        certificate: Some(certificate_of(&registered)),
        ..Default::default()
    };
    let mut request = h
        .client
        .recover_request(&binding, &[RespondWith::KeyValue], true);
    request.request.message.service = SERVICE.into();
    let id = request.request.message.id.clone();
    let doc = sign_request(
        &document(&Request::Recover(request)),
        &id,
        Some((&recovery, SASL)),
        None,
    )
    .unwrap();
    let pending = h.process(&doc).await;
    assert_eq!(codes(&pending).0, ResultMajor::Pending);
    let response_id = xkms_client::result_header(&pending).message.id.clone();

    // The worker runs the job; the PendingRequest fetches the key once.
    assert!(h.service.run_pending_job().await.unwrap());
    assert!(
        !h.service.run_pending_job().await.unwrap(),
        "nothing else queued"
    );
    let fetch = |h: &Harness| {
        let request = xkms_proto::PendingRequest {
            request: xkms_proto::RequestAbstract {
                original_request_id: Some(id.clone()),
                ..h.header()
            },
            response_id: response_id.clone(),
        };
        document(&Request::Pending(request))
    };
    let fetched = h.process(&fetch(&h)).await;
    assert_eq!(codes(&fetched), success());
    let ResultMessage::Recover(rr) = &fetched else {
        panic!("{fetched:?}")
    };
    let recovered =
        returned_private_key(rr.private_key.as_ref(), &r.key_bindings, &recovery, SASL).unwrap();
    assert_eq!(recovered.pkcs8_der(), issued.pkcs8_der());
    let again = h.process(&fetch(&h)).await;
    assert_eq!(
        codes(&again),
        (ResultMajor::Sender, Some(ResultMinor::UnknownResponseId)),
        "a result with a private key is deleted once delivered"
    );
}

#[tokio::test]
async fn locate_and_validate_find_and_judge_the_binding() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("phrase".into());
    let mut t100 = t100(Some(key()), &secret);
    t100.revocation_phrase = Some(&phrase);
    t100.key_usage = vec![KeyUsage::Signature];
    let registered = h.register(&t100).await;
    let certificate = certificate_of(&registered);
    let by_address = LocateParams {
        use_key_with: vec![ukw(xkms_proto::Application::Smime, "JOE@example.com")],
        respond_with: vec![RespondWith::KeyName, RespondWith::X509Cert],
        ..Default::default()
    };
    let mut locate = h.client.locate_request(&by_address);
    locate.request.message.service = SERVICE.into();
    let located = h.process(&document(&Request::Locate(locate))).await;
    assert_eq!(codes(&located), success());
    let ResultMessage::Locate(l) = &located else {
        panic!()
    };
    assert_eq!(l.unverified_key_bindings.len(), 1);

    let mut for_encryption = by_address.clone();
    for_encryption.key_usage = vec![KeyUsage::Encryption];
    let mut locate = h.client.locate_request(&for_encryption);
    locate.request.message.service = SERVICE.into();
    let none = h.process(&document(&Request::Locate(locate))).await;
    assert_eq!(
        codes(&none),
        (ResultMajor::Success, Some(ResultMinor::NoMatch))
    );

    let validate_doc = |h: &Harness| {
        let mut v = h.client.validate_request(&LocateParams {
            certificates: vec![certificate.clone()],
            ..Default::default()
        });
        v.request.message.service = SERVICE.into();
        document(&Request::Validate(v))
    };
    let valid = h.process(&validate_doc(&h)).await;
    assert_eq!(codes(&valid), success());
    assert_eq!(binding_status(&valid), [StatusValue::Valid]);
    h.process(&revoke_by_phrase(&h, certificate.clone(), &phrase))
        .await;
    let invalid = h.process(&validate_doc(&h)).await;
    assert_eq!(binding_status(&invalid), [StatusValue::Invalid]);
}

#[tokio::test]
async fn recover_without_pending_is_not_synchronous_and_stores_nothing() {
    let h = Harness::new().await;
    h.authorize("joe@example.com", "secret1", Purpose::Recover, &[])
        .await;
    let binding = BindingRef {
        key_name: Some("joe@example.com".into()),
        ..Default::default()
    };
    let mut request = h.client.recover_request(&binding, &[], false);
    request.request.message.service = SERVICE.into();
    request
        .request
        .response_mechanism
        .retain(|m| *m != ResponseMechanism::Pending);
    let id = request.request.message.id.clone();
    let recovery = SharedSecret::new("secret1".into());
    let doc = sign_request(
        &document(&Request::Recover(request)),
        &id,
        Some((&recovery, SASL)),
        None,
    )
    .unwrap();
    let answer = h.process(&doc).await;
    assert_eq!(
        codes(&answer),
        (ResultMajor::Receiver, Some(ResultMinor::NotSynchronous))
    );
    assert!(h.service.list_pending(None, 10).await.unwrap().is_empty());
}

//! The Validate cache (issue 13): verified chains of our certificates are reused, and a
//! revocation is seen at once on the node that made it and within the bound (1 s, on the
//! service's clock) on another node sharing the store. No sleeps: the clock is moved.

use std::sync::Arc;

use time::Duration;
use xkms_client::locate::LocateParams;
use xkms_proto::{Request, ResultMessage, StatusValue};
use xkms_service::{Policy, XkmsService};
use xkms_xmlsec::kdf::SharedSecret;

use crate::harness::*;

fn status(result: &ResultMessage) -> Vec<StatusValue> {
    let ResultMessage::Validate(r) = result else {
        panic!("not a ValidateResult: {result:?}")
    };
    r.key_bindings
        .iter()
        .map(|b| b.status.status_value)
        .collect()
}

fn validate_document(h: &Harness, certificate: &[u8]) -> String {
    let mut v = h.client.validate_request(&LocateParams {
        certificates: vec![certificate.to_vec()],
        ..Default::default()
    });
    v.request.message.service = SERVICE.into();
    document(&Request::Validate(v))
}

/// A registered certificate with a revocation phrase.
async fn registered(h: &Harness, phrase: &SharedSecret) -> Vec<u8> {
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let mut t100 = t100(Some(key()), &secret);
    t100.revocation_phrase = Some(phrase);
    certificate_of(&h.register(&t100).await)
}

/// A second node on the same store (and CA) at the harness's start time.
fn other_node(h: &Harness) -> XkmsService {
    service_on(
        Arc::clone(&h.store),
        h.service.ca().clone(),
        h.now,
        Policy::default(),
        &[9u8; 32],
    )
}

#[tokio::test]
async fn revoked_on_this_node_is_invalid_at_once() {
    let h = Harness::new().await;
    let phrase = SharedSecret::new("phrase".into());
    let certificate = registered(&h, &phrase).await;
    for _ in 0..2 {
        // The second answer comes from the cache.
        let valid = h.process(&validate_document(&h, &certificate)).await;
        assert_eq!(codes(&valid), success());
        assert_eq!(status(&valid), [StatusValue::Valid]);
    }
    let revoked = h
        .process(&revoke_by_phrase(&h, certificate.clone(), &phrase))
        .await;
    assert_eq!(codes(&revoked), success());
    // Same instant, same node: no staleness at all.
    let invalid = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&invalid), [StatusValue::Invalid]);
}

#[tokio::test]
async fn revoked_on_another_node_is_invalid_within_the_bound() {
    let h = Harness::new().await;
    let phrase = SharedSecret::new("phrase".into());
    let certificate = registered(&h, &phrase).await;
    let node_b = other_node(&h);
    let valid = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&valid), [StatusValue::Valid]);

    let revoked = process_with(&node_b, &revoke_by_phrase(&h, certificate.clone(), &phrase)).await;
    assert_eq!(codes(&revoked), success());
    // Node B sees its own revocation; a fresh look by B at the certificate says Invalid.
    let on_b = process_with(&node_b, &validate_document(&h, &certificate)).await;
    assert_eq!(status(&on_b), [StatusValue::Invalid]);

    // Node A answered from its cache a moment ago and re-reads the store's revocation
    // counter at most once per second: until then its answer may be stale (this is the
    // documented bound, and shows the cache is used) …
    h.clock.advance(Duration::milliseconds(999));
    let stale = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&stale), [StatusValue::Valid], "within the bound");
    // … and once the bound has passed it is Invalid.
    h.clock.advance(Duration::milliseconds(1));
    let invalid = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&invalid), [StatusValue::Invalid]);
}

/// A TimeInstant query is never answered from the cache: before the revocation it is
/// Valid, after it Invalid, while the cache (same node, fresh) holds nothing stale.
#[tokio::test]
async fn time_instant_queries_bypass_the_cache() {
    let h = Harness::new().await;
    let phrase = SharedSecret::new("phrase".into());
    let certificate = registered(&h, &phrase).await;
    let node_b = other_node(&h);
    let valid = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&valid), [StatusValue::Valid]);
    process_with(&node_b, &revoke_by_phrase(&h, certificate.clone(), &phrase)).await;
    // Node A's cache says Valid for "now" (within the bound), but a query at an
    // instant reads the store.
    let mut v = h.client.validate_request(&LocateParams {
        certificates: vec![certificate.clone()],
        ..Default::default()
    });
    v.request.message.service = SERVICE.into();
    v.query_key_binding.time_instant = Some(h.now);
    let at_now = h.process(&document(&Request::Validate(v))).await;
    assert_eq!(status(&at_now), [StatusValue::Invalid]);
}

/// An operator's revocation (`xkmsd admin revoke`) drops this node's cache at once too,
/// like a Revoke request: at the same instant the certificate is Invalid.
#[tokio::test]
async fn revoked_by_the_operator_is_invalid_at_once() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let registered = h.register(&t100(Some(key()), &secret)).await;
    let certificate = certificate_of(&registered);
    let ResultMessage::Register(r) = &registered else {
        panic!("not a RegisterResult: {registered:?}")
    };
    let binding_id = r.key_bindings[0].core.id.clone().unwrap();
    for _ in 0..2 {
        // The second answer comes from the cache.
        let valid = h.process(&validate_document(&h, &certificate)).await;
        assert_eq!(status(&valid), [StatusValue::Valid]);
    }
    h.service
        .revoke_binding_as_operator(
            &binding_id,
            xkms_service::operator::OperatorReason::Superseded,
        )
        .await
        .unwrap();
    let invalid = h.process(&validate_document(&h, &certificate)).await;
    assert_eq!(status(&invalid), [StatusValue::Invalid]);
}

//! The protocol options at the service level, with a clock the tests move: the two-phase
//! protocol (nonces single-use, expiring, bound to the service's secret), request-Id
//! replay and its window, Compound (synchronous, and asynchronous with its counters).

use crate::harness::*;
use time::Duration;
use xkms_client::locate::LocateParams;
use xkms_proto::{
    CompoundRequest, InnerRequest, Operation, Request, ResponseMechanism, ResultMajor,
    ResultMessage, ResultMinor,
};
use xkms_service::{Policy, Processing, ProtocolPolicy, TwoPhase};
use xkms_xmlsec::kdf::SharedSecret;

fn locate_joe(h: &Harness) -> xkms_proto::LocateRequest {
    let mut locate = h.client.locate_request(&LocateParams {
        key_names: vec!["joe@example.com".into()],
        ..Default::default()
    });
    locate.request.message.service = SERVICE.into();
    locate
}

/// The second leg of a two-phase exchange: the same request, a new Id, the nonce.
fn present_again(h: &Harness, first: &xkms_proto::LocateRequest, nonce: Vec<u8>) -> String {
    let mut second = first.clone();
    second.request.message.id = h.client.new_id();
    second.request.message.nonce = Some(nonce);
    second.request.original_request_id = Some(first.request.message.id.clone());
    second.request.response_mechanism.clear();
    document(&Request::Locate(second))
}

fn nonce_of(result: &ResultMessage) -> Vec<u8> {
    xkms_client::result_header(result)
        .message
        .nonce
        .clone()
        .unwrap()
}

#[tokio::test]
async fn two_phase_nonces_are_single_use_expire_and_cannot_be_forged() {
    let protocol = ProtocolPolicy {
        two_phase: vec![(Operation::Locate, TwoPhase::Required)],
        nonce_lifetime: Duration::seconds(60),
        ..Default::default()
    };
    let h = Harness::with_config(Policy::default(), protocol).await;
    let mut first = locate_joe(&h);
    let plain = h.process(&document(&Request::Locate(first.clone()))).await;
    assert_eq!(
        codes(&plain),
        (ResultMajor::Sender, Some(ResultMinor::RepresentRequired)),
        "required but not offered"
    );
    first
        .request
        .response_mechanism
        .push(ResponseMechanism::Represent);
    let represent = h.process(&document(&Request::Locate(first.clone()))).await;
    assert_eq!(codes(&represent).0, ResultMajor::Represent);
    let nonce = nonce_of(&represent);

    let mut forged = nonce.clone();
    if let Some(last) = forged.last_mut() {
        *last ^= 1;
    }
    let answer = h.process(&present_again(&h, &first, forged)).await;
    assert_eq!(
        codes(&answer),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );

    let answer = h.process(&present_again(&h, &first, nonce.clone())).await;
    assert_eq!(
        codes(&answer),
        (ResultMajor::Success, Some(ResultMinor::NoMatch))
    );
    let replayed = h.process(&present_again(&h, &first, nonce)).await;
    assert_eq!(codes(&replayed), refused(), "a nonce is single-use");

    // A nonce past its lifetime: start over.
    let represent = h.process(&document(&Request::Locate(first.clone()))).await;
    let nonce = nonce_of(&represent);
    h.clock.advance(Duration::seconds(61));
    let expired = h.process(&present_again(&h, &first, nonce)).await;
    assert_eq!(
        codes(&expired),
        (ResultMajor::Sender, Some(ResultMinor::RepresentRequired))
    );
}

fn compound_of(h: &Harness, requests: Vec<InnerRequest>, pending: bool) -> CompoundRequest {
    let mut header = h.header();
    if pending {
        header.response_mechanism.push(ResponseMechanism::Pending);
    }
    CompoundRequest {
        request: header,
        requests,
    }
}

#[tokio::test]
async fn a_replayed_request_id_is_refused_within_the_window_only() {
    let protocol = ProtocolPolicy {
        replay_window: Duration::minutes(10),
        ..Default::default()
    };
    let h = Harness::with_config(Policy::default(), protocol).await;
    let compound = compound_of(&h, vec![InnerRequest::Locate(locate_joe(&h))], false);
    let doc = document(&Request::Compound(compound));
    assert_eq!(codes(&h.process(&doc).await), success());
    assert_eq!(codes(&h.process(&doc).await), refused());
    h.clock.advance(Duration::minutes(11));
    assert_eq!(
        codes(&h.process(&doc).await),
        success(),
        "the window is over"
    );
}

#[tokio::test]
async fn compound_answers_each_member_and_asynchronous_ones_count_outcomes() {
    let policy = Policy {
        register: Processing::Approval,
        ..Policy::default()
    };
    let h = Harness::with_policy(policy).await;
    h.authorize_joe().await;

    // Synchronous: two Locates and a Validate, each answered on its own.
    let mut validate = h.client.validate_request(&LocateParams {
        key_names: vec!["joe@example.com".into()],
        ..Default::default()
    });
    validate.request.message.service = SERVICE.into();
    let compound = compound_of(
        &h,
        vec![
            InnerRequest::Locate(locate_joe(&h)),
            InnerRequest::Locate(locate_joe(&h)),
            InnerRequest::Validate(validate),
        ],
        false,
    );
    let answer = h.process(&document(&Request::Compound(compound))).await;
    let ResultMessage::Compound(c) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(c.results.len(), 3);

    // Asynchronous: one member authenticates, one does not; counters after the job.
    let secret = SharedSecret::new("secret".into());
    let wrong = SharedSecret::new("wrong".into());
    let good_key = fresh_key();
    let r1 = h
        .client
        .register_request(&t100(Some(&good_key), &secret))
        .unwrap();
    let r2 = h
        .client
        .register_request(&t100(Some(key()), &wrong))
        .unwrap();
    let (id1, id2) = (r1.request.message.id.clone(), r2.request.message.id.clone());
    let mut compound = compound_of(
        &h,
        vec![InnerRequest::Register(r1), InnerRequest::Register(r2)],
        true,
    );
    compound.request.message.service = SERVICE.into();
    let compound_id = compound.request.message.id.clone();
    let doc = document(&Request::Compound(compound));
    let doc = xkms_client::krss::sign_request(&doc, &id1, Some((&secret, SASL)), Some(&good_key))
        .unwrap();
    let doc =
        xkms_client::krss::sign_request(&doc, &id2, Some((&wrong, SASL)), Some(key())).unwrap();
    let pending = h.process(&doc).await;
    assert_eq!(codes(&pending).0, ResultMajor::Pending);
    let response_id = xkms_client::result_header(&pending).message.id.clone();
    assert!(
        !h.service.run_pending_job().await.unwrap(),
        "awaiting approval"
    );
    h.service.approve_pending(&response_id).await.unwrap();
    assert!(h.service.run_pending_job().await.unwrap());
    let status = xkms_proto::StatusRequest {
        request: xkms_proto::RequestAbstract {
            original_request_id: Some(compound_id),
            ..h.header()
        },
        response_id,
    };
    let status = h.process(&document(&Request::Status(status))).await;
    let ResultMessage::Status(s) = &status else {
        panic!("{status:?}")
    };
    assert_eq!(
        (s.success, s.failure, s.pending),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(h.bindings().await, 1);
}

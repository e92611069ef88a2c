//! Brute-force limits at the service level, with a clock the tests move: a locked
//! identity refuses even the right secret until its window is over.

use crate::harness::*;
use time::Duration;
use xkms_proto::{ResultMajor, ResultMinor};
use xkms_service::{LockoutPolicy, Policy};
use xkms_xmlsec::kdf::SharedSecret;

fn no_authentication() -> (ResultMajor, Option<ResultMinor>) {
    (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
}

#[tokio::test]
async fn a_locked_identity_is_refused_until_its_window_is_over() {
    let policy = Policy {
        lockout: LockoutPolicy {
            after_failures: 3,
            per_address: 0,
            window: Duration::minutes(15),
        },
        ..Policy::default()
    };
    let h = Harness::with_policy(policy).await;
    h.authorize_joe().await;
    let wrong = SharedSecret::new("wrong".into());
    let right = SharedSecret::new("secret".into());
    for _ in 0..3 {
        assert_eq!(
            codes(&h.register(&t100(Some(key()), &wrong)).await),
            no_authentication()
        );
    }
    // Every identity the request asked for: the address and the seed DN.
    let locked: Vec<String> = h
        .service
        .locked_subjects()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.subject)
        .collect();
    assert!(
        locked.contains(&"id:joe@example.com".to_owned()),
        "{locked:?}"
    );
    assert_eq!(locked.len(), 2, "{locked:?}");
    assert_eq!(
        codes(&h.register(&t100(Some(key()), &right)).await),
        no_authentication()
    );

    h.clock.advance(Duration::minutes(16));
    assert_eq!(
        codes(&h.register(&t100(Some(key()), &right)).await),
        success()
    );
    assert!(h.service.locked_subjects().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_success_forgets_earlier_failures() {
    let policy = Policy {
        lockout: LockoutPolicy {
            after_failures: 3,
            per_address: 0,
            window: Duration::minutes(15),
        },
        ..Policy::default()
    };
    let h = Harness::with_policy(policy).await;
    h.authorize_joe().await;
    let wrong = SharedSecret::new("wrong".into());
    let right = SharedSecret::new("secret".into());
    for _ in 0..2 {
        h.register(&t100(Some(key()), &wrong)).await;
    }
    assert_eq!(
        codes(&h.register(&t100(Some(&fresh_key()), &right)).await),
        success()
    );
    for _ in 0..2 {
        h.register(&t100(Some(key()), &wrong)).await;
    }
    assert!(
        h.service.locked_subjects().await.unwrap().is_empty(),
        "two failures after a success do not lock"
    );
}

//! Finding 6: failed authentications were not audited and the audit trail had no
//! integrity protection.

use crate::harness::*;
use xkms_proto::Application;
use xkms_service::audit::ChainVerdict;
use xkms_xmlsec::kdf::SharedSecret;

#[tokio::test]
async fn refusals_and_failed_authentications_are_audited_without_secrets() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let wrong = SharedSecret::new("not the secret".into());
    let failed = h.register(&t100(Some(key()), &wrong)).await;
    assert_eq!(
        codes(&failed).1,
        Some(xkms_proto::ResultMinor::NoAuthentication)
    );
    let secret = SharedSecret::new("secret".into());
    let mut names = seed_names();
    names.push(ukw(Application::TlsHttps, "www.bank.example"));
    let refused_request = h
        .register(&params(
            Some(key()),
            "joe@example.com",
            names,
            &secret,
            None,
        ))
        .await;
    assert_eq!(codes(&refused_request), refused());

    let events = h.store.recent_audit_events(10).await.unwrap();
    let refusal = &events[0];
    assert_eq!(refusal.kind.as_str(), "request.refused");
    assert!(refusal.subject.contains("www.bank.example"), "{refusal:?}");
    let failure = &events[1];
    assert_eq!(failure.kind.as_str(), "authentication.failed");
    assert!(failure.subject.contains("joe@example.com"), "{failure:?}");
    assert!(
        failure.detail.contains("Register from 192.0.2.1"),
        "{failure:?}"
    );
    assert!(failure.request_id.is_some());
    let all = format!("{events:?}");
    assert!(!all.contains("not the secret") && !all.contains("secret\""));
    // Nothing else changed.
    assert_eq!(h.bindings().await, 0);
}

#[tokio::test]
async fn the_audit_trail_is_a_verified_hash_chain() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    h.register(&t100(Some(key()), &secret)).await;
    let ChainVerdict::Intact { events, head, .. } = h.service.verify_audit_chain().await.unwrap()
    else {
        panic!("a fresh chain is intact")
    };
    assert!(events >= 4, "{events}");
    assert_eq!(head.seq, events);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", h.db_path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        h.service.verify_audit_chain().await.unwrap(),
        ChainVerdict::Broken {
            seq: 2,
            reason: "its content does not match its hash"
        }
    );
    sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        h.service.verify_audit_chain().await.unwrap(),
        ChainVerdict::Broken { seq: 2, .. }
    ));
    pool.close().await;
}

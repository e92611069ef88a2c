//! Finding 3: a key revoked for key compromise was certified again.

use crate::harness::*;
use xkms_proto::ResultMessage;
use xkms_service::store::Purpose;
use xkms_xmlsec::kdf::SharedSecret;

#[tokio::test]
async fn a_key_revoked_for_compromise_is_never_certified_again() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    h.authorize("bob@example.com", "bob's code", Purpose::Register, &[])
        .await;
    let secret = SharedSecret::new("secret".into());
    let phrase = SharedSecret::new("Help I Have Revealed My Key".into());
    let key = fresh_key();
    // Two bindings of the same key; the first is revoked for key compromise (T104).
    let first = h
        .register(&params(
            Some(&key),
            "joe@example.com",
            seed_names(),
            &secret,
            Some(&phrase),
        ))
        .await;
    let second = h.register(&t100(Some(&key), &secret)).await;
    assert_eq!((codes(&first), codes(&second)), (success(), success()));
    let revoked = h
        .process(&revoke_by_phrase(&h, certificate_of(&first), &phrase))
        .await;
    assert!(matches!(&revoked, ResultMessage::Revoke(_)));
    assert_eq!(codes(&revoked), success());

    // Register again: by Joe, by Bob under his own name.
    let again = h.register(&t100(Some(&key), &secret)).await;
    assert_eq!(codes(&again), refused());
    let bob = SharedSecret::new("bob's code".into());
    let by_bob = h
        .register(&params(
            Some(&key),
            "bob@example.com",
            vec![ukw(xkms_proto::Application::Smime, "bob@example.com")],
            &bob,
            None,
        ))
        .await;
    assert_eq!(codes(&by_bob), refused());

    // Reissue of the other, still valid binding of that key.
    let doc = h.reissue_document(certificate_of(&second), &secret, &key);
    assert_eq!(codes(&h.process(&doc).await), refused());
    assert_eq!(h.bindings().await, 2, "nothing new stored");

    // Another key is fine.
    let other = h
        .register(&t100(Some(crate::harness::key()), &secret))
        .await;
    assert_eq!(codes(&other), success());
}

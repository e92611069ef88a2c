//! Finding 2: replay protection was keyed on the unsigned request Id, and Compound
//! members skipped it; finding 6: request Ids of any length were stored and logged.

use crate::harness::*;
use xkms_client::krss::sign_request;
use xkms_proto::{
    CompoundRequest, InnerRequest, InnerResult, Request, ResultMajor, ResultMessage, ResultMinor,
};
use xkms_xmlsec::kdf::SharedSecret;

/// The KeyBindingAuthentication signs only the key binding: a captured Register with a
/// new request Id carried a valid authentication and got a second certificate.
#[tokio::test]
async fn a_captured_register_under_a_new_id_is_refused() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let (doc, id) = h.register_document(&t100(Some(key()), &secret));
    assert_eq!(codes(&h.process(&doc).await), success());
    let replayed = doc.replace(&format!("Id=\"{id}\""), "Id=\"Ireplayed\"");
    assert_ne!(replayed, doc);
    assert_eq!(codes(&h.process(&replayed).await), refused());
    assert_eq!(h.bindings().await, 1);

    // A refused request changes nothing: the same authentication is still the one used.
    let twice = doc.replace(&format!("Id=\"{id}\""), "Id=\"Ireplayed2\"");
    assert_eq!(codes(&h.process(&twice).await), refused());
}

/// A compound holding one Register, signed in the compound's document.
fn compound(h: &Harness, secret: &SharedSecret, inner_id: Option<&str>) -> (String, String) {
    let mut register = h
        .client
        .register_request(&params(
            Some(key()),
            "joe@example.com",
            seed_names(),
            secret,
            None,
        ))
        .unwrap();
    if let Some(id) = inner_id {
        register.request.message.id = id.into();
    }
    let inner = register.request.message.id.clone();
    let request = CompoundRequest {
        request: h.header(),
        requests: vec![InnerRequest::Register(register)],
    };
    let doc = document(&Request::Compound(request));
    let signed = sign_request(&doc, &inner, Some((secret, SASL)), Some(key())).unwrap();
    (signed, inner)
}

fn inner_codes(result: &ResultMessage) -> Vec<(ResultMajor, Option<ResultMinor>)> {
    let ResultMessage::Compound(c) = result else {
        panic!("not a CompoundResult: {result:?}")
    };
    c.results
        .iter()
        .map(|r: &InnerResult| {
            let h = r.header();
            (h.result_major.clone(), h.result_minor.clone())
        })
        .collect()
}

/// Members of a Compound go through the same checks as top-level requests: their Ids
/// and their authentication values are single-use.
#[tokio::test]
async fn compound_members_are_checked_like_requests() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let (doc, inner) = compound(&h, &secret, None);
    assert_eq!(inner_codes(&h.process(&doc).await), vec![success()]);
    assert_eq!(h.bindings().await, 1);

    // The same member in a new compound: its authentication was used.
    let compound_id = |d: &str| {
        let start = d.find("CompoundRequest").unwrap();
        let at = d[start..].find("Id=\"").unwrap() + start + 4;
        let end = d[at..].find('"').unwrap() + at;
        d[at..end].to_owned()
    };
    let again = doc.replace(&compound_id(&doc), "Inewcompound1");
    assert_eq!(inner_codes(&h.process(&again).await), vec![refused()]);
    // With a new member Id too: still the same authentication.
    let renamed = again
        .replace("Inewcompound1", "Inewcompound2")
        .replace(&format!("Id=\"{inner}\""), "Id=\"Inewmember\"");
    assert_eq!(inner_codes(&h.process(&renamed).await), vec![refused()]);
    assert_eq!(h.bindings().await, 1);

    // A fresh member (new key binding, new authentication) is accepted.
    let (fresh, _) = compound(&h, &secret, None);
    assert_eq!(inner_codes(&h.process(&fresh).await), vec![success()]);
    assert_eq!(h.bindings().await, 2);
}

/// Ids are NCNames of at most 256 characters: anything else is Sender/Failure before
/// anything is stored.
#[tokio::test]
async fn request_ids_must_be_short_ncnames() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let long = format!("I{}", "a".repeat(500_000));
    for bad in [long.as_str(), "1bad", "a:b"] {
        let (doc, id) = h.register_document(&t100(Some(key()), &secret));
        let doc = doc.replace(&format!("Id=\"{id}\""), &format!("Id=\"{bad}\""));
        let result = h.process(&doc).await;
        assert_eq!(
            codes(&result),
            (ResultMajor::Sender, Some(ResultMinor::Failure)),
            "{}",
            &bad[..bad.len().min(10)]
        );
        assert_eq!(
            xkms_client::result_header(&result).request_id,
            None,
            "not echoed either"
        );
        assert!(
            !h.store
                .is_remembered("request-id", bad.as_bytes(), h.now)
                .await
                .unwrap(),
            "the Id is not stored"
        );
    }
    assert_eq!(h.bindings().await, 0);
    let ok = format!("I{}", "a".repeat(255));
    let (doc, id) = h.register_document(&t100(Some(key()), &secret));
    let doc = doc.replace(&format!("Id=\"{id}\""), &format!("Id=\"{ok}\""));
    assert_eq!(codes(&h.process(&doc).await), success(), "256 characters");
}

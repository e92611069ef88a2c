// Store cases of the operator's inventory (issue 11): listing and searching bindings,
// listing authorization codes, and revoking a code so that it authenticates nobody.

use time::Duration;
use xkms_service::store::{AuthorizationFilter, BindingFilter, Store, StoreError};

use super::*;

fn ids(bindings: &[KeyBindingRecord]) -> Vec<&str> {
    bindings.iter().map(|b| b.id.as_str()).collect()
}

/// Listing: oldest first with every UseKeyWith pair, a case-insensitive substring of the
/// KeyName or of any identifier, revoked only, and the limit.
pub async fn bindings_are_listed_and_searched(store: &dyn Store) {
    let all = BindingFilter::default();
    assert!(store.list_bindings(&all, 10).await.unwrap().is_empty());
    for (i, id) in ["k3", "k1", "k2"].iter().enumerate() {
        let at = T0 + Duration::minutes(i as i64);
        register(store, &registration(id, &format!("1{i}"), at, None)).await;
    }
    let mut special = registration("q_1", "09", T0 + Duration::hours(1), None);
    special.binding.key_name = Some("Zed%Corp_1".into());
    special.binding.use_key_with = vec![pair(MAIL, "zed@EXAMPLE.net")];
    register(store, &special).await;
    store
        .revoke_binding(&revocation("k1", T0 + Duration::days(1), 4))
        .await
        .unwrap();

    let listed = store.list_bindings(&all, 10).await.unwrap();
    assert_eq!(ids(&listed), ["k3", "k1", "k2", "q_1"], "creation order");
    let k3 = registration("k3", "10", T0, None).binding;
    assert_eq!(listed[0], k3, "whole records, UseKeyWith pairs in order");
    assert_eq!(ids(&store.list_bindings(&all, 2).await.unwrap()), ["k3", "k1"]);
    assert!(store.list_bindings(&all, 0).await.unwrap().is_empty());

    let named = |name: &str| BindingFilter {
        name: Some(name.into()),
        ..Default::default()
    };
    // KeyName (case-insensitive), a UseKeyWith identifier, neither.
    assert_eq!(ids(&store.list_bindings(&named("K2@EXAMPLE"), 10).await.unwrap()), ["k2"]);
    assert_eq!(ids(&store.list_bindings(&named("k1.example.org"), 10).await.unwrap()), ["k1"]);
    assert_eq!(ids(&store.list_bindings(&named("example.net"), 10).await.unwrap()), ["q_1"]);
    assert_eq!(ids(&store.list_bindings(&named(".example.org"), 10).await.unwrap()), ["k3", "k1", "k2"]);
    assert!(store.list_bindings(&named("nobody"), 10).await.unwrap().is_empty());
    // LIKE wildcards in the search text stand for themselves.
    assert_eq!(ids(&store.list_bindings(&named("d%c"), 10).await.unwrap()), ["q_1"]);
    assert!(store.list_bindings(&named("k%"), 10).await.unwrap().is_empty());
    assert_eq!(ids(&store.list_bindings(&named("p_1"), 10).await.unwrap()), ["q_1"]);
    assert!(store.list_bindings(&named("z_d"), 10).await.unwrap().is_empty());

    let revoked = BindingFilter {
        revoked_only: true,
        ..Default::default()
    };
    let listed = store.list_bindings(&revoked, 10).await.unwrap();
    assert_eq!(ids(&listed), ["k1"]);
    assert_eq!(listed[0].status, BindingStatus::Revoked);
    let revoked_k2 = BindingFilter {
        name: Some("k2".into()),
        revoked_only: true,
    };
    assert!(store.list_bindings(&revoked_k2, 10).await.unwrap().is_empty());
}

/// Listing codes: all of them oldest first, one identity's, or only those that can still
/// authenticate; never anything but what the record holds (sealed secrets included,
/// the admin command does not print them).
pub async fn authorizations_are_listed(store: &dyn Store) {
    let filter = AuthorizationFilter::default();
    assert!(store.list_authorizations(&filter, 10).await.unwrap().is_empty());
    let mut expired = authorization("a-old", "alice@example.org", None);
    expired.expires_at = T0 + Duration::hours(1);
    let used_up = authorization("a-used", "bob@example.org", Some(1));
    let mut later = recover_authorization("r-1", "alice@example.org", None);
    later.created_at = T0 + Duration::minutes(5);
    for a in [&later, &used_up, &expired] {
        insert_auth(store, a).await;
    }
    register(store, &registration("k1", "01", T0, Some("a-used"))).await;

    let listed = store.list_authorizations(&filter, 10).await.unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(listed_ids, ["a-old", "a-used", "r-1"], "creation, then id");
    assert_eq!(listed[1].uses, 1);
    assert_eq!(listed[2], later);
    assert_eq!(store.list_authorizations(&filter, 1).await.unwrap().len(), 1);

    let alice = AuthorizationFilter {
        identity: Some("alice@example.org".into()),
        ..Default::default()
    };
    let listed = store.list_authorizations(&alice, 10).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a-old", "r-1"]);

    let usable = AuthorizationFilter {
        usable_at: Some(T0 + Duration::hours(2)),
        ..Default::default()
    };
    let listed = store.list_authorizations(&usable, 10).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["r-1"]);
}

/// A revoked code authenticates nobody from then on: it is no longer usable, a
/// registration with it fails and writes nothing, the revocation is audited in the same
/// transaction, and a second revocation or an unknown id changes nothing.
pub async fn revoked_authorization_stops_authenticating(store: &dyn Store) {
    insert_auth(store, &authorization("a-1", "alice@example.org", None)).await;
    insert_auth(store, &authorization("a-2", "alice@example.org", None)).await;
    register(store, &registration("k1", "01", T0, Some("a-1"))).await;
    let at = T0 + Duration::minutes(10);
    let event = audit("authorization.revoked", "a-1", at);
    let chain_before = store.audit_head().await.unwrap();
    store.revoke_authorization("a-1", at, &event).await.unwrap();

    let revoked = store.get_authorization("a-1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(revoked.uses, 1, "nothing else changed");
    let usable = store
        .usable_authorizations(&["alice@example.org".into()], Purpose::Register, at)
        .await
        .unwrap();
    assert_eq!(usable.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a-2"]);
    assert_eq!(store.recent_audit_events(1).await.unwrap(), vec![event.clone()]);
    assert_eq!(store.audit_head().await.unwrap().seq, chain_before.seq + 1);

    store.reserve_serials(&[sn("02")], at).await.unwrap();
    let with_revoked = registration("k2", "02", at, Some("a-1"));
    fails_unchanged!(
        store,
        &["k1", "k2"],
        &["a-1", "a-2"],
        store.commit_registration(&with_revoked),
        conflict
    );
    let again = store.revoke_authorization("a-1", at, &event).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");
    let unknown = store.revoke_authorization("nope", at, &event).await;
    assert!(matches!(unknown, Err(StoreError::NotFound { .. })), "{unknown:?}");
    assert_eq!(store.audit_head().await.unwrap().seq, chain_before.seq + 1, "no event for either");
    // The other code of the same identity still works.
    store
        .commit_registration(&registration("k2", "02", at, Some("a-2")))
        .await
        .unwrap();
}

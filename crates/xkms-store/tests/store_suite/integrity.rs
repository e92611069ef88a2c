// Store cases of the integrity issue: single-use values written with the change they
// authorize, compromised keys, whether a store holds records, sealing of rows written
// by earlier versions, pending results delivered and purged, and the audit hash chain
// (also with concurrent writers on several connections pools = nodes).

use std::sync::Arc;

use time::Duration;
use xkms_service::store::{
    AUDIT_GENESIS, AuditHead, PendingState, ReplayMark, Store, StoreError, audit_hash,
};

use super::*;

fn mark(value: &[u8], expires_at: OffsetDateTime) -> ReplayMark {
    ReplayMark {
        kind: "kba".into(),
        value: value.to_vec(),
        expires_at,
    }
}

/// A value already accepted refuses the whole change that carries it again, whatever
/// the change; it is accepted again once expired.
pub async fn replay_marks_are_written_with_the_change(store: &dyn Store) {
    insert_auth(store, &authorization("a-1", "alice@example.org", None)).await;
    let until = T0 + Duration::days(1);
    let mut first = registration("k1", "01", T0, Some("a-1"));
    first.replay = vec![mark(b"sig-1", until)];
    register(store, &first).await;
    assert!(store.is_remembered("kba", b"sig-1", T0).await.unwrap());
    assert!(!store.is_remembered("kba", b"sig-1", until).await.unwrap(), "expired");
    assert!(!store.is_remembered("pop", b"sig-1", T0).await.unwrap(), "kinds apart");

    // The same value in a second registration: nothing of it is written.
    let mut again = registration("k2", "02", T0 + Duration::seconds(1), Some("a-1"));
    again.replay = vec![mark(b"fresh", until), mark(b"sig-1", until)];
    store.reserve_serials(&[sn("02")], T0).await.unwrap();
    fails_unchanged!(
        store,
        &["k1", "k2"],
        &["a-1"],
        store.commit_registration(&again),
        |e: &StoreError| matches!(e, StoreError::Replayed)
    );
    assert!(!store.is_remembered("kba", b"fresh", T0).await.unwrap(), "rolled back");

    // In a reissue and a revocation alike.
    store.reserve_serials(&[sn("03")], T0).await.unwrap();
    let mut reissue = reissue("k1", "03", T0 + Duration::hours(1), Some("a-1"));
    reissue.replay = vec![mark(b"sig-1", until)];
    fails_unchanged!(
        store,
        &["k1"],
        &["a-1"],
        store.commit_reissue(&reissue),
        |e: &StoreError| matches!(e, StoreError::Replayed)
    );
    let mut revocation = revocation("k1", T0 + Duration::hours(1), 1);
    revocation.replay = vec![mark(b"sig-1", until)];
    fails_unchanged!(
        store,
        &["k1"],
        &["a-1"],
        store.revoke_binding(&revocation),
        |e: &StoreError| matches!(e, StoreError::Replayed)
    );

    // Expired: taken over by a change after the expiry.
    let later = until + Duration::seconds(1);
    store.reserve_serials(&[sn("04")], later).await.unwrap();
    let mut after = registration("k3", "04", later, None);
    after.replay = vec![mark(b"sig-1", later + Duration::days(1))];
    store.commit_registration(&after).await.unwrap();
    assert!(store.is_remembered("kba", b"sig-1", later).await.unwrap());
}

/// A key is compromised once a certificate of a binding with that key was revoked for
/// key compromise (reason 1); other reasons do not count.
pub async fn compromised_keys_are_found_by_fingerprint(store: &dyn Store) {
    register(store, &registration("k1", "01", T0, None)).await;
    register(store, &registration("k2", "02", T0, None)).await;
    let k1 = binding("k1", T0).key_fingerprint;
    let k2 = binding("k2", T0).key_fingerprint;
    assert!(!store.key_compromised(&k1).await.unwrap());
    store
        .revoke_binding(&revocation("k1", T0 + Duration::hours(1), 1))
        .await
        .unwrap();
    store
        .revoke_binding(&revocation("k2", T0 + Duration::hours(1), 4))
        .await
        .unwrap();
    assert!(store.key_compromised(&k1).await.unwrap());
    assert!(!store.key_compromised(&k2).await.unwrap(), "superseded only");
    assert!(!store.key_compromised(&[0u8; 32]).await.unwrap());
}

/// An empty store holds nothing key files vouch for; an authorization, a reserved
/// serial or a binding each count.
pub async fn holds_records_of_any_kind(store: &dyn Store) {
    assert!(!store.holds_records().await.unwrap(), "empty");
    store.reserve_serials(&[sn("01")], T0).await.unwrap();
    assert!(store.holds_records().await.unwrap(), "a reserved serial");
}

pub async fn holds_records_with_an_authorization(store: &dyn Store) {
    insert_auth(store, &authorization("a-1", "alice@example.org", None)).await;
    assert!(store.holds_records().await.unwrap());
}

/// Rows this version writes need no sealing: the re-encryption helpers find nothing and
/// refuse to touch them.
pub async fn current_rows_need_no_sealing(store: &dyn Store) {
    insert_auth(store, &authorization("a-1", "alice@example.org", None)).await;
    register(store, &escrowed("k1", "01", T0)).await;
    let mut p = pending("p-1", PendingState::Done, T0);
    p.result = Some("sealed:AAAA".into());
    store
        .insert_pending(&p, &audit("request.pending", "p-1", T0))
        .await
        .unwrap();
    assert!(store.unsealed_authorizations(10).await.unwrap().is_empty());
    assert!(store.legacy_escrowed_keys(10).await.unwrap().is_empty());
    assert!(store.unsealed_pending_results(10).await.unwrap().is_empty());
    let conflict = |e: &StoreError| matches!(e, StoreError::Conflict { .. });
    let not_found = |e: &StoreError| matches!(e, StoreError::NotFound { .. });
    assert!(conflict(&store.seal_authorization("a-1", b"x").await.unwrap_err()));
    assert!(not_found(&store.seal_authorization("nope", b"x").await.unwrap_err()));
    assert!(conflict(&store.reseal_escrowed_key("k1", b"x").await.unwrap_err()));
    assert!(not_found(&store.reseal_escrowed_key("nope", b"x").await.unwrap_err()));
    assert!(conflict(&store.seal_pending_result("p-1", "sealed:B").await.unwrap_err()));

    // A result in the clear (as earlier versions wrote it) is found and sealed once.
    let mut old = pending("p-2", PendingState::Done, T0);
    old.result = Some("<RecoverResult/>".into());
    store
        .insert_pending(&old, &audit("request.pending", "p-2", T0))
        .await
        .unwrap();
    assert_eq!(
        store.unsealed_pending_results(10).await.unwrap(),
        vec![("p-2".to_owned(), "<RecoverResult/>".to_owned())]
    );
    store.seal_pending_result("p-2", "sealed:CCCC").await.unwrap();
    assert!(store.unsealed_pending_results(10).await.unwrap().is_empty());
    assert_eq!(
        store.get_pending("p-2").await.unwrap().unwrap().result.as_deref(),
        Some("sealed:CCCC")
    );
}

/// A final record is deleted once delivered; records not final are kept; the purge
/// deletes only final records older than its cutoff, with one audit event.
pub async fn pending_results_are_deleted_when_delivered_or_old(store: &dyn Store) {
    for (id, state, at) in [
        ("done-old", PendingState::Done, T0),
        ("rejected-old", PendingState::Rejected, T0),
        ("queued-old", PendingState::Queued, T0),
        ("done-new", PendingState::Done, T0 + Duration::days(2)),
        ("done-fetched", PendingState::Done, T0 + Duration::days(2)),
    ] {
        store
            .insert_pending(&pending(id, state, at), &audit("request.pending", id, at))
            .await
            .unwrap();
    }
    let delivered = audit("result.delivered", "done-fetched", T0 + Duration::days(2));
    store.delete_pending("done-fetched", &delivered).await.unwrap();
    assert_eq!(store.get_pending("done-fetched").await.unwrap(), None);
    assert_eq!(store.recent_audit_events(1).await.unwrap()[0], delivered);
    assert!(matches!(
        store.delete_pending("queued-old", &delivered).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    assert!(matches!(
        store.delete_pending("done-fetched", &delivered).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));

    let purged = audit("pending.purged", "-", T0 + Duration::days(3));
    let n = store
        .purge_pending(T0 + Duration::days(1), &purged)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let mut left: Vec<String> = store
        .list_pending(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.response_id)
        .collect();
    left.sort();
    assert_eq!(left, vec!["done-new", "queued-old"]);
    assert_eq!(store.recent_audit_events(1).await.unwrap()[0], purged);
    let before = store.audit_head().await.unwrap();
    assert_eq!(store.purge_pending(T0, &purged).await.unwrap(), 0);
    assert_eq!(store.audit_head().await.unwrap(), before, "nothing purged, nothing audited");
}

/// Checks the whole chain like `xkmsd admin audit --verify`; the number of events.
pub async fn chain_holds(store: &dyn Store) -> u64 {
    let mut prev = AUDIT_GENESIS.to_vec();
    let mut seq = 0;
    loop {
        let page = store.audit_chain(seq, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        for link in page {
            assert_eq!(link.seq, seq + 1, "no gaps");
            assert_eq!(link.prev_hash, prev, "linked at {}", link.seq);
            assert_eq!(
                link.hash,
                audit_hash(&prev, link.seq, &link.event).to_vec(),
                "hash of {}",
                link.seq
            );
            prev = link.hash;
            seq = link.seq;
        }
    }
    assert_eq!(
        store.audit_head().await.unwrap(),
        AuditHead { seq, hash: prev },
        "the head names the last event"
    );
    seq
}

/// Every event written — alone, with a change, several in one transaction — extends
/// one chain; a failed change extends nothing.
pub async fn audit_events_are_chained(store: &dyn Store) {
    assert_eq!(
        store.audit_head().await.unwrap(),
        AuditHead {
            seq: 0,
            hash: AUDIT_GENESIS.to_vec()
        }
    );
    insert_auth(store, &authorization("a-1", "alice@example.org", None)).await;
    register(store, &registration("k1", "01", T0, Some("a-1"))).await;
    store
        .append_audit(&[audit("authentication.failed", "eve@example.org", T0)])
        .await
        .unwrap();
    assert_eq!(chain_holds(store).await, 5);
    let chain = store.audit_chain(0, 100).await.unwrap();
    let kinds: Vec<&str> = chain.iter().map(|l| l.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "authorization.created",
            "keybinding.registered",
            "certificate.issued",
            "authorization.used",
            "authentication.failed"
        ]
    );
    assert_eq!(store.audit_chain(3, 1).await.unwrap()[0].seq, 4);
    assert_eq!(store.unchained_audit_events().await.unwrap(), 0);

    let head = store.audit_head().await.unwrap();
    let clash = registration("k1", "02", T0, None);
    store.reserve_serials(&[sn("02")], T0).await.unwrap();
    assert!(store.commit_registration(&clash).await.is_err());
    assert_eq!(store.audit_head().await.unwrap(), head, "a failed change");
    assert_eq!(chain_holds(store).await, 5);
}

/// Writers on several connection pools (as several nodes are) append at once: the chain
/// has every event exactly once, in one unbroken sequence.
pub async fn concurrent_audit_writers(nodes: Vec<Arc<dyn Store>>) {
    const PER_TASK: usize = 10;
    const TASKS: usize = 8;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&nodes[t % nodes.len()]);
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let subject = format!("t{t}-{i}");
                if i % 2 == 0 {
                    store
                        .append_audit(&[audit("authentication.failed", &subject, T0)])
                        .await
                        .unwrap();
                } else {
                    let a = authorization(&subject, "alice@example.org", None);
                    store
                        .insert_authorization(&a, &audit("authorization.created", &subject, T0))
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let n = chain_holds(nodes[0].as_ref()).await;
    assert_eq!(n, (TASKS * PER_TASK) as u64);
    let mut subjects: Vec<String> = nodes[1 % nodes.len()]
        .audit_chain(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event.subject)
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), TASKS * PER_TASK, "each event once");
}

// Store cases of the bounded-costs issue: failed authentications and lockouts, CRL numbers
// handed out by the store (also to several nodes at once), counts of pending jobs without
// loading them, and the revocation state a CRL cache keys on.

use std::sync::Arc;

use time::Duration;
use xkms_service::store::{FailureSubject, PendingState, Store};

use super::*;

fn subject(name: &str, threshold: u32) -> FailureSubject {
    FailureSubject {
        subject: name.into(),
        threshold,
    }
}

/// Failures count up, lock at the threshold for the window, restart after a quiet
/// window, are forgotten on request, and are written with the audit events.
pub async fn failures_lock_at_the_threshold(store: &dyn Store) {
    let window = Duration::minutes(15);
    let id = subject("id:joe@example.org", 3);
    assert!(store.failure_records(std::slice::from_ref(&id.subject)).await.unwrap().is_empty());
    for i in 0..2 {
        let locked = store
            .record_failures(std::slice::from_ref(&id), &[], T0 + Duration::seconds(i), window)
            .await
            .unwrap();
        assert!(locked.is_empty());
    }
    let events = [audit("authentication.failed", "joe@example.org", T0)];
    let at = T0 + Duration::seconds(2);
    let locked = store.record_failures(std::slice::from_ref(&id), &events, at, window).await.unwrap();
    assert_eq!(locked, vec![id.subject.clone()]);
    assert_eq!(store.recent_audit_events(10).await.unwrap().len(), 1, "written with it");
    let records = store.failure_records(&[id.subject.clone(), "id:other".into()]).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].failures, 3);
    assert_eq!(records[0].locked_until, Some(at + window));
    assert_eq!(store.locked_subjects(at).await.unwrap().len(), 1);
    assert!(store.locked_subjects(at + window).await.unwrap().is_empty(), "lock over");

    // A further failure while locked keeps the lock's end (nothing newly locked).
    let locked = store
        .record_failures(std::slice::from_ref(&id), &[], at + Duration::seconds(1), window)
        .await
        .unwrap();
    assert!(locked.is_empty());
    let records = store.failure_records(std::slice::from_ref(&id.subject)).await.unwrap();
    assert_eq!(records[0].locked_until, Some(at + window));

    // After a quiet window the count restarts.
    let later = at + window + Duration::minutes(1);
    store.record_failures(std::slice::from_ref(&id), &[], later, window).await.unwrap();
    let records = store.failure_records(std::slice::from_ref(&id.subject)).await.unwrap();
    assert_eq!(records[0].failures, 1);

    // Forgotten after a success; an operator unlock is audited.
    store.clear_failures(std::slice::from_ref(&id.subject)).await.unwrap();
    assert!(store.failure_records(std::slice::from_ref(&id.subject)).await.unwrap().is_empty());
    let ip = subject("ip:192.0.2.7", 1);
    assert_eq!(
        store.record_failures(std::slice::from_ref(&ip), &[], T0, window).await.unwrap(),
        vec![ip.subject.clone()]
    );
    let before = store.recent_audit_events(10).await.unwrap().len();
    assert!(store.unlock(&ip.subject, &audit("authentication.unlocked", "ip", T0)).await.unwrap());
    assert!(!store.unlock(&ip.subject, &audit("authentication.unlocked", "ip", T0)).await.unwrap());
    assert_eq!(store.recent_audit_events(10).await.unwrap().len(), before + 1);
}

/// CRL numbers only grow, and never fall below what the caller asks.
pub async fn crl_numbers_only_grow(store: &dyn Store) {
    let first = store.next_crl_number(1_000).await.unwrap();
    assert_eq!(first, 1_000);
    assert_eq!(store.next_crl_number(1_000).await.unwrap(), 1_001);
    assert_eq!(store.next_crl_number(5).await.unwrap(), 1_002, "never backwards");
    assert_eq!(store.next_crl_number(2_000).await.unwrap(), 2_000);
}

/// Counts of pending jobs by requester and state, and the revocation state.
pub async fn pending_counts_and_revocation_state(store: &dyn Store) {
    let mut jobs = vec![
        pending("p-1", PendingState::Queued, T0),
        pending("p-2", PendingState::AwaitingApproval, T0),
        pending("p-3", PendingState::Done, T0),
        pending("p-4", PendingState::Queued, T0),
    ];
    jobs[3].requester = "bob@example.org".into();
    for job in &jobs {
        store
            .insert_pending(job, &audit("request.pending", &job.response_id, T0))
            .await
            .unwrap();
    }
    assert_eq!(store.open_pending_counts("alice@example.org").await.unwrap(), (2, 3));
    assert_eq!(store.open_pending_counts("nobody").await.unwrap(), (0, 3));
    let mut counts = store.pending_counts().await.unwrap();
    counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        counts,
        vec![
            (PendingState::AwaitingApproval, 1),
            (PendingState::Done, 1),
            (PendingState::Queued, 2),
        ]
    );

    assert_eq!(store.revocation_generation().await.unwrap(), (0, None));
    assert_eq!(store.revocation_counter().await.unwrap(), 0);
    populate(store).await;
    assert_eq!(store.revocation_counter().await.unwrap(), 0, "registrations do not count");
    let at = T0 + Duration::hours(1);
    store.revoke_binding(&revocation("k1", at, 1)).await.unwrap();
    let (revoked, newest) = store.revocation_generation().await.unwrap();
    assert!(revoked >= 1);
    assert_eq!(newest, Some(at));
    assert_eq!(store.revocation_counter().await.unwrap(), 1, "bumped with the revocation");
    // A refused revocation (already revoked) writes nothing, the counter included.
    assert!(store.revoke_binding(&revocation("k1", at, 1)).await.is_err());
    assert_eq!(store.revocation_counter().await.unwrap(), 1);
}

/// Several nodes take CRL numbers at once: all distinct.
pub async fn concurrent_crl_numbers(nodes: Vec<Arc<dyn Store>>) {
    let mut tasks = Vec::new();
    for node in nodes {
        for _ in 0..10 {
            let node = node.clone();
            tasks.push(tokio::spawn(async move { node.next_crl_number(1).await.unwrap() }));
        }
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    let taken = numbers.len();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), taken, "every number handed out once");
}
